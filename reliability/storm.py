"""Storm: a burst of deliveries, 30% of them redeliveries of the same body (half of those at the
same instant, to the other of two bot processes), like Meta retrying under load."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reliability.harness import MESSAGES_PER_CUSTOMER, Result, chatter, spread_duplicates, stack
from reliability.observe import latencies, percentile

__all__ = ["run"]


@dataclass(frozen=True, slots=True)
class Size:
    deliveries: int
    rate: float  # deliveries per second
    settle_s: float


FULL = Size(deliveries=10_000, rate=150, settle_s=900)
SHORT = Size(deliveries=1_000, rate=150, settle_s=120)
DUPLICATE_SHARE = 0.3
# Two instances (a concurrent redelivery reaches the other one), with the workers of one default
# instance between them.
_TWO_HALF_INSTANCES = {"BOT_WORKERS": "8"}


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    duplicates = round(size.deliveries * DUPLICATE_SHARE)
    customers = (size.deliveries - duplicates) // MESSAGES_PER_CUSTOMER
    plan = spread_duplicates(chatter(customers, 1_000_000), duplicates)
    async with stack("storm", bots=2, env=_TWO_HALF_INSTANCES) as s:
        load = s.load(size.rate)
        posting = time.monotonic()
        await load.run(plan)
        posted_s = time.monotonic() - posting
        outcome, drained_at = await s.finish(load, size.settle_s)
    drain_s = drained_at - min(load.first_post.values())
    replies = latencies(load, outcome)
    acks = sorted(load.ack_seconds)
    return Result(
        "1 storm, 30% redelivered",
        outcome,
        time.monotonic() - started,
        figures={
            "deliveries": f"{load.deliveries:,}",
            "posting": f"{posted_s:.0f} s ({load.deliveries / posted_s:.0f}/s of {size.rate:.0f}/s offered)",
            "all answered": f"{drain_s:.0f} s ({outcome.processed / drain_s:.0f} msg/s)",
            "webhook 200 p95": f"{percentile(acks, 95):.2f} s",
            "reply p95": f"{percentile(replies, 95):.1f} s",
        },
        misses=tuple(outcome.misses()),
    )
