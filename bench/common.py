"""Shared pieces of the benchmarks: result rows, the table, servers in their own processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bot.commerce.catalog_import import import_csv
from bot.config import set_value
from bot.migrate import migrate

__all__ = [
    "ADMIN_DSN",
    "REDIS_URL",
    "Row",
    "demo_shop",
    "free_port",
    "fresh_database",
    "percentile",
    "print_table",
    "require_wrk",
    "server_process",
]

ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: our figure next to the reference measured in the same run."""

    name: str
    unit: str
    ours: float
    reference: float
    reference_name: str
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        if self.reference == 0:
            return float("inf")
        return self.ours / self.reference

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_table(rows: list[Row]) -> None:
    header = ("benchmark", "ours", "reference", "", "ratio", "target")
    lines = [
        (
            row.name,
            f"{_fmt(row.ours)} {row.unit}",
            f"{_fmt(row.reference)} {row.unit}",
            f"({row.reference_name})",
            f"{row.ratio:.2f}×",
            row.target,
        )
        for row in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    for line in (header, *lines):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def fresh_database(name: str, *, template: str | None = None) -> Iterator[str]:
    """A new migrated database (or a copy of ``template``), dropped afterwards; yields its DSN."""
    base = ADMIN_DSN.rpartition("/")[0]

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    dsn = f"{base}/{name}"
    if template is None:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        asyncio.run(migrate(dsn))
    else:
        asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield dsn
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server_process(
    args: list[str],
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    health: str = "/",
    start_timeout_s: float = 20.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process, ready when ``health`` answers on ``port``."""
    process = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if not os.environ.get("BENCH_VERBOSE") else None,
    )
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(args)} exited with {process.returncode}")
            try:
                httpx.get(f"http://127.0.0.1:{port}{health}", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(args)} did not start") from None
                time.sleep(0.05)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def require_wrk() -> str:
    """The wrk load generator (C, so the client is not the bottleneck); installed if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("the webhook benchmark needs wrk (apt-get install wrk)")
    return found


DEMO_CATALOG = Path(__file__).resolve().parents[1] / "data" / "catalog_demo.csv"


async def demo_shop(dsn: str, *, stock: int | None = None) -> None:
    """The demo catalogue (optionally every product in stock with ``stock`` units), keyword
    intents and no rate limiting: simulated customers type faster than any tier allows."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await import_csv(pool, DEMO_CATALOG)
        if stock is not None:
            await pool.execute("UPDATE products SET stock = $1 WHERE stock > 0", stock)
        await set_value(pool, "use_ai_providers", False, by="bench")
        await set_value(pool, "rate_limiting_enabled", False, by="bench")
    finally:
        await pool.close()
