"""The cart, kept in the session: add (stock checked), change a quantity, remove, empty, view.

Every change goes through ``replace_all``, which also withdraws a checkout summary the customer
has not confirmed yet: an order is only placed from a summary of the cart as it is. What
customers type about their cart ("agregá 2 …", "sacá …", a quantity) is read in ``cart_text``.
"""

from __future__ import annotations

import dataclasses

from bot.commerce import catalog
from bot.commerce.catalog import ProductHit
from bot.flows import ids
from bot.flows.ids import Tap
from bot.flows.states import (
    ASK_QUANTITY,
    CHECKOUT,
    CONFIRM_EMPTY,
    OFFER_STOCK,
    session_of,
    wait_in,
)
from bot.flows.ui import ask, ask_list, cart_lines, money, say, shop_buttons
from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.sessions import CartLine
from bot.whatsapp.messages import Option

__all__ = [
    "EDIT_ROWS",
    "QUICK_QUANTITIES",
    "add_product",
    "ask_empty",
    "ask_quantity",
    "edit",
    "empty",
    "find_product",
    "line_options",
    "on_add",
    "on_set",
    "remove",
    "remove_line",
    "replace_all",
    "set_line",
    "view",
]

QUICK_QUANTITIES = 3  # quantity buttons offered (1, 2, 3), fewer when less is in stock
EDIT_ROWS = 9  # cart lines listed for editing: a list has ten rows, the last one empties the cart


def _line(ctx: Context, product_id: int) -> CartLine | None:
    return next((li for li in session_of(ctx).cart if li.product_id == product_id), None)


def _store(ctx: Context, product_id: int, line: CartLine | None) -> None:
    """Put, replace (in place) or, with None, drop the line of one product."""
    cart = session_of(ctx).cart
    kept = [li for li in cart if li.product_id != product_id]
    at = next((i for i, li in enumerate(cart) if li.product_id == product_id), len(kept))
    replace_all(ctx, [*kept[:at], line, *kept[at:]] if line is not None else kept)


def replace_all(ctx: Context, lines: list[CartLine]) -> None:
    """A whole new cart (a WhatsApp order, a cart trimmed to the stock, an empty one)."""
    session = session_of(ctx)
    session.cart = lines
    checkout = session.context.get(CHECKOUT)
    if isinstance(checkout, dict):
        checkout.pop("ready", None)


def _room(hit: ProductHit, in_cart: int) -> int:
    """How many more units can go into the cart."""
    return max(0, (hit.stock if hit.in_stock else 0) - in_cart)


def _sold_out(ctx: Context, hit: ProductHit, in_cart: int) -> None:
    t = ctx.texts
    text = (
        t.stock_all_in_cart.format(name=hit.name, count=in_cart)
        if in_cart
        else t.stock_sold_out.format(name=hit.name)
    )
    ask(ctx, text, shop_buttons(ctx))


def _offer_available(ctx: Context, hit: ProductHit, asked: int, room: int, mode: str) -> None:
    """Not enough stock: offer what there is ("sí" takes it)."""
    t = ctx.texts
    wait_in(ctx, OFFER_STOCK, product=hit.id, quantity=room, mode=mode)
    take = ids.add(hit.id, room) if mode == "add" else ids.set_quantity(hit.id, room)
    options = [
        Option(take, t.button_take_available.format(count=room)),
        Option(tap_id(Intent.DENY), t.button_no_thanks),
    ]
    ask(ctx, t.stock_only.format(name=hit.name, asked=asked, available=room), options)


async def add_product(ctx: Context, hit: ProductHit, quantity: int) -> None:
    line = _line(ctx, hit.id)
    in_cart = line.quantity if line else 0
    room = _room(hit, in_cart)
    if room <= 0:
        _sold_out(ctx, hit, in_cart)
        return
    if quantity > room:
        _offer_available(ctx, hit, quantity, room, "add")
        return
    new = CartLine(
        hit.id, hit.retailer_id, hit.name, in_cart + quantity, hit.unit_price, hit.currency
    )
    _store(ctx, hit.id, new)
    t = ctx.texts
    body = (
        t.added.format(quantity=quantity, name=hit.name)
        + "\n\n"
        + cart_lines(ctx, session_of(ctx).cart)
    )
    ask(ctx, body, shop_buttons(ctx))


async def set_line(ctx: Context, hit: ProductHit, quantity: int) -> None:
    line = _line(ctx, hit.id)
    if line is None:
        await add_product(ctx, hit, quantity)
        return
    room = _room(hit, 0)
    if quantity > room:
        if room <= 0:
            _sold_out(ctx, hit, 0)
        else:
            _offer_available(ctx, hit, quantity, room, "set")
        return
    _store(ctx, hit.id, dataclasses.replace(line, quantity=quantity))
    say(ctx, ctx.texts.quantity_updated.format(name=hit.name, quantity=quantity))
    await view(ctx)


async def ask_quantity(ctx: Context, hit: ProductHit, mode: str) -> None:
    """How many? Buttons 1-3 (no more than there is), or a typed number."""
    line = _line(ctx, hit.id)
    room = _room(hit, line.quantity if line and mode == "add" else 0)
    if room <= 0:
        _sold_out(ctx, hit, line.quantity if line else 0)
        return
    build = ids.add if mode == "add" else ids.set_quantity
    options = [Option(build(hit.id, n), str(n)) for n in range(1, min(room, QUICK_QUANTITIES) + 1)]
    wait_in(ctx, ASK_QUANTITY, product=hit.id, mode=mode)
    ask(ctx, ctx.texts.ask_quantity.format(name=hit.name, available=room), options)


async def find_product(ctx: Context, product_id: int | None) -> ProductHit | None:
    """The product, or None once the customer has been told it is gone."""
    hit = None if product_id is None else await catalog.get_product(ctx.deps.pool, product_id)
    if hit is None:
        say(ctx, ctx.texts.product_gone)
    return hit


async def on_add(ctx: Context, tap: Tap) -> None:
    """Tap "add:<product>" asks how many; "add:<product>:<n>" adds n."""
    hit = await find_product(ctx, tap.number(0))
    if hit is None:
        return
    quantity = tap.number(1)
    await (ask_quantity(ctx, hit, "add") if quantity is None else add_product(ctx, hit, quantity))


async def on_set(ctx: Context, tap: Tap) -> None:
    """Tap "setq:<product>" asks the new quantity; "setq:<product>:<n>" sets it."""
    hit = await find_product(ctx, tap.number(0))
    if hit is None:
        return
    quantity = tap.number(1)
    await (ask_quantity(ctx, hit, "set") if quantity is None else set_line(ctx, hit, quantity))


async def view(ctx: Context) -> None:
    t = ctx.texts
    cart = session_of(ctx).cart
    if not cart:
        options = [
            Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
            Option(ids.offers(), t.menu_offers),
            Option(tap_id(Intent.SEARCH_PRODUCT), t.menu_search),
        ]
        ask(ctx, t.cart_empty, options)
        return
    options = [
        Option(tap_id(Intent.CHECKOUT), t.button_checkout),
        Option(ids.edit(), t.button_edit_cart),
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.button_keep_shopping),
    ]
    ask(ctx, t.cart_header + "\n" + cart_lines(ctx, cart), options)


async def edit(ctx: Context, lines: list[CartLine] | None = None) -> None:
    """Which line to change, or empty the cart (``lines``: only these, to pick one to remove)."""
    t = ctx.texts
    cart = session_of(ctx).cart if lines is None else lines
    if not cart:
        await view(ctx)
        return
    # Tapping a line opens its options; among lines matching "sacá …", it removes that line.
    row_id = ids.line if lines is None else ids.remove
    rows = [
        Option(
            row_id(li.product_id),
            li.name,
            f"{li.quantity} × {money(li.unit_price, li.currency, ctx.language)} · {li.name}",
        )
        for li in cart[:EDIT_ROWS]
    ]
    if lines is None:
        rows.append(Option(ids.empty(), t.button_empty_cart))
    body = t.edit_which if lines is None else t.remove_which
    ask_list(ctx, body, rows, button=t.see_cart_lines)


async def line_options(ctx: Context, tap: Tap) -> None:
    t = ctx.texts
    line = _line(ctx, tap.number(0) or 0)
    if line is None:
        await view(ctx)
        return
    options = [
        Option(ids.set_quantity(line.product_id), t.button_change_quantity),
        Option(ids.remove(line.product_id), t.button_remove),
        Option(tap_id(Intent.VIEW_CART), t.button_back_to_cart),
    ]
    ask(ctx, t.line_options.format(name=line.name, quantity=line.quantity), options)


async def remove(ctx: Context, tap: Tap) -> None:
    await remove_line(ctx, tap.number(0) or 0)


async def remove_line(ctx: Context, product_id: int) -> None:
    line = _line(ctx, product_id)
    if line is not None:
        _store(ctx, line.product_id, None)
        say(ctx, ctx.texts.removed.format(name=line.name))
    await view(ctx)


async def ask_empty(ctx: Context) -> None:
    t = ctx.texts
    if not session_of(ctx).cart:
        await view(ctx)
        return
    wait_in(ctx, CONFIRM_EMPTY)
    options = [Option(ids.ok("empty"), t.button_yes_empty), Option(ids.no("empty"), t.button_no)]
    ask(ctx, t.ask_empty, options)


async def empty(ctx: Context) -> None:
    replace_all(ctx, [])
    say(ctx, ctx.texts.cart_emptied)
    await view(ctx)
