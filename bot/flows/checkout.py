"""Checkout dialog up to the payment method: cart review, address, delivery, discount code.

The answers collect in ``Session.context["checkout"]`` (address, shipping_rule_id,
shipping_name, discount_code, payment_method); ``confirm`` then shows the summary and places
the order. Each step checks the earlier ones, so a tap on an old button restarts cleanly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bot.commerce import pricing
from bot.flows import cart, confirm, ids
from bot.flows.ids import Tap
from bot.flows.states import (
    CHECKOUT,
    CHECKOUT_ADDRESS,
    CHECKOUT_CART,
    CHECKOUT_DISCOUNT,
    CHECKOUT_PAYMENT,
    CHECKOUT_SHIPPING,
    LAST_ADDRESS,
    StateSpec,
    session_of,
    wait_in,
)
from bot.flows.ui import ask, ask_list, cart_lines, cart_total, money, say
from bot.intent.model import Intent
from bot.intent.normalize import fold
from bot.intent.vocabulary import tokenize
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp import messages
from bot.whatsapp.messages import Option

__all__ = [
    "STATES",
    "ask_address",
    "expect_code",
    "on_last_address",
    "on_pay",
    "on_ship",
    "payment_methods",
    "skip_code",
    "start",
]

MIN_ADDRESS_CHARS = 6
# A text this sure of one of these intents is not an address or a code: the intents take it.
_ESCAPE_CONFIDENCE = 0.75
_ESCAPES = frozenset(
    {
        Intent.HELP,
        Intent.HUMAN_AGENT,
        Intent.VIEW_CART,
        Intent.ORDER_STATUS,
        Intent.BROWSE_CATEGORIES,
        Intent.GREETING,
        Intent.GOODBYE,
    }
)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,29}")
# Typed payment methods, by folded word.
_METHOD_WORDS = {
    "cash_on_delivery": frozenset({"efectivo", "cash", "contado", "contraentrega", "entrega"}),
    "bank_transfer": frozenset({"transferencia", "transfer", "deposito", "banco", "bank"}),
    "payment_link": frozenset({"link", "tarjeta", "card", "online", "stripe", "credito"}),
}


def _answers(ctx: Context) -> dict[str, Any]:
    found = session_of(ctx).context.setdefault(CHECKOUT, {})
    if not isinstance(found, dict):
        found = session_of(ctx).context[CHECKOUT] = {}
    return found


def _escapes(ctx: Context) -> bool:
    result = ctx.intent
    return (
        result is not None and result.intent in _ESCAPES and result.confidence >= _ESCAPE_CONFIDENCE
    )


async def start(ctx: Context) -> None:
    """CHECKOUT: stock and prices checked first, then "is this your order?"."""
    t = ctx.texts
    session = session_of(ctx)
    if not session.cart:
        await cart.view(ctx)
        return
    quote = await confirm.fresh_quote(ctx, shipping_rule_id=None, discount_code=None)
    if quote.short:
        confirm.stock_problem(ctx, quote.short)
        return
    session.context[CHECKOUT] = {}
    wait_in(ctx, CHECKOUT_CART)
    body = t.checkout_review + "\n" + cart_lines(ctx, session.cart)
    notes = confirm.price_notes(ctx, quote)
    options = [Option(ids.ok("cart"), t.button_continue), Option(ids.edit(), t.button_edit_cart)]
    ask(ctx, body + notes + "\n\n" + t.ask_continue, options)


async def ask_address(ctx: Context) -> None:
    t = ctx.texts
    if not session_of(ctx).cart:
        await cart.view(ctx)
        return
    _answers(ctx)  # a tap on an old "continue" starts the answers here
    wait_in(ctx, CHECKOUT_ADDRESS)
    last = session_of(ctx).context.get(LAST_ADDRESS)
    if isinstance(last, dict):
        text = t.address_reuse.format(address=confirm.describe_address(last))
        ask(ctx, text, [Option(ids.last_address(), t.button_same_address)])
    ctx.reply(messages.location_request(ctx.customer, t.ask_address))


async def _set_address(ctx: Context, address: dict[str, Any]) -> None:
    _answers(ctx)["address"] = address
    await _ask_shipping(ctx)


async def on_last_address(ctx: Context, tap: Tap) -> None:
    last = session_of(ctx).context.get(LAST_ADDRESS)
    if isinstance(last, dict) and session_of(ctx).cart:
        await _set_address(ctx, last)
    else:
        await ask_address(ctx)


async def _typed_address(ctx: Context, text: str) -> bool:
    if _escapes(ctx):
        return False
    address = " ".join(text.split())
    if len(address) < MIN_ADDRESS_CHARS or not any(ch.isalpha() for ch in address):
        say(ctx, ctx.texts.address_too_short)
        wait_in(ctx, CHECKOUT_ADDRESS)
        return True
    await _set_address(ctx, {"text": address})
    return True


async def _shared_location(ctx: Context) -> None:
    place = ctx.message.location
    if place is None:
        return
    address: dict[str, Any] = {
        "latitude": str(place.latitude),
        "longitude": str(place.longitude),
    }
    for key, value in (("name", place.name), ("address", place.address)):
        if value:
            address[key] = value
    await _set_address(ctx, address)


async def _ask_shipping(ctx: Context) -> None:
    t = ctx.texts
    subtotal = cart_total(session_of(ctx).cart)
    options = await pricing.shipping_options(ctx.deps.pool, subtotal, language=ctx.language)
    if not options:
        ask(ctx, t.shipping_none, [Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent)])
        return
    currency = session_of(ctx).cart[0].currency
    rows = [
        Option(
            ids.ship(o.rule_id),
            o.name,
            f"{t.free if not o.cost else money(o.cost, currency, ctx.language)} · {o.name}",
        )
        for o in options
    ]
    wait_in(ctx, CHECKOUT_SHIPPING)
    ask_list(ctx, t.ask_shipping, rows, button=t.see_options)


async def on_ship(ctx: Context, tap: Tap) -> None:
    answers = _answers(ctx)
    if "address" not in answers or not session_of(ctx).cart:
        await start(ctx)
        return
    subtotal = cart_total(session_of(ctx).cart)
    options = await pricing.shipping_options(ctx.deps.pool, subtotal, language=ctx.language)
    chosen = next((o for o in options if o.rule_id == tap.number(0)), None)
    if chosen is None:
        await _ask_shipping(ctx)
        return
    answers.update(shipping_rule_id=chosen.rule_id, shipping_name=chosen.name)
    await _ask_code(ctx)


async def _ask_code(ctx: Context) -> None:
    t = ctx.texts
    wait_in(ctx, CHECKOUT_DISCOUNT)
    ask(ctx, t.ask_discount, [Option(ids.no("code"), t.button_no_code)])


def code_in(text: str) -> str | None:
    """The discount code in a message: its only word, or the only word with a digit or in capitals."""
    words = _CODE.findall(text)
    if len(words) == 1:
        return str(words[0])
    marked: list[str] = [
        w for w in words if any(c.isdigit() for c in w) or (w.isupper() and len(w) >= 4)
    ]
    return marked[0] if len(marked) == 1 else None


async def _typed_code(ctx: Context, text: str) -> bool:
    t = ctx.texts
    code = code_in(text)
    if code is None or _escapes(ctx):
        if ctx.intent is not None and ctx.intent.intent is not Intent.UNKNOWN:
            return False
        say(ctx, t.code_not_understood)
        await _ask_code(ctx)
        return True
    lines = session_of(ctx).cart
    found = await pricing.check_discount(ctx.deps.pool, code, cart_total(lines))
    if isinstance(found, pricing.DiscountRefused):
        minimum = money(found.min_subtotal or Decimal(0), lines[0].currency, ctx.language)
        say(ctx, t.discount_refused(found.reason).format(code=found.code, minimum=minimum))
        await _ask_code(ctx)
        return True
    _answers(ctx)["discount_code"] = found.code
    say(ctx, t.code_applied.format(code=found.code))
    await _ask_payment(ctx)
    return True


async def skip_code(ctx: Context) -> None:
    _answers(ctx).pop("discount_code", None)
    await _ask_payment(ctx)


async def expect_code(ctx: Context) -> None:
    say(ctx, ctx.texts.code_type_it)
    wait_in(ctx, CHECKOUT_DISCOUNT)


def payment_methods(ctx: Context) -> list[str]:
    """Cash and transfer always; a payment link only when a provider is configured."""
    methods = ["cash_on_delivery", "bank_transfer"]
    if ctx.deps.payments is not None:
        methods.append("payment_link")
    return methods


async def _ask_payment(ctx: Context) -> None:
    t = ctx.texts
    if "shipping_rule_id" not in _answers(ctx):
        await start(ctx)
        return
    options = [Option(ids.pay(m), t.payment_name(m)) for m in payment_methods(ctx)]
    wait_in(ctx, CHECKOUT_PAYMENT)
    ask(ctx, t.ask_payment, options)


async def _set_payment(ctx: Context, method: str) -> None:
    answers = _answers(ctx)
    if "shipping_rule_id" not in answers or not session_of(ctx).cart:
        await start(ctx)
    elif method not in payment_methods(ctx):
        await _ask_payment(ctx)
    else:
        answers["payment_method"] = method
        await confirm.summary(ctx)


async def on_pay(ctx: Context, tap: Tap) -> None:
    await _set_payment(ctx, tap.arg)


async def _typed_payment(ctx: Context, text: str) -> bool:
    words = set(tokenize(fold(text)))
    chosen = [m for m in payment_methods(ctx) if words & _METHOD_WORDS[m]]
    if len(chosen) == 1:
        await _set_payment(ctx, chosen[0])
        return True
    if _escapes(ctx) or (ctx.intent is not None and ctx.intent.intent is not Intent.UNKNOWN):
        return False
    await _ask_payment(ctx)
    return True


STATES = {
    CHECKOUT_CART: StateSpec(affirm=ask_address, deny=confirm.cancel, yes=confirm.YES),
    CHECKOUT_ADDRESS: StateSpec(
        text=_typed_address, deny=confirm.cancel, location=_shared_location
    ),
    CHECKOUT_SHIPPING: StateSpec(deny=confirm.cancel),
    CHECKOUT_DISCOUNT: StateSpec(text=_typed_code, affirm=expect_code, deny=skip_code),
    CHECKOUT_PAYMENT: StateSpec(text=_typed_payment, deny=confirm.cancel),
}
