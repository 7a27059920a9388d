"""The end of checkout: a summary from a fresh quote, stock problems, the order, how to pay.

The order is placed with the confirming message's wamid (``source_wamid``), so a confirmation
processed twice cannot place two orders. Short stock (at the summary or when placing) keeps
the cart and offers to trim it to what is available.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import httpx

from bot.commerce import orders, pricing
from bot.commerce.orders import OrderSummary
from bot.commerce.payments import PaymentError
from bot.commerce.pricing import Quote, QuoteLine
from bot.flows import cart, ids, info
from bot.flows.states import (
    CHECKOUT,
    CHECKOUT_CONFIRM,
    LAST_ADDRESS,
    STOCK_FIX,
    StateSpec,
    session_of,
    wait_in,
)
from bot.flows.ui import ask, lines_text, money, say
from bot.intent.model import Intent
from bot.logs import mask
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp.messages import Option

__all__ = [
    "STATES",
    "YES",
    "cancel",
    "describe_address",
    "fix_stock",
    "fresh_quote",
    "place",
    "price_notes",
    "stock_problem",
    "summary",
]

log = logging.getLogger(__name__)

_NEEDED = ("address", "shipping_rule_id", "payment_method")
# "Confirmo", "confirm": checkout cues that answer a checkout question with yes.
YES = frozenset({Intent.AFFIRM, Intent.CHECKOUT})


def _answers(ctx: Context) -> dict[str, Any]:
    found = session_of(ctx).context.get(CHECKOUT)
    return found if isinstance(found, dict) else {}


def describe_address(address: dict[str, Any]) -> str:
    """A typed address as typed; a shared location by its name, address or coordinates."""
    if address.get("text"):
        return str(address["text"])
    named = ", ".join(str(address[k]) for k in ("name", "address") if address.get(k))
    return named or f"📍 {address.get('latitude')}, {address.get('longitude')}"


async def fresh_quote(
    ctx: Context, *, shipping_rule_id: int | None, discount_code: str | None
) -> Quote:
    """Today's prices and stock; the cart takes the new prices (the notes tell the customer)."""
    session = session_of(ctx)
    quote = await pricing.quote(
        ctx.deps.pool,
        session.cart,
        shipping_rule_id=shipping_rule_id,
        discount_code=discount_code,
    )
    prices = {line.product_id: line.unit_price for line in quote.price_changed}
    session.cart = [
        dataclasses.replace(li, unit_price=prices[li.product_id]) if li.product_id in prices else li
        for li in session.cart
    ]
    return quote


def price_notes(ctx: Context, quote: Quote) -> str:
    t = ctx.texts
    notes = [
        t.price_changed.format(
            name=line.name, price=money(line.unit_price, quote.currency, ctx.language)
        )
        for line in quote.price_changed
    ]
    return "\n\n" + "\n".join(notes) if notes else ""


def stock_problem(ctx: Context, short: Sequence[QuoteLine]) -> None:
    """Which lines are short and what there is; the cart stays as it is until they choose."""
    t = ctx.texts
    rows = [
        t.short_line.format(name=li.name, asked=li.quantity, available=li.available)
        if li.available > 0
        else t.short_line_none.format(name=li.name)
        for li in short
    ]
    wait_in(ctx, STOCK_FIX)
    options = [Option(ids.ok("stock"), t.button_fix_stock), Option(ids.edit(), t.button_edit_cart)]
    ask(ctx, t.stock_problem.format(lines="\n".join(rows)), options)


async def fix_stock(ctx: Context) -> None:
    """Trim every line to what is available (dropping sold-out ones), then carry on."""
    session = session_of(ctx)
    if not session.cart:
        await cart.view(ctx)
        return
    quote = await fresh_quote(ctx, shipping_rule_id=None, discount_code=None)
    available = {line.product_id: line.available for line in quote.lines}
    cart.replace_all(
        ctx,
        [
            dataclasses.replace(li, quantity=min(li.quantity, available.get(li.product_id, 0)))
            for li in session.cart
            if available.get(li.product_id, 0) > 0
        ],
    )
    say(ctx, ctx.texts.stock_fixed)
    if session.cart and all(key in _answers(ctx) for key in _NEEDED):
        await summary(ctx)
    else:
        await cart.view(ctx)


def _totals(ctx: Context, order: Quote | OrderSummary, shipping: Decimal) -> str:
    t = ctx.texts

    def price(amount: Decimal) -> str:
        return money(amount, order.currency, ctx.language)

    rows = [t.summary_subtotal.format(amount=price(order.subtotal))]
    rows.append(t.summary_shipping.format(amount=price(shipping) if shipping else t.free))
    if order.discount:
        rows.append(t.summary_discount.format(amount=price(order.discount)))
    rows.append(t.summary_total.format(amount=price(order.total)))
    return "\n".join(rows)


async def summary(ctx: Context) -> None:
    t = ctx.texts
    answers = _answers(ctx)
    if not session_of(ctx).cart or not all(key in answers for key in _NEEDED):
        await cart.view(ctx)
        return
    quote = await fresh_quote(
        ctx,
        shipping_rule_id=int(answers["shipping_rule_id"]),
        discount_code=answers.get("discount_code"),
    )
    if quote.short:
        stock_problem(ctx, quote.short)
        return
    body = "\n".join(
        [
            t.summary_header,
            lines_text(ctx, quote.lines, quote.currency),
            "",
            _totals(ctx, quote, quote.shipping),
            "",
            t.summary_delivery.format(
                address=describe_address(answers["address"]),
                option=answers.get("shipping_name", ""),
            ),
            t.summary_payment.format(method=t.payment_name(str(answers["payment_method"]))),
        ]
    )
    answers["ready"] = True
    wait_in(ctx, CHECKOUT_CONFIRM)
    options = [
        Option(ids.ok("checkout"), t.button_confirm),
        Option(ids.no("checkout"), t.button_cancel),
    ]
    ask(ctx, body + price_notes(ctx, quote) + "\n\n" + t.ask_confirm, options)


async def place(ctx: Context) -> None:
    """Only from a summary of the cart as it is now; otherwise the summary is shown again."""
    session = session_of(ctx)
    answers = _answers(ctx)
    if not answers.get("ready") or not session.cart:
        await summary(ctx)
        return
    request = orders.CheckoutRequest(
        customer=ctx.customer,
        lines=tuple(session.cart),
        address=dict(answers["address"]),
        shipping_rule_id=int(answers["shipping_rule_id"]),
        discount_code=answers.get("discount_code"),
        payment_method=str(answers["payment_method"]),
        source_wamid=ctx.message.id,
    )
    result = await orders.place_order(ctx.deps.pool, request)
    if isinstance(result, orders.OutOfStock):
        answers.pop("ready", None)
        stock_problem(ctx, result.lines)
        return
    order = result.order
    session.cart = []
    session.context.pop(CHECKOUT, None)
    session.context[LAST_ADDRESS] = request.address
    t = ctx.texts
    body = "\n".join(
        [
            t.order_placed.format(order=order.order_number),
            "",
            lines_text(ctx, order.items, order.currency),
            "",
            _totals(ctx, order, order.shipping_cost),
        ]
    )
    say(ctx, body)
    note = await _HOW_TO_PAY[order.payment_method](ctx, order)
    options = [
        Option(tap_id(Intent.ORDER_STATUS), t.menu_orders),
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.button_keep_shopping),
    ]
    ask(ctx, note, options)


async def _cash(ctx: Context, order: OrderSummary) -> str:
    total = money(order.total, order.currency, ctx.language)
    return ctx.texts.pay_cash.format(total=total)


async def _transfer(ctx: Context, order: OrderSummary) -> str:
    t = ctx.texts
    details = info.faq_entries(ctx).get("bank_transfer") or t.transfer_details_later
    total = money(order.total, order.currency, ctx.language)
    return t.pay_transfer.format(total=total, order=order.order_number, details=details)


async def _link(ctx: Context, order: OrderSummary) -> str:
    t = ctx.texts
    payments = ctx.deps.payments
    if payments is None:
        return t.pay_link_failed
    try:
        link = await payments.create_link(ctx.deps.pool, order)
    except (PaymentError, httpx.HTTPError, OSError) as exc:
        # The order stands; the customer hears the link will follow (or can pay another way).
        log.warning(
            "payment link failed: %s",
            exc,
            extra={"order": order.order_number, "customer": mask(ctx.customer)},
        )
        return t.pay_link_failed
    total = money(order.total, order.currency, ctx.language)
    return t.pay_link.format(total=total, url=link.url)


_HOW_TO_PAY: dict[str, Callable[[Context, OrderSummary], Awaitable[str]]] = {
    "cash_on_delivery": _cash,
    "bank_transfer": _transfer,
    "payment_link": _link,
}


async def cancel(ctx: Context) -> None:
    t = ctx.texts
    session_of(ctx).context.pop(CHECKOUT, None)
    options = [
        Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.button_keep_shopping),
    ]
    ask(ctx, t.checkout_cancelled, options)


STATES = {
    STOCK_FIX: StateSpec(affirm=fix_stock, deny=cart.edit),
    CHECKOUT_CONFIRM: StateSpec(affirm=place, deny=cancel, yes=YES),
}
