from __future__ import annotations

import asyncpg

from bot.migrate import applied_versions, discover, migrate


async def test_rerunning_migrations_applies_nothing(database_url: str) -> None:
    assert await migrate(database_url) == []
    conn = await asyncpg.connect(database_url)
    try:
        versions = await applied_versions(conn)
    finally:
        await conn.close()
    assert sorted(versions) == [m.version for m in discover()]


async def test_rate_limit_tiers_are_seeded(pg_pool: asyncpg.Pool) -> None:
    rows = await pg_pool.fetch("SELECT tier, max_per_minute FROM rate_limit_config ORDER BY tier")
    assert [(r["tier"], r["max_per_minute"]) for r in rows] == [
        ("new", 5),
        ("regular", 10),
        ("vip", 20),
    ]
