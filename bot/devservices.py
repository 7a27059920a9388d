"""Find Redis and PostgreSQL for development, or start embedded ones from PyPI packages.

Order per service: the given URL, then the localhost default, then an embedded server whose data
lives under ``folder``. Embedded servers are daemons: they outlive the caller, their pid and port
are kept in ``folder/state.json`` so the next call reuses them, and ``stop_embedded`` ends them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.daemons import (
    PROGRAMS,
    DevServicesError,
    free_port,
    is_running,
    locked,
    read_state,
    start_postgres,
    start_redis,
    stop_embedded,
    terminate,
    write_state,
)

__all__ = [
    "DevServicesError",
    "Services",
    "answers_postgres",
    "answers_redis",
    "ensure_services",
    "main",
    "stop_embedded",
]

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_PG_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)

Check = Callable[[str], Coroutine[Any, Any, bool]]


@dataclass(frozen=True, slots=True)
class Services:
    redis_url: str
    database_url: str
    embedded: tuple[str, ...]  # names of the services this folder's embedded servers provide


async def answers_redis(url: str, timeout_s: float = 1.0) -> bool:
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
    except ValueError:
        return False
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def answers_postgres(url: str, timeout_s: float = 2.0) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
        try:
            return bool(await conn.fetchval("SELECT 1", timeout=timeout_s) == 1)
        finally:
            await conn.close()
    except _PG_ERRORS:
        return False


async def _postgres_usable(url: str) -> bool:
    """True when the database answers, after creating it if only the server does."""
    if await answers_postgres(url):
        return True
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    if not name or admin == url or not await answers_postgres(admin):
        return False
    conn = await asyncpg.connect(admin)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        log.info("created database %s", name)
    except asyncpg.DuplicateDatabaseError:
        pass  # another process created it meanwhile
    except asyncpg.PostgresError as exc:
        raise DevServicesError(f"cannot create database {name}: {exc}") from None
    finally:
        await conn.close()
    return await answers_postgres(url)


def _answers(check: Check, url: str) -> bool:
    return asyncio.run(check(url))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _first_answering(label: str, urls: list[str], check: Check) -> str | None:
    for url in urls:
        if _answers(check, url):
            log.info("%s: using %s", label, _redact(url))
            return url
        log.info("%s: %s does not answer", label, _redact(url))
    return None


def ensure_services(
    redis_url: str | None,
    database_url: str | None,
    *,
    folder: Path,
    database: str = "wbot",
    try_localhost: bool = True,
) -> Services:
    """URLs of a Redis and a PostgreSQL that answer, starting embedded ones when none does.

    Synchronous on purpose (it runs before the bot's event loop); from async code call it
    through ``asyncio.to_thread``.
    """
    redis_urls = [redis_url] if redis_url else []
    pg_urls = [database_url] if database_url else []
    if try_localhost:
        redis_urls.append(DEFAULT_REDIS_URL)
        pg_urls.append(f"postgresql://postgres@127.0.0.1:5432/{database}")
    found_redis = _first_answering("redis", list(dict.fromkeys(redis_urls)), answers_redis)
    found_pg = _first_answering("postgres", list(dict.fromkeys(pg_urls)), _postgres_usable)
    embedded: list[str] = []
    if found_redis is None or found_pg is None:
        folder = folder.resolve()
        with locked(folder):
            state = read_state(folder)
            if found_redis is None:
                found_redis = _embedded("redis", folder, state, database)
                embedded.append("redis")
            if found_pg is None:
                found_pg = _embedded("postgres", folder, state, database)
                embedded.append("postgres")
    return Services(found_redis, found_pg, tuple(embedded))


def _embedded(name: str, folder: Path, state: dict[str, dict[str, int]], database: str) -> str:
    """URL of this folder's embedded server, started now unless it is already running."""
    url_for: Callable[[int], str]
    check: Check
    start: Callable[[Path, int, Callable[[], bool]], int]
    if name == "redis":
        url_for, check, start = _redis_url, answers_redis, start_redis
    else:
        url_for, check, start = _pg_url(database), _postgres_usable, start_postgres
    entry = state.get(name, {})
    old_pid, old_port = entry.get("pid", 0), entry.get("port", 0)
    if old_pid and is_running(old_pid, PROGRAMS[name][0]) and _answers(check, url_for(old_port)):
        log.info("%s: reusing embedded server on port %d", name, old_port)
        return url_for(old_port)
    # Keep the previous port when it is free, so URLs copied elsewhere stay valid.
    port = free_port(old_port)
    url = url_for(port)
    pid = start(folder, port, lambda: _answers(check, url))
    if not _answers(check, url):  # both starters return once the server accepts connections
        terminate(pid, *PROGRAMS[name])
        raise DevServicesError(f"embedded {name} did not answer on port {port}; see {folder}")
    state[name] = {"pid": pid, "port": port}
    write_state(folder, state)
    log.info("%s: started embedded server on 127.0.0.1:%d (data in %s)", name, port, folder)
    return url


def _redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def _pg_url(database: str) -> Callable[[int], str]:
    return lambda port: f"postgresql://postgres@127.0.0.1:{port}/{database}"


def main(argv: list[str] | None = None) -> int:
    """Print shell-evaluable REDIS_URL=/DATABASE_URL= lines, or stop with --stop."""
    parser = argparse.ArgumentParser(prog="python -m bot.devservices", description=main.__doc__)
    parser.add_argument("--stop", action="store_true", help="stop the embedded servers")
    parser.add_argument("--folder", type=Path, default=Path(".embedded"))
    parser.add_argument(
        "--no-localhost", action="store_true", help="skip the localhost defaults (6379, 5432)"
    )
    args = parser.parse_args(argv)
    # Progress goes to stderr so that `eval $(python -m bot.devservices)` sees only the URLs.
    logging.basicConfig(level=logging.INFO, format="devservices: %(message)s", stream=sys.stderr)
    try:
        if args.stop:
            stop_embedded(args.folder)
            return 0
        services = ensure_services(
            os.environ.get("REDIS_URL") or None,
            os.environ.get("DATABASE_URL") or None,
            folder=args.folder,
            try_localhost=not args.no_localhost,
        )
    except (DevServicesError, OSError) as exc:
        print(f"devservices: error: {exc}", file=sys.stderr)
        return 1
    print(f"REDIS_URL={shlex.quote(services.redis_url)}")
    print(f"DATABASE_URL={shlex.quote(services.database_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
