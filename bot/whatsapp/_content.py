"""What a message says, by type: a table from message type to a small builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from bot.whatsapp._fields import (
    JsonObject,
    bool_at,
    decimal_at,
    dict_at,
    dicts_at,
    int_at,
    str_at,
)
from bot.whatsapp._parts import describe_errors, errors_of
from bot.whatsapp.events import (
    Location,
    Media,
    Order,
    OrderItem,
    Reaction,
    Reply,
    SharedContact,
    SystemChange,
)

__all__ = ["Content", "content_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """The type-specific part of an InboundMessage."""

    text: str | None = None
    reply: Reply | None = None
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    order: Order | None = None
    reaction: Reaction | None = None
    system: SystemChange | None = None
    original_message_id: str | None = None
    unsupported_reason: str | None = None


Builder = Callable[[JsonObject], Content]


def _missing(type_: str) -> Content:
    return Content(unsupported_reason=f"unreadable: {type_} message without its {type_!r} object")


def _text(message: JsonObject) -> Content:
    text = dict_at(message, "text")
    body = str_at(text, "body") if text is not None else None
    return _missing("text") if body is None else Content(text=body)


def _media(type_: str) -> Builder:
    def build(message: JsonObject) -> Content:
        media = dict_at(message, type_)
        if media is None:
            return _missing(type_)
        caption = str_at(media, "caption")
        return Content(
            text=caption,
            media=Media(
                id=str_at(media, "id"),
                mime_type=str_at(media, "mime_type"),
                sha256=str_at(media, "sha256"),
                caption=caption,
                filename=str_at(media, "filename"),
                voice=bool_at(media, "voice"),
                animated=bool_at(media, "animated"),
                url=str_at(media, "url"),
            ),
        )

    return build


def _location(message: JsonObject) -> Content:
    location = dict_at(message, "location") or {}
    latitude, longitude = decimal_at(location, "latitude"), decimal_at(location, "longitude")
    if latitude is None or longitude is None:
        return Content(unsupported_reason="unreadable: location without valid coordinates")
    return Content(
        location=Location(
            latitude=latitude,
            longitude=longitude,
            name=str_at(location, "name"),
            address=str_at(location, "address"),
            url=str_at(location, "url"),
        )
    )


def _shared_contact(contact: JsonObject) -> SharedContact:
    name = dict_at(contact, "name") or {}
    phones = (str_at(phone, "phone") for phone in dicts_at(contact, "phones"))
    return SharedContact(
        formatted_name=str_at(name, "formatted_name"),
        phones=tuple(phone for phone in phones if phone is not None),
    )


def _contacts(message: JsonObject) -> Content:
    if not isinstance(message.get("contacts"), list):
        return _missing("contacts")
    return Content(contacts=tuple(_shared_contact(c) for c in dicts_at(message, "contacts")))


def _order_item(item: JsonObject) -> OrderItem | None:
    retailer_id, currency = str_at(item, "product_retailer_id"), str_at(item, "currency")
    quantity, price = int_at(item, "quantity"), decimal_at(item, "item_price")
    if retailer_id is None or currency is None or quantity is None or price is None:
        return None
    return OrderItem(
        product_retailer_id=retailer_id, quantity=quantity, item_price=price, currency=currency
    )


def _order(message: JsonObject) -> Content:
    order = dict_at(message, "order")
    raw_items = order.get("product_items") if order is not None else None
    if order is None or not isinstance(raw_items, list):
        return _missing("order")
    items = [_order_item(item) if isinstance(item, dict) else None for item in raw_items]
    # A cart silently missing a line is worse than no cart: refuse the whole order instead.
    bad = [str(index) for index, item in enumerate(items) if item is None]
    text = str_at(order, "text")
    if bad:
        return Content(text=text, unsupported_reason=f"unreadable: order items {', '.join(bad)}")
    parsed = Order(
        catalog_id=str_at(order, "catalog_id"),
        text=text,
        items=tuple(item for item in items if item is not None),
    )
    return Content(text=text, order=parsed)


def _reaction(message: JsonObject) -> Content:
    reaction = dict_at(message, "reaction") or {}
    message_id = str_at(reaction, "message_id")
    if message_id is None:
        return Content(unsupported_reason="unreadable: reaction without message_id")
    emoji = str_at(reaction, "emoji") or None
    return Content(reaction=Reaction(message_id=message_id, emoji=emoji))


def _system(message: JsonObject) -> Content:
    system = dict_at(message, "system")
    if system is None:
        return _missing("system")
    change = SystemChange(
        type=str_at(system, "type"),
        body=str_at(system, "body"),
        new_wa_id=str_at(system, "wa_id") or str_at(system, "new_wa_id"),
    )
    return Content(system=change)


def _button(message: JsonObject) -> Content:
    button = dict_at(message, "button")
    if button is None:
        return _missing("button")
    title = str_at(button, "text")
    reply = Reply(kind="button", id=str_at(button, "payload"), title=title)
    return Content(text=title, reply=reply)


def _choice(kind: str, reply: JsonObject) -> Content:
    title = str_at(reply, "title")
    choice = Reply(
        kind=kind, id=str_at(reply, "id"), title=title, description=str_at(reply, "description")
    )
    return Content(text=title, reply=choice)


def _flow(kind: str, reply: JsonObject) -> Content:
    raw = reply.get("response_json")
    try:
        response = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        response = None
    answers: dict[str, Any] | None = response if isinstance(response, dict) else None
    flow_token = answers.get("flow_token") if answers is not None else None
    body = str_at(reply, "body")
    flow = Reply(
        kind=kind,
        id=flow_token if isinstance(flow_token, str) else None,
        title=body,
        response_json=answers,
    )
    return Content(text=body, reply=flow)


def _call_permission(kind: str, reply: JsonObject) -> Content:
    return Content(reply=Reply(kind=kind, id=str_at(reply, "response"), title=None))


_INTERACTIVE: dict[str, Callable[[str, JsonObject], Content]] = {
    "button_reply": _choice,
    "list_reply": _choice,
    "nfm_reply": _flow,
    "call_permission_reply": _call_permission,
}


def _interactive(message: JsonObject) -> Content:
    interactive = dict_at(message, "interactive")
    if interactive is None:
        return _missing("interactive")
    kind = str_at(interactive, "type") or ""
    build, reply = _INTERACTIVE.get(kind), dict_at(interactive, kind)
    if build is None or reply is None:
        return Content(unsupported_reason=f"unsupported: interactive type {kind!r}")
    return build(kind, reply)


def _unsupported(message: JsonObject) -> Content:
    detail = describe_errors(errors_of(message))
    inner = str_at(dict_at(message, "unsupported") or {}, "type")
    if inner is not None:
        detail = f"type {inner!r} {detail}".strip()
    type_ = str_at(message, "type")
    if type_ is None:
        detail = f"message without a type {detail}".strip()
    elif type_ not in ("unsupported", "unknown"):
        detail = f"type {type_!r} {detail}".strip()
    return Content(unsupported_reason=f"unsupported: {detail or 'no details'}")


def _revoke(message: JsonObject) -> Content:
    original = str_at(dict_at(message, "revoke") or {}, "original_message_id")
    return _missing("revoke") if original is None else Content(original_message_id=original)


def _edit(message: JsonObject) -> Content:
    edit = dict_at(message, "edit")
    original = str_at(edit, "original_message_id") if edit is not None else None
    if edit is None or original is None:
        return _missing("edit")
    # The new version is a nested message without sender or id; it cannot itself be an edit.
    nested = dict_at(edit, "message") or {}
    build = _BUILDERS.get(str_at(nested, "type") or "", _unsupported)
    content = _unsupported(nested) if build is _edit else build(nested)
    return replace(content, original_message_id=original)


_BUILDERS: dict[str, Builder] = {
    "text": _text,
    "image": _media("image"),
    "video": _media("video"),
    "document": _media("document"),
    "audio": _media("audio"),
    "sticker": _media("sticker"),
    "location": _location,
    "contacts": _contacts,
    "order": _order,
    "reaction": _reaction,
    "system": _system,
    "button": _button,
    "interactive": _interactive,
    "revoke": _revoke,
    "edit": _edit,
    "unsupported": _unsupported,
    "unknown": _unsupported,
}


def content_of(message: JsonObject) -> Content:
    """The type-specific content; anything unknown or unreadable sets unsupported_reason."""
    return _BUILDERS.get(str_at(message, "type") or "", _unsupported)(message)
