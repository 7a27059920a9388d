"""Per-customer message limits: one atomic Redis script per message; in memory if Redis is down."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from bot import keys
from bot.redis_client import RedisClient

__all__ = ["WINDOWS", "Decision", "RateLimiter", "TierLimits", "load_tier_limits"]

log = logging.getLogger(__name__)

# (name, length in ms), in the order of TierLimits.limits().
# With the seeded tiers (new: 5 per minute, burst 10) the burst window is looser than the minute
# window and never binds. It only binds once an operator sets max_per_minute above burst_size, and
# then it stops a customer from spending a whole minute's quota within a few seconds.
WINDOWS: tuple[tuple[str, int], ...] = (
    ("burst", 10_000),
    ("minute", 60_000),
    ("hour", 3_600_000),
    ("day", 86_400_000),
)
# Counters must outlive the longest window by a whole window (the hash TTL in the script, too).
_KEEP_MS = 2 * max(size for _, size in WINDOWS)

_SCRIPT = Path(__file__).with_name("ratelimit.lua").read_text(encoding="utf-8")
_SELECT_TIERS = """
SELECT tier, max_per_minute, max_per_hour, max_per_day, burst_size FROM rate_limit_config"""


@dataclass(frozen=True, slots=True)
class TierLimits:
    per_minute: int
    per_hour: int
    per_day: int
    burst: int

    def __post_init__(self) -> None:
        if min(self.per_minute, self.per_hour, self.per_day, self.burst) < 1:
            raise ValueError(f"rate limits must be positive: {self}")

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | asyncpg.Record) -> TierLimits:
        """From a rate_limit_config row."""
        return cls(
            per_minute=row["max_per_minute"],
            per_hour=row["max_per_hour"],
            per_day=row["max_per_day"],
            burst=row["burst_size"],
        )

    def limits(self) -> tuple[int, ...]:
        """One limit per entry of WINDOWS."""
        return (self.burst, self.per_minute, self.per_hour, self.per_day)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # The violated window that keeps the customer waiting longest; None when allowed.
    window: str | None
    retry_after_ms: int
    # True only for the first refusal in this window's bucket: send one polite notice, then silence.
    notify: bool
    # Decided by this process alone because Redis was unreachable.
    degraded: bool


def _retry_ms(prev: int, cur: int, limit: int, size: int, elapsed: int) -> int:
    """0 if one more message fits the window, else the ms until it would (as in ratelimit.lua)."""
    if prev * (size - elapsed) / size + cur + 1 <= limit:
        return 0
    room = limit - 1 - cur
    if room >= 0:
        retry = size - room * size / prev - elapsed
    else:
        retry = size - elapsed + size - (limit - 1) * size / cur
    return max(1, math.ceil(retry))


def _script_args(message_id: str, limits: TierLimits) -> list[str | int]:
    """ratelimit.lua's ARGV: the message id, then window_ms, limit for every window."""
    pairs = zip(WINDOWS, limits.limits(), strict=True)
    return [message_id, *(n for (_, size), limit in pairs for n in (size, limit))]


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class _Memory:
    """ratelimit.lua's algorithm on per-process dicts for Redis outages; an LRU of customers."""

    def __init__(self, clock: Callable[[], int], max_customers: int) -> None:
        self._clock = clock
        self._max_customers = max_customers
        # customer -> (last check in ms, fields named as in the Redis hash); oldest check first.
        self._customers: OrderedDict[str, tuple[int, dict[str, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._customers)

    def check(self, customer: str, limits: TierLimits) -> Decision:
        now = self._clock()
        fields = self._touch(customer, now)
        worst: tuple[str, int, str] | None = None  # (window, retry_ms, current field)
        live: set[str] = set()
        current: list[str] = []
        for (name, size), limit in zip(WINDOWS, limits.limits(), strict=True):
            bucket, elapsed = divmod(now, size)
            cur_field, prev_field = f"{size}:{bucket}", f"{size}:{bucket - 1}"
            live.update((cur_field, prev_field, f"n:{cur_field}"))
            current.append(cur_field)
            cur, prev = fields.get(cur_field, 0), fields.get(prev_field, 0)
            retry = _retry_ms(prev, cur, limit, size, elapsed)
            if retry and (worst is None or retry > worst[1]):
                worst = (name, retry, cur_field)
        for field in fields.keys() - live:
            del fields[field]
        if worst is None:
            for field in current:
                fields[field] = fields.get(field, 0) + 1
            return Decision(True, None, 0, notify=False, degraded=True)
        name, retry, cur_field = worst
        notice = f"n:{cur_field}"
        notify = notice not in fields
        fields[notice] = 1
        return Decision(False, name, retry, notify=notify, degraded=True)

    def _touch(self, customer: str, now: int) -> dict[str, int]:
        _, fields = self._customers.get(customer, (now, {}))
        self._customers[customer] = (now, fields)
        self._customers.move_to_end(customer)
        # Least recently seen first: evict over the cap, and whoever has no live counter left.
        while self._customers:
            seen, _ = next(iter(self._customers.values()))
            if len(self._customers) <= self._max_customers and now - seen <= _KEEP_MS:
                break
            self._customers.popitem(last=False)
        return fields


class RateLimiter:
    """Checks and counts one customer's message against every window in one Redis round trip."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        timeout_s: float = 1.0,
        redis_retry_s: float = 1.0,
        max_memory_customers: int = 10_000,
    ) -> None:
        self._script = redis.register_script(_SCRIPT)
        # redis-py retries a refused connection for seconds: a message must not wait that long.
        self._timeout_s = timeout_s
        # During an outage, try Redis again at most this often instead of paying the timeout on
        # every message.
        self._redis_retry_s = redis_retry_s
        self._memory = _Memory(_monotonic_ms, max_memory_customers)
        self._outage_since: float | None = None
        self._next_try = 0.0

    async def check(self, customer: str, message_id: str, limits: TierLimits) -> Decision:
        """Count one inbound message, or refuse it without counting it in any window. The same
        message checked again (processed again after a crash) gets the same decision, uncounted;
        in memory (Redis down) it is counted again."""
        if self._outage_since is not None and time.monotonic() < self._next_try:
            return self._memory.check(customer, limits)
        args = _script_args(message_id, limits)
        try:
            async with asyncio.timeout(self._timeout_s):
                reply = await self._script(keys=[keys.rate_limit(customer)], args=args)
        except (RedisError, OSError) as exc:  # asyncio's TimeoutError is an OSError
            now = time.monotonic()
            if self._outage_since is None:
                self._outage_since = now
                log.warning(
                    "rate limiter: Redis unavailable (%s: %s); limiting in memory",
                    type(exc).__name__,
                    exc,
                )
            self._next_try = now + self._redis_retry_s
            return self._memory.check(customer, limits)
        if self._outage_since is not None:
            log.info(
                "rate limiter: Redis is back after %.1f s; limiting in Redis again",
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None
        allowed, position, retry_ms, notify = (int(value) for value in reply)
        if allowed:
            return Decision(True, None, 0, notify=False, degraded=False)
        return Decision(
            False, WINDOWS[position - 1][0], retry_ms, notify=bool(notify), degraded=False
        )


async def load_tier_limits(pool: asyncpg.Pool) -> dict[str, TierLimits]:
    """Every tier's limits from rate_limit_config."""
    rows = await pool.fetch(_SELECT_TIERS)
    return {row["tier"]: TierLimits.from_row(row) for row in rows}
