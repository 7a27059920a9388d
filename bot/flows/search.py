"""Search: free text to a page of results with "more", and suggestions when nothing matches.

The query is kept in the session so "more results" and "back" can page it again. A search that
came from "agregá 2 …" lists rows that add that quantity when tapped.
"""

from __future__ import annotations

from bot.commerce import search as product_search
from bot.commerce.catalog import ProductHit
from bot.flows import browse, ids
from bot.flows.browse import PAGE, show_products
from bot.flows.ids import Tap
from bot.flows.states import ASK_SEARCH, LAST_LIST, QUERY, StateSpec, session_of, wait_in
from bot.flows.ui import say
from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp.messages import Option

__all__ = ["STATES", "ask_query", "from_intent", "more", "page", "run", "single_match"]

SUGGESTIONS = PAGE - 2  # leaves room for "browse" and "talk to a person" rows
# Intents whose text is a product query when the bot has just asked "what are you looking for?".
_QUERY_INTENTS = frozenset({Intent.UNKNOWN, Intent.SEARCH_PRODUCT, Intent.ADD_TO_CART})


async def ask_query(ctx: Context) -> None:
    wait_in(ctx, ASK_SEARCH)
    say(ctx, ctx.texts.search_ask)


async def from_intent(ctx: Context) -> None:
    """SEARCH_PRODUCT: the classifier's product words, or the whole text, or ask for them."""
    query = (ctx.intent.query if ctx.intent else None) or ""
    await (run(ctx, query) if query else ask_query(ctx))


async def run(ctx: Context, query: str, *, quantity: int | None = None) -> None:
    session_of(ctx).context[QUERY] = {"text": query, "quantity": quantity}
    await page(ctx, 0)


async def single_match(ctx: Context, query: str) -> ProductHit | None:
    """The product when exactly one matches ``query``."""
    found = await product_search.search(ctx.deps.pool, query, limit=2)
    return found.items[0] if len(found.items) == 1 else None


async def page(ctx: Context, offset: int) -> None:
    t = ctx.texts
    saved = session_of(ctx).context.get(QUERY)
    if not isinstance(saved, dict) or not saved.get("text"):
        await ask_query(ctx)
        return
    query = str(saved["text"])
    quantity = saved.get("quantity")
    found = await product_search.search(ctx.deps.pool, query, limit=PAGE, offset=offset)
    if not found.items:
        await nothing_found(ctx, query)
        return
    if quantity is None and offset == 0 and len(found.items) == 1:
        await browse.product(ctx, found.items[0].id)  # one match: straight to it
        return
    session_of(ctx).context[LAST_LIST] = ids.search_page(offset)
    if isinstance(quantity, int):
        body = t.search_pick.format(query=query, quantity=quantity)
    elif found.corrected_query:
        body = t.search_corrected.format(query=found.corrected_query)
    else:
        body = t.search_results.format(query=query)
    more = ids.search_page(offset + PAGE) if found.has_more else None
    if isinstance(quantity, int):
        # Rows add the quantity asked for, straight away.
        show_products(
            ctx, body, found.items, more_id=more, row_id=lambda hit: ids.add(hit.id, quantity)
        )
    else:
        show_products(ctx, body, found.items, more_id=more)


async def more(ctx: Context, tap: Tap) -> None:
    await page(ctx, tap.number(1) or 0)


async def nothing_found(ctx: Context, query: str) -> None:
    """Never a dead end: popular products, the catalogue and a person are one tap away."""
    t = ctx.texts
    hits = await product_search.suggestions(ctx.deps.pool, limit=SUGGESTIONS)
    extra = [
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
        Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent),
    ]
    show_products(ctx, t.search_nothing.format(query=query), hits, more_id=None, extra=extra)


async def _typed_query(ctx: Context, text: str) -> bool:
    if ctx.intent is not None and ctx.intent.intent not in _QUERY_INTENTS:
        return False
    await run(ctx, (ctx.intent.query if ctx.intent else None) or text)
    return True


STATES = {ASK_SEARCH: StateSpec(text=_typed_query)}
