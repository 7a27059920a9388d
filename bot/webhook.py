"""``GET /webhook`` (Meta's verification handshake) and ``POST /webhook`` (signed updates)."""

from __future__ import annotations

import hmac
import logging

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.inbox import STORAGE_DOWN
from bot.whatsapp.events import StatusUpdate, StoredMessage
from bot.whatsapp.parse import index_body

__all__ = ["MAX_BODY_BYTES", "read_body", "receive", "signature_for", "verify"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024  # Meta's documented maximum payload
# What makes the store step unavailable: the webhook then answers 503 and Meta redelivers.
_STORE_DOWN = (*STORAGE_DOWN, asyncpg.PostgresError)


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type="application/json")


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


async def read_body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than Meta ever sends."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: Request) -> Response:
    deps = request.app.state.deps
    body = await read_body(request)
    if body is None:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    header = request.headers.get("x-hub-signature-256")
    if header is None:
        if not deps.settings.allow_unsigned_webhooks:
            return _error(401, "missing X-Hub-Signature-256 header")
    elif not hmac.compare_digest(
        header.encode(), signature_for(deps.settings.whatsapp_app_secret, body).encode()
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
    return Response(
        orjson.dumps({"messages": len(messages), "new": len(new), "statuses": len(statuses)}),
        media_type="application/json",
    )
