"""Stages that frame every message: error guard, customer context, read receipt."""

from __future__ import annotations

import logging

from bot.brain import SILENT_TYPES
from bot.customers import set_language, touch_customer
from bot.inbox import STORAGE_DOWN
from bot.intent.keywords import detect_language
from bot.logs import mask
from bot.pipeline.core import Context, Handler
from bot.whatsapp import messages

__all__ = ["guard_errors", "load_customer", "show_typing"]

log = logging.getLogger(__name__)


async def guard_errors(ctx: Context, call_next: Handler) -> None:
    try:
        await call_next(ctx)
    except STORAGE_DOWN:
        raise  # the message stays pending and is retried; an apology would mark it done
    except Exception:
        # Logged once here with the message id; the customer gets one apology, not silence.
        log.exception(
            "message processing failed",
            extra={"wamid": ctx.message.id, "customer": mask(ctx.customer)},
        )
        ctx.outbox.clear()
        ctx.reply(messages.text(ctx.customer, ctx.texts.error_fallback))


async def load_customer(ctx: Context, call_next: Handler) -> None:
    message = ctx.message
    profile = {"wa_id": message.wa_id, "user_id": message.user_id, "name": message.name}
    # A returning customer whose profile is unchanged costs no round trip here.
    record = ctx.known.unchanged_by(**profile) if ctx.known is not None else None
    if record is None:
        record = await touch_customer(ctx.deps.pool, customer=message.customer, **profile)
    ctx.tier = record.tier
    ctx.language = record.language or "es"
    if record.language is None and message.text:
        # Detected from the first message that tells; until then Spanish, and not stored.
        detected = detect_language(message.text)
        if detected is not None:
            await set_language(ctx.deps.pool, message.customer, detected)
            ctx.language = detected
    ctx.is_new_customer = record.created
    await call_next(ctx)


async def show_typing(ctx: Context, call_next: Handler) -> None:
    """The bot is about to answer: blue ticks and "typing…" now, while intent detection and
    the flows run (an AI provider may take seconds)."""
    if ctx.message.type not in SILENT_TYPES:
        ctx.show_typing()
    await call_next(ctx)
