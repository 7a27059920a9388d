"""Idempotent catalogue import: CSV rows upserted in batches, then the derived data rebuilt."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from redis.exceptions import RedisError

from bot import keys
from bot.commerce.catalog_csv import BadRow, Row, parse_rows
from bot.intent.normalize import fold
from bot.redis_client import RedisClient

__all__ = [
    "LANGUAGES",
    "ImportReport",
    "import_csv",
    "invalidate_category_cache",
    "progress_bar",
    "refresh_catalog",
    "save_rows",
]

log = logging.getLogger(__name__)

LANGUAGES = ("es", "en")
BATCH_SIZE = 500
_SLUG_GAP = re.compile(r"[^a-z0-9]+")

_CATEGORIES = """
INSERT INTO categories (slug, name_es, name_en, position)
SELECT t.slug, t.name, t.name, coalesce((SELECT max(position) FROM categories), 0) + t.n
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(slug, name, n)
ON CONFLICT (slug) DO UPDATE SET name_es = EXCLUDED.name_es
    WHERE categories.name_es IS DISTINCT FROM EXCLUDED.name_es
"""
_CATEGORY_IDS = "SELECT id, slug FROM categories WHERE slug = ANY($1::text[])"

# One input relation for both statements below; the order matches `_columns`.
_INPUT = """unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[],
       $7::numeric[], $8::numeric[], $9::bpchar[], $10::integer[], $11::text[], $12::text[],
       $13::text[], $14::boolean[], $15::real[], $16::text[], $17::text[], $18::text[])
    AS i(retailer_id, name, description, category_id, brand, condition, price, sale_price,
         currency, stock, availability, image_url, link, featured, popularity_score,
         search_name, search_extra, search_body)"""

# An empty optional cell keeps the stored value, hence the COALESCEs on featured/popularity.
_UPDATE = f"""
UPDATE products AS p SET
    name = i.name, description = i.description, category_id = i.category_id, brand = i.brand,
    condition = i.condition, price = i.price, sale_price = i.sale_price, currency = i.currency,
    stock = i.stock, availability = i.availability, image_url = i.image_url, link = i.link,
    featured = coalesce(i.featured, p.featured),
    popularity_score = coalesce(i.popularity_score, p.popularity_score),
    search_name = i.search_name, search_extra = i.search_extra, search_body = i.search_body,
    updated_at = now()
FROM {_INPUT}
WHERE p.retailer_id = i.retailer_id
  AND (p.name, p.description, p.category_id, p.brand, p.condition, p.price, p.sale_price,
       p.currency, p.stock, p.availability, p.image_url, p.link, p.featured, p.popularity_score,
       p.search_name, p.search_extra, p.search_body)
      IS DISTINCT FROM
      (i.name, i.description, i.category_id, i.brand, i.condition, i.price, i.sale_price,
       i.currency, i.stock, i.availability, i.image_url, i.link,
       coalesce(i.featured, p.featured), coalesce(i.popularity_score, p.popularity_score),
       i.search_name, i.search_extra, i.search_body)
RETURNING p.id
"""

_INSERT = f"""
INSERT INTO products (retailer_id, name, description, category_id, brand, condition, price,
                      sale_price, currency, stock, availability, image_url, link, featured,
                      popularity_score, search_name, search_extra, search_body)
SELECT i.retailer_id, i.name, i.description, i.category_id, i.brand, i.condition, i.price,
       i.sale_price, i.currency, i.stock, i.availability, i.image_url, i.link,
       coalesce(i.featured, false), coalesce(i.popularity_score, 0),
       i.search_name, i.search_extra, i.search_body
FROM {_INPUT}
WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.retailer_id = i.retailer_id)
ON CONFLICT (retailer_id) DO NOTHING
RETURNING id
"""

# The vocabulary for typo correction, the stem counts search plans with, then a new revision so
# running bots reload the vocabulary.
_REBUILD_TERMS = """
DELETE FROM search_terms;
INSERT INTO search_terms (term, doc_count)
SELECT word, ndoc FROM ts_stat($$
    SELECT to_tsvector('simple', search_name || ' ' || search_extra || ' ' || search_body)
    FROM products WHERE availability <> 'discontinued'
$$);
DELETE FROM search_lexemes;
INSERT INTO search_lexemes (lexeme, docs)
SELECT word, ndoc FROM ts_stat($$
    SELECT search_strong FROM products WHERE availability <> 'discontinued'
$$);
UPDATE catalog_state SET revision = gen_random_uuid(), changed_at = now();
"""
# After a bulk change: empties the GIN pending lists (searched linearly until then), marks pages
# all-visible so search's walk stays index-only, and refreshes the planner's statistics.
_SETTLE = "VACUUM (ANALYZE) products"
_REFRESH_SUMMARY = "REFRESH MATERIALIZED VIEW CONCURRENTLY category_summary"


@dataclass(frozen=True, slots=True)
class ImportReport:
    inserted: int
    updated: int
    unchanged: int
    bad: list[BadRow]


# Folding is per character and costs about 2 µs a character; catalogue text reuses few words,
# so folding word by word through a cache is the same result many times faster.
_fold_word = functools.lru_cache(maxsize=1 << 16)(fold)


def _fold(text: str) -> str:
    return " ".join(folded for word in text.split() if (folded := _fold_word(word)))


def _slug(name: str) -> str:
    return _SLUG_GAP.sub("-", _fold(name)).strip("-")


def _record(row: Row, category_ids: dict[str, int]) -> tuple[object, ...]:
    """One row in `_INPUT` column order, with the folded copies search reads."""
    return (
        row.retailer_id,
        row.name,
        row.description,
        category_ids.get(_slug(row.category or "")),
        row.brand,
        row.condition,
        row.price,
        row.sale_price,
        row.currency,
        row.stock,
        row.availability,
        row.image_url,
        row.link,
        row.featured,
        row.popularity_score,
        _fold(row.name),
        _fold(" ".join([row.brand or "", *row.category_path])),
        _fold(row.description),
    )


def _columns(rows: Sequence[Row], category_ids: dict[str, int]) -> list[list[object]]:
    """The rows as one list per `_INPUT` column (asyncpg sends each as a typed array)."""
    records = [_record(row, category_ids) for row in rows]
    return [list(column) for column in zip(*records, strict=True)]


async def _category_ids(conn: asyncpg.Connection, rows: Sequence[Row]) -> dict[str, int]:
    names: dict[str, str] = {}  # slug -> first spelling seen, in file order
    for row in rows:
        slug = _slug(row.category or "")
        if slug:
            names.setdefault(slug, row.category or "")
    await conn.execute(_CATEGORIES, list(names), list(names.values()))
    records = await conn.fetch(_CATEGORY_IDS, list(names))
    return {r["slug"]: r["id"] for r in records}


async def save_rows(
    pool: asyncpg.Pool,
    rows: Sequence[Row],
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[int, int]:
    """Upsert validated rows; return (inserted, updated). Call refresh_catalog afterwards."""
    inserted = updated = 0
    async with pool.acquire() as conn:
        category_ids = await _category_ids(conn, rows)
        for start in range(0, len(rows), batch_size):
            columns = _columns(rows[start : start + batch_size], category_ids)
            # Each batch commits on its own: an interrupted import keeps its progress, and
            # running it again only does the rest.
            async with conn.transaction():
                updated += len(await conn.fetch(_UPDATE, *columns))
                inserted += len(await conn.fetch(_INSERT, *columns))
            if progress is not None:
                progress(min(start + batch_size, len(rows)), len(rows))
    return inserted, updated


async def invalidate_category_cache(redis: RedisClient) -> None:
    """Drop the cached category menus; a Redis failure only costs a stale menu until the TTL."""
    try:
        await redis.delete(*(keys.category_cache(lang) for lang in LANGUAGES))
    except (RedisError, OSError) as exc:
        log.warning("category cache not invalidated (%s); it expires on its own", exc)


async def refresh_catalog(pool: asyncpg.Pool, *, changed: bool, redis: RedisClient | None) -> None:
    """Rebuild what derives from the products: vocabulary, category counts, cached menus."""
    if changed:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(_REBUILD_TERMS)
            await conn.execute(_SETTLE)
    await pool.execute(_REFRESH_SUMMARY)
    if redis is not None:
        await invalidate_category_cache(redis)


def _read(path: Path) -> list[Row | BadRow]:
    with path.open(encoding="utf-8-sig", newline="") as lines:
        return list(parse_rows(lines))


async def import_csv(
    pool: asyncpg.Pool,
    path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    redis: RedisClient | None = None,
) -> ImportReport:
    """Import a Meta catalogue CSV; bad rows are reported and the good ones kept."""
    parsed = await asyncio.to_thread(_read, Path(path))
    rows = [r for r in parsed if isinstance(r, Row)]
    bad = [r for r in parsed if isinstance(r, BadRow)]
    if progress is not None:
        progress(0, len(rows))
    inserted, updated = await save_rows(pool, rows, progress=progress)
    await refresh_catalog(pool, changed=inserted + updated > 0, redis=redis)
    return ImportReport(inserted, updated, len(rows) - inserted - updated, bad)


def progress_bar(done: int, total: int, *, width: int = 30) -> None:
    """Draw `[#####-----] 120/336` on stderr, ending the line when the import is complete."""
    filled = width if total == 0 else width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
