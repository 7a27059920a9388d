"""Messages/s of our one-EVALSHA limiter, of `limits` (one hit per window) and of an empty EVALSHA.

    python bench/ratelimit.py [--redis redis://127.0.0.1:6379/14] [--seconds 5] [--concurrency 50]

All three run at the same asyncio concurrency, each through its own redis.asyncio pool, on the
same Redis. The db index is flushed before and after. `limits` is driven the way flask-limiter
drives it: one moving-window `hit()` per limit, stopping at the first refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from bench.common import Row
from bot import keys
from bot.ratelimit import RateLimiter, TierLimits

# Every check is another message (the limiter answers a repeated one as it did the first time).
MESSAGE_IDS = (f"wamid.RL{n}" for n in itertools.count())

DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
# The seeded vip tier: the loosest, so most benchmark traffic is admitted (the costlier path).
VIP = TierLimits(per_minute=20, per_hour=300, per_day=2000, burst=50)
LIMITS_ITEMS: tuple[RateLimitItem, ...] = (
    RateLimitItemPerSecond(VIP.burst, 10),
    RateLimitItemPerMinute(VIP.per_minute),
    RateLimitItemPerHour(VIP.per_hour),
    RateLimitItemPerDay(VIP.per_day),
)
CUSTOMERS = 20_000
MEMORY_MESSAGES = 20  # one customer's traffic for the bytes-per-customer figure: all admitted
WARMUP_S = 0.5
ROUNDS = 5

Check = Callable[[str], Awaitable[bool]]


@dataclass(slots=True)
class _Tally:
    messages: int = 0
    admitted: int = 0
    seconds: float = 0.0


async def _drive(check: Check, seconds: float, concurrency: int, tally: _Tally) -> None:
    """`concurrency` tasks send messages from random customers for `seconds`."""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            admitted = await check(f"5491{random.randrange(CUSTOMERS):07d}")
            tally.messages += 1
            tally.admitted += admitted

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    tally.seconds += time.perf_counter() - started


async def _bytes(client: aioredis.Redis, pattern: str) -> int:
    total = 0
    async for key in client.scan_iter(match=pattern):
        total += await client.memory_usage(key) or 0
    return total


async def _run(redis_url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    client: aioredis.Redis = aioredis.Redis.from_url(redis_url, max_connections=concurrency * 2)
    await client.flushdb()
    try:
        ours = RateLimiter(client)
        moving = MovingWindowRateLimiter(
            RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                max_connections=concurrency * 2,
            )
        )
        noop = client.register_script("return 1")

        async def check_ours(customer: str) -> bool:
            decision = await ours.check(customer, next(MESSAGE_IDS), VIP)
            if decision.degraded:
                raise RuntimeError("Redis failed during the benchmark")
            return decision.allowed

        async def check_limits(customer: str) -> bool:
            for item in LIMITS_ITEMS:
                if not await moving.hit(item, customer):
                    return False
            return True

        async def check_noop(customer: str) -> bool:
            return bool(await noop())

        contenders = {"ours": check_ours, "limits": check_limits, "ceiling": check_noop}
        tallies = {name: _Tally() for name in contenders}
        for check in contenders.values():
            await _drive(check, WARMUP_S, concurrency, _Tally())
        # Interleaved slices, so that load from other processes on the host hits all alike.
        for _ in range(ROUNDS):
            for name, check in contenders.items():
                await _drive(check, seconds / ROUNDS, concurrency, tallies[name])
        result: dict[str, Any] = {"concurrency": concurrency, "seconds": seconds}
        for name, tally in tallies.items():
            result[f"{name}_msgs_per_s"] = tally.messages / tally.seconds
            result[f"{name}_admitted"] = tally.admitted / tally.messages
        result["ours_vs_limits"] = result["ours_msgs_per_s"] / result["limits_msgs_per_s"]
        result["ours_vs_ceiling"] = result["ours_msgs_per_s"] / result["ceiling_msgs_per_s"]

        for _ in range(MEMORY_MESSAGES):
            await check_ours("memory-probe")
            await check_limits("memory-probe")
        result["ours_bytes"] = await client.memory_usage(keys.rate_limit("memory-probe"))
        result["limits_bytes"] = await _bytes(client, "LIMITS:*memory-probe*")
        return result
    finally:
        await client.flushdb()
        await client.aclose()


def run(
    redis_url: str = DEFAULT_REDIS, seconds: float = 5.0, concurrency: int = 50
) -> dict[str, Any]:
    """Measure all three contenders; about 3 × (seconds + 0.5) long."""
    return asyncio.run(_run(redis_url, seconds, concurrency))


def rows(figures: dict[str, Any]) -> list[Row]:
    ours = figures["ours_msgs_per_s"]
    return [
        Row("rate limit checks/s", "msg/s", ours, figures["limits_msgs_per_s"],
            "limits moving window"),
        Row("rate limit checks/s vs an empty EVALSHA", "msg/s", ours,
            figures["ceiling_msgs_per_s"], "EVALSHA 'return 1'"),
        Row("rate limit bytes per customer", "B", figures["ours_bytes"], figures["limits_bytes"],
            "limits moving window", higher_is_better=False),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (its db is flushed)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per contender")
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    r = run(args.redis, args.seconds, args.concurrency)
    print(
        f"concurrency {r['concurrency']}, {r['seconds']:g} s each, {CUSTOMERS} customers, vip tier"
    )
    print(f"{'contender':<44}{'msgs/s':>10}{'admitted':>10}{'ours ÷ it':>11}")
    rows = (
        ("ours: 1 EVALSHA, 4 windows, all or nothing", "ours"),
        ("limits 5.8: 4 moving-window hit() per msg", "limits"),
        ("ceiling: EVALSHA 'return 1'", "ceiling"),
    )
    for label, name in rows:
        rate = r[f"{name}_msgs_per_s"]
        print(
            f"{label:<44}{rate:>10,.0f}{r[f'{name}_admitted']:>10.0%}"
            f"{r['ours_msgs_per_s'] / rate:>10.2f}×"
        )
    print(
        f"bytes per customer after {MEMORY_MESSAGES} messages (MEMORY USAGE): "
        f"ours {r['ours_bytes']}, limits {r['limits_bytes']}"
    )


if __name__ == "__main__":
    main()
