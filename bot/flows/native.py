"""Orders sent from WhatsApp's own cart (an ``order`` message) become the session's cart.

The customer built that cart in Meta's catalogue, which does not know our stock, so lines are
taken as sent (at our current price) and checked like every cart when the checkout starts;
products we do not know are left out and named.
"""

from __future__ import annotations

from bot.commerce import catalog
from bot.flows import cart
from bot.flows.ui import say
from bot.pipeline.core import Context
from bot.sessions import CartLine

__all__ = ["order_message"]


async def order_message(ctx: Context) -> None:
    order = ctx.message.order
    if order is None:
        return
    t = ctx.texts
    lines: dict[int, CartLine] = {}
    unknown: list[str] = []
    for item in order.items:
        hit = await catalog.get_product(ctx.deps.pool, item.product_retailer_id)
        if hit is None or item.quantity <= 0:
            unknown.append(item.product_retailer_id)
            continue
        earlier = lines.get(hit.id)
        quantity = item.quantity + (earlier.quantity if earlier else 0)
        lines[hit.id] = CartLine(
            hit.id, hit.retailer_id, hit.name, quantity, hit.unit_price, hit.currency
        )
    if unknown:
        say(ctx, t.order_unknown_items.format(items=", ".join(unknown)))
    if not lines:
        await cart.view(ctx)
        return
    cart.replace_all(ctx, list(lines.values()))
    say(ctx, t.order_received)
    await cart.view(ctx)
