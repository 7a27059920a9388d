"""The middleware chain: each stage is ``async (ctx, call_next) -> None``.

A stage ends the chain by not calling ``call_next`` (aiogram's model). Stages never call the
Graph API: they append bodies to ``ctx.outbox``, which the worker stores in the same
transaction that marks the message done, and only then sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.intent.model import IntentResult
from bot.texts import Texts, texts_for
from bot.whatsapp.events import InboundMessage

if TYPE_CHECKING:
    from bot.deps import Deps
    from bot.sessions import Session

__all__ = ["Context", "Handler", "Middleware", "compose"]


@dataclass(slots=True)
class Context:
    message: InboundMessage
    deps: Deps
    language: str = "es"
    tier: str = "new"
    is_new_customer: bool = False
    session: Session | None = None
    intent: IntentResult | None = None
    rate_limited: bool = False
    outbox: list[dict[str, Any]] = field(default_factory=list)

    @property
    def customer(self) -> str:
        return self.message.customer

    @property
    def texts(self) -> Texts:
        return texts_for(self.language)

    def reply(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        self.outbox.extend(dict(body) for body in bodies)


Handler = Callable[[Context], Awaitable[None]]
Middleware = Callable[[Context, Handler], Awaitable[None]]


def compose(stages: Sequence[Middleware], endpoint: Handler) -> Handler:
    """Fold the stages around the endpoint once; the first stage runs first."""
    handler = endpoint
    for stage in reversed(stages):
        handler = _bind(stage, handler)
    return handler


def _bind(stage: Middleware, call_next: Handler) -> Handler:
    async def run(ctx: Context) -> None:
        await stage(ctx, call_next)

    return run
