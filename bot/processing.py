"""What a worker does with one stored message: pipeline, then one commit, then the replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from bot.deps import Deps
from bot.inbox import STORAGE_DOWN, PendingMessage, mark_done, mark_failed_attempt
from bot.logs import log_context, mask, note
from bot.metrics import MESSAGES, message_type
from bot.outbound import PendingReply, reply_columns
from bot.pipeline.core import Context, Handler
from bot.turns import Finish, Turn
from bot.whatsapp.events import InboundMessage
from bot.whatsapp.parse import parse_body

__all__ = ["Processor"]

log = logging.getLogger(__name__)

_NO_SESSION = (None, None, None, None)


def _reparse(envelope: dict[str, object]) -> InboundMessage | None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "", "changes": [{"field": "messages", "value": envelope}]}],
    }
    found = [e for e in parse_body(body) if isinstance(e, InboundMessage)]
    return found[0] if found else None


class Processor:
    def __init__(self, deps: Deps, pipeline: Handler) -> None:
        self._deps = deps
        self._pipeline = pipeline

    async def resume(self, customer: str, replies: Sequence[PendingReply]) -> bool:
        """Send replies a previous run committed but did not get out (crash, Graph outage)."""
        return not replies or await self._deps.outbox.flush(customer, replies)

    async def process(self, turn: Turn, pending: PendingMessage) -> bool:
        message = _reparse(pending.envelope)
        if message is None:  # stored before a parser change made it unreadable: keep, skip
            await mark_done(self._deps.pool, pending.id, rate_limited=False)
            return True
        # Every line logged while this message is processed carries its id and masked sender.
        with log_context(wamid=message.id, customer=mask(message.customer), timed=True):
            return await self._process(turn, pending, message)

    async def _process(self, turn: Turn, pending: PendingMessage, message: InboundMessage) -> bool:
        started = time.perf_counter()
        ctx = Context(message=message, deps=self._deps, known=pending.known)
        outbox = self._deps.outbox
        try:
            await self._pipeline(ctx)
            if ctx.outbox:
                ctx.show_typing()  # an answer from a stage before show_typing: ticks too
            session = (
                self._deps.sessions.columns(ctx.session) if ctx.session is not None else _NO_SESSION
            )
            replies = reply_columns(message.id, ctx.outbox, claim=True)
            to_send = await turn.finish(
                Finish(pending.id, ctx.rate_limited, message.customer, session, replies)
            )
            if ctx.session is not None:
                await self._deps.sessions.cache(ctx.session)
        except STORAGE_DOWN:
            raise  # the worker reconnects; the message stays pending
        except Exception as exc:
            state = await mark_failed_attempt(
                self._deps.pool, pending.id, repr(exc), self._deps.settings.max_attempts
            )
            log.exception(
                "message attempt failed",
                extra={
                    "wamid": message.id,
                    "customer": mask(message.customer),
                    "stage": ctx.stage,
                    "state": state,
                },
            )
            return False
        _record(ctx, time.perf_counter() - started)
        note(stage="send")
        if ctx.receipt is not None:
            await ctx.receipt  # the ticks before the answer; a failed receipt is only logged
        return await outbox.flush(message.customer, to_send)


def _record(ctx: Context, seconds: float) -> None:
    """One metric increment and one info line per processed message (stored, replies not yet
    sent); never its text."""
    intent = ctx.intent.intent.value if ctx.intent is not None else "none"
    source = ctx.intent.source if ctx.intent is not None else "none"
    kind = message_type(ctx.message.type)
    MESSAGES.labels(kind, intent, source).inc()
    if not log.isEnabledFor(logging.INFO):
        return  # the line below costs more than the message's other bookkeeping
    log.info(
        "message processed",
        extra={
            "wamid": ctx.message.id,
            "customer": mask(ctx.customer),
            "type": kind,
            "intent": intent,
            "source": source,
            "stage": ctx.stage,
            "replies": len(ctx.outbox),
            "rate_limited": ctx.rate_limited,
            "latency_ms": round(seconds * 1000, 1),
            "stage_ms": {name: round(s * 1000, 2) for name, s in ctx.timings.items()},
        },
    )
