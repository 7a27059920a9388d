"""Builders for every body the bot POSTs to ``/{phone-number-id}/messages``.

Each builder returns complete request bodies, already within Meta's limits (see ``limits``):
long text is split into several messages, long titles are shortened with an ellipsis, and
option sets too big for one message are spread over several. Invalid *programming* input
(an empty body, a duplicate or oversized id) raises ``ValueError``; customer-facing text never
does. ``to`` is always the wa_id exactly as Meta sent it: reformatting it breaks delivery for
some countries. With ``reply_to``, only the first body quotes the customer's message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.whatsapp import limits as lim

__all__ = [
    "DEFAULT_LIST_BUTTON",
    "Body",
    "Option",
    "Section",
    "buttons",
    "image",
    "list_message",
    "location_request",
    "mark_read",
    "product",
    "product_list",
    "reaction",
    "template",
    "text",
]

Body = dict[str, Any]

# Label of the button that opens a list when ``buttons`` falls back to one.
DEFAULT_LIST_BUTTON = "Ver opciones"


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered to the customer: a reply button or a list row."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: Sequence[Option]


def _envelope(to: str, kind: str, content: Body) -> Body:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


def _quoting(bodies: list[Body], reply_to: str | None) -> list[Body]:
    if reply_to:
        bodies[0]["context"] = {"message_id": reply_to}
    return bodies


def _require(value: str, what: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def text(
    to: str, body: str, *, preview_url: bool = False, reply_to: str | None = None
) -> list[Body]:
    """One text message, or several split at paragraph/sentence/word boundaries."""
    chunks = lim.split_text(_require(body, "text body"), lim.TEXT_BODY)
    bodies = [_envelope(to, "text", {"body": c, "preview_url": preview_url}) for c in chunks]
    return _quoting(bodies, reply_to)


def _interactive(
    to: str, kind: str, body: str, action: Body, header: str | None, footer: str | None
) -> Body:
    content: Body = {"type": kind}
    if header and header.strip():
        content["header"] = {
            "type": "text",
            "text": lim.shorten(lim.one_line(header), lim.HEADER_TEXT),
        }
    if body:
        content["body"] = {"text": body}
    if footer and footer.strip():
        content["footer"] = {"text": lim.shorten(footer, lim.FOOTER_TEXT)}
    content["action"] = action
    return _envelope(to, "interactive", content)


def _with_overflow(to: str, body: str, build: Callable[[str], list[Body]]) -> list[Body]:
    """``build(tail)`` preceded by text messages with whatever does not fit an interactive body.

    The tail (the last chunk, usually the question) stays with the buttons or list.
    """
    head, tail = lim.split_tail(body, lim.INTERACTIVE_BODY)
    return [*(text(to, head) if head else []), *build(tail)]


def _section_title(title: str, sections: int) -> dict[str, str]:
    """A section's title; it may only be left out when the message has a single section."""
    title = lim.one_line(title)
    if title:
        return {"title": lim.shorten(title, lim.SECTION_TITLE)}
    if sections > 1:
        raise ValueError("every section needs a title when a message has several")
    return {}


def _row(option: Option, title: str) -> Body:
    row: Body = {"id": option.id, "title": title}
    # A shortened title with no description of its own shows in full below it.
    description = option.description or (option.title if title != option.title else None)
    if description and description.strip():
        row["description"] = lim.shorten(lim.one_line(description), lim.ROW_DESCRIPTION)
    return row


def _lists(
    to: str,
    body: str,
    button: str,
    sections: Sequence[tuple[str, Sequence[Option]]],
    *,
    distinct: bool,
    header: str | None,
    footer: str | None,
) -> list[Body]:
    options = [option for _, rows in sections for option in rows]
    if not options:
        raise ValueError("a list needs at least one row")
    lim.check_ids([option.id for option in options], lim.ROW_ID)
    fitted = lim.fit_titles([o.title for o in options], lim.ROW_TITLE, distinct=distinct)
    titles = dict(zip([option.id for option in options], fitted, strict=True))
    pages = lim.paginate(sections, lim.LIST_ROWS, lim.LIST_SECTIONS)

    def action(number: int, page: list[tuple[str, list[Option]]]) -> Body:
        return {
            "button": lim.numbered(button, lim.LIST_BUTTON, number, len(pages)),
            "sections": [
                {**_section_title(title, len(page)), "rows": [_row(o, titles[o.id]) for o in rows]}
                for title, rows in page
            ],
        }

    return _with_overflow(
        to,
        _require(body, "list body"),
        lambda tail: [
            _interactive(to, "list", tail, action(number, page), header, footer)
            for number, page in enumerate(pages, start=1)
        ],
    )


def list_message(
    to: str,
    body: str,
    button: str,
    sections: Sequence[Section],
    *,
    header: str | None = None,
    footer: str | None = None,
    reply_to: str | None = None,
) -> list[Body]:
    """A list message; more than 10 rows become several lists, each button numbered "1/3"."""
    pairs = [(section.title, section.rows) for section in sections]
    # Equal titles in different sections ("S", "M" for each product) are deliberate: keep them.
    bodies = _lists(to, body, button, pairs, distinct=False, header=header, footer=footer)
    return _quoting(bodies, reply_to)


def buttons(
    to: str,
    body: str,
    options: Sequence[Option],
    *,
    header: str | None = None,
    footer: str | None = None,
    reply_to: str | None = None,
    list_button: str = DEFAULT_LIST_BUTTON,
) -> list[Body]:
    """Reply buttons for up to 3 options, otherwise list message(s) opened by ``list_button``.

    Options with a description also become a list: reply buttons have nowhere to show it.
    """
    if not options:
        raise ValueError("buttons need at least one option")
    if len(options) > lim.REPLY_BUTTONS or any(option.description for option in options):
        bodies = _lists(
            to, body, list_button, [("", options)], distinct=True, header=header, footer=footer
        )
        return _quoting(bodies, reply_to)
    lim.check_ids([option.id for option in options], lim.BUTTON_ID)
    titles = lim.fit_titles([o.title for o in options], lim.BUTTON_TITLE, distinct=True)
    replies = [{"id": o.id, "title": title} for o, title in zip(options, titles, strict=True)]
    action = {"buttons": [{"type": "reply", "reply": reply} for reply in replies]}
    bodies = _with_overflow(
        to,
        _require(body, "buttons body"),
        lambda tail: [_interactive(to, "button", tail, action, header, footer)],
    )
    return _quoting(bodies, reply_to)


def product(
    to: str,
    catalog_id: str,
    product_retailer_id: str,
    *,
    body: str | None = None,
    footer: str | None = None,
) -> list[Body]:
    """A single-product message (no header: Meta forbids one for this type)."""
    action = {
        "catalog_id": _require(catalog_id, "catalog_id"),
        "product_retailer_id": _require(product_retailer_id, "product_retailer_id"),
    }

    def build(tail: str) -> list[Body]:
        return [_interactive(to, "product", tail, action, None, footer)]

    return _with_overflow(to, body, build) if body and body.strip() else build("")


def product_list(
    to: str,
    catalog_id: str,
    header: str,
    body: str,
    sections: Sequence[tuple[str, Sequence[str]]],
    *,
    footer: str | None = None,
) -> list[Body]:
    """Multi-product message(s): at most 30 products and 10 sections each, split beyond."""
    _require(catalog_id, "catalog_id")
    _require(header, "product list header")
    for _, ids in sections:
        for id_ in ids:
            _require(id_, "product_retailer_id")
    pages = lim.paginate(sections, lim.PRODUCT_ITEMS, lim.PRODUCT_SECTIONS)
    if not pages:
        raise ValueError("a product list needs at least one product")

    def action(page: list[tuple[str, list[str]]]) -> Body:
        return {
            "catalog_id": catalog_id,
            "sections": [
                {
                    **_section_title(title, len(page)),
                    "product_items": [{"product_retailer_id": id_} for id_ in ids],
                }
                for title, ids in page
            ],
        }

    return _with_overflow(
        to,
        _require(body, "product list body"),
        lambda tail: [
            _interactive(to, "product_list", tail, action(page), header, footer) for page in pages
        ],
    )


def image(to: str, link: str, *, caption: str | None = None) -> list[Body]:
    """An image by URL; a caption too long for Meta continues in text messages after it."""
    media: Body = {"link": _require(link, "image link")}
    rest = ""
    if caption and caption.strip():
        media["caption"], rest = lim.split_head(caption, lim.CAPTION)
    return [_envelope(to, "image", media), *(text(to, rest) if rest else [])]


def location_request(to: str, body: str) -> list[Body]:
    """Ask the customer to share a location (WhatsApp provides the button's label)."""
    action = {"name": "send_location"}
    return _with_overflow(
        to,
        _require(body, "location request body"),
        lambda tail: [_interactive(to, "location_request_message", tail, action, None, None)],
    )


def template(
    to: str, name: str, language_code: str, *, body_params: Sequence[str] = ()
) -> list[Body]:
    """A pre-approved template, the only kind allowed outside the 24-hour window."""
    content: Body = {
        "name": _require(name, "template name"),
        # The spec requires the policy; "deterministic" is its only value.
        "language": {"policy": "deterministic", "code": _require(language_code, "language")},
    }
    if body_params:
        # Meta rejects parameters with newlines, tabs or runs of spaces (error 132018).
        params = [lim.one_line(_require(p, "template parameter")) for p in body_params]
        parameters = [{"type": "text", "text": lim.shorten(p, lim.TEMPLATE_PARAM)} for p in params]
        content["components"] = [{"type": "body", "parameters": parameters}]
    return [_envelope(to, "template", content)]


def reaction(to: str, message_id: str, emoji: str) -> list[Body]:
    """React to a message; an empty ``emoji`` removes an earlier reaction."""
    content = {"message_id": _require(message_id, "message_id"), "emoji": emoji}
    return [_envelope(to, "reaction", content)]


def mark_read(message_id: str, *, typing: bool = False) -> Body:
    """Mark an *incoming* message read, optionally showing "typing…" (up to 25 s)."""
    body: Body = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": _require(message_id, "message_id"),
    }
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body
