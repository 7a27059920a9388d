"""Quantity entity: how many items a message asks for ("2", "dos", "media docena", "x3")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.intent.vocabulary import CUES, STOP, Concept, tokenize, words

__all__ = ["MAX_QUANTITY", "QuantitySpan", "extract_quantity", "find_quantity"]

MAX_QUANTITY = 999

_NUMBERS = {
    "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "once": 11, "doce": 12, "quince": 15, "veinte": 20, "treinta": 30,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
}  # fmt: skip
_ARTICLES = {"un": 1, "una": 1, "a": 1, "an": 1}
_DOZEN = frozenset({"docena", "docenas", "dozen", "dozens"})
_PAIR = frozenset({"par", "pares", "pair", "pairs"})
_COUPLE = frozenset({"couple"})
_HALF = frozenset({"media", "half"})
_X = re.compile(r"^(?:x(\d{1,3})|(\d{1,3})x)$")
# Items sold in pairs: "un par de medias" is one pair, "un par de remeras" is two shirts.
_PAIRED = words(
    "medias calcetines calcetas soquetes zapatillas zapatos botas botines sandalias chanclas "
    "ojotas tenis championes guantes aros aretes socks shoes sneakers boots sandals gloves "
    "earrings trainers"
)
# A number right after these is a size, a model, a price or an order number, not a count.
_NOT_COUNT_BEFORE = words(
    "talla talle size numero nro num n no modelo model us eu uk pedido orden order cuesta "
    "cuestan sale salen vale valen precio price cost costs costo pago pague paid menos mas "
    "hasta desde under over iphone galaxy serie version"
)
# ...and a number right before these is a measure, a price or a time.
_UNITS_AFTER = words(
    "cm mm m mts metros kg kilos g gr gramos ml l lt litros gb tb mb pulgadas inch inches "
    "pesos peso dolares dolar usd us soles sol lucas mil k euros eur bs cop mxn ars clp pen "
    "anos ano meses dias hs horas am pm minutos min porciento percent"
)
# Without one of these or a digit a message names no quantity (checked first: most do not).
_TRIGGERS = frozenset({*_NUMBERS, *_ARTICLES, *_DOZEN, *_PAIR, *_COUPLE, *_HALF, "x"})
_SELECTOR = frozenset({"la", "el", "las", "los", "the"})
_DEMONSTRATIVE = frozenset({"that", "this", "the", "which", "other", "another"})
_FUNCTION_WORDS = STOP["es"] | STOP["en"]
# Product words: "zapatillas nike 42" names a size, not a count.
_DESCRIPTIVE = frozenset(
    word
    for concept, _, phrases in CUES
    if concept in (Concept.PRODUCT, Concept.ATTRIBUTE)
    for phrase in phrases
    for word in phrase.split()
)


@dataclass(frozen=True, slots=True)
class QuantitySpan:
    value: int
    start: int
    end: int  # exclusive token index


def _count_at(tokens: list[str], i: int) -> int | None:
    """The count named by tokens[i] alone (digit or number word), if it is one."""
    token = tokens[i]
    if token.isdigit():
        return int(token)
    return _NUMBERS.get(token) or _ARTICLES.get(token)


def _pairs(tokens: list[str], i: int, count: int) -> int:
    """'par' at i: pairs of shoes count as pairs, pairs of shirts as two shirts each.

    With no product named, "un par" is "a couple" (2) and "dos pares" is two pairs.
    """
    following = tokens[i + 1 : i + 3]
    noun = following[1] if following[:1] in (["de"], ["of"]) and len(following) > 1 else ""
    if noun in _PAIRED:
        return count
    if noun in _DESCRIPTIVE or tokens[i] in ("par", "pair"):
        return count * 2
    return count


def _grouped(tokens: list[str], i: int) -> QuantitySpan | None:
    """Dozens, halves and pairs starting at i, with an optional leading count."""
    token, nxt = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else ""
    count = _count_at(tokens, i)
    if token in _HALF and nxt in _DOZEN:
        return QuantitySpan(6, i, i + 2)
    if token == "half" and nxt == "a" and tokens[i + 2 : i + 3] == ["dozen"]:
        return QuantitySpan(6, i, i + 3)
    if count is not None and nxt in _DOZEN:
        return QuantitySpan(12 * count, i, i + 2)
    if count is not None and nxt in _PAIR:
        return QuantitySpan(_pairs(tokens, i + 1, count), i, i + 2)
    if count is not None and nxt in _COUPLE:
        return QuantitySpan(2, i, i + 2)
    if token in _DOZEN:
        return QuantitySpan(12, i, i + 1)
    if token in _PAIR:
        return QuantitySpan(_pairs(tokens, i, 1), i, i + 1)
    return None


def _is_count_position(tokens: list[str], i: int) -> bool:
    """False where a number is a size, price, model or measure rather than a count."""
    prev = tokens[i - 1] if i else ""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if prev in _NOT_COUNT_BEFORE or prev in _DESCRIPTIVE or nxt in _UNITS_AFTER:
        return False
    # "la de 42", "la negra de 20": picks a size or a price.
    return not (prev == "de" and i >= 2 and tokens[i - 2] in _SELECTOR | _DESCRIPTIVE)


def find_quantity(tokens: list[str], *, articles: bool = True) -> QuantitySpan | None:
    """First explicit count in the tokens; a bare article ("una", "a") only as a fallback."""
    if not any(t in _TRIGGERS or t[0].isdigit() or t[-1].isdigit() for t in tokens):
        return None
    fallback: QuantitySpan | None = None
    for i, token in enumerate(tokens):
        grouped = _grouped(tokens, i)
        if grouped is not None:
            return grouped if grouped.value <= MAX_QUANTITY else None
        if (match := _X.match(token)) is not None:
            return QuantitySpan(int(match.group(1) or match.group(2)), i, i + 1)
        if token == "x" and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            return QuantitySpan(int(tokens[i + 1]), i, i + 2)
        if token in _ARTICLES:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            # English "a" is also the Spanish preposition ("agregalo a mi carrito").
            is_article = token not in ("a", "an") or bool(nxt and nxt not in _FUNCTION_WORDS)
            if articles and fallback is None and is_article:
                fallback = QuantitySpan(1, i, i + 1)
            continue
        count = _count_at(tokens, i)
        if count is None or not 1 <= count <= MAX_QUANTITY or not _is_count_position(tokens, i):
            continue
        if token == "one" and i and tokens[i - 1] in _DEMONSTRATIVE:
            continue  # "that one" points, it does not count
        return QuantitySpan(count, i, i + 1)
    return fallback


def extract_quantity(folded_text: str, *, articles: bool = True) -> int | None:
    """How many items folded text asks for; sizes ("talla 42"), prices and measures are not counts."""
    found = find_quantity(tokenize(folded_text), articles=articles)
    return found.value if found else None
