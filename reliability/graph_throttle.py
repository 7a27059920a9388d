"""The Graph API throttles every send (HTTP 429, code 130429) for a while: replies wait in the
outbox, in order, and all go out once, soon after the throttling ends."""

from __future__ import annotations

import asyncio
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
class Throttle:
    began_at: float
    ended_at: float


def _throttle(s: Stack, seconds: float) -> Callable[[], Awaitable[Throttle]]:
    async def run() -> Throttle:
        spec = {"seconds": seconds, "http_status": 429, "code": 130429}
        async with httpx.AsyncClient() as client:
            began_at = time.time()
            (await client.post(f"{s.sink_url}/_sink/fail", json=spec)).raise_for_status()
        await asyncio.sleep(seconds)
        return Throttle(began_at, began_at + seconds)

    return run


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    plan = chatter(customers_for(size.rate, size.chat_s), 5_000_000)
    async with stack("graph") as s:
        load, throttle = await disturbed(
            s, plan, rate=size.rate, lead_s=size.lead_s, disturb=_throttle(s, size.outage_s)
        )
        outcome, drained_at = await s.finish(load, size.settle_s)
        sending_at = await s.first_sent_after(throttle.ended_at, timeout_s=0)
        refused = len(s.sink.rejected)
    recovery = sending_at - throttle.ended_at if sending_at is not None else None
    misses = outcome.misses()
    if recovery is None or recovery > TARGET_RECOVERY_S:
        misses.append("recovery")
    backlog = [w for w, at in load.acked_at.items() if at < throttle.ended_at]
    late = [outcome.reply_at[w] for w in backlog if outcome.reply_at.get(w, 0) > throttle.ended_at]
    return Result(
        f"6 Graph API 429 for {size.outage_s:.0f} s",
        outcome,
        time.monotonic() - started,
        recovery,
        "the 429s end → first accepted send",
        figures={
            "sends refused with 429": str(refused),
            "replies held back": str(len(late)),
            "backlog out after": f"{max(late, default=throttle.ended_at) - throttle.ended_at:.1f} s",
            "all answered after": f"{drained_at - throttle.ended_at:.1f} s",
        },
        misses=tuple(misses),
    )
