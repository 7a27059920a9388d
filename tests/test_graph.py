"""GraphClient retry policy and the local Graph API sink."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.webhook import signature_for
from bot.whatsapp.events import StatusUpdate
from bot.whatsapp.graph import GraphClient, SendResult, retryable
from bot.whatsapp.parse import parse_body
from bot.whatsapp.sink import GraphSink, create_sink_app
from bot.whatsapp.sink_statuses import StatusWebhooks
from tests.servers import serve_app

BASE = "http://graph.test/v23.0"
PHONE_ID = "106540352242922"
TOKEN = "EAAGsecret-token-value-123"
TO = "+5491122334455"
TEXT = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": TO,
    "type": "text",
    "text": {"body": "Hola"},
}
READ = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
OK_BODY = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": TO, "wa_id": "5491122334455"}],
    "messages": [{"id": "wamid.OK"}],
}


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records each wait and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def graph_error(code: int, status: int = 400, message: str = "boom") -> httpx.Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    return httpx.Response(status, json={"error": error})


def scripted(*answers: httpx.Response | Exception) -> httpx.MockTransport:
    """A transport answering each request with the next item (raising exceptions)."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[Callable[..., GraphClient]]:
    clients: list[GraphClient] = []

    def make(transport: httpx.AsyncBaseTransport, **options: Any) -> GraphClient:
        options.setdefault("backoff_base_s", 0.01)
        client = GraphClient(BASE, PHONE_ID, TOKEN, transport=transport, sleep=sleeps, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def sink() -> GraphSink:
    return GraphSink()


@pytest.fixture
def sink_client(sink: GraphSink, make_client: Callable[..., GraphClient]) -> GraphClient:
    return make_client(httpx.ASGITransport(app=create_sink_app(sink)))


# --- GraphClient -------------------------------------------------------------------------------


async def test_success_against_sink(sink: GraphSink, sink_client: GraphClient) -> None:
    result = await sink_client.send(TEXT)
    assert result.ok and result.attempts == 1 and result.http_status == 200
    assert result.wamid is not None and result.wamid.startswith("wamid.HBgL")
    (sent,) = sink.take()
    assert sent.path == f"/v23.0/{PHONE_ID}/messages"
    assert sent.body == TEXT
    assert sink.requests == []


async def test_request_shape(make_client: Callable[..., GraphClient]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK_BODY)

    result = await make_client(httpx.MockTransport(handler)).send(TEXT)
    assert result == SendResult(True, "wamid.OK", 200, None, None, 1)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/{PHONE_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == TEXT


async def test_mark_read_answers_success_without_wamid(sink_client: GraphClient) -> None:
    result = await sink_client.send(READ)
    assert result.ok and result.wamid is None and result.attempts == 1


async def test_429_then_success_is_retried(
    sink: GraphSink, sink_client: GraphClient, sleeps: Sleeps
) -> None:
    sink.fail_next(1)
    result = await sink_client.send(TEXT)
    assert result.ok and result.attempts == 2
    assert len(sleeps) == 1
    assert len(sink.rejected) == 1 and len(sink.requests) == 1


async def test_server_errors_then_success(make_client: Callable[..., GraphClient]) -> None:
    transport = scripted(
        httpx.Response(500, text="oops"),
        httpx.Response(503),
        httpx.Response(200, json=OK_BODY),
    )
    result = await make_client(transport).send(TEXT)
    assert result.ok and result.wamid == "wamid.OK" and result.attempts == 3


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=["connect", "timeout"]
)
async def test_transport_error_then_success(
    make_client: Callable[..., GraphClient], error: Exception
) -> None:
    result = await make_client(scripted(error, httpx.Response(200, json=OK_BODY))).send(TEXT)
    assert result.ok and result.attempts == 2


async def test_retryable_codes_decide_over_http_status(
    make_client: Callable[..., GraphClient],
) -> None:
    # Meta sends 131000 with HTTP 500 and 131016 with 503; the code decides, not the status.
    transport = scripted(graph_error(131000, 500), graph_error(131016, 503), graph_error(2, 400))
    result = await make_client(transport, max_attempts=3).send(TEXT)
    assert not result.ok and result.error_code == 2 and result.attempts == 3


async def test_pair_rate_limit_waits_four_to_the_x(
    sink: GraphSink, sink_client: GraphClient, sleeps: Sleeps
) -> None:
    sink.fail_next(3, http_status=400, code=131056, title="(#131056) pair rate limit")
    result = await sink_client.send(TEXT)
    assert result.ok and result.attempts == 4
    # base 0.01 s is 1/50 of the default 0.5 s: 4^X seconds scaled to 0.02 * 4^X.
    assert sleeps == pytest.approx([0.02, 0.08, 0.32])


async def test_pair_rate_limit_wait_is_capped(
    make_client: Callable[..., GraphClient], sleeps: Sleeps
) -> None:
    transport = scripted(*(graph_error(131056) for _ in range(4)))
    result = await make_client(transport, max_attempts=4, backoff_max_s=0.1).send(TEXT)
    assert not result.ok and result.error_code == 131056 and result.attempts == 4
    assert sleeps == pytest.approx([0.02, 0.08, 0.1])


async def test_throttling_backs_off_exponentially_with_jitter(
    make_client: Callable[..., GraphClient], sleeps: Sleeps
) -> None:
    transport = scripted(*(httpx.Response(429) for _ in range(5)))
    result = await make_client(transport, backoff_max_s=0.1).send(TEXT)
    assert not result.ok and result.http_status == 429 and result.attempts == 5
    assert len(sleeps) == 4
    for n, wait in enumerate(sleeps):
        low = min(0.01 * 2**n, 0.1)
        assert low <= wait <= min(low + 0.01, 0.1)


@pytest.mark.parametrize(
    ("code", "status"), [(131047, 400), (100, 400), (190, 401), (131026, 400), (132001, 404)]
)
async def test_other_codes_are_not_retried(
    make_client: Callable[..., GraphClient], sleeps: Sleeps, code: int, status: int
) -> None:
    transport = scripted(graph_error(code, status, message=f"(#{code}) no"))
    result = await make_client(transport).send(TEXT)
    assert not result.ok and result.attempts == 1 and sleeps == []
    assert result.error_code == code and result.http_status == status
    assert result.error_title == f"(#{code}) no"


async def test_attempts_exhausted_returns_last_code(
    sink: GraphSink, make_client: Callable[..., GraphClient]
) -> None:
    sink.fail_next(2, http_status=400, code=131000, title="(#131000) Something went wrong")
    sink.fail_next(5)
    client = make_client(httpx.ASGITransport(app=create_sink_app(sink)), max_attempts=3)
    result = await client.send(TEXT)
    assert not result.ok and result.attempts == 3
    assert (result.http_status, result.error_code) == (429, 130429)
    assert result.error_title is not None and "130429" in result.error_title
    assert retryable(result)


async def test_unexpected_success_body_is_a_failure(
    make_client: Callable[..., GraphClient],
) -> None:
    result = await make_client(scripted(httpx.Response(200, json={"x": 1}))).send(TEXT)
    assert not result.ok and result.attempts == 1 and not retryable(result)


async def test_token_and_phone_never_logged(
    make_client: Callable[..., GraphClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = scripted(
        httpx.ConnectError(f"refused Bearer {TOKEN}"),
        httpx.Response(429),
        httpx.Response(200, json=OK_BODY),
        graph_error(131047),
    )
    client = make_client(transport)
    assert (await client.send(TEXT)).ok
    assert not (await client.send(TEXT)).ok
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "graph send" in text  # the retry and the failure were logged
    assert TOKEN not in text
    assert "5491122334455" not in text and "4455" in text


# --- the sink ----------------------------------------------------------------------------------


@pytest.fixture
async def http(sink: GraphSink) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_sink_app(sink))
    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as client:
        yield client


async def test_sink_wamids_are_unique(sink_client: GraphClient) -> None:
    results = await asyncio.gather(*(sink_client.send(TEXT) for _ in range(50)))
    assert len({r.wamid for r in results}) == 50


async def test_sink_answers_like_meta(http: httpx.AsyncClient) -> None:
    answer = await http.post(f"/v23.0/{PHONE_ID}/messages", json=TEXT)
    assert answer.status_code == 200
    data = answer.json()
    assert data["contacts"] == [{"input": TO, "wa_id": "5491122334455"}]
    assert set(data["messages"][0]) == {"id"}
    template = {**TEXT, "type": "template", "template": {"name": "hello", "language": {}}}
    data = (await http.post(f"/v23.0/{PHONE_ID}/messages", json=template)).json()
    assert data["messages"][0]["message_status"] == "accepted"
    typing = {**READ, "typing_indicator": {"type": "text"}}
    for body in (READ, typing):
        answer = await http.post(f"/v23.0/{PHONE_ID}/messages", json=body)
        assert answer.json() == {"success": True}


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[1, 2]",
        orjson.dumps({**TEXT, "messaging_product": "sms"}),
        orjson.dumps({"messaging_product": "whatsapp", "type": "text"}),
        orjson.dumps({"messaging_product": "whatsapp", "status": "read"}),
    ],
)
async def test_sink_rejects_bad_bodies_with_code_100(
    sink: GraphSink, http: httpx.AsyncClient, content: bytes
) -> None:
    answer = await http.post(f"/v23.0/{PHONE_ID}/messages", content=content)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100 and error["type"] == "OAuthException"
    assert error["error_data"]["details"] and error["fbtrace_id"]
    assert sink.requests == [] and len(sink.rejected) == 1


async def test_sink_failure_scripting(sink: GraphSink, sink_client: GraphClient) -> None:
    sink.fail_for(3600, http_status=503, code=131016, title="(#131016) Service unavailable")
    result = await sink_client.send(TEXT)
    assert (result.ok, result.error_code, result.http_status) == (False, 131016, 503)
    sink.fail_for(0)
    sink.fail_next(1, http_status=400, code=131047, title="(#131047) Re-engagement message")
    result = await sink_client.send(TEXT)
    assert (result.ok, result.error_code, result.attempts) == (False, 131047, 1)
    assert (await sink_client.send(TEXT)).ok


async def test_sink_control_endpoints(sink: GraphSink, http: httpx.AsyncClient) -> None:
    assert (await http.post("/_sink/fail", json={"count": 1, "code": 4})).status_code == 200
    assert (await http.post("/_sink/fail", json={})).status_code == 400
    first = await http.post(f"/v23.0/{PHONE_ID}/messages", json=TEXT)
    assert (first.status_code, first.json()["error"]["code"]) == (429, 4)
    await http.post(f"/v23.0/{PHONE_ID}/messages", json=READ)
    listed = (await http.get("/_sink/requests")).json()
    assert [r["body"] for r in listed["requests"]] == [READ]
    assert [r["body"] for r in listed["rejected"]] == [TEXT]
    assert listed["requests"][0]["path"] == f"/v23.0/{PHONE_ID}/messages"
    assert (await http.delete("/_sink/requests")).status_code == 200
    assert (await http.get("/_sink/requests")).json() == {"requests": [], "rejected": []}


async def test_sink_wait_for(sink: GraphSink, sink_client: GraphClient) -> None:
    waiter = asyncio.create_task(sink.wait_for(2, timeout_s=5))
    await sink_client.send(TEXT)
    assert not waiter.done()
    await sink_client.send(READ)
    assert [r.body for r in await waiter] == [TEXT, READ]
    with pytest.raises(TimeoutError):
        await sink.wait_for(3, timeout_s=0.01)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_sink_serves_from_the_command_line() -> None:
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.whatsapp.sink", "--host", "127.0.0.1", "--port", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = GraphClient(f"http://127.0.0.1:{port}/v23.0", PHONE_ID, TOKEN)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                try:
                    await http.get("/_sink/requests")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert (await client.send(TEXT)).ok
            listed = (await http.get("/_sink/requests")).json()
        assert [r["body"] for r in listed["requests"]] == [TEXT]
    finally:
        await client.aclose()
        server.terminate()
        await server.wait()


async def test_before_attempt_runs_before_each_attempt(
    make_client: Callable[..., GraphClient],
) -> None:
    transport = scripted(httpx.Response(503), httpx.Response(200, json=OK_BODY))
    started: list[int] = []

    async def note() -> None:
        started.append(len(started) + 1)

    result = await make_client(transport).send(TEXT, note)
    assert result.ok and result.attempts == 2 and started == [1, 2]


async def test_what_before_attempt_raises_ends_the_send(
    make_client: Callable[..., GraphClient],
) -> None:
    transport = scripted(httpx.Response(503), httpx.Response(200, json=OK_BODY))
    calls = 0

    async def settled_meanwhile() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise LookupError("settled")

    with pytest.raises(LookupError):
        await make_client(transport).send(TEXT, settled_meanwhile)
    assert calls == 2


# --- status webhooks from the sink -------------------------------------------------------------


class Receiver:
    """A bot's webhook endpoint that refuses the first ``refuse`` posts (503), then takes them."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.bodies: list[tuple[bytes, str]] = []  # (raw body, signature header)

    async def take(self, request: Request) -> Response:
        if self.refuse > 0:
            self.refuse -= 1
            return Response(status_code=503)
        self.bodies.append((await request.body(), request.headers["x-hub-signature-256"]))
        return Response(status_code=200)


async def test_sink_posts_a_signed_sent_status_for_each_accepted_message() -> None:
    receiver = Receiver(refuse=2)
    app = Starlette(routes=[Route("/webhook", receiver.take, methods=["POST"])])
    async with serve_app(app) as port:
        statuses = StatusWebhooks([f"http://127.0.0.1:{port}/webhook"], "s3cret", retry_s=0.01)
        sink = GraphSink(statuses=statuses)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_sink_app(sink)), base_url="http://sink"
        ) as http:
            path = f"/v23.0/{PHONE_ID}/messages"
            keyed = await http.post(path, json={**TEXT, "biz_opaque_callback_data": "wamid.IN:1"})
            plain = await http.post(path, json=TEXT)
            await http.post(path, json=READ)  # no status for a mark-read
            sink.fail_next(1)
            await http.post(path, json=TEXT)  # nor for a refused message
            async with asyncio.timeout(5):
                while statuses.waiting:
                    await asyncio.sleep(0.01)
        await statuses.aclose()
    found = [
        event
        for raw, signature in receiver.bodies
        if signature == signature_for("s3cret", raw)
        for event in parse_body(orjson.loads(raw))
    ]
    assert [(s.id, s.status, s.phone_number_id, s.biz_opaque_callback_data) for s in found] == [
        (keyed.json()["messages"][0]["id"], "sent", PHONE_ID, "wamid.IN:1"),
        (plain.json()["messages"][0]["id"], "sent", PHONE_ID, None),
    ]
    assert all(isinstance(s, StatusUpdate) and s.recipient == TO.lstrip("+") for s in found)
