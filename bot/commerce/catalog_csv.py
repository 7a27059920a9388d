"""Read a Meta Commerce catalogue CSV (or TSV) into validated rows, one verdict per record.

Columns follow Meta's data-feed names: id, title, description, availability, condition,
price ("12.99 USD"), sale_price, link, image_link, brand, product_type (or
google_product_category), quantity_to_sell_on_facebook (or inventory). Two optional columns
of our own: ``featured`` (true/false) and ``popularity_score`` (a number). An empty optional
cell means "not given", so a re-import keeps what the database has.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["AVAILABILITIES", "BadRow", "CatalogFormatError", "Row", "parse_price", "parse_rows"]

AVAILABILITIES = frozenset(
    {"in stock", "out of stock", "preorder", "available for order", "discontinued"}
)
_CONDITIONS = {"new": "new", "refurbished": "refurbished", "used": "used"}
_REQUIRED = ("id", "title", "price", "availability")
_STOCK_COLUMNS = ("quantity_to_sell_on_facebook", "inventory")
_CATEGORY_COLUMNS = ("product_type", "google_product_category")
_PRICE = re.compile(r"^\s*(\d[\d.,]*)\s+([A-Za-z]{3})\s*$")
_MAX_PRICE = Decimal("9999999999.99")  # numeric(12, 2)
_TRUE = frozenset({"true", "1", "yes", "y", "si", "sí", "x"})
_FALSE = frozenset({"false", "0", "no", "n"})


class CatalogFormatError(ValueError):
    """The file as a whole is unusable (no header, or a required column is missing)."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    retailer_id: str
    name: str
    description: str
    availability: str
    condition: str
    price: Decimal
    sale_price: Decimal | None
    currency: str
    stock: int
    category_path: tuple[str, ...]  # "Calzado > Zapatillas" -> ("Calzado", "Zapatillas")
    brand: str | None
    link: str | None
    image_url: str | None
    featured: bool | None
    popularity_score: float | None

    @property
    def category(self) -> str | None:
        return self.category_path[0] if self.category_path else None


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    retailer_id: str | None
    reason: str


class _Reject(Exception):
    """A cell failed validation; the message is the reason reported for the row."""


def _amount(text: str) -> Decimal:
    # Meta writes "1234.50"; shops also type "1,234.50" or "1234,50". The last separator
    # followed by one or two digits is the decimal point, any other separator groups thousands.
    digits = text
    last = max(text.rfind("."), text.rfind(","))
    if last >= 0 and 1 <= len(text) - last - 1 <= 2:
        digits = text[:last].replace(".", "").replace(",", "") + "." + text[last + 1 :]
    else:
        digits = text.replace(".", "").replace(",", "")
    try:
        return Decimal(digits)
    except InvalidOperation as exc:
        raise _Reject(f"bad amount {text!r}") from exc


def parse_price(text: str) -> tuple[Decimal, str]:
    """'12.99 USD' -> (Decimal('12.99'), 'USD'); raises ValueError on anything else."""
    match = _PRICE.match(text)
    if match is None:
        raise ValueError(f"price must look like '12.99 USD', got {text!r}")
    try:
        value = _amount(match.group(1))
    except _Reject as exc:
        raise ValueError(str(exc)) from None
    if value <= 0 or value > _MAX_PRICE:
        raise ValueError(f"price out of range: {text!r}")
    return value, match.group(2).upper()


def _price(cells: dict[str, str], column: str) -> tuple[Decimal, str]:
    try:
        return parse_price(cells[column])
    except ValueError as exc:
        raise _Reject(f"bad {column}: {exc}") from None


def _stock(cells: dict[str, str], availability: str) -> int:
    raw = next((cells[c] for c in _STOCK_COLUMNS if cells.get(c)), "")
    if not raw:
        if availability == "in stock":
            # Stock is checked when a customer adds to the cart; an unknown quantity would
            # make an "in stock" item impossible to buy.
            raise _Reject("in stock but quantity_to_sell_on_facebook is empty")
        return 0
    try:
        stock = int(raw)
    except ValueError:
        raise _Reject(f"bad quantity {raw!r}") from None
    if stock < 0:
        raise _Reject(f"negative stock {stock}")
    return stock


def _url(cells: dict[str, str], column: str) -> str | None:
    value = cells.get(column, "")
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise _Reject(f"bad {column}: not an http(s) URL")
    return value


def _flag(cells: dict[str, str], column: str) -> bool | None:
    value = cells.get(column, "").lower()
    if not value:
        return None
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise _Reject(f"bad {column} {value!r}")


def _score(cells: dict[str, str]) -> float | None:
    value = cells.get("popularity_score", "")
    if not value:
        return None
    try:
        score = float(value)
    except ValueError:
        raise _Reject(f"bad popularity_score {value!r}") from None
    if not math.isfinite(score):
        raise _Reject(f"bad popularity_score {value!r}")
    return score


def _category(cells: dict[str, str]) -> tuple[str, ...]:
    for column in _CATEGORY_COLUMNS:
        value = cells.get(column, "")
        # google_product_category is often a numeric taxonomy id, which names nothing.
        if value and not value.isdigit():
            return tuple(part.strip() for part in value.split(">") if part.strip())
    return ()


def _row(line: int, cells: dict[str, str]) -> Row:
    retailer_id, name = cells["id"], cells["title"]
    if not retailer_id:
        raise _Reject("missing id")
    if not name:
        raise _Reject("missing title")
    availability = " ".join(cells["availability"].lower().replace("_", " ").split())
    if availability not in AVAILABILITIES:
        raise _Reject(f"unknown availability {cells['availability']!r}")
    condition_text = cells.get("condition", "").lower() or "new"
    # Meta also has used_like_new, used_good, used_fair: for the shop they are all "used".
    condition = _CONDITIONS.get(condition_text.split("_")[0])
    if condition is None:
        raise _Reject(f"unknown condition {condition_text!r}")
    price, currency = _price(cells, "price")
    sale_price: Decimal | None = None
    if cells.get("sale_price"):
        sale_price, sale_currency = _price(cells, "sale_price")
        if sale_currency != currency:
            raise _Reject(f"sale_price currency {sale_currency} differs from price {currency}")
        if sale_price >= price:
            raise _Reject("sale_price must be lower than price")
    return Row(
        line=line,
        retailer_id=retailer_id,
        name=name,
        description=cells.get("description", ""),
        availability=availability,
        condition=condition,
        price=price,
        sale_price=sale_price,
        currency=currency,
        stock=_stock(cells, availability),
        category_path=_category(cells),
        brand=cells.get("brand") or None,
        link=_url(cells, "link"),
        image_url=_url(cells, "image_link"),
        featured=_flag(cells, "featured"),
        popularity_score=_score(cells),
    )


def _header(first: str) -> tuple[str, list[str]]:
    delimiter = "\t" if "\t" in first and "," not in first else ","
    names = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter), [])
    columns = [name.strip().lower() for name in names]
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        raise CatalogFormatError(f"missing column(s): {', '.join(missing)}")
    return delimiter, columns


def parse_rows(lines: Iterable[str]) -> Iterator[Row | BadRow]:
    """Validate each record; the line number is where the record starts in the file."""
    iterator = iter(lines)
    first = next(iterator, "")
    if not first.strip():
        raise CatalogFormatError("empty file: no header line")
    delimiter, columns = _header(first)
    reader = csv.reader(iterator, delimiter=delimiter)
    seen: dict[str, int] = {}
    end = 1  # physical line of the header
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CatalogFormatError(f"line {reader.line_num + 1}: {exc}") from exc
        start, end = end + 1, reader.line_num + 1  # +1: the header was read outside the reader
        if not any(cell.strip() for cell in record):
            continue
        cells = {c: (record[i].strip() if i < len(record) else "") for i, c in enumerate(columns)}
        retailer_id = cells.get("id") or None
        if retailer_id is not None and retailer_id in seen:
            yield BadRow(
                start, retailer_id, f"duplicate id, first seen on line {seen[retailer_id]}"
            )
            continue
        try:
            row = _row(start, cells)
        except _Reject as exc:
            yield BadRow(start, retailer_id, str(exc))
            continue
        seen[row.retailer_id] = start
        yield row
