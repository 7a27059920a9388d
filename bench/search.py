"""Product search over 100,000 products: our full-text search vs a naive ILIKE scan, same run.

    python -m bench.search [--products 100000] [--rounds 20]

Builds its own database (wbot_bench_search, dropped at the end), imports a generated catalogue
through `import_csv` (the demo generator at scale), then times ~50 realistic queries, typos
included, through `bot.commerce.search.search` and through `ILIKE '%q%'` on name/description
(what the MVP did), both on one warm connection. Also counts the queries each one answers.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg

from bench.common import Row, fresh_database, percentile, print_table
from bot.commerce.catalog import PRODUCT_COLUMNS, import_csv
from bot.commerce.search import search

DATABASE = "wbot_bench_search"
GENERATOR = Path(__file__).resolve().parent.parent / "scripts" / "make_demo_catalog.py"
QUERIES = (
    "zapatillas", "zapatilla", "zapatillas talla 42", "zapatillas running negras", "botas de cuero",
    "ojotas", "mocasines talla 41", "remera", "remeras negras", "camiseta deportiva",
    "camisa de lino blanca", "pantalon", "pantalón jean", "jogging gris", "buzo con capucha",
    "campera impermeable", "mochila urbana negra", "riñonera", "gorra", "billetera de cuero",
    "lentes de sol polarizados", "sarten 24 cm", "taza de ceramica", "sabanas 2 plazas",
    "lampara nordica", "vela aromatica lavanda", "auriculares bluetooth", "parlante portatil",
    "cargador usb-c", "funda iphone 13", "teclado mecanico", "protector solar",
    "crema hidratante", "shampoo de argan", "pelota de futbol", "mancuernas",
    "colchoneta de yoga", "carpa 4 personas", "peluche", "rompecabezas 1000 piezas", "cafe",
    "café de colombia", "yerba mate", "dulce de leche", "alfajores de chocolate",
    # typos, and words the catalogue does not have
    "zapatiyas", "remra negra", "auriculres", "pantalom", "mochla", "yerva", "televisor",
)  # fmt: skip
NAIVE = f"""
SELECT {PRODUCT_COLUMNS} FROM products p
WHERE p.name ILIKE '%' || $1 || '%' OR p.description ILIKE '%' || $1 || '%'
ORDER BY p.popularity_score DESC LIMIT 10
"""
WARMUP_ROUNDS = 6  # asyncpg prepares once per connection; PostgreSQL settles on a generic plan


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_catalog", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


async def _time(
    call: Callable[[str], Awaitable[int]], rounds: int, warmup: int
) -> tuple[list[float], int]:
    """Latencies (ms) of every call over `rounds` shuffled passes, and queries with results."""
    order = list(QUERIES)
    answered = sum([await call(q) > 0 for q in QUERIES])
    for _ in range(warmup - 1):
        for query in QUERIES:
            await call(query)
    latencies: list[float] = []
    shuffle = random.Random(7)
    for _ in range(rounds):
        shuffle.shuffle(order)
        for query in order:
            started = time.perf_counter()
            await call(query)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies, answered


def _summary(latencies: list[float], answered: int) -> dict[str, Any]:
    return {
        "p50_ms": round(percentile(latencies, 50), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "max_ms": round(max(latencies), 3),
        "calls": len(latencies),
        "answered": answered,
    }


async def _run(dsn: str, products: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            _generator().write_csv(out, products)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        assert pool is not None
        try:
            started = time.perf_counter()
            report = await import_csv(pool, path)
            import_s = time.perf_counter() - started

            async def ours(query: str) -> int:
                return (await search(pool, query)).total_estimate

            async def naive(query: str) -> int:
                return len(await pool.fetch(NAIVE, query))

            ours_ms, ours_answered = await _time(ours, rounds, WARMUP_ROUNDS)
            # A scan has no plan worth caching and is slow: fewer passes give it enough samples.
            naive_ms, naive_answered = await _time(naive, max(1, rounds // 10), 1)
        finally:
            await pool.close()
    return {
        "products": report.inserted,
        "queries": len(QUERIES),
        "import_s": round(import_s, 1),
        "ours": _summary(ours_ms, ours_answered),
        "naive": _summary(naive_ms, naive_answered),
    }


def run(products: int = 100_000, rounds: int = 20) -> dict[str, Any]:
    """Build, import, measure; a couple of minutes at the default size."""
    with fresh_database(DATABASE) as dsn:
        return asyncio.run(_run(dsn, products, rounds))


def rows(figures: dict[str, Any]) -> list[Row]:
    ours, naive = figures["ours"], figures["naive"]
    size = f"{figures['products']:,} products"
    return [
        Row(f"search p50, {size}", "ms", ours["p50_ms"], naive["p50_ms"], "ILIKE scan", "",
            higher_is_better=False),
        Row(f"search p95, {size}", "ms", ours["p95_ms"], naive["p95_ms"], "ILIKE scan", "< 5 ms",
            higher_is_better=False),
        Row("search queries answered", f"of {figures['queries']}", ours["answered"],
            naive["answered"], "ILIKE scan"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    figures = run(args.products, args.rounds)
    print(
        f"{figures['products']:,} products imported in {figures['import_s']} s; "
        f"{figures['queries']} queries"
    )
    print(f"{'':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'calls':>7}{'answered':>10}")
    for label, key in (("ours (search())", "ours"), ("ILIKE '%q%' scan", "naive")):
        f = figures[key]
        print(
            f"{label:<22}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}{f['max_ms']:>9.2f}"
            f"{f['calls']:>7}{f['answered']:>7}/{figures['queries']}"
        )
    print()
    print_table(rows(figures))


if __name__ == "__main__":
    main()
