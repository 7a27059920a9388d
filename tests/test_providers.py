from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Literal

import httpx
import pytest

from bot.intent.model import Intent
from bot.intent.providers import SYSTEM_PROMPT, Provider, ProviderConfig, parse_model_output
from tests import fake_ai

KEY = "test-key"


@pytest.fixture
async def fake() -> AsyncIterator[fake_ai.FakeAI]:
    async with fake_ai.running() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def provider(
    fake: fake_ai.FakeAI, http: httpx.AsyncClient, kind: Literal["openai", "gemini"]
) -> Provider:
    fake.provider(kind).key = KEY
    config = ProviderConfig(
        name=kind,
        kind=kind,
        base_url=fake.base_url(kind),
        model="fake-model",
        api_key_env="UNUSED",
        cost_per_1k_tokens=Decimal("0.002"),
    )
    return Provider(config, KEY, http)


@pytest.mark.parametrize("kind", ["openai", "gemini"])
async def test_ok_answer_is_parsed_with_usage_and_cost(
    fake: fake_ai.FakeAI, http: httpx.AsyncClient, kind: Literal["openai", "gemini"]
) -> None:
    fake.provider(kind).script(fake_ai.ok("add_to_cart", quantity=2, query=" tenis ", confidence=1))
    attempt = await provider(fake, http, kind).classify("quiero 2 tenis", timeout_s=2)
    assert attempt.outcome == "ok" and attempt.counts
    assert attempt.result is not None
    assert attempt.result.intent is Intent.ADD_TO_CART
    assert (attempt.result.quantity, attempt.result.query) == (2, "tenis")
    assert attempt.result.source == kind
    assert (attempt.http_status, attempt.tokens_in, attempt.tokens_out) == (200, 120, 20)
    assert attempt.cost == Decimal("0.00028")  # 140 tokens at $0.002 per 1k


async def test_openai_request_is_json_mode_with_the_prompt(
    fake: fake_ai.FakeAI, http: httpx.AsyncClient
) -> None:
    await provider(fake, http, "openai").classify("hola", timeout_s=2)
    [body] = fake.provider("openai").requests
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "hola"},
    ]


async def test_gemini_request_asks_for_json(fake: fake_ai.FakeAI, http: httpx.AsyncClient) -> None:
    await provider(fake, http, "gemini").classify("hola", timeout_s=2)
    [body] = fake.provider("gemini").requests
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["contents"][0]["parts"] == [{"text": "hola"}]
    assert body["systemInstruction"]["parts"] == [{"text": SYSTEM_PROMPT}]


def test_prompt_names_every_intent() -> None:
    for intent in Intent:
        assert f"- {intent.value}: " in SYSTEM_PROMPT


@pytest.mark.parametrize("kind", ["openai", "gemini"])
@pytest.mark.parametrize(
    ("reply", "outcome", "status", "counts"),
    [
        (fake_ai.status(500), "error", 500, True),
        (fake_ai.status(503), "error", 503, True),
        (fake_ai.status(429), "error", 429, True),
        (fake_ai.status(400), "error", 400, False),
        (fake_ai.hang(), "timeout", None, True),
        (fake_ai.garbage(), "invalid", 200, True),
        (fake_ai.invalid_intent(), "invalid", 200, True),
        (fake_ai.refused(), "error", 200, False),
    ],
)
async def test_failures_are_classified(
    fake: fake_ai.FakeAI,
    http: httpx.AsyncClient,
    kind: Literal["openai", "gemini"],
    reply: fake_ai.Reply,
    outcome: str,
    status: int | None,
    counts: bool,
) -> None:
    fake.provider(kind).script(reply)
    attempt = await provider(fake, http, kind).classify("hola", timeout_s=0.3)
    assert (attempt.outcome, attempt.http_status, attempt.counts) == (outcome, status, counts)
    assert attempt.result is None


@pytest.mark.parametrize("kind", ["openai", "gemini"])
async def test_a_wrong_key_is_not_the_providers_health(
    fake: fake_ai.FakeAI, http: httpx.AsyncClient, kind: Literal["openai", "gemini"]
) -> None:
    wrong_key = provider(fake, http, kind)
    fake.provider(kind).key = "another-key"
    attempt = await wrong_key.classify("hola", timeout_s=2)
    assert (attempt.outcome, attempt.http_status, attempt.counts) == ("error", 401, False)


async def test_unreachable_provider_is_an_error(http: httpx.AsyncClient) -> None:
    async with fake_ai.running() as gone:
        url = gone.base_url("x")
    config = ProviderConfig(name="x", kind="openai", base_url=url, model="m", api_key_env="K")
    attempt = await Provider(config, KEY, http).classify("hola", timeout_s=2)
    assert (attempt.outcome, attempt.counts) == ("error", True)


@pytest.mark.parametrize(
    "content",
    [
        '["greeting"]',
        '{"intent": "greeting"}',
        '{"intent": "Greeting", "confidence": 0.5}',
        '{"intent": "greeting", "confidence": 1.5}',
        '{"intent": "greeting", "confidence": true}',
        '{"intent": "greeting", "confidence": "0.9"}',
        '{"intent": "add_to_cart", "quantity": 0, "confidence": 0.9}',
        '{"intent": "add_to_cart", "quantity": 2.0, "confidence": 0.9}',
        '{"intent": "add_to_cart", "quantity": true, "confidence": 0.9}',
        '{"intent": "search_product", "query": 7, "confidence": 0.9}',
        '{"intent": ["greeting"], "confidence": 0.9}',
        "```json\n{}\n```",
    ],
)
def test_model_output_is_validated_strictly(content: str) -> None:
    with pytest.raises(ValueError):
        parse_model_output(content, "p")


def test_valid_model_output() -> None:
    result = parse_model_output(
        '{"intent": "search_product", "quantity": null, "query": "", "confidence": 0}', "p"
    )
    assert (result.intent, result.quantity, result.query, result.confidence) == (
        Intent.SEARCH_PRODUCT,
        None,
        None,
        0.0,
    )
