"""Order status: "¿dónde está mi pedido?" lists the customer's latest orders and their status.

An order number in the message ("PED-000012") answers for that order alone, and only when it
is this customer's: order numbers are sequential, so anyone could guess another's.
"""

from __future__ import annotations

import re

from bot.commerce import orders
from bot.commerce.orders import OrderSummary
from bot.flows.ui import ask, money
from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp.messages import Option

__all__ = ["RECENT", "status"]

RECENT = 5
_ORDER_NUMBER = re.compile(r"\b[A-Za-z]{2,5}-\d{3,12}\b")


def _row(ctx: Context, order: OrderSummary) -> str:
    t = ctx.texts
    return t.order_row.format(
        order=order.order_number,
        date=order.created_at.strftime(t.date_format),
        total=money(order.total, order.currency, ctx.language),
        status=t.status_name(order.status),
    )


async def _asked_for(ctx: Context) -> list[OrderSummary] | None:
    """The order named in the message, if it names one of this customer's."""
    found = _ORDER_NUMBER.search(ctx.message.text or "")
    if found is None:
        return None
    order = await orders.get_order(ctx.deps.pool, found.group(0))
    return [order] if order is not None and order.customer == ctx.customer else None


async def status(ctx: Context) -> None:
    t = ctx.texts
    found = await _asked_for(ctx) or await orders.recent_orders(
        ctx.deps.pool, ctx.customer, limit=RECENT
    )
    if not found:
        options = [
            Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
            Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent),
        ]
        ask(ctx, t.orders_none, options)
        return
    body = t.orders_header + "\n" + "\n".join(_row(ctx, order) for order in found)
    options = [
        Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent),
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.button_keep_shopping),
    ]
    ask(ctx, body, options)
