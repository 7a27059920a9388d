"""Checkout: a cart becomes an order in one transaction, or nothing changes at all.

The transaction checks the confirming message's wamid first (a redelivered confirmation
returns the order it placed), reads the products' prices and stock, prices the order and
writes it with its items, and only then locks the products (in id order) and the discount
code, checks that nothing changed, counts the code and reserves the stock. A popular
product's row lock is so held for a few round trips and the commit, not for the whole
checkout: 200 customers confirming the same product at once wait on each other for far less.
If something did change in between (a price, the stock, the code), the transaction rolls back
and runs again locking first, which places the order at the current prices or reports what
ran out. Reading orders and changing their status live in ``order_status``; they are
re-exported here so callers need one module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from bot.commerce.order_status import (
    BY_WAMID,
    ORDER_COLUMNS,
    ORDER_STATUSES,
    OrderError,
    OrderSummary,
    fetch_orders,
    get_order,
    list_orders,
    order_summary,
    recent_orders,
    set_status,
)
from bot.commerce.pricing import (
    DISCOUNT,
    DISCOUNT_FOR_UPDATE,
    PRODUCTS,
    PRODUCTS_FOR_UPDATE,
    Discount,
    QuoteLine,
    evaluate_discount,
    make_quote,
    merge_lines,
    normalize_code,
    price_lines,
    shipping_option,
    short_lines,
    subtotal_of,
)
from bot.sessions import CartLine

__all__ = [
    "ORDER_STATUSES",
    "PAYMENT_METHODS",
    "CheckoutRequest",
    "OrderError",
    "OrderSummary",
    "OutOfStock",
    "Placed",
    "get_order",
    "list_orders",
    "place_order",
    "recent_orders",
    "set_status",
]

PAYMENT_METHODS = ("cash_on_delivery", "bank_transfer", "payment_link")

# The rows are locked (PRODUCTS_FOR_UPDATE) and checked by now; the condition still guards
# against ever selling more than there is.
_RESERVE = """
UPDATE products p
SET stock = p.stock - u.quantity,
    availability = CASE WHEN p.stock = u.quantity THEN 'out of stock' ELSE p.availability END,
    updated_at = now()
FROM unnest($1::bigint[], $2::int[]) AS u(id, quantity)
WHERE p.id = u.id AND p.stock >= u.quantity
"""
_USE_DISCOUNT = "UPDATE discount_codes SET uses = uses + 1 WHERE code = $1"
# The order, its items and the customer's order count in one round trip.
_WRITE_ORDER = f"""
WITH placed AS (
    INSERT INTO orders (customer, subtotal, shipping_cost, discount, total, currency,
                        payment_method, delivery_address, delivery_option, discount_code,
                        source_wamid)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)
    RETURNING {ORDER_COLUMNS}
), items AS (
    INSERT INTO order_items (order_id, product_id, retailer_id, name, quantity, unit_price)
    SELECT placed.id, u.product_id, u.retailer_id, u.name, u.quantity, u.unit_price
    FROM placed,
         unnest($12::bigint[], $13::text[], $14::text[], $15::int[], $16::numeric[])
         WITH ORDINALITY AS u(product_id, retailer_id, name, quantity, unit_price, ord)
    ORDER BY u.ord
), counted AS (
    UPDATE customers SET total_orders = total_orders + 1, updated_at = now() WHERE customer = $1
)
SELECT * FROM placed
"""
_WAMID_CONSTRAINT = "orders_source_wamid_key"


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    customer: str
    lines: tuple[CartLine, ...]
    address: dict[str, Any]
    shipping_rule_id: int
    discount_code: str | None
    payment_method: str  # one of PAYMENT_METHODS
    source_wamid: str  # the message that confirmed the order


@dataclass(frozen=True, slots=True)
class Placed:
    order: OrderSummary
    created: bool  # False: this source_wamid had placed the order before (nothing new reserved)


@dataclass(frozen=True, slots=True)
class OutOfStock:
    lines: tuple[
        QuoteLine, ...
    ]  # the lines short of stock, with what is available; nothing reserved


def _validate(request: CheckoutRequest) -> None:
    if not request.lines:
        raise OrderError("an order needs at least one line")
    if any(line.quantity <= 0 for line in request.lines):
        raise OrderError("every line needs a positive quantity")
    if request.payment_method not in PAYMENT_METHODS:
        raise OrderError(f"unknown payment method {request.payment_method!r}")
    if not request.source_wamid:
        raise OrderError("source_wamid is required (it makes checkout idempotent)")


class _Changed(Exception):
    """A price, the stock or the discount code changed between the read and the lock."""


async def _discount(
    conn: asyncpg.Connection, code: str | None, subtotal: Decimal, *, use: bool
) -> Discount | None:
    """The code's discount on this subtotal; ``use``: on its locked row, counting the use
    (max_uses holds under load).

    A code refused by now (used up or expired since the quote) gives no discount; the
    order's summary then shows no discount code.
    """
    if not code:
        return None
    row = await conn.fetchrow(DISCOUNT_FOR_UPDATE if use else DISCOUNT, normalize_code(code))
    found = evaluate_discount(row, code, subtotal)
    if not isinstance(found, Discount):
        return None
    if use:
        await conn.execute(_USE_DISCOUNT, found.code)
    return found


async def _place(
    conn: asyncpg.Connection, request: CheckoutRequest, *, lock_first: bool
) -> Placed | OutOfStock:
    cart = merge_lines(request.lines)
    ids = [line.product_id for line in cart]
    rows = await conn.fetch(PRODUCTS_FOR_UPDATE if lock_first else PRODUCTS, ids)
    lines, currency = price_lines(cart, rows)
    short = short_lines(lines)
    if short:
        return OutOfStock(short)
    subtotal = subtotal_of(lines)
    shipping = await shipping_option(conn, request.shipping_rule_id, subtotal, language="es")
    discount = await _discount(conn, request.discount_code, subtotal, use=lock_first)
    totals = make_quote(cart, lines, currency, shipping.cost, discount)
    row = await conn.fetchrow(
        _WRITE_ORDER,
        request.customer,
        totals.subtotal,
        totals.shipping,
        totals.discount,
        totals.total,
        currency,
        request.payment_method,
        orjson.dumps(request.address).decode(),
        shipping.name,
        None if discount is None else discount.code,
        request.source_wamid,
        [line.product_id for line in lines],
        [line.retailer_id for line in lines],
        [line.name for line in lines],
        [line.quantity for line in lines],
        [line.unit_price for line in lines],
    )
    order = order_summary(row, [replace(line, available=line.quantity) for line in lines])
    if not lock_first:
        # Products before the code, as when locking first: concurrent checkouts never deadlock.
        locked, locked_currency = price_lines(cart, await conn.fetch(PRODUCTS_FOR_UPDATE, ids))
        if (
            short_lines(locked)
            or locked_currency != currency
            or [line.unit_price for line in locked] != [line.unit_price for line in lines]
            or await _discount(conn, request.discount_code, subtotal, use=True) != discount
        ):
            raise _Changed
    status = await conn.execute(
        _RESERVE, [line.product_id for line in lines], [line.quantity for line in lines]
    )
    if status != f"UPDATE {len(lines)}":
        raise RuntimeError(f"stock reservation touched {status!r} for {len(lines)} locked lines")
    return Placed(order, created=True)


async def _attempt(
    pool: asyncpg.Pool, request: CheckoutRequest, *, lock_first: bool
) -> Placed | OutOfStock:
    async with pool.acquire() as conn, conn.transaction():
        placed = await fetch_orders(conn, BY_WAMID, request.source_wamid)
        if placed:
            return Placed(placed[0], created=False)
        return await _place(conn, request, lock_first=lock_first)


async def place_order(
    pool: asyncpg.Pool, request: CheckoutRequest, *, lock_first: bool = False
) -> Placed | OutOfStock:
    """Place the order, or report the lines short of stock (then nothing is reserved).

    ``lock_first``: hold the locks from the start, as the retry after a change does (the
    checkout benchmark's reference).
    """
    _validate(request)
    try:
        try:
            return await _attempt(pool, request, lock_first=lock_first)
        except _Changed:  # rolled back: again, holding the locks from the start
            return await _attempt(pool, request, lock_first=True)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != _WAMID_CONSTRAINT:
            raise
    # A concurrent call with the same wamid committed first; ours rolled back entirely.
    [order] = await fetch_orders(pool, BY_WAMID, request.source_wamid)
    return Placed(order, created=False)
