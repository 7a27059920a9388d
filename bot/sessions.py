"""Customer sessions: PostgreSQL is the source of truth, Redis a read/write-through cache.

A session is loaded after the customer's lock is taken (the inbox worker holds it) and saved
in the same transaction that marks the message done. Redis trouble never reaches the
customer: reads fall back to PostgreSQL, and a cache write that failed is remembered so the
stale copy is deleted as soon as Redis answers again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from redis.exceptions import RedisError

from bot import keys
from bot.config import LiveConfig
from bot.metrics import SESSION_CACHE
from bot.redis_client import RedisClient

__all__ = ["CartLine", "Session", "SessionStore"]

log = logging.getLogger(__name__)

_HITS, _MISSES, _ERRORS = (SESSION_CACHE.labels(r) for r in ("hit", "miss", "error"))

_LOAD = """
SELECT state, cart, context, expires_at FROM customer_sessions
WHERE customer = $1 AND expires_at > now()
"""
_SWEEP = "DELETE FROM customer_sessions WHERE expires_at < now() - interval '1 day'"


@dataclass(frozen=True, slots=True)
class CartLine:
    product_id: int
    retailer_id: str
    name: str
    quantity: int
    unit_price: Decimal
    currency: str

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity

    def as_json(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "retailer_id": self.retailer_id,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "currency": self.currency,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CartLine:
        return cls(
            int(data["product_id"]),
            str(data["retailer_id"]),
            str(data["name"]),
            int(data["quantity"]),
            Decimal(str(data["unit_price"])),
            str(data["currency"]),
        )


@dataclass(slots=True)
class Session:
    customer: str
    state: str = "idle"
    cart: list[CartLine] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"state": self.state, "cart": [c.as_json() for c in self.cart], "context": self.context}
        )

    @classmethod
    def from_parts(cls, customer: str, state: str, cart: Any, context: Any) -> Session:
        return cls(customer, state, [CartLine.from_json(c) for c in cart], dict(context))


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    # First contacts: no session can exist yet, so neither Redis nor PostgreSQL is asked.
    started: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, redis: RedisClient, config: LiveConfig) -> None:
        self._pool = pool
        self._redis = redis
        self._config = config
        self._stale: set[str] = set()  # cache keys whose write failed while Redis was down
        self.stats = CacheStats()
        self.degraded = False
        self._retry_at = 0.0  # while degraded, Redis is tried again only after this moment
        self._was_off = False

    @property
    def ttl_s(self) -> int:
        return self._config.number("session_ttl_seconds")

    @property
    def backend(self) -> str:
        cache_on = self._config.flag("use_redis_sessions") and not self.degraded
        return "redis" if cache_on else "postgres-only"

    async def _cache_enabled(self) -> bool:
        if not self._config.flag("use_redis_sessions"):
            self._was_off = True
            return False
        # A hanging Redis would cost every message its socket timeout: probe it once a second.
        if self.degraded and time.monotonic() < self._retry_at:
            return False
        if self._was_off:
            # Saves went to PostgreSQL only while the cache was off: cached copies may be stale.
            try:
                removed = await self.forget_all()
            except (RedisError, OSError) as exc:
                self._failed(exc)
                return False
            log.info("session cache switched on again; dropped %d cached sessions", removed)
            self._was_off = False
        return True

    def start(self, customer: str) -> Session:
        """The empty session of a customer created by this very message (no lookup needed)."""
        self.stats.started += 1
        return Session(customer)

    async def load(self, customer: str) -> Session:
        if await self._cache_enabled():
            cached = await self._cache_get(customer)
            if cached is not None:
                self.stats.hits += 1
                _HITS.inc()
                data = orjson.loads(cached)
                return Session.from_parts(customer, data["state"], data["cart"], data["context"])
            self.stats.misses += 1
            _MISSES.inc()
        row = await self._pool.fetchrow(_LOAD, customer)
        if row is None:
            return Session(customer)
        return Session.from_parts(
            customer, row["state"], orjson.loads(row["cart"]), orjson.loads(row["context"])
        )

    def columns(self, session: Session) -> tuple[str, str, str, float]:
        """State, cart, context (JSON) and TTL as a message's commit stores them
        (sql/migrations/0012_turn_rounds.sql); call ``cache`` after the commit."""
        cart = orjson.dumps([line.as_json() for line in session.cart]).decode()
        return session.state, cart, orjson.dumps(session.context).decode(), float(self.ttl_s)

    async def cache(self, session: Session) -> None:
        key = keys.session(session.customer)
        if not await self._cache_enabled():
            if self.degraded:
                self._stale.add(key)
            return
        try:
            await self._forget_stale()
            await self._redis.set(key, session.to_bytes(), ex=self.ttl_s)
            self._recovered()
        except (RedisError, OSError) as exc:
            self._stale.add(key)
            self._failed(exc)

    async def forget_all(self) -> int:
        """Drop every cached session (used when the cache is switched back on)."""
        removed = 0
        async for key in self._redis.scan_iter(match=keys.session("*"), count=500):
            removed += await self._redis.delete(key)
        return removed

    async def sweep(self) -> int:
        """Delete long-expired sessions from PostgreSQL (Redis expires its copies itself)."""
        status: str = await self._pool.execute(_SWEEP)
        return int(status.split()[-1])

    async def _cache_get(self, customer: str) -> bytes | None:
        try:
            await self._forget_stale()
            value = await self._redis.get(keys.session(customer))
            self._recovered()
            return value if isinstance(value, bytes) else None
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None

    async def _forget_stale(self) -> None:
        # One key at a time: each customer's key lives in its own cluster slot.
        while self._stale:
            key = next(iter(self._stale))
            await self._redis.delete(key)
            self._stale.discard(key)

    def _failed(self, exc: Exception) -> None:
        self.stats.errors += 1
        _ERRORS.inc()
        self._retry_at = time.monotonic() + 1.0
        if not self.degraded:
            log.warning("session cache unavailable, using PostgreSQL only: %s", type(exc).__name__)
        self.degraded = True

    def _recovered(self) -> None:
        if self.degraded:
            log.warning("session cache is back")
        self.degraded = False
