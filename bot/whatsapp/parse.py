"""Webhook body → typed events. Every entry, change, message and status is read; nothing raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import orjson

from bot.whatsapp._content import content_of
from bot.whatsapp._fields import (
    JsonObject,
    dict_at,
    dicts_at,
    id_at,
    kind_of,
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
    Event,
    Ignored,
    InboundMessage,
    Indexed,
    StatusUpdate,
    StoredMessage,
)

__all__ = ["WABA_OBJECT", "index_body", "parse_body"]

WABA_OBJECT = "whatsapp_business_account"
_MESSAGES_FIELD = "messages"
# What a message item becomes: a full InboundMessage, or only what the inbox stores.
M = TypeVar("M", InboundMessage, StoredMessage)
_Build = Callable[[JsonObject, JsonObject, str, str], "M | Ignored"]


def _short(value: object, limit: int = 60) -> str:
    """A string's repr cut to fit a log line; other values by type (they may nest deeply)."""
    if not isinstance(value, str):
        return f"<{kind_of(value)}>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


_RAW = (bytes, bytearray, memoryview, str)  # a tuple: `bytes | …` builds a union on each call


def _decode(body: object) -> tuple[object, str | None]:
    if not isinstance(body, _RAW):
        return body, None
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        return None, f"body is not valid JSON: {exc}"


def parse_body(body: bytes | str | object) -> list[Event]:
    """All events in a webhook body (raw bytes/str or decoded JSON): at least one; never raises."""
    return _walk(body, _message)


def index_body(body: bytes | str | object) -> list[Indexed]:
    """As `parse_body`, but messages only as far as the inbox needs them (the webhook's hot
    path: the worker parses the stored envelope fully)."""
    return _walk(body, _stored)


def _walk(body: object, build: _Build[M]) -> list[M | StatusUpdate | Ignored]:
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
    events: list[M | StatusUpdate | Ignored] = []
    for index, entry in enumerate(entries):
        events.extend(_entry(entry, f"entry[{index}]", build))
    return events


def _describe(value: object) -> str:
    if value is None:
        return "missing or null"
    return "an empty array" if value == [] else f"a JSON {kind_of(value)}"


def _entry(entry: object, where: str, build: _Build[M]) -> list[M | StatusUpdate | Ignored]:
    if not isinstance(entry, dict):
        return [Ignored(reason=f"{where} is a JSON {kind_of(entry)}, not an object")]
    changes = entry.get("changes")
    if not isinstance(changes, list) or not changes:
        reason = f"{where}.changes is {_describe(changes)}, expected a non-empty array"
        return [Ignored(reason=reason)]
    events: list[M | StatusUpdate | Ignored] = []
    for index, change in enumerate(changes):
        events.extend(_change(change, f"{where}.changes[{index}]", build))
    return events


def _change(change: object, where: str, build: _Build[M]) -> list[M | StatusUpdate | Ignored]:
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
    return _value(value, f"{where}.value", build)


def _value(value: JsonObject, where: str, build: _Build[M]) -> list[M | StatusUpdate | Ignored]:
    phone_number_id = str_at(dict_at(value, "metadata") or {}, "phone_number_id") or ""
    events: list[M | StatusUpdate | Ignored] = []
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
                events.append(build(item, value, phone_number_id, at))
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


# A message's id, its sender (wa_id, else business-scoped user id) and that sender's contacts[].
_Sender = tuple[str, str, JsonObject]


def _sender(message: JsonObject, value: JsonObject, where: str) -> _Sender | Ignored:
    """The message id, its sender and their contacts[] entry ({} if none), or why it is ignored."""
    wamid = id_at(message, "id")
    if not wamid:
        return Ignored(reason=f"{where}: message without an id", field=_MESSAGES_FIELD)
    contact = _sender_contact(value, message) or {}
    customer = _wa_id(message, contact) or _user_id(message, contact)
    if customer is None:
        reason = f"{where}: message {_short(wamid)} has no sender (no from, wa_id or user_id)"
        return Ignored(reason=reason, field=_MESSAGES_FIELD)
    return wamid, customer, contact


def _wa_id(message: JsonObject, contact: JsonObject) -> str | None:
    return id_at(message, "from") or id_at(contact, "wa_id")


def _user_id(message: JsonObject, contact: JsonObject) -> str | None:
    return id_at(message, "from_user_id") or id_at(contact, "user_id")


def _stored(
    message: JsonObject, value: JsonObject, phone_number_id: str, where: str
) -> StoredMessage | Ignored:
    """Who sent which message, and its envelope serialised as the inbox stores it."""
    found = _sender(message, value, where)
    if isinstance(found, Ignored):
        return found
    envelope = _envelope(value, found[2] or None, message)
    return _keep(message, phone_number_id, where, found, envelope)


def _keep(
    message: JsonObject, phone_number_id: str, where: str, sender: _Sender, envelope: JsonObject
) -> StoredMessage | Ignored:
    wamid, customer, _ = sender
    try:
        # orjson writes 254 levels (and reads 1024): what is stored can always be read back.
        serialised = orjson.dumps(envelope)
    except orjson.JSONEncodeError as exc:
        reason = f"{where}: message {_short(wamid)} cannot be stored ({exc})"
        return Ignored(reason=reason, field=_MESSAGES_FIELD)
    return StoredMessage(
        id=wamid,
        customer=customer,
        phone_number_id=phone_number_id,
        type=str_at(message, "type") or "unknown",
        timestamp=timestamp_at(message, "timestamp"),
        # jsonb cannot hold U+0000: stored as U+FFFD, as str_at reads every string field.
        envelope_json=serialised.replace(b"\\u0000", b"\\ufffd"),
    )


def _message(
    message: JsonObject, value: JsonObject, phone_number_id: str, where: str
) -> InboundMessage | Ignored:
    found = _sender(message, value, where)
    if isinstance(found, Ignored):
        return found
    contact = found[2]
    envelope = _envelope(value, contact or None, message)
    # A message the inbox could not store is ignored here too, for the same reason.
    stored = _keep(message, phone_number_id, where, found, envelope)
    if isinstance(stored, Ignored):
        return stored
    content = content_of(message)
    return InboundMessage(
        id=stored.id,
        customer=stored.customer,
        wa_id=_wa_id(message, contact),
        user_id=_user_id(message, contact),
        name=str_at(dict_at(contact, "profile") or {}, "name"),
        phone_number_id=phone_number_id,
        timestamp=stored.timestamp,
        type=stored.type,
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


def _status(status: JsonObject, phone_number_id: str, where: str) -> StatusUpdate | Ignored:
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
