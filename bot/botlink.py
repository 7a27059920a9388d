"""How a simulated customer reaches a bot: in this process, or over HTTP to a running one."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from bot.app import create_app, running
from bot.deps import Deps
from bot.settings import Settings
from bot.simulator import PHONE_NUMBER_ID
from bot.webhook import signature_for
from bot.whatsapp.sink import GraphSink, create_sink_app

__all__ = [
    "DEV_ENV",
    "BotLink",
    "InProcessLink",
    "Notification",
    "dev_settings",
    "in_process_bot",
    "remote_bot",
    "signed",
]

Body = dict[str, Any]

# Development defaults: the values `make run`, `bot chat` and `bot replay` agree on.
DEV_ENV = {
    "WHATSAPP_APP_SECRET": "dev-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "dev-verify-token",
    "WHATSAPP_ACCESS_TOKEN": "dev-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
    "GRAPH_API_URL": "http://127.0.0.1:8081/v23.0",
}


def dev_settings(**overrides: str) -> Settings:
    """Settings from the environment, with development defaults for the WhatsApp values."""
    return Settings.from_env({**DEV_ENV, **os.environ, **overrides})


@dataclass(frozen=True, slots=True)
class Notification:
    """A signed request from a third party (a payment provider) to one of the bot's endpoints."""

    path: str
    body: bytes
    headers: Mapping[str, str]


class BotLink(Protocol):
    async def post(self, body: Mapping[str, Any]) -> int: ...

    async def post_notification(self, notification: Notification) -> int: ...

    async def replies(self) -> list[Body]: ...


def signed(secret: str, body: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps(body)
    return raw, {
        "content-type": "application/json",
        "x-hub-signature-256": signature_for(secret, raw),
    }


class InProcessLink:
    """Posts through ASGI and waits for the workers to drain, so replies are deterministic."""

    def __init__(self, client: httpx.AsyncClient, deps: Deps, sink: GraphSink) -> None:
        self.client = client
        self.deps = deps
        self.sink = sink

    async def post_raw(
        self, raw: bytes, headers: Mapping[str, str], path: str = "/webhook"
    ) -> httpx.Response:
        response = await self.client.post(path, content=raw, headers=dict(headers))
        await self.deps.workers.drain()
        return response

    async def post(self, body: Mapping[str, Any]) -> int:
        raw, headers = signed(self.deps.settings.whatsapp_app_secret, body)
        return (await self.post_raw(raw, headers)).status_code

    async def post_notification(self, notification: Notification) -> int:
        response = await self.post_raw(notification.body, notification.headers, notification.path)
        return response.status_code

    async def replies(self) -> list[Body]:
        return [request.body for request in self.sink.take()]


@contextlib.asynccontextmanager
async def in_process_bot(settings: Settings | None = None) -> AsyncIterator[InProcessLink]:
    sink = GraphSink()
    transport = httpx.ASGITransport(app=create_sink_app(sink))
    async with running(settings or dev_settings(), graph_transport=transport) as deps:
        app = create_app(deps=deps)
        bot_transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=bot_transport, base_url="http://bot") as client:
            yield InProcessLink(client, deps, sink)


class RemoteLink:
    """Posts to a running bot and reads what it sent from its Graph sink's record."""

    def __init__(self, client: httpx.AsyncClient, url: str, sink_url: str, secret: str) -> None:
        self._client = client
        self._url = url.rstrip("/")
        self._sink_url = sink_url.rstrip("/")
        self._secret = secret
        self._seen = 0

    async def post(self, body: Mapping[str, Any]) -> int:
        raw, headers = signed(self._secret, body)
        response = await self._client.post(f"{self._url}/webhook", content=raw, headers=headers)
        return response.status_code

    async def post_notification(self, notification: Notification) -> int:
        response = await self._client.post(
            f"{self._url}{notification.path}",
            content=notification.body,
            headers=dict(notification.headers),
        )
        return response.status_code

    async def skip_existing(self) -> None:
        """Ignore what the sink recorded before this link was opened."""
        self._seen = len(await self._sent())

    async def _sent(self) -> list[Body]:
        response = await self._client.get(f"{self._sink_url}/_sink/requests")
        return [r["body"] for r in response.json()["requests"]]

    async def replies(self, quiet_s: float = 0.4, timeout_s: float = 15.0) -> list[Body]:
        """Everything sent since the last call, once the sink has been quiet for ``quiet_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        count, changed_at = -1, loop.time()
        while loop.time() < deadline:
            sent = await self._sent()
            if len(sent) != count:
                count, changed_at = len(sent), loop.time()
            elif (
                count > self._seen and loop.time() - changed_at >= quiet_s
            ) or loop.time() - changed_at >= quiet_s * 5:
                break
            await asyncio.sleep(0.05)
        sent = await self._sent()
        new, self._seen = sent[self._seen :], len(sent)
        return new


@contextlib.asynccontextmanager
async def remote_bot(url: str, sink_url: str) -> AsyncIterator[RemoteLink]:
    secret = os.environ.get("WHATSAPP_APP_SECRET", DEV_ENV["WHATSAPP_APP_SECRET"])
    async with httpx.AsyncClient(timeout=10.0) as client:
        link = RemoteLink(client, url, sink_url, secret)
        await link.skip_existing()
        yield link
