"""kill -9: the bot is killed under load and restarted at once, as a supervisor would; whatever
it acknowledged must be answered exactly once, by the new process."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from reliability.harness import (
    MESSAGES_PER_CUSTOMER,
    TARGET_RECOVERY_S,
    Result,
    Stack,
    chatter,
    repeats_near,
    stack,
)
from reliability.load import Load

__all__ = ["run"]


@dataclass(frozen=True, slots=True)
class Size:
    customers: int
    rate: float
    kills: int
    settle_s: float


FULL = Size(customers=500, rate=60, kills=3, settle_s=600)
SHORT = Size(customers=40, rate=30, kills=1, settle_s=120)


@dataclass(frozen=True, slots=True)
class Restart:
    killed_at: float
    ready_at: float  # the new process answers /health
    answering_at: float | None  # its first request to the Graph API


async def _kill_and_restart(s: Stack, load: Load, after_acks: int) -> Restart:
    await load.until_acked(after_acks)
    bot = s.bots[0]
    killed_at = time.time()
    await bot.kill()
    await bot.start()
    ready_at = time.time()
    answering_at = await s.first_sent_after(ready_at, timeout_s=60)
    return Restart(killed_at, ready_at, answering_at)


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    plan = chatter(size.customers, 2_000_000)
    total = size.customers * MESSAGES_PER_CUSTOMER
    restarts: list[Restart] = []
    async with stack("crash") as s:
        load = s.load(size.rate)
        posting = asyncio.create_task(load.run(plan))
        try:
            for n in range(1, size.kills + 1):
                restarts.append(await _kill_and_restart(s, load, total * n // (size.kills + 1)))
            await posting
        finally:
            posting.cancel()
        outcome, _ = await s.finish(load, size.settle_s)
    waits = [r.answering_at - r.ready_at for r in restarts if r.answering_at is not None]
    recovery = max(waits) if len(waits) == len(restarts) else None
    misses = outcome.misses()
    if recovery is None or recovery > TARGET_RECOVERY_S:
        misses.append("recovery")
    restart_s = max(r.ready_at - r.killed_at for r in restarts)
    return Result(
        "2 kill -9 under load",
        outcome,
        time.monotonic() - started,
        recovery,
        "the restarted bot answers /health → its first Graph API call",
        figures={
            "kills": str(size.kills),
            "restart (kill → /health)": f"≤ {restart_s:.1f} s",
            "repeated bodies (vs the kill)": repeats_near(outcome, [r.killed_at for r in restarts]),
            "refused or cut posts": str(sum(n for k, n in load.answers.items() if k != "200")),
        },
        misses=tuple(misses),
    )
