"""What a cart costs right now: current prices and stock, shipping rules, discount codes.

Money is ``Decimal`` rounded to cents (half up). Checkout (``orders``) reuses these pieces
inside its transaction, on locked rows, so the order charges exactly what a quote shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import asyncpg

from bot.sessions import CartLine

__all__ = [
    "Discount",
    "DiscountRefused",
    "PricingError",
    "Quote",
    "QuoteLine",
    "ShippingOption",
    "check_discount",
    "quote",
    "shipping_options",
]

ZERO = Decimal("0.00")
_CENT = Decimal("0.01")

# Nothing of a product marked out of stock or discontinued can be sold, whatever its count says.
_AVAILABLE = "CASE WHEN availability IN ('out of stock', 'discontinued') THEN 0 ELSE stock END"
PRODUCTS = f"""
SELECT id, retailer_id, name, COALESCE(sale_price, price) AS unit_price, currency,
       {_AVAILABLE} AS available
FROM products WHERE id = ANY($1::bigint[])
ORDER BY id
"""
# Checkout locks the rows it reserves, always in id order, so concurrent checkouts never deadlock.
# NO KEY: the order's items already hold key-share locks on them (their foreign key), which a
# plain FOR UPDATE would wait on, one checkout for the other's.
PRODUCTS_FOR_UPDATE = PRODUCTS + "FOR NO KEY UPDATE"

_OPTIONS = """
SELECT id, kind, amount, name_es, name_en FROM shipping_rules
WHERE active
  AND (kind <> 'free_over' OR min_subtotal <= $1)
  AND (kind <> 'zone' OR $2::boolean IS NULL OR (zone = 'local') = $2)
"""
_RULE = """
SELECT r.kind, r.amount, r.min_subtotal, r.name_es, r.name_en,
       (SELECT min(f.amount) FROM shipping_rules f WHERE f.kind = 'flat' AND f.active) AS flat
FROM shipping_rules r WHERE r.id = $1 AND r.active
"""

_DISCOUNT_COLUMNS = """
code, percent_off, amount_off, free_shipping, min_subtotal, active, uses, max_uses,
expires_at IS NOT NULL AND expires_at <= now() AS expired
"""
DISCOUNT = f"SELECT {_DISCOUNT_COLUMNS} FROM discount_codes WHERE code = $1"
DISCOUNT_FOR_UPDATE = DISCOUNT + " FOR UPDATE"


class PricingError(ValueError):
    """A cart that cannot be priced: empty, mixed currencies, or an unknown shipping rule."""


@dataclass(frozen=True, slots=True)
class ShippingOption:
    rule_id: int
    name: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Discount:
    code: str
    amount: Decimal  # taken off the subtotal; free shipping is the flag, not part of the amount
    free_shipping: bool


@dataclass(frozen=True, slots=True)
class DiscountRefused:
    code: str
    reason: str  # 'unknown' | 'inactive' | 'expired' | 'used_up' | 'min_subtotal'
    min_subtotal: Decimal | None = None  # set when reason is 'min_subtotal'


@dataclass(frozen=True, slots=True)
class QuoteLine:
    product_id: int  # 0 in an order whose product has since left the catalogue
    retailer_id: str
    name: str
    quantity: int
    unit_price: Decimal
    available: int  # units that can be sold now; in an order, the units reserved for it

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    subtotal: Decimal
    shipping: Decimal
    discount: Decimal
    total: Decimal
    currency: str
    short: tuple[QuoteLine, ...]  # lines with fewer units available than wanted
    price_changed: tuple[QuoteLine, ...]  # lines whose price differs from the cart's


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def normalize_code(code: str) -> str:
    """Codes are stored upper-case; customers type them any way."""
    return code.strip().upper()


def merge_lines(lines: Sequence[CartLine]) -> list[CartLine]:
    """One line per product (quantities added up), in cart order."""
    merged: dict[int, CartLine] = {}
    for line in lines:
        seen = merged.get(line.product_id)
        merged[line.product_id] = (
            line if seen is None else replace(seen, quantity=seen.quantity + line.quantity)
        )
    return list(merged.values())


def price_lines(
    cart: Sequence[CartLine], rows: Iterable[asyncpg.Record]
) -> tuple[tuple[QuoteLine, ...], str]:
    """Cart lines at the current price and stock (rows from PRODUCTS), and their currency."""
    if not cart:
        raise PricingError("the cart is empty")
    current = {row["id"]: row for row in rows}
    lines = []
    for line in cart:
        row = current.get(line.product_id)
        if row is None:  # removed from the catalogue since it went into the cart
            lines.append(
                QuoteLine(
                    line.product_id, line.retailer_id, line.name, line.quantity, line.unit_price, 0
                )
            )
        else:
            lines.append(
                QuoteLine(
                    row["id"],
                    row["retailer_id"],
                    row["name"],
                    line.quantity,
                    row["unit_price"],
                    row["available"],
                )
            )
    currencies = {row["currency"] for row in current.values()} or {c.currency for c in cart}
    if len(currencies) != 1:
        raise PricingError(f"the cart mixes currencies: {', '.join(sorted(currencies))}")
    return tuple(lines), currencies.pop()


def subtotal_of(lines: Iterable[QuoteLine]) -> Decimal:
    return cents(sum((line.total for line in lines), ZERO))


def short_lines(lines: Iterable[QuoteLine]) -> tuple[QuoteLine, ...]:
    return tuple(line for line in lines if line.available < line.quantity)


def make_quote(
    cart: Sequence[CartLine],
    lines: tuple[QuoteLine, ...],
    currency: str,
    shipping: Decimal,
    discount: Discount | None,
) -> Quote:
    """Totals for priced lines; ``cart`` (same order as ``lines``) tells which prices changed."""
    subtotal = subtotal_of(lines)
    amount = ZERO if discount is None else discount.amount
    shipping = ZERO if discount is not None and discount.free_shipping else cents(shipping)
    return Quote(
        lines=lines,
        subtotal=subtotal,
        shipping=shipping,
        discount=amount,
        total=subtotal + shipping - amount,
        currency=currency,
        short=short_lines(lines),
        price_changed=tuple(
            line for line, old in zip(lines, cart, strict=True) if line.unit_price != old.unit_price
        ),
    )


async def shipping_options(
    pool: asyncpg.Pool, subtotal: Decimal, *, language: str, local: bool | None = None
) -> list[ShippingOption]:
    """Active rules the customer may pick, cheapest first.

    'free_over' rules appear only once the subtotal reaches their minimum (at no cost);
    'zone' rules always do, unless ``local`` is known: True keeps only the 'local' zone,
    False drops it.
    """
    rows = await pool.fetch(_OPTIONS, subtotal, local)
    options = [
        ShippingOption(
            row["id"],
            row["name_en"] if language == "en" else row["name_es"],
            ZERO if row["kind"] == "free_over" else cents(row["amount"]),
        )
        for row in rows
    ]
    return sorted(options, key=lambda o: (o.cost, o.rule_id))


async def shipping_option(
    db: asyncpg.Pool | asyncpg.Connection, rule_id: int, subtotal: Decimal, *, language: str
) -> ShippingOption:
    """The chosen rule and what it costs for this subtotal."""
    row = await db.fetchrow(_RULE, rule_id)
    if row is None:
        raise PricingError(f"no active shipping rule with id {rule_id}")
    name = row["name_en"] if language == "en" else row["name_es"]
    cost = row["amount"]
    if row["kind"] == "free_over":
        # Below its minimum it is just ordinary delivery: the cheapest flat rate applies.
        qualifies = subtotal >= row["min_subtotal"]
        cost = ZERO if qualifies else row["flat"] if row["flat"] is not None else row["amount"]
    return ShippingOption(rule_id, name, cents(cost))


def evaluate_discount(
    row: asyncpg.Record | None, code: str, subtotal: Decimal
) -> Discount | DiscountRefused:
    """Whether a discount_codes row (from DISCOUNT) applies to this subtotal, and how much."""
    if row is None:
        return DiscountRefused(normalize_code(code), "unknown")
    code = row["code"]
    if not row["active"]:
        return DiscountRefused(code, "inactive")
    if row["expired"]:
        return DiscountRefused(code, "expired")
    if row["max_uses"] is not None and row["uses"] >= row["max_uses"]:
        return DiscountRefused(code, "used_up")
    if subtotal < row["min_subtotal"]:
        return DiscountRefused(code, "min_subtotal", row["min_subtotal"])
    if row["percent_off"] is not None:
        amount = cents(subtotal * row["percent_off"] / 100)
    elif row["amount_off"] is not None:
        amount = min(cents(row["amount_off"]), subtotal)
    else:
        amount = ZERO
    return Discount(code, amount, row["free_shipping"])


async def check_discount(
    pool: asyncpg.Pool | asyncpg.Connection, code: str, subtotal: Decimal
) -> Discount | DiscountRefused:
    """Whether ``code`` (any case) applies to ``subtotal``; the refusal says why not."""
    return evaluate_discount(await pool.fetchrow(DISCOUNT, normalize_code(code)), code, subtotal)


async def quote(
    pool: asyncpg.Pool,
    lines: Sequence[CartLine],
    *,
    shipping_rule_id: int | None,
    discount_code: str | None,
) -> Quote:
    """The cart at today's prices and stock; a refused code simply gives no discount."""
    cart = merge_lines(lines)
    rows = await pool.fetch(PRODUCTS, [line.product_id for line in cart])
    priced, currency = price_lines(cart, rows)
    subtotal = subtotal_of(priced)
    shipping = ZERO
    if shipping_rule_id is not None:
        option = await shipping_option(pool, shipping_rule_id, subtotal, language="es")
        shipping = option.cost
    discount = None
    if discount_code:
        found = await check_discount(pool, discount_code, subtotal)
        discount = found if isinstance(found, Discount) else None
    return make_quote(cart, priced, currency, shipping, discount)
