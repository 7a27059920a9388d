"""The server side of the end-to-end benchmark: its database, its command, its readiness."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from bench.common import ADMIN_DSN, demo_shop

__all__ = ["connections", "inbox_left", "prepare", "server_args", "statements", "wait_ready"]

UVICORN = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]


async def prepare(dsn: str) -> None:
    """The demo shop with stock enough for every checkout."""
    await demo_shop(dsn, stock=1_000_000)


async def inbox_left(dsn: str) -> dict[str, int]:
    """Messages our bot stored but has not finished: a backlog, or a real loss if failed."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT state, count(*) FROM inbound_messages WHERE state <> 'done' GROUP BY state"
        )
        return {row["state"]: row["count"] for row in rows}
    finally:
        await conn.close()


async def connections(database: str) -> int:
    """Connections the server holds to its database right now."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
        )
        return count
    finally:
        await conn.close()


def bot_env(processes: int) -> dict[str, str]:
    """The same 16 workers and 20 pooled connections in all, however many processes share them,
    so that the process count is the only change (4 processes with the defaults would also need
    92 of PostgreSQL's 100 connections)."""
    return {
        "BOT_WORKERS": str(max(4, 16 // processes)),
        "BOT_DB_POOL_SIZE": str(max(5, 20 // processes)),
    }


def wait_ready(kind: str, processes: int, port: int, database: str) -> None:
    """Every worker process accepting: otherwise the first ones get all the connections."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if kind == "relay":
            # A new connection each time: the kernel hands each to one of the accepting workers.
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
                url = f"http://127.0.0.1:{port}/health"
                if len({client.get(url).json()["pid"] for _ in range(60)}) >= processes:
                    return
        # Per process: the inbox poller, the config listener and the pool's first 2 (the turn
        # desk connects with the first message).
        elif asyncio.run(connections(database)) >= 4 * processes:
            time.sleep(0.5)
            return
        time.sleep(0.3)
    raise RuntimeError(f"{kind} with {processes} processes did not get ready")


def server_args(kind: str, processes: int, port: int) -> list[str]:
    if kind == "relay":
        return ["-m", "uvicorn", "bench.e2e_relay:app", "--port", str(port),
                "--workers", str(processes), *UVICORN]  # fmt: skip
    return ["-m", "bot", "serve", "--port", str(port), "--processes", str(processes)]


async def statements(database: str) -> int:
    """Transactions committed in the database so far (each autocommit statement is one)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        count: int = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", database
        )
        return count
    finally:
        await conn.close()
