from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Literal

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from bot import keys
from bot.intent.breaker import BreakerConfig
from bot.intent.model import Intent, IntentResult
from bot.intent.normalize import fold
from bot.intent.providers import ProviderConfig
from bot.intent.router import IntentRouter
from tests import fake_ai

ENV = {"FAKE_KEY": "k"}
# Breaker keys carry the provider name: unique names keep concurrent test runs apart.
AI, FIRST, SECOND = (f"{n}-{uuid.uuid4().hex[:8]}" for n in ("ai", "first", "second"))
CUSTOMER = "5491122334455"
BREAKER = BreakerConfig(min_calls=3, window_s=10, open_s=30)


def keywords(text: str) -> IntentResult:
    """Stand-in for the keyword classifier."""
    intent = Intent.GREETING if "hola" in fold(text) else Intent.UNKNOWN
    return IntentResult(intent=intent, confidence=0.5)


@pytest.fixture
async def fake() -> AsyncIterator[fake_ai.FakeAI]:
    async with fake_ai.running() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def config(
    fake: fake_ai.FakeAI,
    name: str,
    *,
    kind: Literal["openai", "gemini"] = "openai",
    priority: int = 10,
    timeout_ms: int = 300,
) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        kind=kind,
        base_url=fake.base_url(name),
        model="fake-model",
        api_key_env="FAKE_KEY",
        priority=priority,
        timeout_ms=timeout_ms,
        cost_per_1k_tokens=Decimal("0.001"),
        breaker=BREAKER,
    )


@pytest.fixture
def make_router(
    redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, http: httpx.AsyncClient
) -> Any:
    def make(*configs: ProviderConfig) -> IntentRouter:
        return IntentRouter(
            configs=configs,
            env=ENV,
            redis=redis_client,
            pool=pg_pool,
            http=http,
            fallback=keywords,
            breaker_cache_s=0,
        )

    return make


async def detect(
    router: IntentRouter, text: str, *, use_ai: bool = True, deadline_ms: int = 2000
) -> IntentResult:
    # The guard only proves the call returns; it is not a timing assertion.
    return await asyncio.wait_for(
        router.detect(text, customer=CUSTOMER, use_ai=use_ai, deadline_ms=deadline_ms), 5
    )


async def events(router: IntentRouter, pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    await router.flush()
    rows = await pool.fetch("SELECT provider, outcome, http_status FROM intent_events ORDER BY id")
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("failure", "outcome", "status"),
    [
        (fake_ai.status(500), "error", 500),
        (fake_ai.hang(), "timeout", None),
        (fake_ai.garbage(), "invalid", 200),
    ],
)
async def test_a_failing_provider_opens_its_breaker_and_keywords_answer(
    fake: fake_ai.FakeAI,
    make_router: Any,
    pg_pool: asyncpg.Pool,
    failure: fake_ai.Reply,
    outcome: str,
    status: int | None,
) -> None:
    fake.provider(AI).default = failure
    router = make_router(config(fake, AI))
    for n in range(BREAKER.min_calls):
        result = await detect(router, f"hola {n}")
        assert (result.intent, result.source) == (Intent.GREETING, "keywords")
    assert await router.breaker(AI).state() == "open"
    result = await detect(router, "hola otra vez")
    assert result.source == "keywords"
    assert len(fake.provider(AI).requests) == BREAKER.min_calls  # skipped, not called
    rows = await events(router, pg_pool)
    attempt, fallback = (AI, outcome, status), ("keywords", "fallback", None)
    assert rows == [attempt, fallback] * BREAKER.min_calls + [
        (AI, "skipped_open", None),
        fallback,
    ]


async def test_the_message_deadline_bounds_a_hanging_provider(
    fake: fake_ai.FakeAI, make_router: Any
) -> None:
    fake.provider(AI).default = fake_ai.hang()
    router = make_router(config(fake, AI, timeout_ms=10_000))
    result = await detect(router, "hola", deadline_ms=300)
    assert result.source == "keywords"
    # Cut short by the deadline before it was slow: not held against the provider.
    assert await router.breaker(AI).state() == "closed"


async def test_providers_are_tried_by_priority(
    fake: fake_ai.FakeAI, make_router: Any, pg_pool: asyncpg.Pool
) -> None:
    fake.provider(FIRST).default = fake_ai.ok("view_cart")
    fake.provider(SECOND).default = fake_ai.ok("checkout")
    router = make_router(
        config(fake, SECOND, kind="gemini", priority=20), config(fake, FIRST, priority=10)
    )
    assert router.providers == (FIRST, SECOND)
    result = await detect(router, "mi carrito")
    assert (result.intent, result.source) == (Intent.VIEW_CART, FIRST)
    assert fake.provider(SECOND).requests == []

    fake.provider(FIRST).script(fake_ai.status(503))
    result = await detect(router, "quiero pagar")
    assert (result.intent, result.source) == (Intent.CHECKOUT, SECOND)

    breaker = router.breaker(FIRST)
    for _ in range(BREAKER.min_calls):
        await breaker.record(await breaker.allow(), ok=False, slow=False)
    result = await detect(router, "pagar ya")
    assert result.source == SECOND
    assert len(fake.provider(FIRST).requests) == 2
    assert await events(router, pg_pool) == [
        (FIRST, "ok", 200),
        (FIRST, "error", 503),
        (SECOND, "ok", 200),
        (FIRST, "skipped_open", None),
        (SECOND, "ok", 200),
    ]


async def test_without_ai_keywords_answer_at_once(
    fake: fake_ai.FakeAI, make_router: Any, pg_pool: asyncpg.Pool
) -> None:
    router = make_router(config(fake, AI))
    result = await detect(router, "Hola!", use_ai=False)
    assert (result.intent, result.source) == (Intent.GREETING, "keywords")
    assert fake.provider(AI).requests == []
    assert await events(router, pg_pool) == [("keywords", "fallback", None)]


async def test_ai_answers_are_cached_by_folded_text(
    fake: fake_ai.FakeAI, make_router: Any, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> None:
    fake.provider(AI).default = fake_ai.ok("search_product", query="tenis")
    router = make_router(config(fake, AI))
    first = await detect(router, "¿Tienen Tenís?")
    second = await detect(router, "¿tienen  tenis?")
    assert (first.source, second.source) == (AI, "cache")
    assert (second.intent, second.query) == (Intent.SEARCH_PRODUCT, "tenis")
    assert len(fake.provider(AI).requests) == 1
    ttl = await redis_client.ttl(keys.intent_cache("any", fold("¿Tienen Tenís?")))
    assert 0 < ttl <= keys.INTENT_CACHE_TTL_S
    assert [row[:2] for row in await events(router, pg_pool)] == [(AI, "ok"), ("cache", "cache")]


async def test_keyword_answers_are_not_cached(
    fake: fake_ai.FakeAI, make_router: Any, redis_client: aioredis.Redis
) -> None:
    fake.provider(AI).default = fake_ai.status(500)
    router = make_router(config(fake, AI))
    await detect(router, "hola")
    assert await redis_client.exists(keys.intent_cache("any", "hola")) == 0
    await detect(router, "hola")
    assert len(fake.provider(AI).requests) == 2


async def test_events_carry_usage_and_cost_but_not_the_text(
    fake: fake_ai.FakeAI, make_router: Any, pg_pool: asyncpg.Pool
) -> None:
    fake.provider(AI).default = fake_ai.ok("add_to_cart", quantity=2)
    router = make_router(config(fake, AI))
    result = await detect(router, "Quiero 2 camisas")
    assert (result.intent, result.quantity) == (Intent.ADD_TO_CART, 2)
    await router.flush()
    row = await pg_pool.fetchrow("SELECT * FROM intent_events")
    assert row is not None
    assert row["customer"] == CUSTOMER
    assert row["text_hash"] == hashlib.sha256(b"quiero 2 camisas").hexdigest()
    assert (row["outcome"], row["intent"], row["tokens_in"], row["tokens_out"]) == (
        "ok",
        "add_to_cart",
        120,
        20,
    )
    assert row["cost"] == Decimal("0.00014")
    assert row["latency_ms"] >= 0


async def test_a_database_error_does_not_break_detection(
    fake: fake_ai.FakeAI, make_router: Any, pg_pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    await pg_pool.execute("DROP TABLE intent_events")
    router = make_router(config(fake, AI))
    assert (await detect(router, "hola")).source == AI
    await router.flush()
    assert any("intent_events not written" in r.getMessage() for r in caplog.records)


async def test_reload_follows_the_config_table(
    fake: fake_ai.FakeAI,
    redis_client: aioredis.Redis,
    pg_pool: asyncpg.Pool,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.intent.router")
    await pg_pool.execute(
        "UPDATE ai_provider_config SET base_url = $1, api_key_env = 'FAKE_KEY' WHERE name = 'gemini'",
        fake.base_url("gemini"),
    )
    router = await IntentRouter.create(
        pool=pg_pool, redis=redis_client, http=http, fallback=keywords, env=ENV
    )
    # deepseek has no key in ENV: skipped; openai is disabled by default.
    assert list(router.providers) == ["gemini"]
    fake.provider("gemini").default = fake_ai.ok("help")
    assert (await detect(router, "ayuda")).source == "gemini"

    await pg_pool.execute(
        "UPDATE ai_provider_config SET enabled = true, base_url = $1, api_key_env = 'FAKE_KEY',"
        " priority = 1 WHERE name = 'openai'",
        fake.base_url("openai"),
    )
    await router.reload()
    assert list(router.providers) == ["openai", "gemini"]
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "DEEPSEEK_API_KEY" in skipped[0].getMessage()
    await router.flush()
