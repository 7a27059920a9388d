"""Human handoff: the bot goes quiet for ``handoff_minutes`` while a person answers.

The pause lives in the session (``HANDOFF_UNTIL``, epoch seconds), so it ends with the
session too. While it lasts, ``check_handoff`` (a pipeline stage) keeps the bot silent; it
ends on its own, or when the customer writes one of ``RESUME_WORDS`` ("menu", "bot",
"volver", "back"; alone or in a message of at most three words, e.g. "volver al bot").

The shop is told through ``handoff_notify``: a WhatsApp number gets a text (queued with the
replies, so it is sent like every other message), an https URL gets a JSON POST (best effort,
short timeout, failures logged and otherwise ignored).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.flows.states import HANDOFF_UNTIL, IDLE
from bot.flows.ui import main_menu, say
from bot.intent.normalize import fold
from bot.intent.vocabulary import tokenize
from bot.logs import mask
from bot.pipeline.core import Context, Handler
from bot.texts import texts_for
from bot.whatsapp import messages

__all__ = [
    "NOTIFY_TIMEOUT_S",
    "RESUME_WORDS",
    "check_handoff",
    "post_notice",
    "resume_requested",
    "start",
]

log = logging.getLogger(__name__)

RESUME_WORDS = frozenset({"menu", "bot", "volver", "back"})
NOTIFY_TIMEOUT_S = 3.0
_RESUME_MAX_WORDS = 3


def resume_requested(text: str) -> bool:
    words = tokenize(fold(text))
    return 0 < len(words) <= _RESUME_MAX_WORDS and any(w in RESUME_WORDS for w in words)


async def check_handoff(ctx: Context, call_next: Handler) -> None:
    """Stage: silent while a person answers; back on timeout or on a resume word."""
    session = ctx.session
    until = session.context.get(HANDOFF_UNTIL) if session is not None else None
    if session is None or not isinstance(until, int | float):
        await call_next(ctx)
        return
    if time.time() >= until:
        del session.context[HANDOFF_UNTIL]
        await call_next(ctx)
        return
    if ctx.message.text and resume_requested(ctx.message.text):
        del session.context[HANDOFF_UNTIL]
        session.state = IDLE
        main_menu(ctx, ctx.texts.handoff_resumed)
    # Otherwise nothing: the person answering must not be talked over.


async def start(ctx: Context) -> None:
    """HUMAN_AGENT: pause the bot, tell the shop, tell the customer how to come back."""
    minutes = ctx.deps.config.number("handoff_minutes")
    until = time.time() + minutes * 60
    if ctx.session is not None:
        ctx.session.context[HANDOFF_UNTIL] = until
    await _notify(ctx, until)
    say(ctx, ctx.texts.handoff_started.format(minutes=minutes))


async def _notify(ctx: Context, until: float) -> None:
    configured = ctx.deps.config.get("handoff_notify")
    if configured is None:
        return
    target = str(configured)  # a number typed without quotes is stored as a JSON number
    message = ctx.message
    if target.startswith("https://"):
        payload = {
            "event": "handoff",
            "customer": ctx.customer,
            "name": message.name,
            "language": ctx.language,
            "until": datetime.fromtimestamp(until, UTC).isoformat(),
        }
        await post_notice(target, payload)
        return
    # The shop's notice is in the default language: it is read by the shop, not the customer.
    notice = texts_for(None).handoff_notice.format(
        name=message.name or "-", phone=message.wa_id or ctx.customer, language=ctx.language
    )
    ctx.reply(messages.text(target, notice))


async def post_notice(
    url: str, payload: dict[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
) -> bool:
    """POST the notice; False (logged) when the shop's endpoint did not take it."""
    try:
        async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S, transport=transport) as client:
            response = await client.post(url, json=payload)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning(
            "handoff notification failed: %s",
            type(exc).__name__,
            extra={"customer": mask(str(payload.get("customer", "")))},
        )
        return False
    return True
