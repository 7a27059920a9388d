"""The Graph API's keep-alive transport against real sockets: reuse, closes, chunks, errors."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.whatsapp.graph import GraphClient
from bot.whatsapp.transport import PROXY_VARIABLES, KeepAliveTransport, default_transport
from tests.servers import free_port

# One request in, raw answer bytes out (None: close without answering).
Answer = Callable[[bytes, int], Awaitable[bytes | None]]


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[tuple[str, list[int]]]:
    """A plain socket server; yields its URL and the client port of every request it read."""
    ports: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                ports.append(peer)
                out = await answer(body, len(ports))
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if b"connection: close" in out.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v23.0/1/messages", ports
    finally:
        server.close()


def _ok(body: bytes, *extra: bytes) -> bytes:
    headers = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    return b"\r\n".join([*headers, b"Content-Length: %d" % len(body), b"", body])


async def _echo(body: bytes, n: int) -> bytes:
    return _ok(b'{"n": %d, "got": %s}' % (n, body))


async def test_connections_are_kept_alive_and_reused() -> None:
    async with (
        raw_server(_echo) as (url, ports),
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        answers = [await client.post(url, content=b'{"i": %d}' % i) for i in range(5)]
    assert [a.json() for a in answers] == [{"n": i + 1, "got": {"i": i}} for i in range(5)]
    assert len(set(ports)) == 1


async def test_concurrent_requests_use_separate_connections() -> None:
    async def slow(body: bytes, n: int) -> bytes:
        await asyncio.sleep(0.05)
        return _ok(b"{}")

    async with (
        raw_server(slow) as (url, ports),
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        await asyncio.gather(*(client.post(url, content=b"{}") for _ in range(4)))
        await asyncio.gather(*(client.post(url, content=b"{}") for _ in range(4)))
    assert len(set(ports)) == 4  # the second round reused the first round's four


async def test_a_connection_the_server_closes_is_not_reused() -> None:
    async def closing(body: bytes, n: int) -> bytes:
        return _ok(b"{}", b"Connection: close")

    async with (
        raw_server(closing) as (url, ports),
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        statuses = [(await client.post(url, content=b"{}")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(set(ports)) == 3


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    async def once_per_connection(body: bytes, n: int) -> bytes | None:
        return _ok(b"{}")

    async with raw_server(once_per_connection) as (url, ports):
        transport = KeepAliveTransport(idle_expiry_s=0.05)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(url, content=b"{}")
            await asyncio.sleep(0.1)  # past the idle expiry: a new connection, not a failure
            assert (await client.post(url, content=b"{}")).status_code == 200
    assert len(set(ports)) == 2


async def test_chunked_and_gzipped_answers_are_decoded() -> None:
    payload = gzip.compress(b'{"messages": [{"id": "wamid.X"}]}')

    async def chunked(body: bytes, n: int) -> bytes:
        half = len(payload) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (payload[:half], payload[half:]))
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head + chunks + b"0\r\n\r\n"

    async with (
        raw_server(chunked) as (url, _),
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        answer = await client.post(url, content=b"{}")
    assert answer.json() == {"messages": [{"id": "wamid.X"}]}


async def test_errors_are_httpx_errors() -> None:
    async def hang(body: bytes, n: int) -> bytes:
        await asyncio.sleep(5)
        return _ok(b"{}")

    async def drop(body: bytes, n: int) -> None:
        return None

    async with httpx.AsyncClient(transport=KeepAliveTransport(), timeout=0.2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{free_port()}/x", content=b"{}")
        async with raw_server(hang) as (url, _):
            with pytest.raises(httpx.ReadTimeout):
                await client.post(url, content=b"{}")
        async with raw_server(drop) as (url, _):
            with pytest.raises(httpx.ReadError):
                await client.post(url, content=b"{}")


async def test_the_graph_client_sends_through_it_and_reads_the_message_id() -> None:
    async def graph(body: bytes, n: int) -> bytes:
        return _ok(b'{"messaging_product": "whatsapp", "messages": [{"id": "wamid.OK%d"}]}' % n)

    async with raw_server(graph) as (url, ports):
        base = url.removesuffix("/1/messages")
        client = GraphClient(base, "1", "token")
        try:
            results = [await client.send({"to": "5491100000000", "type": "text"}) for _ in range(3)]
        finally:
            await client.aclose()
    assert [r.wamid for r in results] == ["wamid.OK1", "wamid.OK2", "wamid.OK3"]
    assert len(set(ports)) == 1


def test_a_configured_proxy_falls_back_to_httpx_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert isinstance(default_transport(), KeepAliveTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert default_transport() is None
