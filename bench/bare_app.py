"""The reference: a bare Starlette endpoint that only answers 200."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def ok(request: Request) -> Response:
    await request.body()
    return Response(b"{}", media_type="application/json")


app = Starlette(routes=[Route("/webhook", ok, methods=["POST"]), Route("/", ok)])
