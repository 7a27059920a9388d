"""The ASGI application: routes, and the lifespan that builds and tears down ``Deps``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot import health, webhook
from bot.cancellation import cancel_and_wait
from bot.commerce.payment_webhook import stripe_webhook
from bot.deps import Deps, build_deps
from bot.housekeeping import housekeeping
from bot.pipeline import build_pipeline
from bot.processing import Processor
from bot.settings import Settings
from bot.workers import InboxWorkers

__all__ = ["create_app", "running", "settle_heap"]

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Once a server process has started: what it built so far (modules, settings, pools,
    caches) lives as long as the process, so the cyclic collector stops walking it (freeze),
    and it runs after 20,000 net allocations instead of 700. Measured on the webhook: 88 → 68 µs
    of CPU per request, p99 40 → 20 ms; the default walked the whole heap several times a
    second under load."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    graph_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Deps]:
    """Build every dependency, start the inbox workers (if any), and clean up afterwards."""
    deps = await build_deps(settings, graph_transport=graph_transport)
    processor = Processor(deps, build_pipeline())
    deps.workers = InboxWorkers(
        settings.database_url,
        deps.turns,
        processor.process,
        processor.resume,
        concurrency=settings.workers,
        poll_interval_s=settings.inbox_poll_ms / 1000,
        acks_waiting=lambda: deps.acks_in_flight,
    )
    if settings.allow_unsigned_webhooks:
        log.warning(
            "BOT_ALLOW_UNSIGNED_WEBHOOKS is on: unsigned POSTs are accepted (development only)"
        )
    chores: asyncio.Task[None] | None = None
    if settings.workers > 0:
        await deps.workers.start()
        chores = asyncio.create_task(housekeeping(deps), name="housekeeping")
    try:
        yield deps
    finally:
        await cancel_and_wait(chores)
        await deps.workers.stop()
        await deps.aclose()


_RECEIVER = webhook.Receiver()


class _App(Starlette):
    """Starlette, with ``POST /webhook`` answered before the router and middleware: every
    instance spends most of its time there, and the other routes need what they add. (The router
    keeps the route too, for a path it would match and this test does not, e.g. under a
    root_path.)"""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/webhook" and scope["method"] == "POST":
            scope["app"] = self  # where the receiver finds the deps, as behind the router
            await _RECEIVER(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    deps: Deps | None = None,
    graph_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The app; with ``deps`` given (tests), the caller owns their lifecycle."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if deps is not None:
            app.state.deps = deps
            yield
            return
        async with running(
            settings or Settings.from_env(), graph_transport=graph_transport
        ) as built:
            app.state.deps = built
            settle_heap()
            yield

    app = _App(
        routes=[
            Route("/webhook", webhook.verify, methods=["GET"]),
            Route("/webhook", _RECEIVER, methods=["POST"]),
            Route("/health", health.alive, methods=["GET"]),
            Route("/ready", health.ready, methods=["GET"]),
            Route("/health/storage", health.storage, methods=["GET"]),
            Route("/metrics", health.metrics, methods=["GET"]),
            Route("/payments/stripe/webhook", stripe_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    if deps is not None:
        app.state.deps = deps
    return app
