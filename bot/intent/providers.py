"""AI intent providers over HTTP: OpenAI-style chat completions and Gemini generateContent.

One call per ``classify``, no retries: the router is the only retry loop. The model's answer is
validated strictly; anything that is not exactly the JSON object we asked for is ``invalid``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import httpx
import orjson

from bot.intent.breaker import BreakerConfig
from bot.intent.model import Intent, IntentResult

__all__ = ["SYSTEM_PROMPT", "Attempt", "Provider", "ProviderConfig", "parse_model_output"]

log = logging.getLogger(__name__)

Outcome = Literal["ok", "error", "timeout", "invalid"]

_MEANINGS: dict[Intent, str] = {
    Intent.GREETING: "says hello or starts the conversation",
    Intent.BROWSE_CATEGORIES: "wants to see the catalogue, menu or product categories",
    Intent.SEARCH_PRODUCT: "looks for a product or asks whether one is available or its price",
    Intent.ADD_TO_CART: "wants to buy or add a product to the cart",
    Intent.VIEW_CART: "wants to see the cart or what they have chosen so far",
    Intent.REMOVE_FROM_CART: "wants to remove a product from the cart or empty it",
    Intent.CHECKOUT: "wants to pay, place or confirm the order",
    Intent.ORDER_STATUS: "asks where an order is or about its delivery",
    Intent.STORE_INFO: "asks about opening hours, address, shipping, payment methods or contact",
    Intent.HUMAN_AGENT: "wants to talk to a person",
    Intent.HELP: "asks what the bot can do or how to use it",
    Intent.AFFIRM: "says yes or agrees",
    Intent.DENY: "says no or declines",
    Intent.GOODBYE: "says goodbye or thanks to end the conversation",
    Intent.UNKNOWN: "anything else",
}

SYSTEM_PROMPT = (
    "You classify messages that customers send to a small shop on WhatsApp. They write in "
    "Spanish or English. Reply with ONLY a JSON object, no other text:\n"
    '{"intent": <one of the intent names below, exactly>, "quantity": <integer >= 1 or null>, '
    '"query": <the product the customer mentions, as a short string, or null>, '
    '"confidence": <number from 0 to 1>}\n'
    "Intents:\n" + "\n".join(f"- {intent.value}: {_MEANINGS[intent]}" for intent in Intent)
)

# Gemini finish reasons (and any promptFeedback.blockReason) that mean a policy refusal.
_GEMINI_REFUSALS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    name: str
    kind: Literal["openai", "gemini"]
    base_url: str
    model: str
    api_key_env: str
    enabled: bool = True
    priority: int = 100
    timeout_ms: int = 2500
    max_tokens: int = 150
    temperature: float = 0.0
    cost_per_1k_tokens: Decimal = Decimal(0)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ProviderConfig:
        """From an ai_provider_config row."""
        return cls(
            name=row["name"],
            kind=row["kind"],
            base_url=row["base_url"].rstrip("/"),
            model=row["model"],
            api_key_env=row["api_key_env"],
            enabled=row["enabled"],
            priority=row["priority"],
            timeout_ms=row["timeout_ms"],
            max_tokens=row["max_tokens"],
            temperature=float(row["temperature"]),
            cost_per_1k_tokens=Decimal(row["cost_per_1k_tokens"]),
            breaker=BreakerConfig(
                failure_rate=float(row["breaker_failure_rate"]),
                slow_call_ms=row["breaker_slow_call_ms"],
                slow_rate=float(row["breaker_slow_rate"]),
                min_calls=row["breaker_min_calls"],
                window_s=row["breaker_window_s"],
                open_s=float(row["breaker_open_s"]),
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """The outcome of one provider call."""

    outcome: Outcome
    latency_ms: int
    result: IntentResult | None = None
    http_status: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: Decimal | None = None
    # False when the answer says nothing about the provider's health (400, 401, a policy refusal).
    counts: bool = True


@dataclass(frozen=True, slots=True)
class _Reply:
    content: str
    tokens_in: int | None
    tokens_out: int | None
    refused: bool


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _openai_request(cfg: ProviderConfig, key: str, text: str) -> tuple[str, dict[str, str], Any]:
    body = {
        "model": cfg.model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
        ],
        "response_format": {"type": "json_object"},
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
    }
    return f"{cfg.base_url}/chat/completions", {"Authorization": f"Bearer {key}"}, body


def _openai_read(envelope: Any) -> _Reply:
    usage = envelope.get("usage") or {}
    choice = envelope["choices"][0]
    content = choice["message"].get("content") or ""
    return _Reply(
        content=str(content),
        tokens_in=_count(usage.get("prompt_tokens")),
        tokens_out=_count(usage.get("completion_tokens")),
        refused=choice.get("finish_reason") == "content_filter",
    )


def _gemini_request(cfg: ProviderConfig, key: str, text: str) -> tuple[str, dict[str, str], Any]:
    body = {
        "systemInstruction": {"parts": [{"text": SYSTEM_PROMPT}]},
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "maxOutputTokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            # 2.5 models think by default, which spends the output budget and adds seconds.
            "thinkingConfig": {"thinkingBudget": 0},
        },
    }
    # The key goes in a header so it never appears in a logged URL.
    url = f"{cfg.base_url}/models/{cfg.model}:generateContent"
    return url, {"x-goog-api-key": key}, body


def _gemini_read(envelope: Any) -> _Reply:
    usage = envelope.get("usageMetadata") or {}
    tokens_out = _count(usage.get("candidatesTokenCount"))
    if tokens_out is not None:
        tokens_out += _count(usage.get("thoughtsTokenCount")) or 0  # billed as output
    tokens_in = _count(usage.get("promptTokenCount"))
    if (envelope.get("promptFeedback") or {}).get("blockReason"):
        return _Reply("", tokens_in, tokens_out, refused=True)
    candidate = envelope["candidates"][0]
    parts = (candidate.get("content") or {}).get("parts") or []
    content = "".join(str(p.get("text", "")) for p in parts if not p.get("thought"))
    refused = candidate.get("finishReason") in _GEMINI_REFUSALS
    return _Reply(content, tokens_in, tokens_out, refused)


_Request = Callable[[ProviderConfig, str, str], tuple[str, dict[str, str], Any]]
_WIRES: dict[str, tuple[_Request, Callable[[Any], _Reply]]] = {
    "openai": (_openai_request, _openai_read),
    "gemini": (_gemini_request, _gemini_read),
}


def parse_model_output(content: str, source: str) -> IntentResult:
    """The model's text as an IntentResult; ValueError unless it is exactly the asked-for object."""
    data = orjson.loads(content)  # JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("model output is not a JSON object")
    intent = Intent(str(data.get("intent")))  # ValueError when not one of ours
    quantity = data.get("quantity")
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1
    ):
        raise ValueError("quantity must be an integer >= 1 or null")
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        raise ValueError("query must be a string or null")
    confidence = data.get("confidence")
    if (
        not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not 0 <= confidence <= 1
    ):
        raise ValueError("confidence must be a number in [0, 1]")
    return IntentResult(
        intent=intent,
        confidence=float(confidence),
        quantity=quantity,
        query=(query or "").strip() or None,
        source=source,
    )


class Provider:
    """One configured provider on the shared HTTP client."""

    def __init__(self, config: ProviderConfig, api_key: str, client: httpx.AsyncClient) -> None:
        self.config = config
        self._key = api_key
        self._client = client
        self._request, self._read = _WIRES[config.kind]

    async def classify(self, text: str, *, timeout_s: float) -> Attempt:
        name = self.config.name
        url, headers, body = self._request(self.config, self._key, text)
        started = time.monotonic()

        def done(outcome: Outcome, **fields: Any) -> Attempt:
            latency_ms = round((time.monotonic() - started) * 1000)
            return Attempt(outcome=outcome, latency_ms=latency_ms, **fields)

        try:
            # httpx timeouts are per phase; the outer one bounds the whole exchange.
            async with asyncio.timeout(timeout_s):
                response = await self._client.post(
                    url, headers=headers, content=orjson.dumps(body), timeout=timeout_s
                )
        except (TimeoutError, httpx.TimeoutException):
            return done("timeout")
        except httpx.HTTPError as exc:
            log.warning("AI provider %s unreachable: %s", name, type(exc).__name__)
            return done("error")
        status = response.status_code
        if status == 429 or status >= 500:
            return done("error", http_status=status)
        if status >= 300:
            # Our request or our key is wrong, not the provider's health: never trips the breaker.
            log.warning("AI provider %s answered HTTP %s; not counted against it", name, status)
            return done("error", http_status=status, counts=False)
        try:
            reply = self._read(orjson.loads(response.content))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return done("invalid", http_status=status)
        cost = self._cost(reply)
        usage = {"tokens_in": reply.tokens_in, "tokens_out": reply.tokens_out, "cost": cost}
        if reply.refused:
            log.warning("AI provider %s refused the message (content policy)", name)
            return done("error", http_status=status, counts=False, **usage)
        try:
            result = parse_model_output(reply.content, name)
        except ValueError:
            return done("invalid", http_status=status, **usage)
        return done("ok", result=result, http_status=status, **usage)

    def _cost(self, reply: _Reply) -> Decimal | None:
        if reply.tokens_in is None and reply.tokens_out is None:
            return None
        tokens = (reply.tokens_in or 0) + (reply.tokens_out or 0)
        return self.config.cost_per_1k_tokens * tokens / 1000
