"""Reading outbound bodies back: what the customer sees, and which options they can tap.

Used by the conversation replay (``expect`` patterns, ``tap`` by id, title or number) and by
the terminal chat, so both see exactly what the builders in ``messages`` produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from bot.whatsapp.messages import Option

__all__ = ["body_kind", "body_options", "body_text"]

# Interactive subtypes under the names the rest of the bot uses.
_INTERACTIVE_KINDS = {"location_request_message": "location_request"}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def body_kind(body: Mapping[str, Any]) -> str:
    """What a body is: "text", "button", "list", "product", "product_list", "image",
    "location_request", "template", "reaction" or "read" (other types keep Meta's name)."""
    if "status" in body:
        return "read"
    kind = str(body.get("type", "text"))
    if kind != "interactive":
        return kind
    subtype = str(_dict(body.get("interactive")).get("type", ""))
    return _INTERACTIVE_KINDS.get(subtype, subtype)


def _rows(interactive: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for section in _list(_dict(interactive.get("action")).get("sections")):
        yield from map(_dict, _list(_dict(section).get("rows")))


def body_options(body: Mapping[str, Any]) -> list[Option]:
    """Reply buttons or list rows, in display order; empty for every other kind."""
    interactive = _dict(body.get("interactive"))
    kind = body_kind(body)
    if kind == "button":
        action = _dict(interactive.get("action"))
        replies = (_dict(_dict(b).get("reply")) for b in _list(action.get("buttons")))
        return [Option(str(r.get("id", "")), str(r.get("title", ""))) for r in replies]
    if kind == "list":
        return [
            Option(str(row.get("id", "")), str(row.get("title", "")), row.get("description"))
            for row in _rows(interactive)
        ]
    return []


def _interactive_lines(body: Mapping[str, Any]) -> Iterator[str]:
    interactive = _dict(body.get("interactive"))
    action = _dict(interactive.get("action"))
    for part in ("header", "body", "footer"):
        yield str(_dict(interactive.get(part)).get("text", ""))
    if "button" in action:
        yield f"[{action['button']}]"
    for option in body_options(body):
        suffix = f" — {option.description}" if option.description else ""
        yield option.title + suffix
    for section in map(_dict, _list(action.get("sections"))):
        if "product_items" in section:
            yield str(section.get("title", ""))
            yield from (str(_dict(i).get("product_retailer_id")) for i in section["product_items"])
    yield str(action.get("product_retailer_id", ""))


def _template_lines(body: Mapping[str, Any]) -> Iterator[str]:
    content = _dict(body.get("template"))
    yield str(content.get("name", ""))
    for component in map(_dict, _list(content.get("components"))):
        yield from (str(_dict(p).get("text", "")) for p in _list(component.get("parameters")))


def _media_lines(body: Mapping[str, Any]) -> Iterator[str]:
    media = _dict(body.get(body_kind(body)))
    yield str(media.get("caption", ""))
    yield str(media.get("link", media.get("id", "")))


_LINES: dict[str, Callable[[Mapping[str, Any]], Iterable[str]]] = {
    "text": lambda body: [str(_dict(body.get("text")).get("body", ""))],
    "interactive": _interactive_lines,
    "template": _template_lines,
    "image": _media_lines,
    "reaction": lambda body: [str(_dict(body.get("reaction")).get("emoji", ""))],
}


def body_text(body: Mapping[str, Any]) -> str:
    """The text a customer sees, one element per line (options one per line after the body)."""
    if "status" in body:  # a read receipt shows the customer nothing
        return ""
    lines = _LINES.get(str(body.get("type", "text")))
    return "\n".join(line for line in lines(body) if line) if lines else ""
