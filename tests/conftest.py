"""Shared fixtures: a real PostgreSQL database and a real Redis db index per test.

The services come from TEST_DATABASE_URL / TEST_REDIS_URL (defaults: local PostgreSQL as
``postgres`` and Redis db 15). An unreachable service fails the tests; it never skips them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from bot.botlink import InProcessLink, dev_settings, in_process_bot
from bot.devservices import answers_postgres, answers_redis, ensure_services
from bot.migrate import migrate
from bot.settings import Settings


def _test_services() -> tuple[str, str]:
    """Local services, or embedded ones on a machine with only Python (never a skip)."""
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if asyncio.run(answers_postgres(admin)) and asyncio.run(answers_redis(redis_url)):
        return admin, redis_url
    services = ensure_services(redis_url, admin, folder=ROOT / ".embedded", database="postgres")
    return services.database_url, services.redis_url.rsplit("/", 1)[0] + "/15"


ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN, REDIS_URL = _test_services()
TEMPLATE_DB = f"wbot_test_template_{os.getpid()}"


def _dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A database migrated once per test run; each test gets a copy of it."""

    async def create() -> None:
        await _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await _admin(f'CREATE DATABASE "{TEMPLATE_DB}"')
        await migrate(_dsn_for(TEMPLATE_DB))

    asyncio.run(create())
    yield TEMPLATE_DB
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def shop_template_database(template_database: str) -> Iterator[str]:
    """The migrated database plus the demo catalogue (data/catalog_demo.csv)."""
    name = f"{template_database}_shop"

    async def create() -> None:
        from bot.commerce.catalog_import import import_csv

        await _admin(f'DROP DATABASE IF EXISTS "{name}"')
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        pool = await asyncpg.create_pool(_dsn_for(name), min_size=1, max_size=4)
        try:
            await import_csv(pool, ROOT / "data" / "catalog_demo.csv")
        finally:
            await pool.close()

    asyncio.run(create())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Dropping a database costs PostgreSQL a checkpoint (about half a second): each test copy is
# dropped in a background thread while the next tests run, and the session waits for the rest.
_DROPPER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="drop-db")
_DROPS: list[concurrent.futures.Future[None]] = []


def _drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    for future in _DROPS:
        future.result()
    _DROPPER.shutdown()


@contextlib.asynccontextmanager
async def _database_copy(template: str) -> AsyncIterator[str]:
    name = f"wbot_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _dsn_for(name)
    finally:
        _DROPS.append(_DROPPER.submit(_drop_database, name))


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    """DSN of a fresh, migrated database that is dropped after the test."""
    async with _database_copy(template_database) as dsn:
        yield dsn


@pytest.fixture
async def shop_database_url(shop_template_database: str) -> AsyncIterator[str]:
    """Like database_url, with the demo catalogue loaded."""
    async with _database_copy(shop_template_database) as dsn:
        yield dsn


@pytest.fixture
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client on the test db index, flushed before and after the test."""
    client: aioredis.Redis = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


def _bot_settings(database_url: str, redis_url: str) -> Settings:
    return dev_settings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BOT_WORKERS="4",
        BOT_INBOX_POLL_MS="100",
        BOT_RECORD_FILE="",
    )


@pytest.fixture
def bot_settings(database_url: str, redis_url: str, redis_client: aioredis.Redis) -> Settings:
    """Settings for an in-process bot on this test's database and Redis index."""
    return _bot_settings(database_url, redis_url)


@pytest.fixture
def shop_settings(shop_database_url: str, redis_url: str, redis_client: aioredis.Redis) -> Settings:
    """Settings for an in-process bot whose database holds the demo catalogue."""
    return _bot_settings(shop_database_url, redis_url)


@pytest.fixture
async def bot(bot_settings: Settings) -> AsyncIterator[InProcessLink]:
    """A running bot (webhook, workers, Graph sink) in this process."""
    async with in_process_bot(bot_settings) as link:
        yield link


@pytest.fixture
async def shop_bot(shop_settings: Settings) -> AsyncIterator[InProcessLink]:
    """A running bot in this process, with the demo catalogue loaded.

    Rate limiting is off: a replay types faster than any person (tests of the limiter use `bot`).
    """
    async with in_process_bot(shop_settings) as link:
        await link.deps.pool.execute(
            "UPDATE system_config SET value = 'false' WHERE key = 'rate_limiting_enabled'"
        )
        await link.deps.config.load(link.deps.pool)
        yield link
