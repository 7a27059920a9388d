"""Redis stopped under load, then started again: every message is still answered (sessions from
PostgreSQL, rate limits in memory), and the session cache is used again soon after Redis is back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from reliability.harness import (
    SHORT_OUTAGE,
    TARGET_RECOVERY_S,
    OutageSize,
    Result,
    Stack,
    chatter,
    customers_for,
    disturbed,
    stack,
)

__all__ = ["run"]


FULL = OutageSize(outage_s=30)
SHORT = OutageSize(outage_s=5, **SHORT_OUTAGE)


@dataclass(frozen=True, slots=True)
class Outage:
    stopped_at: float
    noticed_at: float | None  # /health/storage first said the cache is off
    started_at: float
    cache_back_at: float | None  # /health/storage first said "redis" again


async def _backend_is(s: Stack, wanted: str, timeout_s: float) -> float | None:
    """When the bot's /health/storage first reports ``wanted`` as its session backend."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):  # a bot too busy to answer in time: not yet
            if (await s.storage(s.bots[0]))["session_backend"] == wanted:
                return time.time()
        await asyncio.sleep(0.1)
    return None


def _outage(s: Stack, down_s: float) -> Callable[[], Awaitable[Outage]]:
    async def run() -> Outage:
        await asyncio.to_thread(s.redis.stop)
        stopped_at = time.time()
        noticed_at = await _backend_is(s, "postgres-only", down_s)
        await asyncio.sleep(max(0.0, stopped_at + down_s - time.time()))
        await asyncio.to_thread(s.redis.start)
        started_at = time.time()
        return Outage(stopped_at, noticed_at, started_at, await _backend_is(s, "redis", 60))

    return run


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    plan = chatter(customers_for(size.rate, size.chat_s), 3_000_000)
    async with stack("redis") as s:
        load, outage = await disturbed(
            s, plan, rate=size.rate, lead_s=size.lead_s, disturb=_outage(s, size.outage_s)
        )
        outcome, _ = await s.finish(load, size.settle_s)
    recovery = (
        outage.cache_back_at - outage.started_at if outage.cache_back_at is not None else None
    )
    misses = outcome.misses()
    if recovery is None or recovery > TARGET_RECOVERY_S:
        misses.append("recovery")
    if outage.noticed_at is None:
        misses.append("outage never showed in /health/storage")
    during = [w for w, at in load.first_post.items() if outage.stopped_at <= at < outage.started_at]
    return Result(
        f"3 Redis down {size.outage_s:.0f} s",
        outcome,
        time.monotonic() - started,
        recovery,
        'redis-server started → /health/storage says "redis"',
        figures={
            "posted while down": str(len(during)),
            "answered of those": str(sum(1 for w in during if w in outcome.reply_at)),
        },
        misses=tuple(misses),
    )
