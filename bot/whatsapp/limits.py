"""Meta's size limits for outbound messages, and the helpers that keep text within them.

The numbers come from the per-type objects of Meta's OpenAPI contract (v23.0), which are
authoritative; the few the contract does not state are marked with their source. Lengths are
counted in code points, as JSON Schema's ``maxLength`` counts them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = [
    "BUTTON_ID",
    "BUTTON_TITLE",
    "CAPTION",
    "ELLIPSIS",
    "FOOTER_TEXT",
    "HEADER_TEXT",
    "INTERACTIVE_BODY",
    "LIST_BUTTON",
    "LIST_ROWS",
    "LIST_SECTIONS",
    "PRODUCT_ITEMS",
    "PRODUCT_SECTIONS",
    "REPLY_BUTTONS",
    "ROW_DESCRIPTION",
    "ROW_ID",
    "ROW_TITLE",
    "SECTION_TITLE",
    "TEMPLATE_PARAM",
    "TEXT_BODY",
    "check_ids",
    "fit_titles",
    "numbered",
    "one_line",
    "paginate",
    "shorten",
    "split_head",
    "split_tail",
    "split_text",
]

TEXT_BODY = 4096  # TextMessage_1.body
INTERACTIVE_BODY = 1024  # BodyObject.text; it applies to lists too (the spec has no 4096 case)
HEADER_TEXT = 60  # HeaderObject.text
FOOTER_TEXT = 60  # FooterObject.text
REPLY_BUTTONS = 3  # ActionObject.buttons maxItems
BUTTON_ID = 256
BUTTON_TITLE = 20
LIST_BUTTON = 20  # ActionObject.button
LIST_SECTIONS = 10
LIST_ROWS = 10  # in total across sections: Meta's list-messages page (the spec says per section)
SECTION_TITLE = 24
ROW_ID = 200
ROW_TITLE = 24
ROW_DESCRIPTION = 72
PRODUCT_SECTIONS = 10
PRODUCT_ITEMS = 30  # in total: secondary sources (the spec says per section)
CAPTION = 1024  # Meta's image-messages page; MediaObject does not describe captions
TEMPLATE_PARAM = 32768  # TextParameter.text

ELLIPSIS = "…"

T = TypeVar("T")

# Coarsest first: paragraphs, lines, sentences, words. A piece keeps its trailing separator.
_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"(?<=[.!?…:;])\s+"),
    re.compile(r"\s+"),
)
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")


def _inseparable(text: str, at: int) -> bool:
    """Whether cutting before ``text[at]`` would split a grapheme (accent, emoji modifier, ZWJ)."""
    char = text[at]
    return (
        char in _JOINERS
        or text[at - 1] == "\u200d"
        or unicodedata.combining(char) != 0
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
    )


def _cut(text: str, limit: int) -> int:
    """The largest cut position ≤ limit that keeps graphemes whole (or limit if none does)."""
    at = limit
    while 0 < at < len(text) and _inseparable(text, at):
        at -= 1
    return at or limit


def one_line(text: str) -> str:
    """Collapse runs of whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """Fit ``text`` in ``limit`` characters, ending with an ellipsis when something was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: _cut(text, limit - len(ELLIPSIS))].rstrip(" ,;:.-–—")
    return head + ELLIPSIS


def fit_titles(titles: Sequence[str], limit: int, *, distinct: bool) -> list[str]:
    """Shorten single-line titles to ``limit``; titles that differed before still differ.

    With ``distinct`` every title ends up different (reply buttons must be unique). Clashes are
    resolved by a number suffix (" 2", " 3", ...), compared case-insensitively because a customer
    cannot tell "Rojo" from "rojo" apart either.
    """
    taken: dict[str, str] = {}  # fitted title (casefolded) -> original title (casefolded)
    fitted: list[str] = []
    for title in titles:
        original = one_line(title)
        if not original:
            raise ValueError("empty title")
        candidate = shorten(original, limit)
        number = 1
        while (owner := taken.get(candidate.casefold())) is not None and (
            distinct or owner != original.casefold()
        ):
            number += 1
            suffix = f" {number}"
            candidate = shorten(original, limit - len(suffix)) + suffix
        taken[candidate.casefold()] = original.casefold()
        fitted.append(candidate)
    return fitted


def numbered(label: str, limit: int, page: int, pages: int) -> str:
    """A single-line label within ``limit``, suffixed "2/3" when content spans several messages."""
    label = one_line(label)
    if not label:
        raise ValueError("empty label")
    suffix = f" {page}/{pages}" if pages > 1 else ""
    return shorten(label, limit - len(suffix)) + suffix


def check_ids(ids: Sequence[str], limit: int) -> None:
    """Ids route the customer's answer, so they are never shortened: a bad one is a bug."""
    for id_ in ids:
        if not id_ or id_ != id_.strip() or len(id_) > limit:
            raise ValueError(f"id {id_[:40]!r} must be 1..{limit} chars without outer spaces")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")


def paginate(
    sections: Sequence[tuple[str, Sequence[T]]], max_items: int, max_sections: int
) -> list[list[tuple[str, list[T]]]]:
    """Spread titled sections over pages of at most ``max_items`` items and ``max_sections``.

    Order is kept and every item appears exactly once; a section that overflows a page continues,
    under the same title, on the next one. Empty sections are dropped.
    """
    pages: list[list[tuple[str, list[T]]]] = [[]]
    room = max_items
    for title, items in sections:
        rest = list(items)
        while rest:
            if room == 0 or len(pages[-1]) == max_sections:
                pages.append([])
                room = max_items
            taken, rest = rest[:room], rest[room:]
            pages[-1].append((title, taken))
            room -= len(taken)
    return [page for page in pages if page]


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Breaks at paragraph, then line, then sentence, then word boundaries; only a single word longer
    than ``limit`` is cut mid-word. Every chunk is an exact, stripped slice of ``text``, in order.
    """
    return [text[start:end] for start, end in _spans(text, 0, len(text), limit, 0)]


def split_head(text: str, limit: int) -> tuple[str, str]:
    """The first chunk of ``split_text`` and the stripped rest."""
    chunks = split_text(text, limit)
    if not chunks:
        return "", ""
    rest = text.strip()[len(chunks[0]) :]
    return chunks[0], rest.strip()


def split_tail(text: str, limit: int) -> tuple[str, str]:
    """The stripped text before the last chunk of ``split_text``, and that last chunk."""
    chunks = split_text(text, limit)
    if not chunks:
        return "", ""
    stripped = text.strip()
    return stripped[: len(stripped) - len(chunks[-1])].strip(), chunks[-1]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pieces(
    text: str, start: int, end: int, boundary: re.Pattern[str]
) -> Iterator[tuple[int, int]]:
    """Spans of ``text[start:end]`` that each end just after a boundary match."""
    for match in boundary.finditer(text, start, end):
        if match.end() > start:
            yield start, match.end()
            start = match.end()
    if start < end:
        yield start, end


def _spans(text: str, start: int, end: int, limit: int, level: int) -> Iterator[tuple[int, int]]:
    start, end = _strip_span(text, start, end)
    if start == end:
        return
    if end - start <= limit:
        yield start, end
        return
    if level == len(_BOUNDARIES):
        while start < end:
            cut = min(end, start + _cut(text[start:end], limit))
            yield start, cut
            start = cut
        return
    current: tuple[int, int] | None = None  # the chunk being packed
    for piece_start, piece_end in _pieces(text, start, end, _BOUNDARIES[level]):
        if current is not None:
            joined = _strip_span(text, current[0], piece_end)
            if joined[1] - joined[0] <= limit:
                current = joined
                continue
            yield current
            current = None
        piece = _strip_span(text, piece_start, piece_end)
        if piece[1] - piece[0] <= limit:
            current = piece if piece[0] < piece[1] else None
        else:
            # Split the oversized piece finer; its last chunk may still share with what follows.
            *full, current = _spans(text, piece[0], piece[1], limit, level + 1)
            yield from full
    if current is not None:
        yield current
