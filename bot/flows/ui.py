"""Building blocks every flow uses: prices, cart lines, questions with options, the main menu.

Every question with options records their ids in the session (``CHOICES``), so a customer who
types "2" instead of tapping picks the second option, and the brain treats it as that tap.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from bot.flows import ids
from bot.flows.states import CHOICES, session_of
from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.pipeline.intent import tap_id
from bot.sessions import CartLine
from bot.whatsapp import messages
from bot.whatsapp.messages import Option, Section

__all__ = [
    "Priced",
    "ask",
    "ask_list",
    "cart_lines",
    "cart_total",
    "lines_text",
    "main_menu",
    "money",
    "say",
    "shop_buttons",
]

# Shown before the amount; a currency not listed shows its ISO code.
_SYMBOLS = {"USD": "US$", "ARS": "$", "MXN": "MX$", "CLP": "CLP$", "COP": "COL$", "EUR": "€"}
_CENT = Decimal("0.01")


def money(amount: Decimal, currency: str, language: str) -> str:
    """'US$ 1.234,50' in Spanish, 'US$1,234.50' in English."""
    symbol = _SYMBOLS.get(currency, currency + " ")
    number = f"{amount.quantize(_CENT, ROUND_HALF_UP):,.2f}"
    if language == "en":
        return f"{symbol}{number}"
    swapped = number.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{symbol} {swapped}" if symbol[-1] != " " else f"{symbol}{swapped}"


def cart_total(cart: Sequence[CartLine]) -> Decimal:
    return sum((line.total for line in cart), Decimal(0))


class Priced(Protocol):
    """A cart line, a quote line or an order item."""

    @property
    def name(self) -> str: ...

    @property
    def quantity(self) -> int: ...

    @property
    def total(self) -> Decimal: ...


def lines_text(ctx: Context, lines: Sequence[Priced], currency: str) -> str:
    """One row per line: quantity, name and the line's total."""
    return "\n".join(
        ctx.texts.cart_line.format(
            quantity=line.quantity, name=line.name, total=money(line.total, currency, ctx.language)
        )
        for line in lines
    )


def cart_lines(ctx: Context, cart: Sequence[CartLine]) -> str:
    """The cart's lines, then its total."""
    currency = cart[0].currency if cart else "USD"
    total = ctx.texts.cart_total.format(total=money(cart_total(cart), currency, ctx.language))
    return lines_text(ctx, cart, currency) + "\n" + total


def say(ctx: Context, text: str) -> None:
    ctx.reply(messages.text(ctx.customer, text))


def _remember(ctx: Context, options: Sequence[Option]) -> None:
    session_of(ctx).context[CHOICES] = [option.id for option in options]


def ask(ctx: Context, body: str, options: Sequence[Option], *, header: str | None = None) -> None:
    """Reply buttons (a list beyond three options or with descriptions)."""
    _remember(ctx, options)
    ctx.reply(
        messages.buttons(
            ctx.customer, body, options, header=header, list_button=ctx.texts.menu_button
        )
    )


def ask_list(
    ctx: Context, body: str, rows: Sequence[Option], *, button: str, header: str | None = None
) -> None:
    """One list message in one section (callers keep to ten rows, paging with a "more" row)."""
    _remember(ctx, rows)
    section = Section(title="", rows=rows)
    ctx.reply(messages.list_message(ctx.customer, body, button, [section], header=header))


def shop_buttons(ctx: Context) -> list[Option]:
    """What to do next after a product was added or a list shown: cart, checkout, browse."""
    t = ctx.texts
    return [
        Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        Option(tap_id(Intent.CHECKOUT), t.button_checkout),
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.button_keep_shopping),
    ]


def main_menu(ctx: Context, body: str) -> None:
    """Everything the bot can do, as one list; the other language is offered last."""
    t = ctx.texts
    other = "en" if ctx.language == "es" else "es"
    rows = [
        Option(tap_id(Intent.BROWSE_CATEGORIES), t.menu_browse),
        Option(ids.offers(), t.menu_offers),
        Option(tap_id(Intent.SEARCH_PRODUCT), t.menu_search),
        Option(tap_id(Intent.VIEW_CART), t.menu_cart),
        Option(tap_id(Intent.ORDER_STATUS), t.menu_orders),
        Option(tap_id(Intent.STORE_INFO), t.menu_store_info),
        Option(tap_id(Intent.HUMAN_AGENT), t.menu_agent),
        Option(ids.language(other), t.menu_other_language),
    ]
    ask_list(ctx, body, rows, button=t.menu_button)
