"""Typed events parsed from a WhatsApp webhook body: what the rest of the bot consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "ErrorInfo",
    "Event",
    "Ignored",
    "InboundMessage",
    "Indexed",
    "Location",
    "Media",
    "MessageContext",
    "Order",
    "OrderItem",
    "Reaction",
    "Referral",
    "ReferredProduct",
    "Reply",
    "SharedContact",
    "StatusUpdate",
    "StoredMessage",
    "SystemChange",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    code: int | None
    title: str | None
    details: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A tap on one of our buttons or list rows, or a submitted flow."""

    # "button_reply" | "list_reply" | "button" | "nfm_reply" | "call_permission_reply"
    kind: str
    # Our row/button id, a template button payload, the flow_token, or the permission answer.
    id: str | None
    title: str | None
    description: str | None = None
    response_json: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    id: str | None
    mime_type: str | None
    sha256: str | None
    caption: str | None = None
    filename: str | None = None
    voice: bool = False
    animated: bool = False
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: Decimal
    longitude: Decimal
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedContact:
    formatted_name: str | None
    phones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderItem:
    product_retailer_id: str
    quantity: int
    item_price: Decimal
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    catalog_id: str | None
    text: str | None
    items: tuple[OrderItem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    message_id: str
    # None when the customer removed their reaction (Meta sends "" or omits the key).
    emoji: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemChange:
    type: str | None
    body: str | None
    # The customer's new WhatsApp id after user_changed_number.
    new_wa_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral:
    """Where a click-to-WhatsApp ad conversation came from."""

    source_url: str | None
    source_id: str | None
    source_type: str | None
    headline: str | None
    body: str | None
    media_type: str | None
    ctwa_clid: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferredProduct:
    catalog_id: str
    product_retailer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageContext:
    # For replies: the business number and the wamid of our message being answered.
    from_: str | None
    id: str | None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: ReferredProduct | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    id: str
    # wa_id when known, else the business-scoped user id (BSUID): the key for sessions and carts.
    customer: str
    wa_id: str | None
    user_id: str | None
    name: str | None
    phone_number_id: str
    timestamp: int
    type: str
    text: str | None = None
    reply: Reply | None = None
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    order: Order | None = None
    reaction: Reaction | None = None
    system: SystemChange | None = None
    referral: Referral | None = None
    context: MessageContext | None = None
    original_message_id: str | None = None
    errors: tuple[ErrorInfo, ...] = ()
    # Set when the message cannot be acted upon: unsupported type or a shape we cannot read.
    unsupported_reason: str | None = None
    # The minimal change value holding only this message; parsing it again yields an equal message.
    envelope: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """What the inbox keeps of an inbound message before the 200; the worker parses the rest."""

    id: str
    customer: str
    phone_number_id: str
    type: str
    timestamp: int
    envelope_json: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    id: str
    status: str
    recipient: str
    timestamp: int
    phone_number_id: str
    errors: tuple[ErrorInfo, ...] = ()
    pricing_category: str | None = None
    conversation_id: str | None = None
    biz_opaque_callback_data: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ignored:
    """A part of the body the bot does not act on, with the reason (for logs)."""

    reason: str
    field: str | None = None


Event = InboundMessage | StatusUpdate | Ignored
Indexed = StoredMessage | StatusUpdate | Ignored
