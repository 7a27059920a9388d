"""The local Graph sink plus a live feed of what it accepts, for the end-to-end benchmark.

    python -m bench.e2e_sink --port 8081

Every Graph request is answered by ``bot.whatsapp.sink`` unchanged. The one addition is
``GET /_bench/stream``: a chunked response with one line per accepted request, ``r <wamid>``
for a mark-read and ``m <to>`` for a message, so that simulated customers learn that they were
answered without polling ``GET /_sink/requests`` (whose cost grows with the record).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.whatsapp.sink import GraphSink, create_sink_app

__all__ = ["FeedingSink", "create_app"]


class FeedingSink(GraphSink):
    """A GraphSink that also copies each accepted request, as a line, to every subscriber."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribers: list[asyncio.Queue[bytes]] = []

    async def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        status, answer = await super().answer(path, body)
        if status == 200 and self.subscribers:
            if "status" in body:
                line = f"r {body['message_id']}\n".encode()
            else:
                line = f"m {body['to']}\n".encode()
            for queue in self.subscribers:
                queue.put_nowait(line)
        return status, answer


def create_app() -> Any:
    sink = FeedingSink()
    app = create_sink_app(sink)

    async def stream(request: Request) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        sink.subscribers.append(queue)

        async def lines() -> AsyncIterator[bytes]:
            try:
                yield b"\n"  # the subscriber knows it is registered once this arrives
                while True:
                    batch = [await queue.get()]
                    while not queue.empty():  # one chunk for everything already waiting
                        batch.append(queue.get_nowait())
                    yield b"".join(batch)
            finally:
                sink.subscribers.remove(queue)

        return StreamingResponse(lines(), media_type="text/plain")

    app.router.routes.insert(0, Route("/_bench/stream", stream, methods=["GET"]))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    uvicorn.run(
        create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
