"""Session states, the context keys the flows keep, and how each state reads the next message.

The brain resets the state to ``IDLE`` before every answer; a flow that asks a question sets the
state it waits in, so a customer who changes the subject never stays stuck in an old question.
Taps never depend on the state: every id carries what it needs (see ``ids``).

| state              | waits for                              | "sí"             | "no"          |
|--------------------|----------------------------------------|------------------|---------------|
| idle               | anything                               | menu             | menu          |
| ask_search         | a product query                        | —                | —             |
| ask_quantity       | a number (to add, or for a cart line)  | one unit         | nothing added |
| offer_stock        | taking the quantity in stock           | take it          | nothing added |
| confirm_empty      | emptying the cart                      | empty it         | show the cart |
| stock_fix          | trimming the cart to the stock         | trim it          | edit the cart |
| checkout_cart      | confirming the cart                    | ask address (1)  | cancel        |
| checkout_address   | an address, typed or a location        | —                | cancel        |
| checkout_shipping  | a delivery option (tap or its number)  | —                | cancel        |
| checkout_discount  | a discount code                        | "type it"        | skip it       |
| checkout_payment   | a payment method (tap, number or word) | —                | cancel        |
| checkout_confirm   | confirming the summary                 | place order (1)  | cancel        |

(1) "confirmo" / "confirm" (a checkout cue) is a yes there too. In every state a typed number
picks one of the options just offered, as if tapped (``CHOICES``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.intent.model import Intent
from bot.pipeline.core import Context
from bot.sessions import Session

__all__ = [
    "ASK_QUANTITY",
    "ASK_SEARCH",
    "CHECKOUT",
    "CHECKOUT_ADDRESS",
    "CHECKOUT_CART",
    "CHECKOUT_CONFIRM",
    "CHECKOUT_DISCOUNT",
    "CHECKOUT_PAYMENT",
    "CHECKOUT_SHIPPING",
    "CHOICES",
    "CONFIRM_EMPTY",
    "HANDOFF_UNTIL",
    "IDLE",
    "LAST_ADDRESS",
    "LAST_LIST",
    "LAST_PRODUCT",
    "OFFER_STOCK",
    "PENDING",
    "QUERY",
    "STOCK_FIX",
    "Answer",
    "StateSpec",
    "TextAnswer",
    "pending",
    "session_of",
    "wait_in",
]

IDLE = "idle"
ASK_SEARCH = "ask_search"
ASK_QUANTITY = "ask_quantity"
OFFER_STOCK = "offer_stock"
CONFIRM_EMPTY = "confirm_empty"
STOCK_FIX = "stock_fix"
CHECKOUT_CART = "checkout_cart"
CHECKOUT_ADDRESS = "checkout_address"
CHECKOUT_SHIPPING = "checkout_shipping"
CHECKOUT_DISCOUNT = "checkout_discount"
CHECKOUT_PAYMENT = "checkout_payment"
CHECKOUT_CONFIRM = "checkout_confirm"

# Keys of Session.context.
CHOICES = "choices"  # ids of the options last offered: a typed "2" picks the second
PENDING = "pending"  # what the current question is about, e.g. {"product": 12, "mode": "add"}
LAST_LIST = "list"  # id that shows the last product list again (the "back" button)
LAST_PRODUCT = "product"  # the product last shown in detail ("agregalo", "quiero 2")
QUERY = "query"  # the last search: {"text": "mochila", "quantity": 2 | None}
CHECKOUT = "checkout"  # the checkout answers so far (address, shipping, code, payment, ready)
LAST_ADDRESS = "address"  # the address of the last order, offered again next time
HANDOFF_UNTIL = "handoff_until"  # epoch seconds until which a person answers, not the bot

Answer = Callable[[Context], Awaitable[None]]
# Answers a text in a state; False when the text means something else (the intents take it).
TextAnswer = Callable[[Context, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """How a state reads the next message: free text, "sí", "no", a shared location."""

    text: TextAnswer | None = None
    affirm: Answer | None = None
    deny: Answer | None = None
    location: Answer | None = None
    # Intents that say "yes" here: "confirmo" (a checkout cue) confirms a checkout question.
    yes: frozenset[Intent] = frozenset({Intent.AFFIRM})


def session_of(ctx: Context) -> Session:
    """The loaded session; the pipeline loads it before the brain runs."""
    if ctx.session is None:
        raise RuntimeError("the session is loaded before the brain runs")
    return ctx.session


def wait_in(ctx: Context, state: str, **about: Any) -> None:
    """Wait in ``state`` for the next message, remembering what the question is about."""
    session = session_of(ctx)
    session.state = state
    if about:
        session.context[PENDING] = about


def pending(ctx: Context) -> dict[str, Any]:
    value = session_of(ctx).context.get(PENDING)
    return value if isinstance(value, dict) else {}
