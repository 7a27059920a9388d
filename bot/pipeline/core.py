"""The middleware chain: each stage is ``async (ctx, call_next) -> None``.

A stage ends the chain by not calling ``call_next`` (aiogram's model). Stages never send a
reply: they append bodies to ``ctx.outbox``, which the worker stores in the same transaction
that marks the message done, and only then sends. The read receipt is not a reply: it goes out
at once (``Context.show_typing``), outside the outbox.

``compose`` times every stage on its own (its time minus the stages after it) into the
``wbot_stage_seconds`` histogram, labelled by the stage function's name, plus ``total``. The
deepest stage reached so far is on every line logged while a message is processed, and
``ctx.stage`` ends as the one that answered (or stopped) it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.intent.model import IntentResult
from bot.logs import note
from bot.metrics import STAGE_SECONDS
from bot.texts import Texts, texts_for
from bot.whatsapp.events import InboundMessage

if TYPE_CHECKING:
    from bot.customers import KnownCustomer
    from bot.deps import Deps
    from bot.sessions import Session
    from bot.whatsapp.graph import SendResult

__all__ = ["Context", "Handler", "Middleware", "compose"]


@dataclass(slots=True)
class Context:
    message: InboundMessage
    deps: Deps
    # The customer's record as the worker found it (None: first contact, or not read).
    known: KnownCustomer | None = None
    language: str = "es"
    tier: str = "new"
    is_new_customer: bool = False
    session: Session | None = None
    intent: IntentResult | None = None
    rate_limited: bool = False
    outbox: list[dict[str, Any]] = field(default_factory=list)
    # The deepest stage the message reached (the one that answered or stopped it), and each
    # stage's own seconds.
    stage: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # The read receipt in flight, once show_typing() started it.
    receipt: asyncio.Task[SendResult] | None = None

    @property
    def customer(self) -> str:
        return self.message.customer

    @property
    def texts(self) -> Texts:
        return texts_for(self.language)

    def reply(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        self.outbox.extend(dict(body) for body in bodies)

    def show_typing(self) -> None:
        """Blue ticks and "typing…" for this message now, once (a receipt, not a reply)."""
        if self.receipt is None:
            self.receipt = self.deps.outbox.read_receipt(self.message.id)


Handler = Callable[[Context], Awaitable[None]]
Middleware = Callable[[Context, Handler], Awaitable[None]]


def compose(stages: Sequence[Middleware], endpoint: Handler) -> Handler:
    """Fold the stages around the endpoint once; the first stage runs first."""
    # The endpoint is timed as a stage that ignores its (empty) rest of the chain.
    handler = _timed(_name(endpoint), lambda ctx, _: endpoint(ctx), _done)
    for stage in reversed(stages):
        handler = _timed(_name(stage), stage, handler)
    return _total(handler)


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__name__", type(function).__name__)


async def _done(ctx: Context) -> None:
    """The rest of the chain after the endpoint: nothing."""


def _timed(name: str, stage: Middleware, call_next: Handler) -> Handler:
    histogram = STAGE_SECONDS.labels(name)  # the child resolved once, not per message

    async def run(ctx: Context) -> None:
        inner = 0.0

        async def timed_next(ctx: Context) -> None:
            nonlocal inner
            started = time.perf_counter()
            try:
                await call_next(ctx)
            finally:
                inner += time.perf_counter() - started

        ctx.stage = name
        note(stage=name)
        started = time.perf_counter()
        try:
            await stage(ctx, timed_next)
        finally:
            own = time.perf_counter() - started - inner
            ctx.timings[name] = own
            histogram.observe(own)

    return run


def _total(handler: Handler) -> Handler:
    histogram = STAGE_SECONDS.labels("total")

    async def run(ctx: Context) -> None:
        started = time.perf_counter()
        try:
            await handler(ctx)
        finally:
            histogram.observe(time.perf_counter() - started)

    return run
