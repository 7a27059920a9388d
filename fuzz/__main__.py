"""``python -m fuzz [--count N] [--seed S]``: fuzz the webhook of a real in-process bot.

The bot runs on a fresh migrated PostgreSQL database with the demo catalogue and on its own
Redis db index (flushed), like the tests; both are dropped or flushed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from bench.common import fresh_database
from bot.botlink import dev_settings, in_process_bot
from bot.commerce.catalog_import import import_csv
from fuzz.run import Report, fuzz

REDIS_URL = os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/12")
CATALOG = Path(__file__).resolve().parents[1] / "data" / "catalog_demo.csv"


async def _flush_redis() -> None:
    client: aioredis.Redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _prepare(dsn: str) -> None:
    """The demo catalogue, and no fsync per commit: durability is not what is fuzzed here."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await import_csv(pool, CATALOG)
        name = await pool.fetchval("SELECT current_database()")
        await pool.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await pool.close()


class _Progress:
    """Prints counts every few thousand bodies, and each problem once, as soon as it is seen."""

    def __init__(self) -> None:
        self._shown = 0

    def __call__(self, report: Report) -> None:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items()))
        print(f"  {report.bodies} bodies posted ({statuses}), {report.problem_count} problems")
        for problem in report.problems[self._shown :]:
            print(f"    {problem[:300]}")
        self._shown = len(report.problems)
        sys.stdout.flush()


async def _run(dsn: str, args: argparse.Namespace) -> Report:
    await _prepare(dsn)
    await _flush_redis()
    settings = dev_settings(
        DATABASE_URL=dsn,
        REDIS_URL=REDIS_URL,
        BOT_WORKERS=str(args.workers),
        BOT_INBOX_POLL_MS="100",
        BOT_RECORD_FILE="",
    )
    try:
        async with in_process_bot(settings) as link:
            return await fuzz(
                link,
                count=args.count,
                seed=args.seed,
                concurrency=args.concurrency,
                progress=_Progress(),
            )
    finally:
        await _flush_redis()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as the bot runs under uvicorn in production."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="bodies to post")
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent posters")
    parser.add_argument("--workers", type=int, default=8, help="inbox workers")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().getrandbits(32)
    # The log itself is not printed: warnings are counted in the report, errors are problems.
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    print(f"fuzzing {args.count} bodies, seed {args.seed}", flush=True)
    with (
        fresh_database(f"wbot_fuzz_{os.getpid()}") as dsn,
        asyncio.Runner(loop_factory=_loop_factory()) as runner,
    ):
        report = runner.run(_run(dsn, args))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
