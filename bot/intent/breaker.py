"""Per-provider circuit breakers shared by every process through one Lua-updated Redis hash.

Rules (resilience4j's, over a time window): the breaker opens when at least ``min_calls`` calls
ended in the last ``window_s`` seconds and the failure rate or the slow-call rate reaches its
threshold, so a provider failing every second call trips (a consecutive-failure counter never
would). After ``open_s`` exactly one caller across all processes gets a half-open probe; its
success closes the breaker with fresh counters, its failure reopens it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from redis.exceptions import RedisError

from bot import keys
from bot.metrics import BREAKER_STATE
from bot.redis_client import RedisClient

__all__ = ["Breaker", "BreakerConfig", "BreakerState", "Permit"]

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]

_SCRIPT = Path(__file__).with_name("breaker.lua").read_text(encoding="utf-8")
# What the script (and the in-process twin) answers: a state word and seconds until open_until.
_Reply = tuple[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerConfig:
    failure_rate: float = 0.5
    slow_call_ms: int = 1500
    slow_rate: float = 0.8
    min_calls: int = 5
    window_s: int = 60
    open_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.failure_rate <= 1 and 0 < self.slow_rate <= 1):
            raise ValueError(f"breaker rates must be in (0, 1]: {self}")
        if self.min_calls < 1 or self.window_s < 1 or self.open_s <= 0:
            raise ValueError(f"breaker sizes must be positive: {self}")


@dataclass(frozen=True, slots=True)
class Permit:
    """Whether one call may go ahead: a normal call, the half-open probe, or refused (open)."""

    kind: Literal["allowed", "probe", "open"]
    token: str = ""
    # Issued by the in-process breaker while Redis was unreachable; recorded there too.
    local: bool = False

    @property
    def allowed(self) -> bool:
        return self.kind != "open"


_HALF_OPEN = frozenset({"half_open", "probe", "busy"})
_ALLOWED = Permit("allowed")
_REFUSED = Permit("open")


@dataclass(slots=True)
class _LocalBreaker:
    """The script's rules in process memory, on the monotonic clock, for when Redis is down."""

    config: BreakerConfig
    buckets: dict[int, list[int]] = field(default_factory=dict)  # second -> [calls, fails, slow]
    open_until: float | None = None
    probe_token: str = ""
    probe_until: float = 0.0

    def peek(self, now: float) -> _Reply:
        if self.open_until is None:
            return ("closed", 0.0)
        if now < self.open_until:
            return ("open", self.open_until - now)
        return ("half_open", 0.0)

    def allow(self, now: float, token: str) -> _Reply:
        state = self.peek(now)
        if state[0] != "half_open":
            return state
        if now < self.probe_until:
            return ("busy", 0.0)
        self.probe_token, self.probe_until = token, now + keys.BREAKER_PROBE_TTL_MS / 1000
        return ("probe", 0.0)

    def record(self, now: float, token: str, outcome: str, slow: bool) -> _Reply:
        if token and token == self.probe_token and now < self.probe_until:
            self.probe_token, self.probe_until = "", 0.0
            if outcome == "neutral":
                return self.peek(now)
            if outcome == "ok" and not slow:
                self.open_until = None
                self.buckets.clear()
                return ("closed", 0.0)
            return self._trip(now)
        if self.open_until is not None or outcome == "neutral":
            return self.peek(now)
        second = int(now)
        counts = self.buckets.setdefault(second, [0, 0, 0])
        counts[0] += 1
        counts[1] += outcome == "fail"
        counts[2] += slow
        for old in [s for s in self.buckets if s <= second - self.config.window_s]:
            del self.buckets[old]
        calls, fails, slows = (sum(c[i] for c in self.buckets.values()) for i in range(3))
        cfg = self.config
        if calls >= cfg.min_calls and (
            fails / calls >= cfg.failure_rate or slows / calls >= cfg.slow_rate
        ):
            return self._trip(now)
        return ("closed", 0.0)

    def _trip(self, now: float) -> _Reply:
        self.buckets.clear()
        self.open_until = now + self.config.open_s
        return ("opened", self.config.open_s)


class Breaker:
    """One provider's breaker; ``allow`` before a call, ``record`` its outcome after."""

    def __init__(
        self,
        name: str,
        redis: RedisClient,
        config: BreakerConfig | None = None,
        *,
        cache_s: float = 1.0,
        redis_timeout_s: float = 0.25,
        redis_retry_s: float = 5.0,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._keys = [keys.breaker(name), keys.breaker_probe(name)]
        self._script = redis.register_script(_SCRIPT)
        self._local = _LocalBreaker(self.config)
        self._cache_s = cache_s
        self._redis_timeout_s = redis_timeout_s
        self._redis_retry_s = redis_retry_s
        # Last state seen, trusted until the monotonic deadline: a healthy provider's `allow`
        # then costs no Redis round trip, and another process's trip is seen within cache_s.
        self._cached: tuple[str, float] = ("", 0.0)
        self._redis_down_until = 0.0
        self._degraded = False
        self._gauge = BREAKER_STATE.labels(name)

    async def allow(self) -> Permit:
        now = time.monotonic()
        cached, until = self._cached
        if now < until:
            return _ALLOWED if cached == "closed" else _REFUSED
        token = uuid.uuid4().hex
        reply = await self._eval("allow", token, keys.BREAKER_PROBE_TTL_MS)
        local = reply is None
        kind, remaining = self._local.allow(now, token) if reply is None else reply
        self._remember(kind, remaining)
        if kind == "closed":
            return _ALLOWED
        if kind == "probe":
            log.info("breaker %s: half-open, this process probes", self.name)
            return Permit("probe", token, local)
        return _REFUSED

    async def record(self, permit: Permit, *, ok: bool, slow: bool, counts: bool = True) -> None:
        """Record a call's outcome; ``counts=False`` for answers unrelated to provider health."""
        if not permit.allowed:
            return
        outcome = "neutral" if not counts else "ok" if ok else "fail"
        reply = None
        if not permit.local:
            cfg = self.config
            reply = await self._eval(
                "record",
                permit.token,
                outcome,
                int(slow),
                cfg.window_s,
                cfg.min_calls,
                cfg.failure_rate,
                cfg.slow_rate,
                int(cfg.open_s * 1000),
            )
        if reply is None:
            token = permit.token if permit.local else ""
            reply = self._local.record(time.monotonic(), token, outcome, slow)
        kind, remaining = reply
        if kind == "opened":
            log.warning("breaker %s opened for %.1f s", self.name, remaining)
        elif kind == "closed" and permit.kind == "probe":
            log.info("breaker %s closed after a successful probe", self.name)
        self._remember(kind, remaining)

    async def state(self) -> BreakerState:
        reply = await self._eval("peek")
        kind, _ = self._local.peek(time.monotonic()) if reply is None else reply
        return "closed" if kind == "closed" else "half_open" if kind == "half_open" else "open"

    def _remember(self, kind: str, remaining_s: float) -> None:
        now = time.monotonic()
        # "probe" and "busy" are the half-open state seen by the prober and by everyone else.
        self._gauge.set(0.0 if kind == "closed" else 0.5 if kind in _HALF_OPEN else 1.0)
        if kind == "closed":
            self._cached = ("closed", now + self._cache_s)
        elif kind == "half_open":
            self._cached = ("", 0.0)  # ask Redis next time: the probe is up for grabs
        else:
            hold = remaining_s if 0 < remaining_s < self._cache_s else self._cache_s
            self._cached = ("open", now + hold)

    async def _eval(self, *args: str | int | float) -> _Reply | None:
        """Run the script; None (and the in-process breaker) while Redis is unreachable."""
        if time.monotonic() < self._redis_down_until:
            return None
        try:
            # redis-py's Script reloads the script itself on NOSCRIPT (e.g. after SCRIPT FLUSH).
            async with asyncio.timeout(self._redis_timeout_s):
                reply = await self._script(keys=self._keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._redis_down_until = time.monotonic() + self._redis_retry_s
            if not self._degraded:
                self._degraded = True
                log.warning(
                    "breaker %s: Redis unreachable (%s); using an in-process breaker",
                    self.name,
                    type(exc).__name__,
                )
            return None
        if self._degraded:
            self._degraded = False
            log.info("breaker %s: Redis reachable again", self.name)
        kind, remaining_ms = reply
        word = kind.decode() if isinstance(kind, bytes) else str(kind)
        return (word, int(remaining_ms) / 1000)
