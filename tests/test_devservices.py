"""Finding Redis/PostgreSQL, and the embedded fallback started from the PyPI packages."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from bot.devservices import (
    Services,
    answers_postgres,
    answers_redis,
    ensure_services,
    stop_embedded,
)
from bot.migrate import discover, migrate

# The system services the other tests use (see conftest.py).
SYSTEM_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SYSTEM_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def redis_ping(url: str) -> bool:
    client: aioredis.Redis = aioredis.Redis.from_url(url)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def ensure(redis_url: str, database_url: str, folder: Path) -> Services:
    return await asyncio.to_thread(
        ensure_services, redis_url, database_url, folder=folder, try_localhost=False
    )


@pytest.mark.slow
async def test_embedded_servers_start_run_migrations_are_reused_and_stop(tmp_path: Path) -> None:
    folder = tmp_path / ".embedded"
    dead_redis = f"redis://127.0.0.1:{closed_port()}/0"
    dead_pg = f"postgresql://postgres@127.0.0.1:{closed_port()}/wbot"
    try:
        services = await ensure(dead_redis, dead_pg, folder)
        assert services.embedded == ("redis", "postgres")
        assert services.database_url.endswith("/wbot")
        assert await redis_ping(services.redis_url)
        conn = await asyncpg.connect(services.database_url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert (await conn.fetchval("SHOW server_version")).startswith("16")
        finally:
            await conn.close()
        applied = await migrate(services.database_url)
        assert [m.version for m in applied] == [m.version for m in discover()]

        # A second caller (the bot after `make run`) finds the same servers running.
        assert await ensure(dead_redis, dead_pg, folder) == services
        assert (folder / "state.json").exists()
    finally:
        await asyncio.to_thread(stop_embedded, folder)
    assert not await answers_redis(services.redis_url)
    assert not await answers_postgres(services.database_url)
    # Stopping twice is harmless.
    await asyncio.to_thread(stop_embedded, folder)


async def test_answering_urls_are_used_and_nothing_is_started(tmp_path: Path) -> None:
    folder = tmp_path / ".embedded"
    services = await ensure(SYSTEM_REDIS, SYSTEM_PG, folder)
    assert services == Services(SYSTEM_REDIS, SYSTEM_PG, ())
    assert not folder.exists()


async def test_a_missing_database_is_created_on_an_answering_server(tmp_path: Path) -> None:
    name = f"wbot_devservices_{uuid.uuid4().hex[:12]}"
    wanted = f"{SYSTEM_PG.rpartition('/')[0]}/{name}"
    assert not await answers_postgres(wanted)
    try:
        services = await ensure(SYSTEM_REDIS, wanted, tmp_path)
        assert services.database_url == wanted
        assert services.embedded == ()
        assert await answers_postgres(wanted)
    finally:
        conn = await asyncpg.connect(SYSTEM_PG)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def test_answers_is_false_for_closed_ports_and_bad_urls() -> None:
    port = closed_port()
    assert not await answers_redis(f"redis://127.0.0.1:{port}/0")
    assert not await answers_redis("http://not-redis")
    assert not await answers_postgres(f"postgresql://postgres@127.0.0.1:{port}/wbot")
    assert await answers_redis(SYSTEM_REDIS)
    assert await answers_postgres(SYSTEM_PG)


async def test_command_prints_shell_lines_for_eval(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": SYSTEM_REDIS, "DATABASE_URL": SYSTEM_PG}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.devservices", "--folder", str(tmp_path), "--no-localhost"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"REDIS_URL={SYSTEM_REDIS}", f"DATABASE_URL={SYSTEM_PG}"]


def test_stop_without_embedded_servers_is_a_no_op(tmp_path: Path) -> None:
    stop_embedded(tmp_path / "never-used")
    assert not (tmp_path / "never-used").exists()
