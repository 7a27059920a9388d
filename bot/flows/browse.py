"""Browsing: the category menu, a category's products, featured and offers, a product's detail.

Lists hold at most ten rows, so a long menu or category is paged: nine entries and a "more" row
whose id says where the next page starts. With a Meta catalogue (``settings.catalog_id``),
product lists and details are sent as multi- and single-product messages instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.commerce import catalog
from bot.commerce.catalog import ProductHit
from bot.flows import ids
from bot.flows.ids import Tap
from bot.flows.states import LAST_LIST, LAST_PRODUCT, session_of
from bot.flows.ui import ask, ask_list, money
from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp import messages
from bot.whatsapp.messages import Option

__all__ = [
    "PAGE",
    "categories",
    "category",
    "featured",
    "more",
    "offers",
    "price_text",
    "product",
    "product_row",
    "show_products",
]

PAGE = 9  # entries per list page; the tenth row is "more"
# Few enough left that the detail says so ("¡Últimas 3 unidades!").
_FEW = 5


def price_text(ctx: Context, hit: ProductHit) -> str:
    price = money(hit.unit_price, hit.currency, ctx.language)
    if hit.sale_price is None:
        return price
    before = money(hit.price, hit.currency, ctx.language)
    return ctx.texts.price_on_sale.format(price=price, before=before)


def product_row(ctx: Context, hit: ProductHit, row_id: str) -> Option:
    """A list row: the name as title, price (or sold out) and the full name below it."""
    price = price_text(ctx, hit) if hit.in_stock else ctx.texts.sold_out
    return Option(row_id, hit.name, f"{price} · {hit.name}")


def show_products(
    ctx: Context,
    body: str,
    hits: Sequence[ProductHit],
    *,
    more_id: str | None,
    extra: Sequence[Option] = (),
    row_id: Callable[[ProductHit], str] = lambda hit: ids.product(hit.id),
) -> None:
    """A page of products (rows open the detail by default), and "more" when there is more."""
    t = ctx.texts
    catalog_id = ctx.deps.settings.catalog_id
    more = [Option(more_id, t.more_results)] if more_id else []
    if catalog_id:
        retailer_ids = [hit.retailer_id for hit in hits]
        ctx.reply(
            messages.product_list(
                ctx.customer, catalog_id, t.products_header, body, [("", retailer_ids)]
            )
        )
        if more or extra:
            ask(ctx, t.catalog_more, [*more, *extra])
        return
    rows = [product_row(ctx, hit, row_id(hit)) for hit in hits]
    ask_list(ctx, body, [*rows, *more, *extra], button=t.see_products)


async def categories(ctx: Context, offset: int = 0) -> None:
    """The category menu, with featured and offers first."""
    t = ctx.texts
    found = await catalog.list_categories(ctx.deps.pool, ctx.deps.redis, ctx.language)
    entries = [
        Option(ids.featured(), t.featured_title, t.featured_description),
        Option(ids.offers(), t.offers_title, t.offers_description),
        *(
            Option(ids.category(c.id), c.name, t.category_count.format(count=c.in_stock_count))
            for c in found
        ),
    ]
    remaining = entries[offset:]
    if len(remaining) > PAGE + 1:  # ten rows fit; beyond, nine and "more"
        remaining = [
            *remaining[:PAGE],
            Option(ids.categories_page(offset + PAGE), t.more_categories),
        ]
    ask_list(ctx, t.categories_body, remaining, button=t.see_categories)


async def category(ctx: Context, category_id: int, offset: int = 0) -> None:
    t = ctx.texts
    pool = ctx.deps.pool
    hits = await catalog.products_in_category(pool, category_id, limit=PAGE + 1, offset=offset)
    if not hits:
        await categories(ctx)
        return
    found = await catalog.list_categories(pool, ctx.deps.redis, ctx.language)
    name = next((c.name for c in found if c.id == category_id), "")
    more = ids.category_page(category_id, offset + PAGE) if len(hits) > PAGE else None
    session_of(ctx).context[LAST_LIST] = ids.category_page(category_id, offset)
    show_products(ctx, t.category_body.format(name=name), hits[:PAGE], more_id=more)


async def featured(ctx: Context) -> None:
    hits = await catalog.featured(ctx.deps.pool, PAGE)
    session_of(ctx).context[LAST_LIST] = ids.featured()
    await _show_or_menu(ctx, ctx.texts.featured_body, hits)


async def offers(ctx: Context) -> None:
    hits = await catalog.offers(ctx.deps.pool, PAGE)
    session_of(ctx).context[LAST_LIST] = ids.offers()
    await _show_or_menu(ctx, ctx.texts.offers_body, hits)


async def _show_or_menu(ctx: Context, body: str, hits: Sequence[ProductHit]) -> None:
    if hits:
        show_products(ctx, body, hits, more_id=None)
    else:
        await categories(ctx)


def _stock_text(ctx: Context, hit: ProductHit) -> str:
    t = ctx.texts
    if not hit.in_stock:
        return t.stock_none
    return t.stock_few.format(count=hit.stock) if hit.stock <= _FEW else t.stock_some


async def product(ctx: Context, product_id: int) -> None:
    """Image (when there is one), then name, price, stock and what to do next."""
    t = ctx.texts
    hit = await catalog.get_product(ctx.deps.pool, product_id)
    if hit is None:
        await categories(ctx)
        return
    session_of(ctx).context[LAST_PRODUCT] = hit.id
    detail = t.product_detail.format(
        name=hit.name,
        price=price_text(ctx, hit),
        stock=_stock_text(ctx, hit),
        description=hit.description,
    )
    catalog_id = ctx.deps.settings.catalog_id
    if catalog_id:
        ctx.reply(messages.product(ctx.customer, catalog_id, hit.retailer_id, body=detail))
        detail = t.product_actions
    elif hit.image_url:
        ctx.reply(messages.image(ctx.customer, hit.image_url, caption=hit.name))
    back_option = Option(ids.back(), t.button_back)
    if hit.in_stock:
        options = [
            Option(ids.add(hit.id), t.button_add),
            back_option,
            Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        ]
    else:
        options = [back_option, Option(tap_id(Intent.SEARCH_PRODUCT), t.menu_search)]
    ask(ctx, detail, options)


async def more(ctx: Context, tap: Tap) -> None:
    """Rows "more:cats:…" and "more:cat:…": the next page of the menu or of a category."""
    if tap.arg == "cats":
        await categories(ctx, tap.number(1) or 0)
    else:
        await category(ctx, tap.number(1) or 0, tap.number(2) or 0)
