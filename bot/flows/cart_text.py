"""What customers type about their cart: "agregá 2 mochilas", "sacá las zapatillas", "vaciar",
and the answers to the cart's questions (a quantity, "sí" to what is in stock, "sí" to emptying).
"""

from __future__ import annotations

from bot.commerce import catalog
from bot.flows import search
from bot.flows.cart import (
    add_product,
    ask_empty,
    ask_quantity,
    edit,
    empty,
    find_product,
    remove_line,
    set_line,
    view,
)
from bot.flows.states import (
    ASK_QUANTITY,
    CONFIRM_EMPTY,
    LAST_PRODUCT,
    OFFER_STOCK,
    StateSpec,
    pending,
    session_of,
)
from bot.flows.ui import ask, say, shop_buttons
from bot.intent.model import Intent
from bot.intent.normalize import fold
from bot.intent.quantity import extract_quantity
from bot.intent.vocabulary import tokenize
from bot.pipeline.core import Context

__all__ = ["STATES", "add_from_text", "remove_from_text"]

# Words that make "borrar …" mean the whole cart rather than one line.
_WHOLE_CART = frozenset(
    {"vaciar", "vacia", "vacie", "vaciame", "todo", "todos", "empty", "everything", "all", "clear"}
)


async def add_from_text(ctx: Context) -> None:
    """Text like "agregá 2 mochilas": one match is added, several listed (a tap adds one)."""
    result = ctx.intent
    quantity = result.quantity if result else None
    query = result.query if result else None
    if not query:
        last = session_of(ctx).context.get(LAST_PRODUCT)
        hit = await catalog.get_product(ctx.deps.pool, last) if isinstance(last, int) else None
        if hit is None:
            await search.ask_query(ctx)
        elif quantity is None:
            await ask_quantity(ctx, hit, "add")
        else:
            await add_product(ctx, hit, quantity)
        return
    single = await search.single_match(ctx, query)
    if single is not None:
        await add_product(ctx, single, quantity or 1)
    else:
        await search.run(ctx, query, quantity=quantity or 1)


async def remove_from_text(ctx: Context) -> None:
    """Text like "sacá las zapatillas": one match goes, several are listed; "vaciar" empties."""
    words = set(tokenize(fold(ctx.message.text or "")))
    query = ctx.intent.query if ctx.intent else None
    if not query:
        await (ask_empty(ctx) if words & _WHOLE_CART else edit(ctx))
        return
    wanted = [_stem(w) for w in fold(query).split()]
    cart = session_of(ctx).cart
    matches = [li for li in cart if all(w in _stem_words(li.name) for w in wanted)]
    if len(matches) == 1:
        await remove_line(ctx, matches[0].product_id)
    elif matches:
        await edit(ctx, matches)
    else:
        say(ctx, ctx.texts.not_in_cart.format(query=query))
        await view(ctx)


def _stem(word: str) -> str:
    # Plural to singular, enough to match "zapatillas" with "zapatilla" and "cafés" with "café".
    return word[:-2] if word.endswith("es") and len(word) > 4 else word.rstrip("s")


def _stem_words(name: str) -> set[str]:
    return {_stem(w) for w in fold(name).split()}


async def _typed_quantity(ctx: Context, text: str) -> bool:
    about = pending(ctx)
    quantity = extract_quantity(fold(text))
    if quantity is None:
        if ctx.intent is not None and ctx.intent.intent is not Intent.UNKNOWN:
            return False
        hit = await find_product(ctx, about.get("product"))
        if hit is not None:
            say(ctx, ctx.texts.quantity_not_understood)
            await ask_quantity(ctx, hit, str(about.get("mode", "add")))
        return True
    hit = await find_product(ctx, about.get("product"))
    if hit is not None:
        mode = about.get("mode", "add")
        await (add_product(ctx, hit, quantity) if mode == "add" else set_line(ctx, hit, quantity))
    return True


async def _one_unit(ctx: Context) -> None:
    await _typed_quantity(ctx, "1")


async def _take_available(ctx: Context) -> None:
    about = pending(ctx)
    hit = await find_product(ctx, about.get("product"))
    quantity = int(about.get("quantity", 0))
    if hit is None or quantity <= 0:
        return
    await (
        add_product(ctx, hit, quantity)
        if about.get("mode") == "add"
        else set_line(ctx, hit, quantity)
    )


async def _never_mind(ctx: Context) -> None:
    ask(ctx, ctx.texts.nothing_changed, shop_buttons(ctx))


STATES = {
    ASK_QUANTITY: StateSpec(text=_typed_quantity, affirm=_one_unit, deny=_never_mind),
    OFFER_STOCK: StateSpec(affirm=_take_available, deny=_never_mind),
    CONFIRM_EMPTY: StateSpec(affirm=empty, deny=view),
}
