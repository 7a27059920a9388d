"""A local stand-in for the Graph API messages endpoint, for development, tests and benchmarks.

In process: ``httpx.ASGITransport(app=create_sink_app(sink))``. As a server:
``python -m bot.whatsapp.sink --port 8081``; another process reads what was "sent" from
``GET /_sink/requests`` and scripts failures with ``POST /_sink/fail``. Given ``statuses``
(``--webhook URL``), it posts a ``sent`` status webhook for each accepted message, as Meta does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.whatsapp.sink_statuses import StatusWebhooks

__all__ = ["Failure", "GraphSink", "SentRequest", "create_sink_app"]

_THROUGHPUT_TITLE = "(#130429) Rate limit hit"
_SCRIPTED = "Scripted failure from the local Graph API sink"


@dataclass(frozen=True, slots=True)
class SentRequest:
    path: str
    body: dict[str, Any]
    at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class Failure:
    http_status: int
    code: int
    title: str


_INVALID = Failure(400, 100, "(#100) Invalid parameter")


class GraphSink:
    """Records accepted requests in ``requests``; failed or invalid ones in ``rejected``."""

    def __init__(self, *, latency_s: float = 0.0, statuses: StatusWebhooks | None = None) -> None:
        self.requests: list[SentRequest] = []
        self.rejected: list[SentRequest] = []
        self.latency_s = latency_s
        self.statuses = statuses
        self._next_failures: deque[Failure] = deque()
        self._fail_until = 0.0
        self._window_failure: Failure | None = None
        self._arrived = asyncio.Condition()

    def fail_next(
        self,
        count: int,
        *,
        http_status: int = 429,
        code: int = 130429,
        title: str = _THROUGHPUT_TITLE,
    ) -> None:
        """Answer the next ``count`` sends with this Graph error."""
        self._next_failures.extend([Failure(http_status, code, title)] * count)

    def fail_for(
        self,
        seconds: float,
        *,
        http_status: int = 429,
        code: int = 130429,
        title: str = _THROUGHPUT_TITLE,
    ) -> None:
        """Answer every send with this Graph error for the next ``seconds``."""
        self._fail_until = time.monotonic() + seconds
        self._window_failure = Failure(http_status, code, title)

    def take(self) -> list[SentRequest]:
        """The accepted requests so far, clearing the record."""
        taken, self.requests = self.requests, []
        return taken

    def clear(self) -> None:
        self.requests.clear()
        self.rejected.clear()

    async def wait_for(self, count: int, timeout_s: float) -> list[SentRequest]:
        """Wait until at least ``count`` requests were accepted; raise TimeoutError otherwise."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    async def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Meta's HTTP status and JSON answer for one POST to the messages endpoint."""
        sent = SentRequest(path, body if isinstance(body, dict) else {}, time.time())
        problem = _problem(body)
        failure = self._scripted_failure() if problem is None else _INVALID
        if failure is not None:
            self.rejected.append(sent)
            return failure.http_status, _graph_error(failure, problem or _SCRIPTED)
        self.requests.append(sent)
        async with self._arrived:
            self._arrived.notify_all()
        if "status" in body:  # mark-read or typing indicator
            return 200, {"success": True}
        to: str = body["to"]
        message = {"id": _wamid(to)}
        if self.statuses is not None:
            phone_number_id = path.rstrip("/").split("/")[-2]
            self.statuses.sent(
                phone_number_id, message["id"], to, body.get("biz_opaque_callback_data")
            )
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        contact = {"input": to, "wa_id": to.lstrip("+")}
        return 200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}

    def _scripted_failure(self) -> Failure | None:
        if self._next_failures:
            return self._next_failures.popleft()
        if self._window_failure is not None and time.monotonic() < self._fail_until:
            return self._window_failure
        return None


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


def _graph_error(failure: Failure, details: str) -> dict[str, Any]:
    """Meta's error body shape."""
    error = {
        "message": failure.title,
        "type": "OAuthException",
        "code": failure.code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": uuid.uuid4().hex[:23],
    }
    return {"error": error}


def _problem(body: Any) -> str | None:
    """Why Meta would reject this body with code 100, or None when it passes the minimum checks."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "Param messaging_product must be 'whatsapp'"
    if "status" in body:
        if body["status"] != "read" or not isinstance(body.get("message_id"), str):
            return "Param message_id is required for status 'read'"
    elif not isinstance(body.get("to"), str) or not body["to"]:
        return "Param to is required"
    return None


def _wamid(to: str) -> str:
    # Real wamids are base64 of the recipient plus a message id, always starting "wamid.HBgL".
    raw = "".join(c for c in to if c.isdigit()) + uuid.uuid4().hex.upper()
    return "wamid.HBgL" + base64.b64encode(raw.encode()).decode().rstrip("=")


async def _messages(request: Request) -> Response:
    sink: GraphSink = request.app.state.sink
    if sink.latency_s > 0:
        await asyncio.sleep(sink.latency_s)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    status, answer = await sink.answer(request.url.path, body)
    return _json(answer, status)


async def _list_requests(request: Request) -> Response:
    sink: GraphSink = request.app.state.sink
    return _json(
        {
            "requests": [asdict(r) for r in sink.requests],
            "rejected": [asdict(r) for r in sink.rejected],
        }
    )


async def _clear_requests(request: Request) -> Response:
    sink: GraphSink = request.app.state.sink
    sink.clear()
    return _json({"ok": True})


async def _script_failure(request: Request) -> Response:
    """Body: ``{"count": n}`` or ``{"seconds": s}``, plus optional http_status, code, title."""
    sink: GraphSink = request.app.state.sink
    spec = orjson.loads(await request.body())
    options = {k: spec[k] for k in ("http_status", "code", "title") if k in spec}
    if "count" in spec:
        sink.fail_next(int(spec["count"]), **options)
    elif "seconds" in spec:
        sink.fail_for(float(spec["seconds"]), **options)
    else:
        return _json({"error": "give count or seconds"}, 400)
    return _json({"ok": True})


def create_sink_app(sink: GraphSink | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/_sink/requests", _list_requests, methods=["GET"]),
            Route("/_sink/requests", _clear_requests, methods=["DELETE"]),
            Route("/_sink/fail", _script_failure, methods=["POST"]),
            Route("/{version}/{phone_number_id}/messages", _messages, methods=["POST"]),
        ]
    )
    app.state.sink = sink if sink is not None else GraphSink()
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Local Graph API sink for the WhatsApp bot.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--webhook", action="append", default=[], help="the bot's webhook URL")
    parser.add_argument("--app-secret", default="dev-app-secret", help="signs status webhooks")
    args = parser.parse_args(argv)
    statuses = StatusWebhooks(args.webhook, args.app_secret) if args.webhook else None
    app = create_sink_app(GraphSink(latency_s=args.latency, statuses=statuses))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
