"""A flash sale: many customers walk the real purchase conversation up to the order summary of
one product with 10 units left, then all confirm at once, each confirmation delivered twice at
the same instant and once more a moment later. Exactly 10 orders, stock 0, and everyone else is
told about the stock."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bot.botlink import Notification
from bot.commerce.catalog_import import import_csv
from bot.replay import Conversation, Step, replay
from bot.simulator import SimCustomer
from bot.whatsapp.view import body_options, body_text
from reliability.harness import Result, Stack, stack
from reliability.load import Load, message
from reliability.services import ROOT, patiently

__all__ = ["run"]

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Size:
    customers: int
    settle_s: float


FULL = Size(customers=200, settle_s=600)
SHORT = Size(customers=30, settle_s=120)
UNITS = 10
PRODUCT = "ALM-000029"  # Café de Colombia molido Grano de Oro 500 g
_REPLY_TIMEOUT_S = 120.0
# A buyer writes a dozen messages within a minute or two; the seeded "new" tier allows 5 a
# minute, so the sale's customers get a roomier one (the scenario is about stock, not limits).
_ROOMY_LIMITS = "UPDATE rate_limit_config SET max_per_minute = 60, burst_size = 60"
_STOCK = "UPDATE products SET stock = $2 WHERE retailer_id = $1"
_STOCK_LEFT = "SELECT stock FROM products WHERE retailer_id = $1"
_COUNT_REPLIES = "SELECT count(*) FROM outbound_messages WHERE customer = $1"
_ORDERS = """
SELECT count(DISTINCT o.id) AS orders, count(DISTINCT o.customer) AS buyers,
       coalesce(sum(i.quantity), 0) AS units
FROM orders o JOIN order_items i ON i.order_id = o.id"""

_ADD = ("say", "quiero 1 café de colombia", "Agregué 1")
_TYPED = (
    ("say", "quiero pagar", "Revisemos"),
    ("say", "sí", "dirección"),
    ("say", "Av. Siempre Viva 742, Córdoba", "recibirlo"),
    ("say", "1", "código"),
    ("say", "no", "pagar"),
    ("say", "efectivo", "Resumen"),
)
_LOCATION = {"type": "location", "location": {"latitude": -34.6037, "longitude": -58.3816}}
_TAPPED = (
    ("tap", "Pagar", "Revisemos"),
    ("tap", "Sí, continuar", "dirección"),
    ("send", _LOCATION, "recibirlo"),
    ("tap", "1", "código"),
    ("tap", "No tengo código", "pagar"),
    ("tap", "Transferencia", "Resumen"),
)


class ShopperLink:
    """``bot.replay``'s BotLink for one customer: posts like Meta, replies from the Graph sink."""

    def __init__(self, s: Stack, load: Load, customer: str) -> None:
        self._s = s
        self._load = load
        self._customer = customer
        self._seen = 0
        self._wamid = ""
        self.last: Body = {}  # the last body the customer was shown

    async def post(self, body: Mapping[str, Any]) -> int:
        msg = message(body)
        self._wamid = msg.wamid
        return 200 if await self._load.deliver(msg) else 503

    async def post_notification(self, notification: Notification) -> int:
        # The rush pays cash on delivery: its script has no `pay` step, which replay() checks
        # before the first step, so this is never reached.
        raise TypeError("the checkout rush replays no payment notifications")

    async def replies(self) -> list[Body]:
        """What the bot answered to the last post, once all of it reached the sink."""
        sink = self._s.sink
        await sink.wait_until(lambda: self._wamid in sink.answered_at, _REPLY_TIMEOUT_S)
        # Its replies were all committed before the first went out: the count of everything
        # sent so far.
        pool = self._s.pool
        total = await patiently(lambda: pool.fetchval(_COUNT_REPLIES, self._customer))
        sent = sink.sent_to[self._customer]
        await sink.wait_until(lambda: len(sent) >= total, _REPLY_TIMEOUT_S)
        new, self._seen = sent[self._seen : total], total
        if new:
            self.last = new[-1]
        return new

    def since_replies(self) -> str:
        """The text of everything sent to the customer after the last ``replies()``."""
        return "\n".join(body_text(b) for b in self._s.sink.sent_to[self._customer][self._seen :])


def _conversation(person: SimCustomer, tapping: bool) -> Conversation:
    steps: list[Step] = []
    for kind, value, expect in (_ADD, *(_TAPPED if tapping else _TYPED)):
        steps += [Step(0, kind, value), Step(0, "expect", expect)]
    return Conversation(Path(f"checkout {person.wa_id}"), person.wa_id, person.name, tuple(steps))


def _confirmation(person: SimCustomer, summary: Body, tapping: bool) -> Body:
    if not tapping:
        return person.says("sí, confirmo")
    [confirm] = [o for o in body_options(summary) if "confirm" in o.title.casefold()]
    return person.taps(reply_id=confirm.id, title=confirm.title, on_list=False, context_id=None)


async def _prepare(pool: asyncpg.Pool) -> None:
    await import_csv(pool, ROOT / "data" / "catalog_demo.csv")
    await pool.execute(_STOCK, PRODUCT, UNITS)
    await pool.execute(_ROOMY_LIMITS)


async def _shop(s: Stack, load: Load, n: int) -> tuple[SimCustomer, ShopperLink, bool]:
    person = SimCustomer(f"5497{n:09d}", f"Cliente {n}")
    link = ShopperLink(s, load, person.wa_id)
    tapping = n % 2 == 1
    await replay(_conversation(person, tapping), link)
    return person, link, tapping


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    async with stack("checkout", prepare=_prepare) as s:
        load = s.load(rate=1000)
        shoppers = await asyncio.gather(*(_shop(s, load, n) for n in range(size.customers)))
        confirmations = [message(_confirmation(p, link.last, t)) for p, link, t in shoppers]
        await asyncio.gather(*(load.deliver(m) for m in confirmations for _ in range(2)))
        await asyncio.gather(*(load.deliver(m) for m in confirmations))  # Meta retries later
        outcome, _ = await s.finish(load, size.settle_s)
        orders = await patiently(lambda: s.pool.fetchrow(_ORDERS))
        stock = await patiently(lambda: s.pool.fetchval(_STOCK_LEFT, PRODUCT))
        told = [link.since_replies() for _, link, _ in shoppers]
    confirmed = sum(1 for text in told if re.search(r"PED-\d+", text))
    about_stock = sum(1 for text in told if re.search(r"stock", text, re.IGNORECASE))
    misses = outcome.misses()
    if orders["orders"] != UNITS or orders["buyers"] != UNITS or orders["units"] != UNITS:
        misses.append(f"{orders['orders']} orders for {orders['units']} units")
    if stock != 0:
        misses.append(f"stock left {stock}")
    if confirmed != UNITS or about_stock != size.customers - UNITS:
        misses.append(f"{confirmed} told confirmed, {about_stock} told about stock")
    return Result(
        f"7 {size.customers} checkouts for {UNITS} units",
        outcome,
        time.monotonic() - started,
        figures={
            "orders": str(orders["orders"]),
            "stock left": str(stock),
            "told confirmed": str(confirmed),
            "told out of stock": str(about_stock),
        },
        misses=tuple(misses),
    )
