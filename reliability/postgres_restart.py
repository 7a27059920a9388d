"""PostgreSQL restarted under load (a private server of our own, never the system one): the
webhook answers 503 while it is down, Meta re-posts, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from reliability.harness import (
    SHORT_OUTAGE,
    TARGET_RECOVERY_S,
    OutageSize,
    Result,
    chatter,
    customers_for,
    disturbed,
    repeats_near,
    stack,
)
from reliability.services import PrivatePostgres

__all__ = ["run"]


FULL = OutageSize(outage_s=15)
SHORT = OutageSize(outage_s=3, **SHORT_OUTAGE)


@dataclass(frozen=True, slots=True)
class Restart:
    stopping_at: float
    back_at: float  # accepting connections again


def _restart(pg: PrivatePostgres, down_s: float) -> Callable[[], Awaitable[Restart]]:
    async def run() -> Restart:
        stopping_at = time.time()
        await asyncio.to_thread(pg.stop)
        await asyncio.sleep(max(0.0, stopping_at + down_s - time.time()))
        await asyncio.to_thread(pg.start)
        return Restart(stopping_at, time.time())

    return run


async def _scenario(pg: PrivatePostgres, size: OutageSize) -> Result:
    started = time.monotonic()
    plan = chatter(customers_for(size.rate, size.chat_s), 4_000_000)
    async with stack("postgres", postgres=pg) as s:
        load, restart = await disturbed(
            s, plan, rate=size.rate, lead_s=size.lead_s, disturb=_restart(pg, size.outage_s)
        )
        outcome, _ = await s.finish(load, size.settle_s)
        replying_at = await s.first_sent_after(restart.back_at, timeout_s=0)
    acking_at = load.first_ack_after(restart.back_at)
    recovery = (
        max(acking_at, replying_at) - restart.back_at
        if acking_at is not None and replying_at is not None
        else None
    )
    misses = outcome.misses()
    if recovery is None or recovery > TARGET_RECOVERY_S:
        misses.append("recovery")
    refused = load.answers["503"]
    if not refused:
        misses.append("no 503 while PostgreSQL was down")
    ack_s = f"{acking_at - restart.back_at:.1f} s" if acking_at is not None else "never"
    return Result(
        f"4 PostgreSQL restart ({size.outage_s:.0f} s down)",
        outcome,
        time.monotonic() - started,
        recovery,
        "PostgreSQL accepts connections → first 200 and first reply",
        figures={
            "503 answers (re-posted)": str(refused),
            "other failed posts": str(
                sum(n for k, n in load.answers.items() if k not in ("200", "503"))
            ),
            "first 200 after restart": ack_s,
            "repeated bodies (vs the stop)": repeats_near(outcome, [restart.stopping_at]),
        },
        misses=tuple(misses),
    )


async def run(short: bool = False) -> Result:
    pg = PrivatePostgres()
    try:
        await asyncio.to_thread(pg.start)
        return await _scenario(pg, SHORT if short else FULL)
    finally:
        await asyncio.to_thread(pg.remove)
