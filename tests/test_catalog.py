"""Catalogue CSV parsing and import, category menu and its Redis cache, product lists."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from bot import keys
from bot.commerce import catalog
from bot.commerce.catalog_csv import BadRow, CatalogFormatError, Row, parse_price, parse_rows

DEMO = Path(__file__).resolve().parent.parent / "data" / "catalog_demo.csv"
HEADER = (
    "id,title,description,availability,condition,price,sale_price,link,image_link,brand,"
    "product_type,quantity_to_sell_on_facebook"
)


def demo_rows() -> list[dict[str, str]]:
    with DEMO.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


async def test_demo_catalogue_imports_every_row(pg_pool: asyncpg.Pool) -> None:
    expected = demo_rows()
    report = await catalog.import_csv(pg_pool, DEMO)
    assert (report.inserted, report.updated, report.unchanged, report.bad) == (
        len(expected),
        0,
        0,
        [],
    )
    assert len(expected) >= 320
    assert await pg_pool.fetchval("SELECT count(*) FROM products") == len(expected)
    assert await pg_pool.fetchval("SELECT count(*) FROM categories") >= 8
    first_levels = {row["product_type"].split(" > ")[0] for row in expected}
    names = {r["name_es"] for r in await pg_pool.fetch("SELECT name_es FROM categories")}
    assert names == first_levels
    assert await pg_pool.fetchval("SELECT count(*) FROM products WHERE NOT in_stock") > 10
    assert await pg_pool.fetchval("SELECT count(*) FROM products WHERE sale_price IS NOT NULL") > 10
    assert await pg_pool.fetchval("SELECT count(*) FROM products WHERE featured") > 5


async def test_prices_are_decimals_with_their_currency(pg_pool: asyncpg.Pool) -> None:
    await catalog.import_csv(pg_pool, DEMO)
    source = next(r for r in demo_rows() if r["sale_price"])
    product = await catalog.get_product(pg_pool, source["id"])
    assert product is not None
    assert isinstance(product.price, Decimal)
    assert f"{product.price} {product.currency}" == source["price"]
    assert f"{product.sale_price} {product.currency}" == source["sale_price"]
    assert product.unit_price == product.sale_price < product.price
    assert await catalog.get_product(pg_pool, product.id) == product
    assert await catalog.get_product(pg_pool, "NO-SUCH-SKU") is None


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("12.99 USD", "12.99", "USD"),
        (" 1,299.50 ars ", "1299.50", "ARS"),
        ("1.299,50 ARS", "1299.50", "ARS"),
        ("12,5 MXN", "12.5", "MXN"),
        ("1.299 CLP", "1299", "CLP"),
    ],
)
def test_price_formats(text: str, amount: str, currency: str) -> None:
    assert parse_price(text) == (Decimal(amount), currency)


@pytest.mark.parametrize("text", ["12.99", "USD 12.99", "-1 USD", "0 USD", "abc USD", "9 EURO"])
def test_bad_prices_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_price(text)


async def test_second_import_changes_nothing(pg_pool: asyncpg.Pool) -> None:
    await catalog.import_csv(pg_pool, DEMO)
    revision = await pg_pool.fetchval("SELECT revision FROM catalog_state")
    stamps = await pg_pool.fetchval("SELECT max(updated_at) FROM products")
    report = await catalog.import_csv(pg_pool, DEMO)
    assert (report.inserted, report.updated, report.unchanged, report.bad) == (
        0,
        0,
        len(demo_rows()),
        [],
    )
    assert await pg_pool.fetchval("SELECT revision FROM catalog_state") == revision
    assert await pg_pool.fetchval("SELECT max(updated_at) FROM products") == stamps


async def test_changed_and_new_rows_are_reported(pg_pool: asyncpg.Pool, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [
            "A1,Taza roja,Cerámica,in stock,new,5.00 USD,,,,,Hogar > Cocina,3",
            "A2,Taza azul,Cerámica,in stock,new,5.00 USD,,,,,Hogar > Cocina,3",
        ],
    )
    await catalog.import_csv(pg_pool, path)
    await pg_pool.execute("UPDATE products SET popularity_score = 9, featured = true")
    write_csv(
        path,
        [
            "A1,Taza roja,Cerámica,in stock,new,6.50 USD,,,,,Hogar > Cocina,3",
            "A2,Taza azul,Cerámica,in stock,new,5.00 USD,,,,,Hogar > Cocina,3",
            "A3,Taza verde,Cerámica,out of stock,new,5.00 USD,,,,,Hogar > Cocina,0",
        ],
    )
    report = await catalog.import_csv(pg_pool, path)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    changed = await catalog.get_product(pg_pool, "A1")
    assert changed is not None and changed.price == Decimal("6.50")
    # Columns the file does not have keep what the shop set in the database.
    kept = await pg_pool.fetch("SELECT popularity_score, featured FROM products WHERE id <= 2")
    assert all(r["popularity_score"] == 9 and r["featured"] for r in kept)


async def test_bad_rows_are_reported_by_line_and_good_rows_kept(
    pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [
            'G1,Mate de calabaza,"Curado a mano.\nCon bombilla.",in stock,new,9.99 USD,,,,,Almacén,4',
            "B1,Precio roto,,in stock,new,doce USD,,,,,Almacén,4",
            ",Sin id,,in stock,new,1.00 USD,,,,,Almacén,4",
            "B3,,,in stock,new,1.00 USD,,,,,Almacén,4",
            "B4,Disponibilidad rara,,maybe,new,1.00 USD,,,,,Almacén,4",
            "B5,Stock negativo,,in stock,new,1.00 USD,,,,,Almacén,-3",
            "B6,Oferta cara,,in stock,new,1.00 USD,2.00 USD,,,,Almacén,4",
            "G1,Repetido,,in stock,new,1.00 USD,,,,,Almacén,4",
            "B7,Sin cantidad,,in stock,new,1.00 USD,,,,,Almacén,",
            "B8,Imagen rara,,in stock,new,1.00 USD,,,ftp://x/y.jpg,,Almacén,4",
            "G2,Yerba suave,,out of stock,new,3.50 USD,,,,,Almacén,",
        ],
    )
    report = await catalog.import_csv(pg_pool, path)
    assert report.inserted == 2
    found = [(b.line, b.retailer_id, b.reason) for b in report.bad]
    expected = [
        (4, "B1", "bad price"),
        (5, None, "missing id"),
        (6, "B3", "missing title"),
        (7, "B4", "unknown availability"),
        (8, "B5", "negative stock"),
        (9, "B6", "sale_price must be lower"),
        (10, "G1", "duplicate id, first seen on line 2"),
        (11, "B7", "quantity_to_sell_on_facebook is empty"),
        (12, "B8", "bad image_link"),
    ]
    assert [(line, rid) for line, rid, _ in found] == [(line, rid) for line, rid, _ in expected]
    for (_, _, reason), (_, _, fragment) in zip(found, expected, strict=True):
        assert fragment in reason
    mate = await catalog.get_product(pg_pool, "G1")
    assert mate is not None and mate.description == "Curado a mano.\nCon bombilla."


def test_missing_required_column_fails_the_whole_file() -> None:
    with pytest.raises(CatalogFormatError, match="price"):
        list(parse_rows(["id,title,availability", "1,x,in stock"]))
    with pytest.raises(CatalogFormatError):
        list(parse_rows([]))


def test_category_comes_from_the_first_level_and_tsv_is_accepted() -> None:
    lines = [
        "id\ttitle\tavailability\tprice\tgoogle_product_category\tinventory",
        "1\tZapatillas\tin_stock\t10 USD\tCalzado > Zapatillas\t2",
        "2\tGorra\tIn Stock\t5 USD\t1234\t2",
    ]
    rows = list(parse_rows(lines))
    assert all(isinstance(r, Row) for r in rows)
    first, second = rows
    assert isinstance(first, Row) and isinstance(second, Row)
    assert (first.category, first.category_path) == ("Calzado", ("Calzado", "Zapatillas"))
    assert first.availability == "in stock" and first.stock == 2
    assert second.category is None  # a numeric taxonomy id names nothing
    assert not any(isinstance(r, BadRow) for r in rows)


async def test_category_summary_follows_the_catalogue(
    pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await catalog.import_csv(pg_pool, DEMO)
    summary = {
        r["slug"]: (r["product_count"], r["in_stock_count"], r["featured_count"], r["offers_count"])
        for r in await pg_pool.fetch("SELECT * FROM category_summary")
    }
    direct = {
        r["slug"]: (r["products"], r["in_stock"], r["featured"], r["offers"])
        for r in await pg_pool.fetch(
            """SELECT c.slug, count(*) AS products, count(*) FILTER (WHERE p.in_stock) AS in_stock,
                      count(*) FILTER (WHERE p.featured AND p.in_stock) AS featured,
                      count(*) FILTER (WHERE p.sale_price IS NOT NULL AND p.in_stock) AS offers
               FROM products p JOIN categories c ON c.id = p.category_id GROUP BY c.slug"""
        )
    }
    assert summary == direct
    assert "almacen" in summary and "electronica" in summary

    rows = demo_rows()
    sold_out = next(
        r for r in rows if r["availability"] == "in stock" and r["id"].startswith("JUG")
    )
    sold_out.update(availability="out of stock", quantity_to_sell_on_facebook="0")
    path = tmp_path / "changed.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert (await catalog.import_csv(pg_pool, path)).updated == 1
    toys = await pg_pool.fetchval(
        "SELECT in_stock_count FROM category_summary WHERE slug = 'juguetes'"
    )
    assert toys == summary["juguetes"][1] - 1


async def test_category_menu_is_cached_until_an_import(
    pg_pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> None:
    await catalog.import_csv(pg_pool, DEMO, redis=redis_client)
    menu = await catalog.list_categories(pg_pool, redis_client, "es")
    assert [c.name for c in menu][:2] == ["Accesorios", "Almacén"]  # file order: first seen first
    assert len(menu) >= 8 and all(c.product_count > 0 for c in menu)
    assert await redis_client.ttl(keys.category_cache("es")) > 0

    # Changed behind the cache's back: the cached menu is still served.
    await pg_pool.execute("UPDATE categories SET name_es = 'Comestibles', name_en = 'Grocery' "
                          "WHERE slug = 'almacen'")  # fmt: skip
    await pg_pool.execute("REFRESH MATERIALIZED VIEW category_summary")
    assert await catalog.list_categories(pg_pool, redis_client, "es") == menu

    # An import (even one that changes no product) drops the cached menus.
    await catalog.import_csv(pg_pool, DEMO, redis=redis_client)
    assert await redis_client.exists(keys.category_cache("es")) == 0
    fresh = await catalog.list_categories(pg_pool, redis_client, "es")
    assert "Almacén" in [c.name for c in fresh]  # Spanish names come from the file
    english = await catalog.list_categories(pg_pool, redis_client, "en")
    assert "Grocery" in [c.name for c in english]  # the shop's translation survives the import
    assert "Calzado" in [c.name for c in english]  # no translation yet: the Spanish name


async def test_category_menu_without_redis_reads_postgresql(pg_pool: asyncpg.Pool) -> None:
    await catalog.import_csv(pg_pool, DEMO)
    down = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        menu = await catalog.list_categories(pg_pool, down, "es")
    finally:
        await down.aclose()
    assert menu == await catalog.list_categories(pg_pool, None, "es")
    assert len(menu) >= 8


async def test_product_lists(pg_pool: asyncpg.Pool) -> None:
    await catalog.import_csv(pg_pool, DEMO)
    shoes = await pg_pool.fetchval("SELECT id FROM categories WHERE slug = 'calzado'")
    page = await catalog.products_in_category(pg_pool, shoes, limit=100)
    expected = await pg_pool.fetchval("SELECT count(*) FROM products WHERE category_id = $1", shoes)
    assert len(page) == expected
    stocked = [p.in_stock for p in page]
    assert stocked == sorted(stocked, reverse=True)  # in stock first
    second = await catalog.products_in_category(pg_pool, shoes, limit=5, offset=5)
    assert second == page[5:10]

    featured = await catalog.featured(pg_pool, 50)
    flagged = await pg_pool.fetchval("SELECT count(*) FROM products WHERE featured AND in_stock")
    assert len(featured) == flagged and all(p.in_stock for p in featured)

    offers = await catalog.offers(pg_pool, 5)
    assert len(offers) == 5
    ratios = [p.sale_price / p.price for p in offers if p.sale_price is not None]
    assert len(ratios) == 5 and ratios == sorted(ratios)


async def test_progress_is_reported(
    pg_pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[int, int]] = []
    await catalog.import_csv(
        pg_pool, DEMO, progress=lambda done, total: calls.append((done, total))
    )
    total = len(demo_rows())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    catalog.progress_bar(168, 336, width=10)
    catalog.progress_bar(336, 336, width=10)
    assert capsys.readouterr().err == "\r[#####-----] 168/336\r[##########] 336/336\n"
