"""Product search: PostgreSQL full-text search, accent-free, tolerant to plurals and typos.

Works on a bare PostgreSQL (no ``unaccent``, no ``pg_trgm``): text is folded in Python
(`fold`) both when stored and when searched, the built-in ``spanish`` configuration stems
plurals, and typos are corrected against the catalogue's words (``spelling.Vocabulary``).

Ranking: products with every word in the name first, then those that also need the brand or
category, then those that need the description; within each, in stock first, then by popularity.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from bot.commerce.catalog import PRODUCT_COLUMNS, ProductHit, product_hit, suggestions
from bot.commerce.spelling import Vocabulary
from bot.intent.normalize import fold

__all__ = ["ProductHit", "SearchPage", "search", "suggestions"]

MAX_QUERY_CHARS = 200
MAX_WORDS = 8
# A query whose rarest stem names more products than this walks the ranking (see _PAGE).
DENSE = 500
# Most best sellers the walk examines (index-only) before it gives up and ranks every strong
# match instead; fewer when the stem counts say the page should fill sooner (_WALK_ROWS).
WALK = 2000
# Description-only matches ranked at most; past this they come in index order, not rank order.
WEAK_CAP = 300
_WORD = re.compile(r"[^\W_]+")
# Relevance (tier 0: every word in the name, 1: in name, brand or category, 2: only with the
# description), then in stock, then best sellers.
_ORDER = "tier, in_stock DESC, popularity_score DESC, id"

# One statement; guards (one-time filters) make only the parts a query needs run. Parameters are read
# through `q`, never directly: the planner then cannot tell one call from another, so PostgreSQL
# keeps one generic plan instead of re-planning (about 1 ms here) on every call.
# - q.est: products whose name/brand/category hold the query's rarest stem (search_lexemes), an
#   upper bound on the strong matches.
# - walk, when est > DENSE: products in ranking order (products_rank_idx, index-only) until
#   `need` strong matches; a common word fills the page after a few dozen rows, not thousands
#   ranked. Within the page, name matches still come first; one beyond the walk could outrank a
#   category-only match inside it, which is accepted for words this common.
# - strong, when the walk did not run or fell short: every strong match via GIN, ranked.
# - weak, when the strong ones do not fill the page: description-only matches, after them.
_PAGE = """
WITH q AS MATERIALIZED (
    SELECT to_tsquery('spanish', $1) AS q, to_tsquery('spanish', $2) AS named,
           $3::bigint AS need, $4::bigint AS skip, $5::bigint AS take, {category_param}
           (SELECT coalesce(min(coalesce(l.docs, 0)), 0)
            FROM unnest(tsvector_to_array(to_tsvector('spanish', $1))) AS t(lexeme)
            LEFT JOIN search_lexemes l ON l.lexeme = t.lexeme) AS est
),
span AS MATERIALIZED (SELECT {walk_rows} AS rows),
walk AS MATERIALIZED (
    SELECT w.id, CASE WHEN w.search_strong @@ (SELECT named FROM q) THEN 0 ELSE 1 END AS tier,
           w.in_stock, w.popularity_score
    FROM (
        SELECT p.id, p.in_stock, p.popularity_score, p.search_strong
        FROM products p
        WHERE p.availability <> 'discontinued' {category} AND (SELECT est FROM q) > {dense}
        ORDER BY {rank_p}
        LIMIT (SELECT rows FROM span)
    ) AS w
    WHERE w.search_strong @@ (SELECT q FROM q)
    LIMIT (SELECT need FROM q)  -- no ORDER BY: rows come in index order; a sort reads them all
),
walked AS MATERIALIZED (SELECT (SELECT count(*) FROM walk) = (SELECT need FROM q) AS yes),
strong AS MATERIALIZED (
    SELECT p.id, CASE WHEN p.search_strong @@ (SELECT named FROM q) THEN 0 ELSE 1 END AS tier,
           p.in_stock, p.popularity_score
    FROM products p
    WHERE NOT (SELECT yes FROM walked) AND (SELECT est FROM q) > 0
      AND p.search_strong @@ (SELECT q FROM q)
      AND p.availability <> 'discontinued' {category}
),
weak AS MATERIALIZED (
    SELECT p.id, 2 AS tier, p.in_stock, p.popularity_score FROM products p
    WHERE NOT (SELECT yes FROM walked) AND (SELECT count(*) FROM strong) < (SELECT need FROM q)
      AND p.search_vector @@ (SELECT q FROM q)
      AND NOT p.search_strong @@ (SELECT q FROM q)
      AND p.availability <> 'discontinued' {category}
    LIMIT {weak_cap}
),
pick AS (
    SELECT * FROM (
        SELECT * FROM walk WHERE (SELECT yes FROM walked)
        UNION ALL SELECT * FROM strong
        UNION ALL SELECT * FROM weak
    ) AS found
    ORDER BY {order}
    OFFSET (SELECT skip FROM q) LIMIT (SELECT take FROM q)
)
SELECT (SELECT yes FROM walked) AS walked,
       (SELECT revision FROM catalog_state) AS revision,
       {estimate} AS estimate,
       (SELECT count(*) FROM strong) + (SELECT count(*) FROM weak) AS matches,
       page.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT {columns} FROM pick JOIN products p ON p.id = pick.id
    ORDER BY {order_pick}
) AS page ON true
"""


# Where a word as common as est should have filled the page thrice over; a multi-word query
# whose words rarely meet gives up there, and its few matches are cheap to rank instead.
_WALK_ROWS = """least({walk}, 3 * (SELECT need FROM q) * (SELECT greatest(reltuples, 1) FROM pg_class
                 WHERE oid = 'products'::regclass) / greatest((SELECT est FROM q), 1))::bigint"""
# est counts the whole catalogue; in a category, the category's size bounds it better.
_CATEGORY_ESTIMATE = """least((SELECT est FROM q), (SELECT max(product_count) FROM category_summary
                               WHERE category_id = (SELECT category FROM q)))"""


def _page_statement(*, in_category: bool, dense: int = DENSE, walk: int = WALK) -> str:
    """The page query, for the whole catalogue or one category ($6)."""
    return _PAGE.format(
        order=_ORDER,
        order_pick="pick." + _ORDER.replace(", ", ", pick."),
        rank_p="p.in_stock DESC, p.popularity_score DESC, p.id",
        dense=dense,
        weak_cap=WEAK_CAP,
        columns=PRODUCT_COLUMNS,
        walk_rows=walk if in_category else _WALK_ROWS.format(walk=walk),
        category_param="$6::integer AS category," if in_category else "",
        category="AND p.category_id = (SELECT category FROM q)" if in_category else "",
        estimate=_CATEGORY_ESTIMATE if in_category else "(SELECT est FROM q)",
    )


_PAGE_ALL = _page_statement(in_category=False)
_PAGE_IN_CATEGORY = _page_statement(in_category=True)
_TERMS = "SELECT term, doc_count FROM search_terms"


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: list[ProductHit]
    total_estimate: int  # exact for rare words; for common ones, from the stem counts
    # The words actually searched when the query's own found nothing (typos fixed, words dropped).
    corrected_query: str | None = None
    has_more: bool = False


# Vocabularies by catalogue revision: every process reloads once after an import, and two
# databases with the same revision (a template and its copies) share one.
_vocabularies: dict[UUID, Vocabulary] = {}


def _words(query: str) -> list[str]:
    return _WORD.findall(fold(query[:MAX_QUERY_CHARS]))[:MAX_WORDS]


async def _vocabulary(pool: asyncpg.Pool, revision: UUID) -> Vocabulary:
    vocabulary = _vocabularies.get(revision)
    if vocabulary is None:
        vocabulary = Vocabulary.build((r["term"], r["doc_count"]) for r in await pool.fetch(_TERMS))
        _vocabularies.clear()  # only the newest revision is ever asked for again
        _vocabularies[revision] = vocabulary
    return vocabulary


async def _search_words(
    pool: asyncpg.Pool, words: list[str], *, limit: int, offset: int, category_id: int | None
) -> tuple[SearchPage, UUID]:
    """One page for these words, and the catalogue revision it was read at."""
    need = offset + limit + 1  # one more than the page tells whether more exist
    named = " & ".join(f"{word}:A" for word in words)  # weight A: the product's name
    args: list[object] = [" & ".join(words), named, need, offset, limit + 1]
    statement = _PAGE_ALL
    if category_id is not None:
        statement, args = _PAGE_IN_CATEGORY, [*args, category_id]
    records: list[asyncpg.Record] = await pool.fetch(statement, *args)
    first = records[0]
    items = [product_hit(r) for r in records if r["id"] is not None]
    has_more = len(items) > limit
    # Walking stopped at the page, so only the stem counts tell how many there are (they may
    # lag behind the catalogue: never fewer than the rows seen).
    total: int = first["estimate"] if first["walked"] else first["matches"]
    total = max(total, offset + len(items))
    page = SearchPage(items=items[:limit], total_estimate=total, has_more=has_more)
    return page, first["revision"]


def _fallbacks(words: list[str], vocabulary: Vocabulary) -> list[list[str]]:
    """Queries to try when `words` found nothing, most faithful first."""
    fixed = [c for c in map(vocabulary.correct, words) if c is not None]  # typos fixed
    known = [w for w in words if w in vocabulary]  # only what the catalogue spells that way
    # Spanish puts the noun first ("remeras negras talla 42"): dropping from the end keeps it.
    shorter = [fixed[:n] for n in range(len(fixed) - 1, 0, -1)]
    tries: list[list[str]] = []
    for attempt in [fixed, known, *shorter]:
        if attempt and attempt != words and attempt not in tries:
            tries.append(attempt)
    return tries


async def search(
    pool: asyncpg.Pool,
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    category_id: int | None = None,
) -> SearchPage:
    """Products matching every word of `query`, best first; see the module docstring."""
    words = _words(query)
    if not words or limit <= 0:
        return SearchPage(items=[], total_estimate=0)
    run = functools.partial(
        _search_words, pool, limit=limit, offset=max(offset, 0), category_id=category_id
    )
    page, revision = await run(words)
    if page.total_estimate:
        return page
    for attempt in _fallbacks(words, await _vocabulary(pool, revision)):
        page, _ = await run(attempt)
        if page.total_estimate:
            return SearchPage(page.items, page.total_estimate, " ".join(attempt), page.has_more)
    return page
