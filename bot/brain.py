"""The conversation's endpoint: answer the detected intent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp import messages

__all__ = ["route"]

Answer = Callable[[Context], Awaitable[None]]


def _name_suffix(ctx: Context) -> str:
    name = (ctx.message.name or "").split(" ")[0]
    return f" {name}" if name else ""


async def greet(ctx: Context) -> None:
    t = ctx.texts
    template = t.welcome if ctx.is_new_customer else t.welcome_back
    body = template.format(name=_name_suffix(ctx), shop=ctx.deps.settings.shop_name)
    options = [
        messages.Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
        messages.Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        messages.Option(tap_id(Intent.HELP), t.menu_help),
    ]
    ctx.reply(messages.buttons(ctx.customer, body, options, list_button=t.menu_button))


async def say_help(ctx: Context) -> None:
    ctx.reply(messages.text(ctx.customer, ctx.texts.help))


async def say_goodbye(ctx: Context) -> None:
    ctx.reply(messages.text(ctx.customer, ctx.texts.goodbye))


async def say_unsupported(ctx: Context) -> None:
    ctx.reply(messages.text(ctx.customer, ctx.texts.unsupported_message))


_ANSWERS: dict[Intent, Answer] = {
    Intent.GREETING: greet,
    Intent.HELP: say_help,
    Intent.GOODBYE: say_goodbye,
}


async def route(ctx: Context) -> None:
    message = ctx.message
    if message.unsupported_reason is not None or (ctx.intent is None and not message.text):
        if message.type in ("reaction", "system", "revoke"):
            return  # nothing a customer expects an answer to
        await say_unsupported(ctx)
        return
    answer = _ANSWERS.get(ctx.intent.intent if ctx.intent else Intent.UNKNOWN, say_help)
    await answer(ctx)
