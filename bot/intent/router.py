"""Intent detection: cache, then AI providers by priority behind breakers, then keywords.

Every step is recorded in ``intent_events`` by a background batch writer, so the customer never
waits for PostgreSQL and a database error never breaks detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
from redis.exceptions import RedisError

from bot import keys
from bot.intent.breaker import Breaker
from bot.intent.model import Intent, IntentResult
from bot.intent.normalize import fold
from bot.intent.providers import Attempt, Provider, ProviderConfig
from bot.metrics import AI_CALLS, AI_COST
from bot.redis_client import RedisClient

__all__ = ["IntentRouter", "load_provider_configs"]

log = logging.getLogger(__name__)

_SELECT_PROVIDERS = "SELECT * FROM ai_provider_config WHERE enabled ORDER BY priority, name"
_EVENT_COLUMNS = (
    "created_at", "customer", "text_hash", "provider", "outcome", "latency_ms",
    "http_status", "tokens_in", "tokens_out", "cost", "intent",
)  # fmt: skip
# A cache lookup must never eat the message's deadline, even when Redis is unreachable.
_CACHE_TIMEOUT_S = 0.1


async def load_provider_configs(pool: asyncpg.Pool) -> list[ProviderConfig]:
    """Enabled providers, lowest priority first."""
    return [ProviderConfig.from_row(row) for row in await pool.fetch(_SELECT_PROVIDERS)]


class _EventLog:
    """Buffers intent_events rows and writes them in batches from one background task."""

    def __init__(self, pool: asyncpg.Pool, delay_s: float, max_pending: int = 10_000) -> None:
        self._pool = pool
        self._delay_s = delay_s
        self._max_pending = max_pending
        self._rows: list[tuple[Any, ...]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False

    def add(self, *row: Any) -> None:
        if len(self._rows) >= self._max_pending:
            return  # PostgreSQL has been down a while: metrics are lost, detection goes on
        self._rows.append((datetime.now(UTC), *row))
        if self._task is None:
            self._task = asyncio.create_task(self._write_soon())

    async def flush(self) -> None:
        """Write everything buffered now."""
        if self._task is not None:
            self._wake.set()
            await asyncio.shield(self._task)

    async def _write_soon(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._delay_s)  # gather a batch
        while self._rows:
            rows, self._rows = self._rows, []
            try:
                await self._pool.copy_records_to_table(
                    "intent_events", records=rows, columns=_EVENT_COLUMNS
                )
            except Exception as exc:  # the writer must survive anything the database does
                if not self._failing:
                    log.warning("intent_events not written (%s)", type(exc).__name__)
                self._failing = True
            else:
                self._failing = False
        self._wake.clear()
        self._task = None


class IntentRouter:
    """Detects intents for the pipeline; ``reload`` after operators change ai_provider_config."""

    def __init__(
        self,
        *,
        configs: Sequence[ProviderConfig],
        env: Mapping[str, str],
        redis: RedisClient,
        pool: asyncpg.Pool,
        http: httpx.AsyncClient,
        fallback: Callable[[str], IntentResult],
        breaker_cache_s: float = 1.0,
        events_delay_s: float = 0.2,
    ) -> None:
        self._env = env
        self._redis = redis
        self._pool = pool
        self._http = http
        self._fallback = fallback
        self._breaker_cache_s = breaker_cache_s
        self._events = _EventLog(pool, events_delay_s)
        self._warned_keys: set[str] = set()
        self._chain: list[tuple[Provider, Breaker]] = []
        self._configure(configs)

    @classmethod
    async def create(
        cls,
        *,
        pool: asyncpg.Pool,
        redis: RedisClient,
        http: httpx.AsyncClient,
        fallback: Callable[[str], IntentResult],
        env: Mapping[str, str] | None = None,
    ) -> IntentRouter:
        """A router on the providers currently configured in the database."""
        configs = await load_provider_configs(pool)
        env = os.environ if env is None else env
        return cls(configs=configs, env=env, redis=redis, pool=pool, http=http, fallback=fallback)

    @property
    def providers(self) -> tuple[str, ...]:
        """Names of the providers in the order they are tried."""
        return tuple(provider.config.name for provider, _ in self._chain)

    def breaker(self, name: str) -> Breaker:
        """The breaker of one active provider (health checks, tests)."""
        return next(b for p, b in self._chain if p.config.name == name)

    async def reload(self) -> None:
        self._configure(await load_provider_configs(self._pool))

    async def flush(self) -> None:
        """Wait until every recorded event is written (tests, shutdown)."""
        await self._events.flush()

    def _configure(self, configs: Sequence[ProviderConfig]) -> None:
        chain: list[tuple[Provider, Breaker]] = []
        for cfg in sorted((c for c in configs if c.enabled), key=lambda c: (c.priority, c.name)):
            key = self._env.get(cfg.api_key_env)
            if not key:
                if cfg.name not in self._warned_keys:
                    self._warned_keys.add(cfg.name)
                    log.warning("AI provider %s skipped: %s is not set", cfg.name, cfg.api_key_env)
                continue
            breaker = Breaker(cfg.name, self._redis, cfg.breaker, cache_s=self._breaker_cache_s)
            chain.append((Provider(cfg, key, self._http), breaker))
        self._chain = chain

    async def detect(
        self,
        text: str,
        *,
        customer: str,
        use_ai: bool,
        deadline_ms: int,
        lang: str | None = None,
    ) -> IntentResult:
        started = time.monotonic()
        deadline = started + deadline_ms / 1000
        folded = fold(text)
        text_hash = hashlib.sha256(folded.encode()).hexdigest()

        def event(provider: str, outcome: str, attempt: Attempt | None, intent: str | None) -> None:
            latency = attempt.latency_ms if attempt else round((time.monotonic() - started) * 1000)
            usage = (
                (attempt.http_status, attempt.tokens_in, attempt.tokens_out, attempt.cost)
                if attempt
                else (None, None, None, None)
            )
            self._events.add(customer, text_hash, provider, outcome, latency, *usage, intent)

        if use_ai and self._chain:
            cache_key = keys.intent_cache(lang or "any", folded) if folded else None
            cached = await self._cache_get(cache_key, lang)
            if cached is not None:
                event("cache", "cache", None, cached.intent.value)
                return cached
            for provider, breaker in self._chain:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                result = await self._attempt(provider, breaker, text, left, event)
                if result is not None:
                    await self._cache_set(cache_key, result)
                    return dataclasses.replace(result, language=lang)
        result = dataclasses.replace(self._fallback(text), source="keywords", language=lang)
        event("keywords", "fallback", None, result.intent.value)
        return result

    async def _attempt(
        self,
        provider: Provider,
        breaker: Breaker,
        text: str,
        left_s: float,
        event: Callable[[str, str, Attempt | None, str | None], None],
    ) -> IntentResult | None:
        name, cfg = provider.config.name, provider.config
        permit = await breaker.allow()
        if not permit.allowed:
            AI_CALLS.labels(name, "skipped_open").inc()
            event(name, "skipped_open", None, None)
            return None
        own_timeout_s = cfg.timeout_ms / 1000
        budget = min(own_timeout_s, left_s)
        attempt = await provider.classify(text, timeout_s=budget)
        slow = attempt.latency_ms >= cfg.breaker.slow_call_ms
        # A timeout forced early by the message deadline only says the provider is unhealthy if
        # the call was already slow by the provider's own standard.
        cut_short = attempt.outcome == "timeout" and budget < own_timeout_s and not slow
        await breaker.record(
            permit, ok=attempt.outcome == "ok", slow=slow, counts=attempt.counts and not cut_short
        )
        intent = attempt.result.intent.value if attempt.result else None
        AI_CALLS.labels(name, attempt.outcome).inc()
        if attempt.cost:
            AI_COST.labels(name).inc(float(attempt.cost))
        event(name, attempt.outcome, attempt, intent)
        return attempt.result

    async def _cache_get(self, cache_key: str | None, lang: str | None) -> IntentResult | None:
        if cache_key is None:
            return None
        try:
            async with asyncio.timeout(_CACHE_TIMEOUT_S):
                raw = await self._redis.get(cache_key)
            if raw is None:
                return None
            data = orjson.loads(raw)
            return IntentResult(
                intent=Intent(data["intent"]),
                confidence=float(data["confidence"]),
                quantity=data.get("quantity"),
                query=data.get("query"),
                source="cache",
                language=lang,
            )
        except (RedisError, OSError, TimeoutError, ValueError, KeyError, TypeError):
            return None  # a cache problem is a cache miss

    async def _cache_set(self, cache_key: str | None, result: IntentResult) -> None:
        if cache_key is None:
            return
        value = orjson.dumps(
            {
                "intent": result.intent.value,
                "confidence": result.confidence,
                "quantity": result.quantity,
                "query": result.query,
                "provider": result.source,
            }
        )
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(_CACHE_TIMEOUT_S):
                await self._redis.set(cache_key, value, ex=keys.INTENT_CACHE_TTL_S)
