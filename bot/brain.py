"""The conversation's endpoint: a router from each message to one flow in ``bot.flows``.

In order: a WhatsApp cart order; a shared location (the address, when one was asked for); a
tap on one of our ids (``flows.ids``, routed by kind); a request to switch language; a typed
number picking one of the options just offered (as if tapped); "sí"/"no" to the pending
question; free text the current state waits for; and finally the detected intent. The state
is reset first, so whatever answers sets the state for the next message (``flows.states``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from bot.flows import (
    browse,
    cart,
    cart_text,
    checkout,
    confirm,
    handoff,
    ids,
    info,
    language,
    native,
    orders,
    search,
)
from bot.flows.ids import Tap
from bot.flows.states import CHOICES, IDLE, LAST_LIST, PENDING, Answer, StateSpec, session_of
from bot.intent.model import Intent, IntentResult
from bot.intent.normalize import fold
from bot.pipeline.core import Context
from bot.pipeline.intent import TAP_PREFIX

__all__ = ["SILENT_TYPES", "route", "typed_choice"]

TapAnswer = Callable[[Context, Tap], Awaitable[None]]

# "2", "2.", "el 2", "opción 2", "#2": the second option offered.
# Inbound message types the bot never answers: there is nothing to answer to.
SILENT_TYPES = frozenset({"reaction", "system", "revoke"})
_TYPED_CHOICE = re.compile(r"(?:el|la|opcion|option|numero|number|nro|#)?\s*(\d{1,2})\s*[.)]?")


def _plain(answer: Answer) -> TapAnswer:
    async def run(ctx: Context, tap: Tap) -> None:
        await answer(ctx)

    return run


async def _category(ctx: Context, tap: Tap) -> None:
    await browse.category(ctx, tap.number(0) or 0)


async def _product(ctx: Context, tap: Tap) -> None:
    await browse.product(ctx, tap.number(0) or 0)


async def _more(ctx: Context, tap: Tap) -> None:
    await (search.more if tap.arg == "search" else browse.more)(ctx, tap)


async def _back(ctx: Context) -> None:
    """The last product list again (its id is kept in the session), else the categories."""
    last = ids.parse(str(session_of(ctx).context.get(LAST_LIST, "")))
    await (_tap(ctx, last) if last is not None and last.kind != "back" else browse.categories(ctx))


async def _search(ctx: Context) -> None:
    """A product search that names a count ("busco 2 mochilas") is a purchase."""
    wants_some = ctx.intent is not None and ctx.intent.quantity is not None
    await (cart_text.add_from_text if wants_some else search.from_intent)(ctx)


_YES: dict[str, Answer] = {
    "cart": checkout.ask_address,
    "checkout": confirm.place,
    "empty": cart.empty,
    "stock": confirm.fix_stock,
    "code": checkout.expect_code,
}
_NO: dict[str, Answer] = {
    "cart": confirm.cancel,
    "checkout": confirm.cancel,
    "empty": cart.view,
    "stock": cart.edit,
    "code": checkout.skip_code,
}


async def _yes(ctx: Context, tap: Tap) -> None:
    await _YES[tap.arg](ctx)


async def _no(ctx: Context, tap: Tap) -> None:
    await _NO[tap.arg](ctx)


_TAPS: dict[str, TapAnswer] = {
    "cat": _category,
    "feat": _plain(browse.featured),
    "offers": _plain(browse.offers),
    "more": _more,
    "prod": _product,
    "add": cart.on_add,
    "setq": cart.on_set,
    "rm": cart.remove,
    "line": cart.line_options,
    "edit": _plain(cart.edit),
    "empty": _plain(cart.ask_empty),
    "back": _plain(_back),
    "ship": checkout.on_ship,
    "pay": checkout.on_pay,
    "ok": _yes,
    "no": _no,
    "addr": checkout.on_last_address,
    "lang": language.on_tap,
}

_INTENTS: dict[Intent, Answer] = {
    Intent.GREETING: info.greet,
    Intent.BROWSE_CATEGORIES: browse.categories,
    Intent.SEARCH_PRODUCT: _search,
    Intent.ADD_TO_CART: cart_text.add_from_text,
    Intent.VIEW_CART: cart.view,
    Intent.REMOVE_FROM_CART: cart_text.remove_from_text,
    Intent.CHECKOUT: checkout.start,
    Intent.ORDER_STATUS: orders.status,
    Intent.STORE_INFO: info.store_info,
    Intent.HUMAN_AGENT: handoff.start,
    Intent.HELP: info.help_menu,
    Intent.AFFIRM: info.affirm,
    Intent.DENY: info.deny,
    Intent.GOODBYE: info.goodbye,
    Intent.UNKNOWN: info.unknown,
}

_STATES: dict[str, StateSpec] = {
    **cart_text.STATES,
    **search.STATES,
    **checkout.STATES,
    **confirm.STATES,
}
_NO_STATE = StateSpec()


async def _tap(ctx: Context, tap: Tap) -> None:
    await _TAPS[tap.kind](ctx, tap)


def typed_choice(text: str, choices: list[str]) -> str | None:
    """The id of the option a typed number picks among those just offered."""
    found = _TYPED_CHOICE.fullmatch(fold(text).strip())
    if found is None:
        return None
    number = int(found.group(1))
    return choices[number - 1] if 1 <= number <= len(choices) else None


def _intent_option(choice: str) -> IntentResult | None:
    """An "intent:…" option picked by its number means what tapping it would."""
    try:
        intent = Intent(choice.removeprefix(TAP_PREFIX))
    except ValueError:
        return None
    return IntentResult(intent=intent, confidence=1.0, source="tap")


async def _answer(ctx: Context, spec: StateSpec, choices: list[str]) -> None:
    message = ctx.message
    if message.order is not None:
        await native.order_message(ctx)
        return
    if message.location is not None:
        await (spec.location or info.location)(ctx)
        return
    tap = ids.parse(message.reply.id) if message.reply and message.reply.id else None
    if tap is not None:
        await _tap(ctx, tap)
        return
    if message.unsupported_reason is not None or (ctx.intent is None and not message.text):
        if message.type not in SILENT_TYPES:
            await info.unsupported(ctx)
        return
    text = message.text or ""
    if text and (wanted := language.requested(text)) is not None:
        await language.switch(ctx, wanted)
        return
    choice = typed_choice(text, choices) if text else None
    if choice is not None:
        # A typed number answers exactly like a tap on that option.
        tap = ids.parse(choice)
        if tap is not None:
            await _tap(ctx, tap)
            return
        ctx.intent, text = _intent_option(choice), ""
    intent = ctx.intent.intent if ctx.intent else Intent.UNKNOWN
    if intent in spec.yes and spec.affirm is not None:
        await spec.affirm(ctx)
    elif intent is Intent.DENY and spec.deny is not None:
        await spec.deny(ctx)
    elif not (text and spec.text is not None and await spec.text(ctx, text)):
        await _INTENTS.get(intent, info.unknown)(ctx)


async def route(ctx: Context) -> None:
    session = session_of(ctx)
    spec = _STATES.get(session.state, _NO_STATE)
    choices = session.context.pop(CHOICES, None)
    # Whatever answers sets the state it waits in; the old question is over either way.
    session.state = IDLE
    await _answer(ctx, spec, choices if isinstance(choices, list) else [])
    if session.state == IDLE:
        session.context.pop(PENDING, None)
