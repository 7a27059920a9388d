"""Stages that may stop a message early: rate limits and maintenance mode."""

from __future__ import annotations

from bot.metrics import RATE_LIMITED
from bot.pipeline.core import Context, Handler
from bot.whatsapp import messages

__all__ = ["check_maintenance", "check_rate_limit", "load_session"]


def _wait_text(ms: int) -> str:
    seconds = max(1, round(ms / 1000))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{round(minutes / 60)} h"


# Taps on our own reply buttons and list rows answer a question the bot asked: a purchase by
# taps alone takes about twenty in two minutes, far over the new tier's 5 per minute. WhatsApp
# only sends these for messages we sent, and they cost no AI call, so they are not limited.
_TAPS = frozenset({"button_reply", "list_reply"})


async def check_rate_limit(ctx: Context, call_next: Handler) -> None:
    deps = ctx.deps
    reply = ctx.message.reply
    if not deps.config.flag("rate_limiting_enabled") or (reply is not None and reply.kind in _TAPS):
        await call_next(ctx)
        return
    decision = await deps.limiter.check(ctx.customer, ctx.message.id, deps.tier_limits(ctx.tier))
    if decision.allowed:
        await call_next(ctx)
        return
    ctx.rate_limited = True
    RATE_LIMITED.labels(decision.window or "unknown").inc()
    if decision.notify:
        t = ctx.texts
        window = getattr(t, f"window_{decision.window}", t.window_minute)
        text = t.rate_limited.format(window=window, wait=_wait_text(decision.retry_after_ms))
        ctx.reply(messages.text(ctx.customer, text))


async def check_maintenance(ctx: Context, call_next: Handler) -> None:
    config = ctx.deps.config
    if not config.flag("maintenance_mode"):
        await call_next(ctx)
        return
    custom = config.get("maintenance_message")
    ctx.reply(messages.text(ctx.customer, custom or ctx.texts.maintenance))


async def load_session(ctx: Context, call_next: Handler) -> None:
    # The inbox worker already holds this customer's lock, so load-modify-save cannot race.
    sessions = ctx.deps.sessions
    if ctx.is_new_customer:
        ctx.session = sessions.start(ctx.customer)
    else:
        ctx.session = await sessions.load(ctx.customer)
    await call_next(ctx)
