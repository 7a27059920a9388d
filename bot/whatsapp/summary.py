"""A flat JSON view of parsed events, for the `bot parse` command."""

from __future__ import annotations

from typing import Any

from bot.whatsapp.events import ErrorInfo, Event, Ignored, InboundMessage, Order, StatusUpdate

__all__ = ["summarize"]


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
