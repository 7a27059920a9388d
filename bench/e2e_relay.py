"""The end-to-end reference: the least a WhatsApp bot can do, on the same stack as ours.

    BENCH_GRAPH_URL=http://127.0.0.1:8081/v23.0/<phone-number-id>/messages \\
    uvicorn bench.e2e_relay:app

Verifies the signature, reads the first message, answers 200, then (in the background, at
most 16 at a time like our inbox workers) POSTs a mark-read and one text reply with an httpx
client on the same keep-alive transport as ours (bot/whatsapp/transport.py).
No storage, no ordering, no session, no retries: whatever our bot measures above this is
the price of durability and of the shop's logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from collections.abc import AsyncIterator

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.webhook import signature_for
from bot.whatsapp.transport import KeepAliveTransport

SECRET = os.environ.get("WHATSAPP_APP_SECRET", "dev-app-secret")
GRAPH_URL = os.environ.get("BENCH_GRAPH_URL", "http://127.0.0.1:8081/v23.0/0/messages")
CONCURRENCY = 16  # BOT_WORKERS' default
_background: set[asyncio.Task[None]] = set()


async def _answer(client: httpx.AsyncClient, slots: asyncio.Semaphore, wamid: str, to: str) -> None:
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    reply = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "ok"}}
    async with slots:
        for body in (read, reply):
            await client.post(GRAPH_URL, content=orjson.dumps(body))


async def webhook(request: Request) -> Response:
    raw = await request.body()
    header = request.headers.get("x-hub-signature-256", "")
    if not hmac.compare_digest(header.encode(), signature_for(SECRET, raw).encode()):
        return Response(b'{"error": "bad signature"}', 403, media_type="application/json")
    message = orjson.loads(raw)["entry"][0]["changes"][0]["value"]["messages"][0]
    state = request.app.state
    task = asyncio.create_task(_answer(state.client, state.slots, message["id"], message["from"]))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return Response(b"{}", media_type="application/json")


async def alive(request: Request) -> Response:
    # The pid tells the benchmark when every worker process is accepting connections.
    return Response(orjson.dumps({"pid": os.getpid()}), media_type="application/json")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    transport = KeepAliveTransport()
    async with httpx.AsyncClient(transport=transport, headers=headers, timeout=10.0) as client:
        app.state.client = client
        app.state.slots = asyncio.Semaphore(CONCURRENCY)
        yield


app = Starlette(
    routes=[Route("/webhook", webhook, methods=["POST"]), Route("/health", alive)],
    lifespan=lifespan,
)
