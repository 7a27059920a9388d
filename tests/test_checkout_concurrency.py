"""200 customers race for the last 10 units: exactly 10 orders, never a negative stock. And what
checkout does when a price or the stock changes between its first read and its locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from bot.commerce import orders
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


async def _product(pool: asyncpg.Pool, stock: int) -> CartLine:
    product_id = await pool.fetchval(
        "INSERT INTO products (retailer_id, name, price, currency, stock) "
        "VALUES ('ULT-1', 'Última edición', 15.00, 'USD', $1) RETURNING id",
        stock,
    )
    return CartLine(product_id, "ULT-1", "Última edición", 1, Decimal("15.00"), "USD")


async def _request(pool: asyncpg.Pool, line: CartLine, n: int) -> CheckoutRequest:
    return CheckoutRequest(
        customer=f"54911{n:08d}",
        lines=(line,),
        address={"street": f"Calle {n}"},
        shipping_rule_id=await pool.fetchval("SELECT id FROM shipping_rules WHERE kind = 'flat'"),
        discount_code=None,
        payment_method="cash_on_delivery",
        source_wamid=f"wamid.RACE{n}",
    )


async def test_two_hundred_buyers_ten_units(wide_pool: asyncpg.Pool) -> None:
    line = await _product(wide_pool, STOCK)
    product_id = line.product_id
    requests = [await _request(wide_pool, line, n) for n in range(BUYERS)]

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


def _meanwhile(
    monkeypatch: pytest.MonkeyPatch, pool: asyncpg.Pool, sql: str, *args: object
) -> None:
    """Run ``sql`` on another connection after checkout's first read, before its locks (once)."""
    real = orders.shipping_option

    async def shipping_option(*given: object, **named: object) -> object:
        monkeypatch.setattr(orders, "shipping_option", real)
        await pool.execute(sql, *args)
        return await real(*given, **named)  # type: ignore[arg-type]

    monkeypatch.setattr(orders, "shipping_option", shipping_option)


async def test_a_price_changed_before_the_lock_is_charged_as_it_is_then(
    pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = await _product(pg_pool, 5)
    _meanwhile(
        monkeypatch, pg_pool, "UPDATE products SET price = 16.00 WHERE id = $1", line.product_id
    )
    placed = await place_order(pg_pool, await _request(pg_pool, line, 1))
    assert isinstance(placed, Placed)
    assert [i.unit_price for i in placed.order.items] == [Decimal("16.00")]
    # The first attempt, priced at 15.00, rolled back: one order, one unit reserved.
    assert await pg_pool.fetchval("SELECT count(*) FROM orders") == 1
    assert await pg_pool.fetchval("SELECT stock FROM products") == 4


async def test_stock_sold_before_the_lock_is_reported_and_nothing_is_kept(
    pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = await _product(pg_pool, 1)
    _meanwhile(monkeypatch, pg_pool, "UPDATE products SET stock = 0 WHERE id = $1", line.product_id)
    result = await place_order(pg_pool, await _request(pg_pool, line, 1))
    assert isinstance(result, OutOfStock)
    assert [r.available for r in result.lines] == [0]
    assert await pg_pool.fetchval("SELECT count(*) FROM orders") == 0
