"""Catalogue reads: one product, the category menu (cached in Redis), category pages, featured, offers.

The import lives in ``catalog_import`` and is re-exported here, so callers need one module.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from decimal import Decimal

import asyncpg
import orjson
from redis.exceptions import RedisError

from bot import keys
from bot.commerce.catalog_import import (
    ImportReport,
    import_csv,
    invalidate_category_cache,
    progress_bar,
    refresh_catalog,
    save_rows,
)
from bot.redis_client import RedisClient

__all__ = [
    "PRODUCT_COLUMNS",
    "CategoryInfo",
    "ImportReport",
    "ProductHit",
    "featured",
    "get_product",
    "import_csv",
    "invalidate_category_cache",
    "list_categories",
    "offers",
    "product_hit",
    "products_in_category",
    "progress_bar",
    "refresh_catalog",
    "save_rows",
    "suggestions",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProductHit:
    id: int
    retailer_id: str
    name: str
    description: str
    price: Decimal
    sale_price: Decimal | None
    currency: str
    stock: int
    availability: str
    image_url: str | None

    @property
    def unit_price(self) -> Decimal:
        """What the customer pays for one: the sale price when there is one."""
        return self.sale_price if self.sale_price is not None else self.price

    @property
    def in_stock(self) -> bool:
        return self.availability == "in stock" and self.stock > 0


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: int
    slug: str
    name: str
    product_count: int
    in_stock_count: int
    featured_count: int
    offers_count: int


PRODUCT_COLUMNS = (
    "p.id, p.retailer_id, p.name, p.description, p.price, p.sale_price, p.currency, p.stock, "
    "p.availability, p.image_url"
)
# Every product list shares one order, in stock first then best sellers (products_*_idx).
_POPULAR = "p.popularity_score DESC, p.id"

_BY_ID = f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = $1"
_BY_RETAILER_ID = f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.retailer_id = $1"
_IN_CATEGORY = f"""
SELECT {PRODUCT_COLUMNS} FROM products p
WHERE p.category_id = $1 AND p.availability <> 'discontinued'
ORDER BY p.in_stock DESC, {_POPULAR}
LIMIT $2 OFFSET $3
"""
_FEATURED = f"""
SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.featured AND p.in_stock
ORDER BY p.featured DESC, {_POPULAR} LIMIT $1
"""
_OFFERS = f"""
SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.sale_price IS NOT NULL AND p.in_stock
ORDER BY (p.sale_price / p.price), {_POPULAR} LIMIT $1
"""
# Featured first, then the best sellers: never empty while anything is in stock.
_SUGGESTIONS = f"""
SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.in_stock
ORDER BY p.featured DESC, {_POPULAR} LIMIT $1
"""
_CATEGORIES = """
SELECT category_id, slug, name_es, name_en, product_count, in_stock_count, featured_count,
       offers_count
FROM category_summary WHERE product_count > 0
ORDER BY position, slug
"""


def product_hit(record: asyncpg.Record) -> ProductHit:
    """Build a ProductHit from a row selected with PRODUCT_COLUMNS."""
    return ProductHit(
        id=record["id"],
        retailer_id=record["retailer_id"],
        name=record["name"],
        description=record["description"],
        price=record["price"],
        sale_price=record["sale_price"],
        currency=record["currency"],
        stock=record["stock"],
        availability=record["availability"],
        image_url=record["image_url"],
    )


async def get_product(pool: asyncpg.Pool, product: int | str) -> ProductHit | None:
    """By database id (int) or by Meta retailer id / SKU (str), as list replies carry it."""
    if isinstance(product, int):
        record = await pool.fetchrow(_BY_ID, product)
    else:
        record = await pool.fetchrow(_BY_RETAILER_ID, product)
    return None if record is None else product_hit(record)


async def products_in_category(
    pool: asyncpg.Pool, category_id: int, *, limit: int = 10, offset: int = 0
) -> list[ProductHit]:
    """Products of a category, the ones in stock first, then by popularity."""
    records = await pool.fetch(_IN_CATEGORY, category_id, limit, offset)
    return [product_hit(r) for r in records]


async def featured(pool: asyncpg.Pool, limit: int = 10) -> list[ProductHit]:
    return [product_hit(r) for r in await pool.fetch(_FEATURED, limit)]


async def offers(pool: asyncpg.Pool, limit: int = 10) -> list[ProductHit]:
    """Products on sale and in stock, the biggest discount first."""
    return [product_hit(r) for r in await pool.fetch(_OFFERS, limit)]


async def suggestions(pool: asyncpg.Pool, *, limit: int = 5) -> list[ProductHit]:
    """What to show when a search finds nothing: featured, then popular, all in stock."""
    return [product_hit(r) for r in await pool.fetch(_SUGGESTIONS, limit)]


async def _cached(redis: RedisClient, lang: str) -> list[CategoryInfo] | None:
    try:
        raw = await redis.get(keys.category_cache(lang))
    except (RedisError, OSError) as exc:
        log.warning("category cache unavailable (%s); reading PostgreSQL", exc)
        return None
    if raw is None:
        return None
    return [CategoryInfo(**item) for item in orjson.loads(raw)]


async def _store(redis: RedisClient, lang: str, categories: list[CategoryInfo]) -> None:
    payload = orjson.dumps([asdict(c) for c in categories])
    try:
        await redis.set(keys.category_cache(lang), payload, ex=keys.CATEGORY_CACHE_TTL_S)
    except (RedisError, OSError) as exc:
        log.warning("category cache not written (%s)", exc)


async def list_categories(
    pool: asyncpg.Pool, redis: RedisClient | None, lang: str
) -> list[CategoryInfo]:
    """Categories with products, in menu order, named in `lang` ('es' or 'en')."""
    if redis is not None:
        cached = await _cached(redis, lang)
        if cached is not None:
            return cached
    records = await pool.fetch(_CATEGORIES)
    categories = [
        CategoryInfo(
            id=r["category_id"],
            slug=r["slug"],
            name=(r["name_en"] or r["name_es"]) if lang == "en" else r["name_es"],
            product_count=r["product_count"],
            in_stock_count=r["in_stock_count"],
            featured_count=r["featured_count"],
            offers_count=r["offers_count"],
        )
        for r in records
    ]
    if redis is not None:
        await _store(redis, lang, categories)
    return categories
