"""200 customers race for the last 10 units: exactly 10 orders, never a negative stock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from bot.commerce.orders import CheckoutRequest, OutOfStock, Placed, place_order
from bot.sessions import CartLine

BUYERS = 200
STOCK = 10


@pytest.fixture
async def wide_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Enough connections for the checkouts to really overlap in PostgreSQL."""
    pool = await asyncpg.create_pool(database_url, min_size=40, max_size=40)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


async def test_two_hundred_buyers_ten_units(wide_pool: asyncpg.Pool) -> None:
    product_id = await wide_pool.fetchval(
        "INSERT INTO products (retailer_id, name, price, currency, stock) "
        "VALUES ('ULT-1', 'Última edición', 15.00, 'USD', $1) RETURNING id",
        STOCK,
    )
    rule = await wide_pool.fetchval("SELECT id FROM shipping_rules WHERE kind = 'flat'")
    line = CartLine(product_id, "ULT-1", "Última edición", 1, Decimal("15.00"), "USD")
    requests = [
        CheckoutRequest(
            customer=f"54911{n:08d}",
            lines=(line,),
            address={"street": f"Calle {n}"},
            shipping_rule_id=rule,
            discount_code=None,
            payment_method="cash_on_delivery",
            source_wamid=f"wamid.RACE{n}",
        )
        for n in range(BUYERS)
    ]

    results = await asyncio.gather(*(place_order(wide_pool, r) for r in requests))

    placed = [r for r in results if isinstance(r, Placed)]
    refused = [r for r in results if isinstance(r, OutOfStock)]
    assert (len(placed), len(refused)) == (STOCK, BUYERS - STOCK)
    assert all(p.created for p in placed)
    assert len({p.order.customer for p in placed}) == STOCK
    assert all(r.lines[0].available == 0 for r in refused)
    product = await wide_pool.fetchrow(
        "SELECT stock, availability FROM products WHERE id = $1", product_id
    )
    assert (product["stock"], product["availability"]) == (0, "out of stock")
    assert await wide_pool.fetchval("SELECT count(*) FROM orders") == STOCK
    assert await wide_pool.fetchval("SELECT sum(quantity) FROM order_items") == STOCK
    numbers = await wide_pool.fetch("SELECT order_number FROM orders")
    assert len({r["order_number"] for r in numbers}) == STOCK
