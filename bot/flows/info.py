"""Small talk and store information: greeting, help, goodbye, yes/no out of context, the FAQ.

Store answers come from ``system_config.store_faq`` (``{"es": {"hours": …}, "en": {…}}``), in
the customer's language, falling back to Spanish. Anything not understood gets a short help
with the menu, after trying it as a product search: never a dead end.
"""

from __future__ import annotations

from bot.commerce import search as product_search
from bot.flows import search
from bot.flows.ui import ask, main_menu, say
from bot.intent.model import Intent
from bot.intent.normalize import fold
from bot.intent.vocabulary import tokenize, words
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.whatsapp.messages import Option

__all__ = [
    "FAQ_TOPICS",
    "affirm",
    "deny",
    "faq_entries",
    "faq_topics",
    "goodbye",
    "greet",
    "help_menu",
    "location",
    "store_info",
    "unknown",
    "unsupported",
]

# Entries a store_faq may hold, in the order a full answer lists them, with the (folded) words
# that ask for each. bank_transfer is shown when asked about transfers and after such an order.
FAQ_TOPICS: dict[str, frozenset[str]] = {
    "hours": words(
        "horario horarios hora horas abren abre cierran cierra abierto abiertos atienden "
        "hours open opening close closing"
    ),
    "location": words(
        "direccion local ubicacion ubicados donde quedan address location store where"
    ),
    "shipping": words(
        "envio envios envian enviar zona zonas delivery deliver entregas entrega shipping ship "
        "llega llegan demora"
    ),
    "payment": words("pago pagos pagar efectivo tarjeta tarjetas cuotas payment pay cash card"),
    "bank_transfer": words("transferencia transferir cbu alias cuenta transfer bank"),
    "returns": words(
        "cambio cambios devolucion devoluciones devolver garantia return returns refund "
        "exchange warranty"
    ),
}
# Unknown text this short may well be a product name ("parlante bluetooth").
_SEARCHABLE_WORDS = 5


def _name_suffix(ctx: Context) -> str:
    name = (ctx.message.name or "").split(" ")[0]
    return f" {name}" if name else ""


async def greet(ctx: Context) -> None:
    t = ctx.texts
    template = t.welcome if ctx.is_new_customer else t.welcome_back
    body = template.format(name=_name_suffix(ctx), shop=ctx.deps.settings.shop_name)
    options = [
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
        Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        Option(tap_id(Intent.HELP), t.menu_help),
    ]
    ask(ctx, body, options)


async def help_menu(ctx: Context) -> None:
    main_menu(ctx, ctx.texts.help)


async def goodbye(ctx: Context) -> None:
    say(ctx, ctx.texts.goodbye)


async def affirm(ctx: Context) -> None:
    main_menu(ctx, ctx.texts.affirm_idle)


async def deny(ctx: Context) -> None:
    main_menu(ctx, ctx.texts.deny_idle)


async def unsupported(ctx: Context) -> None:
    say(ctx, ctx.texts.unsupported_message)


async def location(ctx: Context) -> None:
    """A location shared when no address was asked for."""
    main_menu(ctx, ctx.texts.location_unasked)


async def unknown(ctx: Context) -> None:
    """A short text may be a product; otherwise a short help with the menu."""
    text = ctx.message.text or ""
    words = tokenize(fold(text))
    if 0 < len(words) <= _SEARCHABLE_WORDS and any(len(w) >= 3 and w.isalpha() for w in words):
        found = await product_search.search(ctx.deps.pool, text, limit=1)
        if found.items:
            await search.run(ctx, text)
            return
    main_menu(ctx, ctx.texts.not_understood)


def faq_entries(ctx: Context) -> dict[str, str]:
    """The store's FAQ in the customer's language (Spanish when that one is missing)."""
    faq = ctx.deps.config.get("store_faq") or {}
    entries = faq.get(ctx.language) or faq.get("es") or {}
    return {k: v for k, v in entries.items() if isinstance(v, str) and v.strip()}


def faq_topics(text: str) -> list[str]:
    """FAQ entries a question asks about, in FAQ order; empty when it names none."""
    words = set(tokenize(fold(text)))
    return [topic for topic, cues in FAQ_TOPICS.items() if words & cues]


async def store_info(ctx: Context) -> None:
    t = ctx.texts
    entries = faq_entries(ctx)
    options = [
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
        Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent),
    ]
    if not entries:
        ask(ctx, t.store_info_missing, options)
        return
    asked = [topic for topic in faq_topics(ctx.message.text or "") if topic in entries]
    topics = asked or [
        topic for topic in FAQ_TOPICS if topic in entries and topic != "bank_transfer"
    ]
    body = "\n\n".join(f"*{t.faq_label(topic)}*\n{entries[topic]}" for topic in topics)
    ask(ctx, body, options)
