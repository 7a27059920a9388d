"""Prometheus series after real conversations, and what the JSON log lines carry (and never do)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.botlink import InProcessLink, in_process_bot, signed
from bot.intent.breaker import BreakerConfig
from bot.intent.keywords import classify
from bot.intent.providers import ProviderConfig
from bot.intent.router import IntentRouter
from bot.logs import JsonFormatter
from bot.settings import Settings
from bot.simulator import SimCustomer
from tests import fake_ai

PHONE = "5491133334444"
TEXT = "hola, quiero ver el catálogo"


class Lines(logging.Handler):
    """Every record as the production JSON line, formatted when logged (context included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.formatter = JsonFormatter()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def exposed(text: str) -> dict[str, list[dict[str, str]]]:
    """Sample name -> label sets, from the /metrics exposition."""
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append(s.labels)
    return found


async def test_metrics_expose_the_series_after_a_conversation(bot: InProcessLink) -> None:
    greeted = sample("wbot_messages_total", type="text", intent="greeting", source="keywords")
    limited = sample("wbot_rate_limited_total", window="minute")
    refused = sample("wbot_graph_errors_total", code="131047")
    customer = SimCustomer(PHONE)
    bot.sink.fail_next(1, http_status=400, code=131047, title="Re-engagement message")
    for _ in range(7):  # the "new" tier allows 5 a minute
        assert await bot.post(customer.says("hola")) == 200

    response = await bot.client.get("/metrics")
    assert response.status_code == 200
    series = exposed(response.text)
    stages = {labels["stage"] for labels in series["wbot_stage_seconds_count"]}
    pipeline = {"guard_errors", "load_customer", "check_rate_limit", "check_maintenance"}
    assert pipeline | {"load_session", "detect_intent", "route", "total"} <= stages
    assert {"result": "miss"} in series["wbot_session_cache_total"]
    assert "wbot_inbox_backlog" in series and "wbot_inbox_oldest_age_seconds" in series
    assert (
        sample("wbot_messages_total", type="text", intent="greeting", source="keywords") > greeted
    )
    assert sample("wbot_rate_limited_total", window="minute") > limited
    assert sample("wbot_graph_errors_total", code="131047") == refused + 1
    total = sample("wbot_stage_seconds_count", stage="total")
    assert total >= 7 and sample("wbot_stage_seconds_sum", stage="total") > 0


async def test_odd_message_types_share_one_label(bot: InProcessLink) -> None:
    # Label values come from the sender: a new one per body would grow the registry forever.
    body = SimCustomer(PHONE).sends({"type": "new-type-" + uuid.uuid4().hex, "x": {}})
    before = sample("wbot_messages_total", type="other", intent="none", source="none")
    assert await bot.post(body) == 200
    assert sample("wbot_messages_total", type="other", intent="none", source="none") == before + 1


async def test_ai_calls_cost_and_breaker_state_per_provider(
    redis_client: aioredis.Redis, pg_pool: asyncpg.Pool
) -> None:
    name = f"metrics-ai-{uuid.uuid4().hex[:8]}"
    async with fake_ai.running() as fake, httpx.AsyncClient() as http:
        config = ProviderConfig(
            name=name,
            kind="openai",
            base_url=fake.base_url(name),
            model="fake-model",
            api_key_env="FAKE_KEY",
            priority=10,
            timeout_ms=2000,
            cost_per_1k_tokens=Decimal("0.01"),
            breaker=BreakerConfig(min_calls=3, window_s=10, open_s=30),
        )
        router = IntentRouter(
            configs=[config],
            env={"FAKE_KEY": "k"},
            redis=redis_client,
            pool=pg_pool,
            http=http,
            fallback=classify,
            breaker_cache_s=0,
        )

        async def detect(text: str) -> None:
            await router.detect(text, customer=PHONE, use_ai=True, deadline_ms=3000)

        fake.provider(name).script(fake_ai.ok("greeting"))
        await detect("hola")
        assert sample("wbot_ai_calls_total", provider=name, outcome="ok") == 1
        assert sample("wbot_ai_cost_usd_total", provider=name) > 0
        assert sample("wbot_breaker_open", provider=name) == 0
        fake.provider(name).default = fake_ai.status(500)
        await detect("uno")
        await detect("dos")
        await detect("tres")
        await router.flush()
    assert sample("wbot_ai_calls_total", provider=name, outcome="error") == 2
    assert sample("wbot_ai_calls_total", provider=name, outcome="skipped_open") == 1
    assert sample("wbot_breaker_open", provider=name) == 1


async def test_a_processed_message_logs_one_info_line_without_text_or_phone(
    bot: InProcessLink, lines: Lines
) -> None:
    body = SimCustomer(PHONE).says(TEXT)
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert await bot.post(body) == 200
    processed = [p for p in lines.parsed() if p["msg"] == "message processed"]
    assert len(processed) == 1
    line = processed[0]
    assert line["level"] == "info"
    assert line["wamid"] == wamid
    assert line["customer"] == "*********4444"
    assert (line["type"], line["intent"], line["source"]) == (
        "text",
        "browse_categories",
        "keywords",
    )
    assert line["stage"] == "route" and line["latency_ms"] > 0
    assert set(line["stage_ms"]) >= {"load_customer", "route"}
    for text in lines.lines:
        assert TEXT not in text and "quiero ver" not in text
        assert PHONE not in text


async def test_lines_logged_while_processing_carry_the_message(
    bot: InProcessLink, lines: Lines
) -> None:
    # The Graph client knows nothing of the message; the processing context adds it.
    # The read receipt (sent in the background) and the reply both fail.
    bot.sink.fail_next(2, http_status=400, code=131047, title="Re-engagement message")
    body = SimCustomer(PHONE).says("hola")
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert await bot.post(body) == 200
    failed = [p for p in lines.parsed() if p["logger"] == "bot.whatsapp.graph"]
    assert len(failed) == 2, lines.lines
    assert "send" in {line["stage"] for line in failed}  # the receipt's: the deepest so far
    for line in failed:
        assert line["wamid"] == wamid
        assert line["customer"] == "*********4444"
        assert line["latency_ms"] >= 0


async def test_secrets_never_reach_the_logs(bot_settings: Settings, lines: Lines) -> None:
    token, secret = f"tok-{uuid.uuid4().hex}", f"sec-{uuid.uuid4().hex}"
    settings = dataclasses.replace(
        bot_settings, whatsapp_access_token=token, whatsapp_app_secret=secret
    )
    customer = SimCustomer(PHONE, "Ana")
    async with in_process_bot(settings) as link:
        link.sink.fail_next(2, http_status=500, code=131000, title="Something went wrong")
        for text in ("hola", "ver catálogo", "quiero 2", "mi carrito", "ayuda"):
            assert await link.post(customer.says(text)) == 200
        raw, headers = signed("not-the-secret", customer.says("hola"))
        assert (await link.post_raw(raw, headers)).status_code == 403
        raw, _ = signed(secret, {"object": "whatsapp_business_account", "entry": "x"})
        assert (await link.post_raw(raw, {"content-type": "application/json"})).status_code == 401
    assert len(lines.lines) > 10
    for text in lines.lines:
        assert token not in text and secret not in text
        assert PHONE not in text
