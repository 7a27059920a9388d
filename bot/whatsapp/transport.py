"""A lean HTTP/1.1 keep-alive transport for httpx, for the Graph API's hot path.

Every reply is one or two POSTs to the same host. httpx's default transport (httpcore over
anyio) spends more CPU per request than the rest of a message's processing: it checks every
pooled connection with a ``select()`` per request and crosses several abstraction layers.
This one keeps idle connections in a LIFO stack per origin, writes the request in one call
and parses the answer with httptools (which uvicorn already brings), so ``httpx.AsyncClient``
stays the interface (retries, timeouts and test transports are unchanged).

Not handled, by design: HTTP/2, proxies, request bodies streamed in chunks. `default_transport`
falls back to httpx's own transport when a proxy is configured in the environment.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque

import certifi
import httptools
import httpx

__all__ = ["PROXY_VARIABLES", "KeepAliveTransport", "default_transport"]

_Origin = tuple[str, str, int]
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


class _Answer:
    """httptools callbacks: headers and body of one response."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        # Read now: once the message is complete the parser resets and always says False.
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def usable(self, expiry_s: float) -> bool:
        # A server that closed an idle connection shows it as EOF before we write to it.
        fresh = time.monotonic() - self.idle_since < expiry_s
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    async def exchange(self, head: bytes, body: bytes) -> tuple[int, _Answer, bool]:
        self.writer.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.writer.write(body)
        await self.writer.drain()
        answer = _Answer()
        while not answer.complete:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionResetError("server closed the connection before answering")
            answer.parser.feed_data(data)
        return answer.parser.get_status_code(), answer, answer.keep_alive

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        max_idle_per_origin: int = 32,
        idle_expiry_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_idle = max_idle_per_origin
        self._expiry_s = idle_expiry_s
        self._ssl = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._idle: dict[_Origin, deque[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin: _Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        head = self._head(request, len(body))
        conn = self._take(origin) or await self._open(origin, timeouts.get("connect"), request)
        try:
            async with asyncio.timeout(timeouts.get("read")):
                status, answer, keep_alive = await conn.exchange(head, body)
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout("no answer within the read timeout", request=request) from exc
        except (OSError, httptools.HttpParserError) as exc:
            conn.close()
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except BaseException:  # cancelled mid-exchange: the connection's state is unknown
            conn.close()
            raise
        if keep_alive:
            self._put(origin, conn)
        else:
            conn.close()
        return httpx.Response(
            status, headers=answer.headers, content=b"".join(answer.body), request=request
        )

    async def aclose(self) -> None:
        for stack in self._idle.values():
            for conn in stack:
                conn.close()
        self._idle.clear()

    @staticmethod
    def _head(request: httpx.Request, length: int) -> bytes:
        target = request.url.raw_path
        lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if name.lower() not in (b"content-length", b"transfer-encoding"):
                lines.append(name + b": " + value)
        lines.append(b"Content-Length: " + str(length).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _take(self, origin: _Origin) -> _Connection | None:
        stack = self._idle.get(origin)
        while stack:
            conn = stack.pop()  # the most recently used is the least likely to be closed
            if conn.usable(self._expiry_s):
                return conn
            conn.close()
        return None

    def _put(self, origin: _Origin, conn: _Connection) -> None:
        stack = self._idle.setdefault(origin, deque())
        if len(stack) >= self._max_idle:
            stack.popleft().close()
        conn.idle_since = time.monotonic()
        stack.append(conn)

    async def _open(
        self, origin: _Origin, timeout_s: float | None, request: httpx.Request
    ) -> _Connection:
        scheme, host, port = origin
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._ssl if scheme == "https" else None
                )
        except TimeoutError as exc:
            message = f"connecting to {host}:{port} timed out"
            raise httpx.ConnectTimeout(message, request=request) from exc
        except OSError as exc:
            message = f"cannot connect to {host}:{port}: {exc}"
            raise httpx.ConnectError(message, request=request) from exc
        return _Connection(reader, writer)


def default_transport() -> httpx.AsyncBaseTransport | None:
    """The lean transport, or None (httpx's own) when the environment asks for a proxy."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    return KeepAliveTransport()
