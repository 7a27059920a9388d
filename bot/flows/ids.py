"""Every reply-button and list-row id the flows send: ``kind[:arg[:arg]]``, built and parsed here.

An id carries everything its tap needs (product, quantity, page), so a tap on an old message
still does what its title said, whatever the conversation's state is now. Ids of the form
``intent:<name>`` belong to the intent stage (``bot.pipeline.intent``) and are not parsed here.

| id                          | tap means                                            |
|-----------------------------|------------------------------------------------------|
| cat:<category>              | products of a category, first page                   |
| feat / offers               | featured products / products on sale                 |
| more:cats:<offset>          | next page of the category menu                       |
| more:cat:<category>:<offset>| next page of a category                              |
| more:search:<offset>        | next page of the last search                         |
| prod:<product>              | product detail                                       |
| add:<product>               | ask how many, then add                               |
| add:<product>:<n>           | add n units                                          |
| setq:<product>              | ask the new quantity of a cart line                  |
| setq:<product>:<n>          | set a cart line to n units                           |
| rm:<product>                | remove a cart line                                   |
| line:<product>              | options for one cart line                            |
| edit                        | choose a cart line to change, or empty the cart      |
| empty                       | ask before emptying the cart                         |
| back                        | the last product list again                          |
| ship:<rule>                 | delivery option (shipping_rules.id)                  |
| pay:<method>                | cash_on_delivery, bank_transfer or payment_link      |
| ok:<topic> / no:<topic>     | yes / no to a question: cart, checkout, empty, stock, code |
| addr:last                   | deliver to the address of the last order             |
| lang:<es|en>                | switch the conversation's language                   |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PAYMENT_METHODS",
    "TOPICS",
    "Tap",
    "add",
    "back",
    "categories_page",
    "category",
    "category_page",
    "edit",
    "empty",
    "featured",
    "language",
    "last_address",
    "line",
    "no",
    "offers",
    "ok",
    "parse",
    "pay",
    "product",
    "remove",
    "search_page",
    "set_quantity",
    "ship",
]

PAYMENT_METHODS = ("cash_on_delivery", "bank_transfer", "payment_link")
TOPICS = ("cart", "checkout", "empty", "stock", "code")

_N = r"\d{1,12}"
_Q = r"\d{1,3}"
# What may follow "<kind>:" (or nothing, for kinds without arguments).
_ARGS: dict[str, re.Pattern[str]] = {
    kind: re.compile(pattern)
    for kind, pattern in {
        "cat": _N,
        "feat": "",
        "offers": "",
        "more": rf"cats:{_N}|cat:{_N}:{_N}|search:{_N}",
        "prod": _N,
        "add": rf"{_N}(?::{_Q})?",
        "setq": rf"{_N}(?::{_Q})?",
        "rm": _N,
        "line": _N,
        "edit": "",
        "empty": "",
        "back": "",
        "ship": _N,
        "pay": "|".join(PAYMENT_METHODS),
        "ok": "|".join(TOPICS),
        "no": "|".join(TOPICS),
        "addr": "last",
        "lang": "es|en",
    }.items()
}


@dataclass(frozen=True, slots=True)
class Tap:
    """A parsed id: its kind and its arguments (already checked against the kind's format)."""

    kind: str
    args: tuple[str, ...] = ()

    def number(self, index: int) -> int | None:
        """The argument at ``index`` as a number, or None when there is none."""
        if index >= len(self.args) or not self.args[index].isdigit():
            return None
        return int(self.args[index])

    @property
    def arg(self) -> str:
        return self.args[0] if self.args else ""


def parse(reply_id: str) -> Tap | None:
    """The tap an id means, or None for ids we did not build (or that were tampered with)."""
    kind, _, rest = reply_id.partition(":")
    pattern = _ARGS.get(kind)
    if pattern is None or not pattern.fullmatch(rest):
        return None
    if kind in ("add", "setq") and ":" in rest and int(rest.rsplit(":", 1)[1]) == 0:
        return None  # zero units is not a quantity; "rm" removes a line
    return Tap(kind, tuple(rest.split(":")) if rest else ())


def category(category_id: int) -> str:
    return f"cat:{category_id}"


def featured() -> str:
    return "feat"


def offers() -> str:
    return "offers"


def categories_page(offset: int) -> str:
    return f"more:cats:{offset}"


def category_page(category_id: int, offset: int) -> str:
    return f"more:cat:{category_id}:{offset}"


def search_page(offset: int) -> str:
    return f"more:search:{offset}"


def product(product_id: int) -> str:
    return f"prod:{product_id}"


def add(product_id: int, quantity: int | None = None) -> str:
    return f"add:{product_id}" if quantity is None else f"add:{product_id}:{quantity}"


def set_quantity(product_id: int, quantity: int | None = None) -> str:
    return f"setq:{product_id}" if quantity is None else f"setq:{product_id}:{quantity}"


def remove(product_id: int) -> str:
    return f"rm:{product_id}"


def line(product_id: int) -> str:
    return f"line:{product_id}"


def edit() -> str:
    return "edit"


def empty() -> str:
    return "empty"


def back() -> str:
    return "back"


def ship(rule_id: int) -> str:
    return f"ship:{rule_id}"


def pay(method: str) -> str:
    if method not in PAYMENT_METHODS:
        raise ValueError(f"unknown payment method {method!r}")
    return f"pay:{method}"


def ok(topic: str) -> str:
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    return f"ok:{topic}"


def no(topic: str) -> str:
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    return f"no:{topic}"


def last_address() -> str:
    return "addr:last"


def language(code: str) -> str:
    return f"lang:{code}"
