"""``GET /webhook`` (Meta's verification handshake) and ``POST /webhook`` (signed updates)."""

from __future__ import annotations

import hmac
import logging

import asyncpg
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from bot.deps import Deps
from bot.inbox import STORAGE_DOWN
from bot.whatsapp.events import StatusUpdate, StoredMessage
from bot.whatsapp.parse import index_body

__all__ = ["MAX_BODY_BYTES", "Receiver", "read_body", "signature_for", "verify"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024  # Meta's documented maximum payload
# What makes the store step unavailable: the webhook then answers 503 and Meta redelivers.
_STORE_DOWN = (*STORAGE_DOWN, asyncpg.PostgresError)


def signature_for(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


async def verify(request: Request) -> Response:
    settings = request.app.state.deps.settings
    params = request.query_params
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
        token.encode(), settings.whatsapp_verify_token.encode()
    ):
        return PlainTextResponse(params.get("hub.challenge", ""))
    return PlainTextResponse("verification failed", 403)


async def read_body(receive: Receive, declared_length: str | None) -> bytes | None:
    """The raw body from the ASGI messages, or None when it is larger than Meta ever sends."""
    declared = declared_length or ""
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Receiver:
    """``POST /webhook`` as a plain ASGI app. Every instance of the bot spends most of its time
    here, and Request and Response objects cost about a tenth of each request's CPU."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])  # ASGI header names are lower case
        deps: Deps = scope["app"].state.deps
        deps.acks_in_flight += 1
        try:
            status, payload = await _handle(deps, headers, receive)
        finally:
            deps.acks_in_flight -= 1
        length = str(len(payload)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": message})


async def _handle(deps: Deps, headers: dict[bytes, bytes], receive: Receive) -> tuple[int, bytes]:
    length = headers.get(b"content-length")
    body = await read_body(receive, length.decode("latin-1") if length is not None else None)
    if body is None:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    header = headers.get(b"x-hub-signature-256")
    if header is None:
        if not deps.settings.allow_unsigned_webhooks:
            return _error(401, "missing X-Hub-Signature-256 header")
    elif not hmac.compare_digest(
        header, signature_for(deps.settings.whatsapp_app_secret, body).encode()
    ):
        return _error(403, "X-Hub-Signature-256 does not match the body")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, "body is not valid JSON")
    if not isinstance(payload, dict):
        return _error(400, "body must be a JSON object")

    events = index_body(payload)
    messages = [e for e in events if isinstance(e, StoredMessage)]
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    if deps.recorder is not None:
        try:
            deps.recorder.inbound(payload)
        except orjson.JSONEncodeError:  # orjson reads 1024 levels of nesting but writes 254
            log.warning("webhook body not recorded: nested too deeply to write back")
    try:
        new = await deps.inbox.store(messages)
        if statuses:
            await deps.outbound.apply_statuses(statuses)
    except _STORE_DOWN as exc:
        log.error("cannot store webhook, asking Meta to redeliver: %s", type(exc).__name__)
        return _error(503, "storage unavailable, please retry")
    for message in new:
        deps.workers.notify(message.customer)
    counts = {"messages": len(messages), "new": len(new), "statuses": len(statuses)}
    return 200, orjson.dumps(counts)
