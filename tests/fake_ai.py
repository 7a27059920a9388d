"""Fake AI providers on a real local HTTP server, speaking the OpenAI and Gemini wire formats.

One server hosts any number of named fakes: ``fake.base_url(name)`` is the ``base_url`` of an
ai_provider_config row, for either kind. Each fake answers from a script of replies (then from
its default) and remembers the requests it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import serve_app

__all__ = [
    "FakeAI",
    "FakeProvider",
    "Reply",
    "garbage",
    "hang",
    "invalid_intent",
    "ok",
    "refused",
    "running",
    "status",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    status: int = 200
    content: str = ""  # the model's text, inside the provider's envelope
    delay_s: float = 0.0
    tokens_in: int = 120
    tokens_out: int = 20
    refused: bool = False  # a content-policy stop (finish_reason content_filter / SAFETY)


def ok(
    intent: str = "greeting",
    *,
    quantity: int | None = None,
    query: str | None = None,
    confidence: float = 0.9,
    delay_s: float = 0.0,
) -> Reply:
    answer = {"intent": intent, "quantity": quantity, "query": query, "confidence": confidence}
    return Reply(content=orjson.dumps(answer).decode(), delay_s=delay_s)


def status(code: int) -> Reply:
    return Reply(status=code)


def hang(seconds: float = 30.0) -> Reply:
    """Answers only after ``seconds``, far past any timeout (or when the client goes away)."""
    return Reply(delay_s=seconds, content=ok().content)


def garbage() -> Reply:
    return Reply(content="Sure! The customer is saying hello, so the intent is greeting.")


def refused() -> Reply:
    return Reply(refused=True)


def invalid_intent() -> Reply:
    return Reply(content='{"intent": "buy_everything", "quantity": null, "confidence": 0.9}')


@dataclass(slots=True)
class FakeProvider:
    name: str
    default: Reply = field(default_factory=ok)
    key: str | None = None  # when set, requests with another key get 401 like the real thing
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> Reply:
        return self.replies.popleft() if self.replies else self.default


class FakeAI:
    def __init__(self) -> None:
        self.port = 0
        self._fakes: dict[str, FakeProvider] = {}
        self.app = Starlette(
            routes=[
                Route("/{name}/chat/completions", self._openai, methods=["POST"]),
                Route("/{name}/models/{model}:generateContent", self._gemini, methods=["POST"]),
            ]
        )

    def provider(self, name: str) -> FakeProvider:
        return self._fakes.setdefault(name, FakeProvider(name))

    def base_url(self, name: str) -> str:
        self.provider(name)
        return f"http://127.0.0.1:{self.port}/{name}"

    async def _openai(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return await self._answer(request, bearer, _openai_envelope, _openai_error)

    async def _gemini(self, request: Request) -> Response:
        return await self._answer(
            request, request.headers.get("x-goog-api-key", ""), _gemini_envelope, _gemini_error
        )

    async def _answer(self, request: Request, key: str, envelope: Any, error: Any) -> Response:
        fake = self.provider(request.path_params["name"])
        fake.requests.append(orjson.loads(await request.body()))
        if fake.key is not None and key != fake.key:
            return _json(401, error(401))
        reply = fake.next_reply()
        if reply.delay_s > 0:
            # A hung request ends as soon as the client gives up, so the server can stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_disconnect(request), reply.delay_s)
        if reply.status != 200:
            return _json(reply.status, error(reply.status))
        model = request.path_params.get("model", "fake-model")
        return _json(200, envelope(reply, model))


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _json(code: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def _openai_envelope(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "content_filter" if reply.refused else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.tokens_in,
            "completion_tokens": reply.tokens_out,
            "total_tokens": reply.tokens_in + reply.tokens_out,
        },
    }


def _openai_error(code: int) -> dict[str, Any]:
    return {"error": {"message": f"fake error {code}", "type": "server_error", "code": None}}


def _gemini_envelope(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": reply.content}]},
                "finishReason": "SAFETY" if reply.refused else "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": reply.tokens_in,
            "candidatesTokenCount": reply.tokens_out,
            "totalTokenCount": reply.tokens_in + reply.tokens_out,
        },
        "modelVersion": model,
    }


def _gemini_error(code: int) -> dict[str, Any]:
    names = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
    return {"error": {"code": code, "message": "fake error", "status": names.get(code, "INTERNAL")}}


@asynccontextmanager
async def running() -> AsyncIterator[FakeAI]:
    """A FakeAI served by uvicorn on a free 127.0.0.1 port for the duration of the block."""
    fake = FakeAI()
    async with serve_app(fake.app) as port:
        fake.port = port
        yield fake
