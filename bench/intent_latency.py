"""Intent detection latency p50/p95: AI path, open breaker, cache hit, and keywords alone.

    python bench/intent_latency.py [--redis redis://127.0.0.1:6379/14] [--ai-calls 60]

Everything runs in one process against a real Redis, a scratch PostgreSQL database (created,
migrated and dropped) and a fake provider served over real HTTP on 127.0.0.1 that answers in
200 ms. The keyword classifier alone, on the same texts, is the reference. Path (b) and the
cache hit include the cache lookup (one Redis GET) that comes before the providers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from bench.common import Row
from bot.intent.breaker import BreakerConfig
from bot.intent.keywords import classify
from bot.intent.model import IntentResult
from bot.intent.providers import ProviderConfig
from bot.intent.router import IntentRouter
from bot.migrate import migrate

try:
    from tests import fake_ai
except ModuleNotFoundError:  # run as a script: the repository root is not on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests import fake_ai

DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AI_LATENCY_S = 0.2
AI_CONCURRENCY = 10
LOCAL_CALLS = 2000
DEADLINE_MS = 2500
TEXTS = (
    "hola buenas tardes",
    "quiero 2 camisetas rojas talla M",
    "tienen zapatillas de running?",
    "ver mi carrito",
    "quita las medias del carrito",
    "quiero pagar",
    "donde esta mi pedido",
    "a que hora abren el sabado",
    "quiero hablar con una persona",
    "si, confirmo",
    "no gracias",
    "do you have black sneakers size 42",
    "add two of those to my cart",
    "thanks, bye!",
)


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ms, n=20, method="inclusive")
    return {"p50": cuts[9], "p95": cuts[18], "n": len(samples_ms)}


async def _timed(calls: Sequence[Callable[[], Awaitable[object]]], concurrency: int) -> list[float]:
    samples: list[float] = []
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def _reference(text: str) -> Callable[[], Awaitable[IntentResult]]:
    """The keyword classifier as a coroutine, timed like the router's calls."""

    async def call() -> IntentResult:
        return classify(text)

    return call


def _provider(name: str, base_url: str, breaker: BreakerConfig) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        kind="openai",
        base_url=base_url,
        model="fake-model",
        api_key_env="BENCH_KEY",
        timeout_ms=2000,
        cost_per_1k_tokens=Decimal("0.0006"),
        breaker=breaker,
    )


async def _measure(
    fake: fake_ai.FakeAI, redis: aioredis.Redis, pool: asyncpg.Pool, ai_calls: int
) -> dict[str, Any]:
    marker = uuid.uuid4().hex[:8]
    ai_name, open_name = f"bench-ai-{marker}", f"bench-open-{marker}"
    fake.provider(ai_name).default = fake_ai.ok("search_product", delay_s=AI_LATENCY_S)
    fake.provider(open_name).default = fake_ai.hang()
    ai_cfg = _provider(ai_name, fake.base_url(ai_name), BreakerConfig())
    open_cfg = _provider(
        open_name, fake.base_url(open_name), BreakerConfig(min_calls=1, open_s=600)
    )
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=AI_CONCURRENCY)) as http:

        def router(config: ProviderConfig) -> IntentRouter:
            return IntentRouter(
                configs=[config],
                env={"BENCH_KEY": "bench"},
                redis=redis,
                pool=pool,
                http=http,
                fallback=classify,
            )

        def detect(r: IntentRouter, text: str) -> Callable[[], Awaitable[IntentResult]]:
            return lambda: r.detect(text, customer="bench", use_ai=True, deadline_ms=DEADLINE_MS)

        ai = router(ai_cfg)
        # Open the client's keep-alive connections first, as a running bot has them.
        warmup = [detect(ai, f"warmup {marker} {i}") for i in range(AI_CONCURRENCY)]
        await _timed(warmup, AI_CONCURRENCY)
        # Unique texts: every call misses the cache and reaches the provider.
        calls = [detect(ai, f"{TEXTS[i % len(TEXTS)]} {marker} {i}") for i in range(ai_calls)]
        results["ai_200ms"] = _percentiles(await _timed(calls, AI_CONCURRENCY))

        opened = router(open_cfg)
        breaker = opened.breaker(open_name)
        await breaker.record(await breaker.allow(), ok=False, slow=False)
        if await breaker.state() != "open":
            raise RuntimeError("could not open the benchmark breaker")
        calls = [detect(opened, TEXTS[i % len(TEXTS)]) for i in range(LOCAL_CALLS)]
        results["breaker_open"] = _percentiles(await _timed(calls, 1))
        if fake.provider(open_name).requests:
            raise RuntimeError("the open breaker let a call through")

        cached_text = f"{TEXTS[0]} {marker}"
        await ai.detect(cached_text, customer="bench", use_ai=True, deadline_ms=DEADLINE_MS)
        calls = [detect(ai, cached_text) for _ in range(LOCAL_CALLS)]
        results["cache_hit"] = _percentiles(await _timed(calls, 1))

        calls = [_reference(TEXTS[i % len(TEXTS)]) for i in range(LOCAL_CALLS)]
        results["keywords_alone"] = _percentiles(await _timed(calls, 1))
        for r in (ai, opened):
            await r.flush()
    results["events_written"] = await pool.fetchval("SELECT count(*) FROM intent_events")
    async for key in redis.scan_iter(match=f"*{marker}*"):
        await redis.delete(key)
    return results


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _run(redis_url: str, ai_calls: int) -> dict[str, Any]:
    database = f"wbot_bench_{os.getpid()}"
    dsn = f"{ADMIN_DSN.rpartition('/')[0]}/{database}"
    await _admin(f'CREATE DATABASE "{database}"')
    redis: aioredis.Redis = aioredis.Redis.from_url(redis_url)
    try:
        await migrate(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        try:
            async with fake_ai.running() as fake:
                return await _measure(fake, redis, pool, ai_calls)
        finally:
            await pool.close()
    finally:
        await redis.aclose()
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run(redis_url: str = DEFAULT_REDIS, ai_calls: int = 60) -> dict[str, Any]:
    """Latency figures in ms, keyed by path; about ai_calls × 0.2 s / 10 plus a few seconds."""
    return asyncio.run(_run(redis_url, ai_calls))


def rows(figures: dict[str, Any]) -> list[Row]:
    ai, alone = figures["ai_200ms"], figures["keywords_alone"]
    return [
        Row("intent p95, AI provider taking 200 ms", "ms", ai["p95"], AI_LATENCY_S * 1000,
            "the provider's own delay", "50–300 ms (charter)", higher_is_better=False),
        Row("intent p95, breaker open → keywords", "ms", figures["breaker_open"]["p95"],
            alone["p95"], "keywords alone", "< 10 ms", higher_is_better=False),
        Row("intent p95, cached AI answer", "ms", figures["cache_hit"]["p95"], alone["p95"],
            "keywords alone", "", higher_is_better=False),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (only our keys touched)")
    parser.add_argument("--ai-calls", type=int, default=60, help="calls through the AI path")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the breaker we open on purpose would warn
    r = run(args.redis, args.ai_calls)
    print(f"{'intent detection path (ms)':<52}{'p50':>9}{'p95':>9}{'n':>7}")
    rows = (
        ("(a) AI provider answering in 200 ms, over HTTP", "ai_200ms"),
        ("(b) that provider's breaker open -> keywords", "breaker_open"),
        ("    cache hit (an earlier AI answer)", "cache_hit"),
        ("(c) reference: keywords.classify alone", "keywords_alone"),
    )
    for label, key in rows:
        row = r[key]
        print(f"{label:<52}{row['p50']:>9.3f}{row['p95']:>9.3f}{row['n']:>7}")
    print(f"intent_events rows written: {r['events_written']}")


if __name__ == "__main__":
    main()
