"""Orders after checkout: reading them, and moving their status with a customer notification."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from bot.commerce.pricing import QuoteLine
from bot.outbound import OutboundLog
from bot.texts import texts_for
from bot.whatsapp import messages

__all__ = [
    "ORDER_STATUSES",
    "OrderError",
    "OrderSummary",
    "get_order",
    "list_orders",
    "recent_orders",
    "set_status",
]

ORDER_STATUSES = ("pending_payment", "paid", "preparing", "shipped", "delivered", "cancelled")
# An order only moves forward along this path (skipping steps is fine: cash on delivery goes
# straight to 'preparing'), or to 'cancelled' from any step before 'delivered'.
_PROGRESS = ORDER_STATUSES[:-1]
_FINAL = frozenset({"delivered", "cancelled"})

ORDER_COLUMNS = """
id, order_number, customer, status, subtotal, shipping_cost, discount, total, currency,
payment_method, created_at, delivery_address, delivery_option, discount_code
"""
BY_ID = f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
BY_NUMBER = f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_number = $1"
BY_WAMID = f"SELECT {ORDER_COLUMNS} FROM orders WHERE source_wamid = $1"
_ITEMS = """
SELECT order_id, product_id, retailer_id, name, quantity, unit_price
FROM order_items WHERE order_id = ANY($1::bigint[])
ORDER BY id
"""

_LOCK_ORDER = "SELECT id, customer, status FROM orders WHERE order_number = $1 FOR UPDATE"
_UPDATE = "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1"
_HISTORY = """
INSERT INTO order_status_history (order_id, from_status, to_status, changed_by)
VALUES ($1, $2, $3, $4)
"""
# Rows are locked in id order before the restock, the same order checkout locks them in.
_LOCK_PRODUCTS = """
SELECT id FROM products
WHERE id IN (SELECT product_id FROM order_items WHERE order_id = $1)
ORDER BY id FOR UPDATE
"""
_RESTOCK = """
UPDATE products p
SET stock = p.stock + i.quantity,
    availability = CASE WHEN p.availability = 'out of stock' AND p.stock = 0
                        THEN 'in stock' ELSE p.availability END,
    updated_at = now()
FROM (SELECT product_id, sum(quantity)::int AS quantity FROM order_items
      WHERE order_id = $1 AND product_id IS NOT NULL GROUP BY product_id) AS i
WHERE p.id = i.product_id
"""
_CUSTOMER = """
SELECT language, last_inbound_at > now() - interval '24 hours' AS window_open
FROM customers WHERE customer = $1
"""


class OrderError(ValueError):
    """An invalid order request, an unknown order, an invalid status or a forbidden change."""


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: int
    order_number: str
    customer: str
    status: str
    items: tuple[QuoteLine, ...]
    subtotal: Decimal
    shipping_cost: Decimal
    discount: Decimal
    total: Decimal
    currency: str
    payment_method: str
    created_at: datetime
    delivery_address: dict[str, Any] | None = None
    delivery_option: str | None = None
    discount_code: str | None = None


def order_summary(row: asyncpg.Record, items: list[QuoteLine]) -> OrderSummary:
    """An order from its ORDER_COLUMNS row and its items."""
    address = row["delivery_address"]
    return OrderSummary(
        id=row["id"],
        order_number=row["order_number"],
        customer=row["customer"],
        status=row["status"],
        items=tuple(items),
        subtotal=row["subtotal"],
        shipping_cost=row["shipping_cost"],
        discount=row["discount"],
        total=row["total"],
        currency=row["currency"],
        payment_method=row["payment_method"],
        created_at=row["created_at"],
        delivery_address=None if address is None else orjson.loads(address),
        delivery_option=row["delivery_option"],
        discount_code=row["discount_code"],
    )


async def fetch_orders(
    db: asyncpg.Pool | asyncpg.Connection, query: str, *args: object
) -> list[OrderSummary]:
    """Orders selected by ``query`` (one of the queries above) with their items."""
    rows = await db.fetch(query, *args)
    if not rows:
        return []
    items: dict[int, list[QuoteLine]] = defaultdict(list)
    for item in await db.fetch(_ITEMS, [row["id"] for row in rows]):
        items[item["order_id"]].append(
            QuoteLine(
                item["product_id"] or 0,
                item["retailer_id"],
                item["name"],
                item["quantity"],
                item["unit_price"],
                item["quantity"],
            )
        )
    return [order_summary(row, items[row["id"]]) for row in rows]


async def get_order(pool: asyncpg.Pool, order_number: str) -> OrderSummary | None:
    found = await fetch_orders(pool, BY_NUMBER, order_number.strip().upper())
    return found[0] if found else None


async def list_orders(
    pool: asyncpg.Pool, *, customer: str | None = None, status: str | None = None, limit: int = 20
) -> list[OrderSummary]:
    """Newest first, optionally of one customer and/or in one status."""
    conditions: list[str] = []
    args: list[object] = []
    for column, value in (("customer", customer), ("status", status)):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    args.append(limit)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    query = f"SELECT {ORDER_COLUMNS} FROM orders {where} ORDER BY created_at DESC, id DESC LIMIT ${len(args)}"
    return await fetch_orders(pool, query, *args)


async def recent_orders(pool: asyncpg.Pool, customer: str, limit: int = 5) -> list[OrderSummary]:
    """The customer's latest orders, newest first."""
    return await list_orders(pool, customer=customer, limit=limit)


def check_status(status: str) -> None:
    if status not in ORDER_STATUSES:
        raise OrderError(f"unknown status {status!r}; expected one of: {', '.join(ORDER_STATUSES)}")


def _check_transition(order_number: str, current: str, new: str) -> None:
    if current in _FINAL:
        raise OrderError(f"order {order_number} is {current} and can no longer change")
    if new != "cancelled" and _PROGRESS.index(new) < _PROGRESS.index(current):
        raise OrderError(f"order {order_number} cannot go back from {current} to {new}")


def _notification(
    customer: str, language: str | None, window_open: bool, order_number: str, status: str
) -> list[messages.Body]:
    texts = texts_for(language)
    status_name = texts.status_name(status)
    if window_open:
        body = texts.order_status_changed.format(order=order_number, status=status_name)
        return messages.text(customer, body)
    # Outside the 24-hour customer service window WhatsApp delivers only approved templates.
    name = os.environ.get("ORDER_UPDATE_TEMPLATE", "order_update")
    code = "en_US" if language == "en" else "es"
    return messages.template(customer, name, code, body_params=[order_number, status_name])


async def set_status(
    pool: asyncpg.Pool, order_number: str, status: str, *, by: str
) -> OrderSummary:
    """Move an order to ``status`` and queue the customer's notification, in one transaction.

    Setting the status it already has changes nothing and notifies no one (redelivered
    webhooks, repeated operator commands). Cancelling puts the reserved stock back.
    """
    check_status(status)
    number = order_number.strip().upper()
    async with pool.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(_LOCK_ORDER, number)
        if order is None:
            raise OrderError(f"no order {order_number}")
        if order["status"] != status:
            _check_transition(number, order["status"], status)
            await conn.execute(_UPDATE, order["id"], status)
            await conn.execute(_HISTORY, order["id"], order["status"], status, by)
            if status == "cancelled":
                await conn.execute(_LOCK_PRODUCTS, order["id"])
                await conn.execute(_RESTOCK, order["id"])
            customer = await conn.fetchrow(_CUSTOMER, order["customer"])
            bodies = _notification(
                order["customer"],
                None if customer is None else customer["language"],
                customer is not None and bool(customer["window_open"]),
                number,
                status,
            )
            key = f"order-status:{number}:{status}"
            await OutboundLog(pool).enqueue(conn, order["customer"], key, bodies)
        [summary] = await fetch_orders(conn, BY_ID, order["id"])
    return summary
