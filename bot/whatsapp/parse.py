"""Webhook body → typed events. Every entry, change, message and status is read; nothing raises."""

from __future__ import annotations

from typing import Any

import orjson

from bot.whatsapp._content import content_of
from bot.whatsapp._fields import (
    JsonObject,
    dict_at,
    dicts_at,
    id_at,
    kind_of,
    nested_deeper,
    str_at,
    timestamp_at,
)
from bot.whatsapp._parts import (
    context_of,
    describe_errors,
    errors_of,
    referral_of,
)
from bot.whatsapp.events import (
    ErrorInfo,
    Event,
    Ignored,
    InboundMessage,
    Order,
    StatusUpdate,
)

__all__ = ["WABA_OBJECT", "parse_body", "summarize"]

WABA_OBJECT = "whatsapp_business_account"
_MESSAGES_FIELD = "messages"
# The stored envelope must serialise again: orjson writes at most 254 levels (it reads 1024).
_MAX_ENVELOPE_DEPTH = 200


def _short(value: object, limit: int = 60) -> str:
    """A string's repr cut to fit a log line; other values by type (they may nest deeply)."""
    if not isinstance(value, str):
        return f"<{kind_of(value)}>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _decode(body: object) -> tuple[object, str | None]:
    if not isinstance(body, bytes | bytearray | memoryview | str):
        return body, None
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        return None, f"body is not valid JSON: {exc}"


def parse_body(body: bytes | str | object) -> list[Event]:
    """All events in a webhook body (raw bytes/str or decoded JSON): at least one; never raises."""
    data, error = _decode(body)
    if error is not None:
        return [Ignored(reason=error)]
    if not isinstance(data, dict):
        return [Ignored(reason=f"body is a JSON {kind_of(data)}, not an object")]
    product = data.get("object", WABA_OBJECT)
    if product != WABA_OBJECT:
        return [Ignored(reason=f"object is {_short(product)}, not {WABA_OBJECT!r}")]
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        return [Ignored(reason=f"'entry' is {_describe(entries)}, expected a non-empty array")]
    events: list[Event] = []
    for index, entry in enumerate(entries):
        events.extend(_entry(entry, f"entry[{index}]"))
    return events


def _describe(value: object) -> str:
    if value is None:
        return "missing or null"
    return "an empty array" if value == [] else f"a JSON {kind_of(value)}"


def _entry(entry: object, where: str) -> list[Event]:
    if not isinstance(entry, dict):
        return [Ignored(reason=f"{where} is a JSON {kind_of(entry)}, not an object")]
    changes = entry.get("changes")
    if not isinstance(changes, list) or not changes:
        reason = f"{where}.changes is {_describe(changes)}, expected a non-empty array"
        return [Ignored(reason=reason)]
    events: list[Event] = []
    for index, change in enumerate(changes):
        events.extend(_change(change, f"{where}.changes[{index}]"))
    return events


def _change(change: object, where: str) -> list[Event]:
    if not isinstance(change, dict):
        return [Ignored(reason=f"{where} is a JSON {kind_of(change)}, not an object")]
    field = change.get("field")
    if field != _MESSAGES_FIELD:
        name = field if isinstance(field, str) else None
        return [Ignored(reason=f"{where}: field {_short(field)} is not handled", field=name)]
    value = change.get("value")
    if not isinstance(value, dict):
        reason = f"{where}.value is {_describe(value)}, expected an object"
        return [Ignored(reason=reason, field=_MESSAGES_FIELD)]
    return _value(value, f"{where}.value")


def _value(value: JsonObject, where: str) -> list[Event]:
    phone_number_id = str_at(dict_at(value, "metadata") or {}, "phone_number_id") or ""
    events: list[Event] = []
    for key in ("messages", "statuses"):
        items = value.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            reason = f"{where}.{key} is a JSON {kind_of(items)}, not an array"
            events.append(Ignored(reason=reason, field=_MESSAGES_FIELD))
            continue
        for index, item in enumerate(items):
            at = f"{where}.{key}[{index}]"
            if not isinstance(item, dict):
                reason = f"{at} is a JSON {kind_of(item)}, not an object"
                events.append(Ignored(reason=reason, field=_MESSAGES_FIELD))
            elif key == "messages":
                events.append(_message(item, value, phone_number_id, at))
            else:
                events.append(_status(item, phone_number_id, at))
    # System, app or account errors tied to no single message; reported even beside messages.
    errors = errors_of(value)
    if errors:
        reason = f"{where}.errors: {describe_errors(errors, details=True)}"
        events.append(Ignored(reason=reason, field=_MESSAGES_FIELD))
    if not events:
        reason = f"{where} has no messages, statuses or errors"
        events.append(Ignored(reason=reason, field=_MESSAGES_FIELD))
    return events


def _sender_contact(value: JsonObject, message: JsonObject) -> JsonObject | None:
    """The contacts[] entry for this message's sender (the only one when ids do not match)."""
    contacts = dicts_at(value, "contacts")
    ids = {id_at(message, "from"), id_at(message, "from_user_id")} - {None}
    for contact in contacts:
        if id_at(contact, "wa_id") in ids or id_at(contact, "user_id") in ids:
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _envelope(value: JsonObject, contact: JsonObject | None, message: JsonObject) -> JsonObject:
    envelope: JsonObject = {
        key: value[key] for key in ("messaging_product", "metadata") if key in value
    }
    if contact is not None:
        envelope["contacts"] = [contact]
    envelope["messages"] = [message]
    return envelope


def _message(message: JsonObject, value: JsonObject, phone_number_id: str, where: str) -> Event:
    wamid = id_at(message, "id")
    if not wamid:
        return Ignored(reason=f"{where}: message without an id", field=_MESSAGES_FIELD)
    contact = _sender_contact(value, message) or {}
    wa_id = id_at(message, "from") or id_at(contact, "wa_id")
    user_id = id_at(message, "from_user_id") or id_at(contact, "user_id")
    customer = wa_id or user_id
    if customer is None:
        reason = f"{where}: message {_short(wamid)} has no sender (no from, wa_id or user_id)"
        return Ignored(reason=reason, field=_MESSAGES_FIELD)
    envelope = _envelope(value, contact or None, message)
    if nested_deeper(envelope, _MAX_ENVELOPE_DEPTH):
        reason = f"{where}: message {_short(wamid)} nests over {_MAX_ENVELOPE_DEPTH} levels"
        return Ignored(reason=reason, field=_MESSAGES_FIELD)
    content = content_of(message)
    return InboundMessage(
        id=wamid,
        customer=customer,
        wa_id=wa_id,
        user_id=user_id,
        name=str_at(dict_at(contact, "profile") or {}, "name"),
        phone_number_id=phone_number_id,
        timestamp=timestamp_at(message, "timestamp"),
        type=str_at(message, "type") or "unknown",
        text=content.text,
        reply=content.reply,
        media=content.media,
        location=content.location,
        contacts=content.contacts,
        order=content.order,
        reaction=content.reaction,
        system=content.system,
        referral=referral_of(message),
        context=context_of(message),
        original_message_id=content.original_message_id,
        errors=errors_of(message),
        unsupported_reason=content.unsupported_reason,
        envelope=envelope,
    )


def _status(status: JsonObject, phone_number_id: str, where: str) -> Event:
    wamid, state = id_at(status, "id"), str_at(status, "status")
    if not wamid or not state:
        return Ignored(reason=f"{where}: status without id or status", field=_MESSAGES_FIELD)
    return StatusUpdate(
        id=wamid,
        status=state,
        recipient=str_at(status, "recipient_id") or str_at(status, "recipient_user_id") or "",
        timestamp=timestamp_at(status, "timestamp"),
        phone_number_id=phone_number_id,
        errors=errors_of(status),
        pricing_category=str_at(dict_at(status, "pricing") or {}, "category"),
        conversation_id=str_at(dict_at(status, "conversation") or {}, "id"),
        biz_opaque_callback_data=str_at(status, "biz_opaque_callback_data"),
    )


def summarize(event: Event) -> dict[str, Any]:
    """A flat JSON-serialisable view of an event, for the `bot parse` CLI."""
    match event:
        case InboundMessage():
            return _summarize_message(event)
        case StatusUpdate():
            head = _head("status", "status", event.id, event.recipient, event.timestamp, None)
            extra = {
                "status": event.status,
                "phone_number_id": event.phone_number_id,
                "pricing_category": event.pricing_category,
                "conversation_id": event.conversation_id,
                "biz_opaque_callback_data": event.biz_opaque_callback_data,
                "errors": _errors(event.errors),
            }
            return head | _present(extra)
        case Ignored():
            head = _head("ignored", event.field, None, None, None, None)
            return head | {"reason": event.reason}


def _head(
    kind: str,
    type_: str | None,
    id_: str | None,
    from_: str | None,
    ts: int | None,
    text: str | None,
) -> dict[str, Any]:
    return {"kind": kind, "type": type_, "id": id_, "from": from_, "timestamp": ts, "text": text}


def _present(extra: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in extra.items() if value not in (None, False, [])}


def _errors(errors: tuple[ErrorInfo, ...]) -> list[dict[str, Any]]:
    return [{"code": e.code, "title": e.title, "details": e.details} for e in errors]


def _order(order: Order | None) -> dict[str, Any]:
    if order is None:
        return {}
    items = [
        {
            "product_retailer_id": item.product_retailer_id,
            "quantity": item.quantity,
            "item_price": str(item.item_price),
            "currency": item.currency,
        }
        for item in order.items
    ]
    return {"catalog_id": order.catalog_id, "items": items}


def _summarize_message(m: InboundMessage) -> dict[str, Any]:
    reply, media, location, context = m.reply, m.media, m.location, m.context
    extra: dict[str, Any] = {
        "name": m.name,
        "user_id": m.user_id if m.user_id != m.customer else None,
        "phone_number_id": m.phone_number_id,
        "reply_kind": reply and reply.kind,
        "reply_id": reply and reply.id,
        "reply_description": reply and reply.description,
        "flow_response": reply and reply.response_json,
        "media_id": media and media.id,
        "mime_type": media and media.mime_type,
        "filename": media and media.filename,
        "media_url": media and media.url,
        "voice": media is not None and media.voice,
        "animated": media is not None and media.animated,
        "latitude": location and str(location.latitude),
        "longitude": location and str(location.longitude),
        "place": location and (location.name or location.address),
        "contacts": [{"name": c.formatted_name, "phones": list(c.phones)} for c in m.contacts],
        **_order(m.order),
        "reaction_to": m.reaction and m.reaction.message_id,
        "emoji": m.reaction and m.reaction.emoji,
        "system_type": m.system and m.system.type,
        "new_wa_id": m.system and m.system.new_wa_id,
        "context_id": context and context.id,
        "forwarded": context is not None and (context.forwarded or context.frequently_forwarded),
        "referred_product": context
        and context.referred_product
        and context.referred_product.product_retailer_id,
        "referral_source_id": m.referral and m.referral.source_id,
        "ctwa_clid": m.referral and m.referral.ctwa_clid,
        "original_message_id": m.original_message_id,
        "errors": _errors(m.errors),
        "unsupported_reason": m.unsupported_reason,
    }
    return _head("message", m.type, m.id, m.customer, m.timestamp, m.text) | _present(extra)
