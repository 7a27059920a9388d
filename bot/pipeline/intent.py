"""Intent stage: taps on our own buttons first (no classifier), then text detection."""

from __future__ import annotations

from bot.intent.model import Intent, IntentResult
from bot.pipeline.core import Context, Handler

__all__ = ["TAP_PREFIX", "detect_intent", "tap_id"]

TAP_PREFIX = "intent:"


def tap_id(intent: Intent) -> str:
    """Reply id of a button or list row that means ``intent`` when tapped."""
    return TAP_PREFIX + intent.value


def _from_tap(reply_id: str) -> IntentResult | None:
    if not reply_id.startswith(TAP_PREFIX):
        return None
    try:
        intent = Intent(reply_id.removeprefix(TAP_PREFIX))
    except ValueError:
        return None
    return IntentResult(intent=intent, confidence=1.0, source="tap")


async def detect_intent(ctx: Context, call_next: Handler) -> None:
    message = ctx.message
    if message.reply is not None and message.reply.id:
        ctx.intent = _from_tap(message.reply.id)
    if ctx.intent is None and message.text:
        config = ctx.deps.config
        ctx.intent = await ctx.deps.router.detect(
            message.text,
            customer=ctx.customer,
            use_ai=config.flag("use_ai_providers"),
            deadline_ms=config.number("ai_deadline_ms"),
        )
    await call_next(ctx)
