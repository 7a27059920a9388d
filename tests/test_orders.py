"""Pricing, checkout, order status and the ``bot orders`` command, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass, replace
from decimal import Decimal

import asyncpg
import orjson
import pytest

from bot.commerce.orders import (
    CheckoutRequest,
    OrderError,
    OutOfStock,
    Placed,
    get_order,
    place_order,
    recent_orders,
    set_status,
)
from bot.commerce.pricing import (
    Discount,
    DiscountRefused,
    check_discount,
    quote,
    shipping_options,
)
from bot.sessions import CartLine

CUSTOMER = "5491100000001"
ADDRESS = {"street": "Av. Corrientes 1234", "city": "Buenos Aires"}


@dataclass(frozen=True, slots=True)
class Shop:
    shirt: CartLine  # 20.00, stock 5
    trousers: CartLine  # 40.00 on sale at 35.00, stock 3
    socks: CartLine  # 5.00, stock 100
    flat: int  # shipping rule ids from the 0004 seed
    local: int
    free_over: int


@pytest.fixture
async def shop(pg_pool: asyncpg.Pool) -> Shop:
    category = await pg_pool.fetchval(
        "INSERT INTO categories (slug, name_es, name_en) VALUES ('ropa', 'Ropa', 'Clothes') "
        "RETURNING id"
    )
    rows = await pg_pool.fetch(
        """
        INSERT INTO products (retailer_id, name, category_id, price, sale_price, currency, stock)
        VALUES ('CAM-1', 'Camisa', $1, 20.00, NULL, 'USD', 5),
               ('PAN-1', 'Pantalón', $1, 40.00, 35.00, 'USD', 3),
               ('CAL-1', 'Calcetines', $1, 5.00, NULL, 'USD', 100)
        RETURNING id, retailer_id, name, COALESCE(sale_price, price) AS price
        """,
        category,
    )
    lines = [CartLine(r["id"], r["retailer_id"], r["name"], 1, r["price"], "USD") for r in rows]
    rules = dict(await pg_pool.fetch("SELECT kind, id FROM shipping_rules"))
    await pg_pool.execute(
        "INSERT INTO customers (customer, wa_id, language, last_inbound_at) VALUES ($1, $1, 'es', now())",
        CUSTOMER,
    )
    return Shop(*lines, rules["flat"], rules["zone"], rules["free_over"])


def _request(
    shop: Shop,
    *lines: CartLine,
    wamid: str = "wamid.CONFIRM1",
    customer: str = CUSTOMER,
    code: str | None = None,
) -> CheckoutRequest:
    return CheckoutRequest(customer, lines, ADDRESS, shop.flat, code, "cash_on_delivery", wamid)


async def _stock(pool: asyncpg.Pool, line: CartLine) -> tuple[int, str]:
    row = await pool.fetchrow(
        "SELECT stock, availability FROM products WHERE id = $1", line.product_id
    )
    return row["stock"], row["availability"]


async def _placed(pool: asyncpg.Pool, request: CheckoutRequest) -> Placed:
    result = await place_order(pool, request)
    assert isinstance(result, Placed), result
    return result


# --- quote, shipping, discounts ---------------------------------------------------------------


async def test_quote_rereads_prices_and_stock(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    stale_trousers = replace(shop.trousers, quantity=4, unit_price=Decimal("40.00"))
    result = await quote(
        pg_pool, [shop.shirt, stale_trousers], shipping_rule_id=shop.flat, discount_code=None
    )
    assert [line.unit_price for line in result.lines] == [Decimal("20.00"), Decimal("35.00")]
    assert result.subtotal == Decimal("160.00")
    assert (result.shipping, result.discount, result.total) == (
        Decimal("6.50"),
        Decimal("0.00"),
        Decimal("166.50"),
    )
    assert [(line.retailer_id, line.available) for line in result.short] == [("PAN-1", 3)]
    assert [line.retailer_id for line in result.price_changed] == ["PAN-1"]


async def test_quote_merges_repeated_products(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    result = await quote(
        pg_pool, [shop.shirt, shop.socks, shop.shirt], shipping_rule_id=None, discount_code=None
    )
    assert [(line.retailer_id, line.quantity) for line in result.lines] == [
        ("CAM-1", 2),
        ("CAL-1", 1),
    ]
    assert result.total == Decimal("45.00")


async def test_shipping_options(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    below = await shipping_options(pg_pool, Decimal("59.99"), language="es")
    assert [(o.rule_id, o.cost) for o in below] == [
        (shop.local, Decimal("3.00")),
        (shop.flat, Decimal("6.50")),
    ]
    above = await shipping_options(pg_pool, Decimal("60.00"), language="en")
    assert [(o.rule_id, o.cost) for o in above] == [
        (shop.free_over, Decimal("0.00")),
        (shop.local, Decimal("3.00")),
        (shop.flat, Decimal("6.50")),
    ]
    assert above[0].name == "Free shipping on orders from 60"
    not_local = await shipping_options(pg_pool, Decimal("10"), language="es", local=False)
    assert [o.rule_id for o in not_local] == [shop.flat]


async def test_free_over_rule_costs_nothing_only_above_its_minimum(
    pg_pool: asyncpg.Pool, shop: Shop
) -> None:
    small = await quote(pg_pool, [shop.shirt], shipping_rule_id=shop.free_over, discount_code=None)
    assert small.shipping == Decimal("6.50")  # the flat rate it upgrades
    big = replace(shop.shirt, quantity=3)
    large = await quote(pg_pool, [big], shipping_rule_id=shop.free_over, discount_code=None)
    assert (large.shipping, large.total) == (Decimal("0.00"), Decimal("60.00"))


async def test_discount_codes(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    await pg_pool.execute("INSERT INTO discount_codes (code, amount_off) VALUES ('REGALO50', 50)")
    percent = await quote(
        pg_pool,
        [replace(shop.socks, quantity=9)],
        shipping_rule_id=shop.flat,
        discount_code=" bienvenido10 ",
    )
    assert (percent.subtotal, percent.discount, percent.total) == (
        Decimal("45.00"),
        Decimal("4.50"),
        Decimal("47.00"),
    )
    capped = await quote(
        pg_pool, [shop.shirt], shipping_rule_id=shop.flat, discount_code="regalo50"
    )
    assert (capped.discount, capped.total) == (Decimal("20.00"), Decimal("6.50"))
    free = await quote(
        pg_pool,
        [replace(shop.shirt, quantity=2)],
        shipping_rule_id=shop.flat,
        discount_code="EnvioGratis",
    )
    assert (free.shipping, free.discount, free.total) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("40.00"),
    )
    # Half a cent rounds up: 10 % of 12.25 is 1.225.
    assert await check_discount(pg_pool, "bienvenido10", Decimal("12.25")) == Discount(
        "BIENVENIDO10", Decimal("1.23"), False
    )


async def test_refused_discount_codes_say_why(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    await pg_pool.execute(
        """
        INSERT INTO discount_codes (code, percent_off, active, expires_at, max_uses, uses) VALUES
            ('APAGADO', 10, false, NULL, NULL, 0),
            ('VENCIDO', 10, true, now() - interval '1 minute', NULL, 0),
            ('AGOTADO', 10, true, now() + interval '1 day', 2, 2)
        """
    )
    subtotal = Decimal("20.00")
    assert await check_discount(pg_pool, "nada", subtotal) == DiscountRefused("NADA", "unknown")
    assert await check_discount(pg_pool, "apagado", subtotal) == DiscountRefused(
        "APAGADO", "inactive"
    )
    assert await check_discount(pg_pool, "vencido", subtotal) == DiscountRefused(
        "VENCIDO", "expired"
    )
    assert await check_discount(pg_pool, "agotado", subtotal) == DiscountRefused(
        "AGOTADO", "used_up"
    )
    assert await check_discount(pg_pool, "envíogratis", subtotal) == DiscountRefused(
        "ENVÍOGRATIS", "unknown"
    )
    assert await check_discount(pg_pool, "enviogratis", subtotal) == DiscountRefused(
        "ENVIOGRATIS", "min_subtotal", Decimal("30.00")
    )
    refused = await quote(pg_pool, [shop.shirt], shipping_rule_id=None, discount_code="vencido")
    assert (refused.discount, refused.total) == (Decimal("0.00"), Decimal("20.00"))


# --- place_order ------------------------------------------------------------------------------


async def test_place_order_reserves_stock_and_copies_the_cart(
    pg_pool: asyncpg.Pool, shop: Shop
) -> None:
    request = _request(
        shop,
        replace(shop.shirt, quantity=2),
        replace(shop.trousers, quantity=3),
        code="bienvenido10",
    )
    placed = await _placed(pg_pool, request)
    order = placed.order
    assert placed.created
    assert re.fullmatch(r"PED-\d{6}", order.order_number)
    assert (order.customer, order.status, order.payment_method) == (
        CUSTOMER,
        "pending_payment",
        "cash_on_delivery",
    )
    assert [(i.retailer_id, i.name, i.quantity, i.unit_price) for i in order.items] == [
        ("CAM-1", "Camisa", 2, Decimal("20.00")),
        ("PAN-1", "Pantalón", 3, Decimal("35.00")),
    ]
    assert (order.subtotal, order.shipping_cost, order.discount, order.total) == (
        Decimal("145.00"),
        Decimal("6.50"),
        Decimal("14.50"),
        Decimal("137.00"),
    )
    assert order.delivery_address == ADDRESS
    assert order.discount_code == "BIENVENIDO10"
    assert await _stock(pg_pool, shop.shirt) == (3, "in stock")
    assert await _stock(pg_pool, shop.trousers) == (0, "out of stock")  # the last ones
    assert await pg_pool.fetchval("SELECT total_orders FROM customers") == 1
    assert (
        await pg_pool.fetchval("SELECT uses FROM discount_codes WHERE code = 'BIENVENIDO10'") == 1
    )
    stored = await pg_pool.fetchrow("SELECT subtotal, shipping_cost, discount, total FROM orders")
    assert stored["total"] == stored["subtotal"] + stored["shipping_cost"] - stored["discount"]
    assert await get_order(pg_pool, order.order_number.lower()) == order


async def test_same_wamid_places_one_order(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    request = _request(shop, shop.shirt, code="BIENVENIDO10")
    first = await _placed(pg_pool, request)
    again = await _placed(pg_pool, request)
    assert first.created and not again.created
    assert again.order == first.order
    assert await _stock(pg_pool, shop.shirt) == (4, "in stock")
    assert (
        await pg_pool.fetchval("SELECT uses FROM discount_codes WHERE code = 'BIENVENIDO10'") == 1
    )
    assert await pg_pool.fetchval("SELECT total_orders FROM customers") == 1


async def test_concurrent_calls_with_one_wamid_place_one_order(
    pg_pool: asyncpg.Pool, shop: Shop
) -> None:
    request = _request(shop, shop.shirt, shop.socks)
    results = await asyncio.gather(*(place_order(pg_pool, request) for _ in range(8)))
    placed = [r for r in results if isinstance(r, Placed)]
    assert len(placed) == 8
    assert sum(p.created for p in placed) == 1
    assert {p.order.order_number for p in placed} == {placed[0].order.order_number}
    assert await pg_pool.fetchval("SELECT count(*) FROM orders") == 1
    assert await _stock(pg_pool, shop.shirt) == (4, "in stock")
    assert await _stock(pg_pool, shop.socks) == (99, "in stock")


async def test_out_of_stock_reserves_nothing(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    request = _request(
        shop,
        replace(shop.shirt, quantity=2),
        replace(shop.trousers, quantity=4),
        code="BIENVENIDO10",
    )
    result = await place_order(pg_pool, request)
    assert isinstance(result, OutOfStock)
    assert [(line.retailer_id, line.quantity, line.available) for line in result.lines] == [
        ("PAN-1", 4, 3)
    ]
    assert await _stock(pg_pool, shop.shirt) == (5, "in stock")
    assert await _stock(pg_pool, shop.trousers) == (3, "in stock")
    assert await pg_pool.fetchval("SELECT count(*) FROM orders") == 0
    assert (
        await pg_pool.fetchval("SELECT uses FROM discount_codes WHERE code = 'BIENVENIDO10'") == 0
    )


async def test_order_charges_the_current_price(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    await pg_pool.execute("UPDATE products SET price = 25.00 WHERE id = $1", shop.shirt.product_id)
    placed = await _placed(pg_pool, _request(shop, shop.shirt))
    assert placed.order.items[0].unit_price == Decimal("25.00")
    assert placed.order.total == Decimal("31.50")


async def test_discount_max_uses_holds_under_concurrency(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    await pg_pool.execute(
        "INSERT INTO discount_codes (code, amount_off, max_uses) VALUES ('TRES', 1, 3)"
    )
    requests = [
        _request(shop, shop.socks, wamid=f"wamid.D{n}", customer=f"54911000001{n:02d}", code="tres")
        for n in range(10)
    ]
    results = await asyncio.gather(*(_placed(pg_pool, r) for r in requests))
    discounted = [r.order for r in results if r.order.discount_code == "TRES"]
    assert len(discounted) == 3
    assert all(o.total == Decimal("10.50") for o in discounted)
    full_price = [r.order for r in results if r.order.discount_code is None]
    assert len(full_price) == 7 and all(o.total == Decimal("11.50") for o in full_price)
    assert await pg_pool.fetchval("SELECT uses FROM discount_codes WHERE code = 'TRES'") == 3


async def test_invalid_requests_are_refused(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    with pytest.raises(OrderError, match="at least one line"):
        await place_order(pg_pool, _request(shop))
    with pytest.raises(OrderError, match="payment method"):
        await place_order(pg_pool, replace(_request(shop, shop.shirt), payment_method="bitcoin"))


# --- set_status and reading orders ------------------------------------------------------------


async def _outbound(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT idempotency_key, kind, body FROM outbound_messages ORDER BY id")


async def test_status_change_inside_the_window_sends_a_text(
    pg_pool: asyncpg.Pool, shop: Shop
) -> None:
    number = (await _placed(pg_pool, _request(shop, shop.shirt))).order.order_number
    order = await set_status(pg_pool, number, "preparing", by="operator")
    assert order.status == "preparing"
    [row] = await _outbound(pg_pool)
    assert (row["idempotency_key"], row["kind"]) == (f"order-status:{number}:preparing:0", "text")
    body = orjson.loads(row["body"])
    assert body["to"] == CUSTOMER
    assert number in body["text"]["body"] and "en preparación" in body["text"]["body"]
    history = await pg_pool.fetchrow(
        "SELECT from_status, to_status, changed_by FROM order_status_history"
    )
    assert tuple(history) == ("pending_payment", "preparing", "operator")


async def test_status_change_outside_the_window_sends_a_template(
    pg_pool: asyncpg.Pool, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDER_UPDATE_TEMPLATE", "pedido_actualizado")
    await pg_pool.execute(
        "UPDATE customers SET language = 'en', last_inbound_at = now() - interval '25 hours'"
    )
    number = (await _placed(pg_pool, _request(shop, shop.shirt))).order.order_number
    await set_status(pg_pool, number, "shipped", by="operator")
    [row] = await _outbound(pg_pool)
    assert row["kind"] == "template"
    template = orjson.loads(row["body"])["template"]
    assert (template["name"], template["language"]["code"]) == ("pedido_actualizado", "en_US")
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == [number, "on its way"]


async def test_forbidden_status_changes_are_refused(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    number = (await _placed(pg_pool, _request(shop, shop.shirt))).order.order_number
    with pytest.raises(OrderError, match="unknown status"):
        await set_status(pg_pool, number, "lost", by="operator")
    with pytest.raises(OrderError, match="no order"):
        await set_status(pg_pool, "PED-999999", "paid", by="operator")
    await set_status(pg_pool, number, "shipped", by="operator")
    with pytest.raises(OrderError, match="cannot go back"):
        await set_status(pg_pool, number, "paid", by="operator")
    await set_status(pg_pool, number, "delivered", by="operator")
    for status in ("cancelled", "shipped"):
        with pytest.raises(OrderError, match="can no longer change"):
            await set_status(pg_pool, number, status, by="operator")
    # Repeating the current status is a no-op: no second notification.
    assert (await set_status(pg_pool, number, "delivered", by="webhook")).status == "delivered"
    assert len(await _outbound(pg_pool)) == 2
    assert (await get_order(pg_pool, number)).status == "delivered"  # type: ignore[union-attr]


async def test_cancelling_returns_the_stock(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    request = _request(shop, replace(shop.trousers, quantity=3), shop.shirt)
    number = (await _placed(pg_pool, request)).order.order_number
    assert await _stock(pg_pool, shop.trousers) == (0, "out of stock")
    await set_status(pg_pool, number, "cancelled", by="operator")
    assert await _stock(pg_pool, shop.trousers) == (3, "in stock")
    assert await _stock(pg_pool, shop.shirt) == (5, "in stock")
    with pytest.raises(OrderError):
        await set_status(pg_pool, number, "paid", by="operator")
    assert await _stock(pg_pool, shop.trousers) == (3, "in stock")


async def test_recent_orders_newest_first(pg_pool: asyncpg.Pool, shop: Shop) -> None:
    numbers = [
        (await _placed(pg_pool, _request(shop, shop.socks, wamid=f"wamid.R{n}"))).order.order_number
        for n in range(3)
    ]
    await _placed(
        pg_pool, _request(shop, shop.socks, wamid="wamid.OTHER", customer="5491199999999")
    )
    recent = await recent_orders(pg_pool, CUSTOMER, limit=2)
    assert [o.order_number for o in recent] == [numbers[2], numbers[1]]
    assert len(await recent_orders(pg_pool, CUSTOMER)) == 3
    assert await recent_orders(pg_pool, "5490000000000") == []
    assert await get_order(pg_pool, "PED-000000") is None


# --- bot orders -------------------------------------------------------------------------------


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "orders",
        *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_orders_command(pg_pool: asyncpg.Pool, shop: Shop, database_url: str) -> None:
    number = (await _placed(pg_pool, _request(shop, shop.shirt))).order.order_number
    code, out, _ = await _cli(database_url, "list", "--customer", CUSTOMER)
    assert code == 0
    assert out.splitlines()[0].split() == [
        "ORDER",
        "CREATED",
        "CUSTOMER",
        "STATUS",
        "TOTAL",
        "PAYMENT",
    ]
    assert number in out and "26.50 USD" in out
    code, out, _ = await _cli(database_url, "set-status", number, "paid")
    assert (code, out.strip()) == (0, f"{number} is now paid")
    code, out, _ = await _cli(database_url, "show", number)
    assert code == 0 and "(paid)" in out and "1 x Camisa [CAM-1]" in out
    code, out, err = await _cli(database_url, "set-status", number, "pending_payment")
    assert code == 1 and out == ""
    assert err.strip() == f"bot orders: order {number} cannot go back from paid to pending_payment"
    code, _, err = await _cli(database_url, "show", "PED-404")
    assert (code, err.strip()) == (1, "bot orders: no order PED-404")
