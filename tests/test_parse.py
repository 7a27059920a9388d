"""The webhook parser against the 79-body corpus, hand-made edge cases and random mutations."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.whatsapp.events import (
    ErrorInfo,
    Event,
    Ignored,
    InboundMessage,
    MessageContext,
    Reply,
    StatusUpdate,
    StoredMessage,
)
from bot.whatsapp.parse import index_body, parse_body
from bot.whatsapp.summary import summarize

CORPUS_DIR = Path("/work/shared/corpus/whatsapp")
CORPUS_SIZE = 79
TEST_NAME_BSUID = "US.13491208655302741918"

Corpus = dict[str, bytes]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return {path.stem: path.read_bytes() for path in sorted(CORPUS_DIR.glob("*.json"))}


def messages(events: list[Event]) -> list[InboundMessage]:
    return [event for event in events if isinstance(event, InboundMessage)]


def only_message(corpus: Corpus, stem: str) -> InboundMessage:
    found = messages(parse_body(corpus[stem]))
    assert len(found) == 1, found
    return found[0]


def wrap(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    """A webhook body holding one change value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}],
    }


def text_value(**message: Any) -> dict[str, Any]:
    base = {"from": "5491100000000", "id": "wamid.T", "timestamp": "1700000000", "type": "text"}
    return {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "42"},
        "messages": [base | {"text": {"body": "hola"}} | message],
    }


def test_corpus_is_complete(corpus: Corpus) -> None:
    assert len(corpus) == CORPUS_SIZE


def test_every_corpus_body_parses(corpus: Corpus) -> None:
    for stem, raw in corpus.items():
        events = parse_body(raw)
        assert events, stem
        assert all(isinstance(e, InboundMessage | StatusUpdate | Ignored) for e in events), stem
        # The same events whether the body arrives as bytes, str or already decoded.
        assert parse_body(raw.decode()) == events
        assert parse_body(orjson.loads(raw)) == events
        for event in events:
            json.dumps(summarize(event))


# Every message type and context variant: file stem -> attribute path -> expected value.
MESSAGE_CHECKS: dict[str, dict[str, object]] = {
    "text_basic": {
        "id": "wamid.xyzxyz",
        "type": "text",
        "text": "Body Text",
        "customer": "972987654321",
        "wa_id": "972987654321",
        "user_id": TEST_NAME_BSUID,
        "name": "Test Name",
        "phone_number_id": "1122334455667",
        "timestamp": 1697043223,
        "context": None,
        "referral": None,
        "unsupported_reason": None,
    },
    "text_basic_recorded": {"text": "hi everyone!", "name": "Mauricio Binda", "user_id": None},
    "text_reply_context": {
        "context": MessageContext(from_="972123456789", id="wamid.xyzxyz=="),
        "text": "replied text",
    },
    "text_forwarded": {"context.forwarded": True, "context.frequently_forwarded": False},
    "text_frequently_forwarded": {"context.forwarded": False, "context.frequently_forwarded": True},
    "text_referred_product_inquiry": {
        "context.id": "wamid.IDCONTEXT1",
        "context.referred_product.catalog_id": "CATALOG_9999",
        "context.referred_product.product_retailer_id": "SKU-1234",
        "text": "Interested in your product!",
    },
    "text_contact_without_profile": {"customer": "PHONE_NUMBER", "name": None},
    "text_bsuid_and_wa_id": {
        "customer": "PHONE_NUMBER",
        "wa_id": "PHONE_NUMBER",
        "user_id": "BSUID_123",
        "name": "NAME",
    },
    "text_bsuid_only_no_from": {
        "customer": "BSUID_123",
        "wa_id": None,
        "user_id": "BSUID_123",
        "name": "NAME",
        "text": "MESSAGE_BODY",
    },
    "referral_ctwa_text": {
        "text": "Hi from an ad click!",
        "referral.source_type": "ad",
        "referral.source_id": "ADID123",
        "referral.source_url": "https://facebook.com/ad/123",
        "referral.headline": "Ad Title",
        "referral.body": "Ad Description",
        "referral.media_type": "image",
        "referral.ctwa_clid": "CTWA_ABC",
    },
    "referral_ctwa_placeholders": {"referral.ctwa_clid": "CTWA_CLID", "text": "BODY"},
    "button_all_context_and_referral_fields": {
        "type": "button",
        "timestamp": 1669233778,
        "customer": "16315551234",
        "reply": Reply(kind="button", id="No-Button-Payload", title="No"),
        "text": "No",
        "context.from_": "PHONE_NUMBER",
        "context.forwarded": True,
        "context.frequently_forwarded": True,
        "context.referred_product.product_retailer_id": "PRODUCT_ID",
        "referral.headline": "AD_TITLE",
        "referral.ctwa_clid": None,
    },
    "button_quick_reply": {
        "reply": Reply(kind="button", id="callback_data", title="title"),
        "context.id": "wamid.xyzxyz==",
    },
    "button_quick_reply_no_context": {"context": None, "user_id": TEST_NAME_BSUID},
    "button_quick_reply_recorded": {"reply.id": "SIM", "text": "SIM"},
    "image_basic": {
        "type": "image",
        "text": None,
        "media.id": "65463453",
        "media.mime_type": "image/jpeg",
        "media.sha256": "4654+8g=",
        "media.url": None,
    },
    "image_with_url": {
        "media.url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
        "?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw"
    },
    "image_recorded": {"media.id": "8472976218001204"},
    "video_forwarded_caption": {
        "text": "caption",
        "media.caption": "caption",
        "media.mime_type": "video/mp4",
        "context.forwarded": True,
    },
    "video_caption_recorded": {"text": "hello world", "media.id": "661828760183585"},
    "document_forwarded_caption": {"media.filename": "filename.pdf", "text": "caption"},
    "document_recorded": {"media.filename": "4_641947.pdf", "text": None},
    "audio_file": {"type": "audio", "media.voice": False},
    "audio_voice_note": {"media.voice": True},
    "audio_voice_note_recorded": {"media.voice": True, "media.id": "827776106019109"},
    "sticker_static": {"type": "sticker", "media.animated": False},
    "sticker_animated": {"media.animated": True},
    "sticker_recorded": {"media.animated": False, "media.mime_type": "image/webp"},
    "location_current": {
        "location.latitude": Decimal("12.25089"),
        "location.longitude": Decimal("43.90539"),
        "location.name": None,
    },
    "location_named_place": {
        "location.latitude": Decimal("37.4611978"),
        "location.longitude": Decimal("-122.2164385"),
        "location.name": "Facebook HQ",
        "location.address": "1 Hacker Way, Menlo Park, CA 94025",
        "location.url": "https://maps.google.com/?cid=2000000000000000000",
    },
    "location_recorded_url": {
        "location.latitude": Decimal("-10.93941311633"),
        "location.url": "https://foursquare.com/v/5c42c5667d8497002c6e09f9",
        "location.address": None,
    },
    "contacts_recorded": {"contacts.0.formatted_name": "Person Ok"},
    "interactive_button_reply": {
        "type": "interactive",
        "reply": Reply(kind="button_reply", id="callback_data", title="title"),
        "text": "title",
        "context.id": "wamid.xyzxyz",
    },
    "interactive_list_reply": {"reply.kind": "list_reply", "reply.description": None},
    "interactive_list_reply_description": {"reply.description": "description"},
    "interactive_list_reply_no_context": {
        "reply": Reply(
            kind="list_reply",
            id="list_reply_id",
            title="list_reply_title",
            description="list_reply_description",
        ),
        "context": None,
    },
    "interactive_nfm_reply_flow": {
        "reply.kind": "nfm_reply",
        "reply.id": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
        "reply.response_json.delivery_rating": "4",
        "text": "Sent",
    },
    "interactive_nfm_reply_no_flow_token": {"reply.id": None, "reply.response_json.cs_rating": "0"},
    "interactive_call_permission_reply": {
        "reply.kind": "call_permission_reply",
        "reply.id": "accept",
    },
    "interactive_missing_body_value_errors": {
        "type": "interactive",
        "reply": None,
        "unsupported_reason": "unreadable: interactive message without its 'interactive' object",
    },
    "order_catalog": {"order.catalog_id": "354160437058781", "order.text": "", "text": ""},
    "reaction_basic": {"reaction.message_id": "wamid.yzxyzx=", "reaction.emoji": "😮"},
    "reaction_recorded": {"reaction.emoji": "👍"},
    "reaction_removed_empty_emoji": {
        "reaction.message_id": "wamid.yzxyzx=",
        "reaction.emoji": None,
    },
    "reaction_removed_no_emoji": {"reaction.message_id": "wamid.yzxyzx=", "reaction.emoji": None},
    "system_user_changed_number": {
        "system.type": "user_changed_number",
        "system.new_wa_id": "972912345678",
        "name": None,
        "text": None,
    },
    "system_user_changed_number_legacy_new_wa_id": {
        "system.new_wa_id": "15550003333",
        "system.body": "NAME changed from 15550002222 to 15550003333",
        "customer": "15550002222",
    },
    "system_customer_identity_changed": {
        "system.type": "customer_identity_changed",
        "system.new_wa_id": None,
    },
    "unsupported_basic": {
        "unsupported_reason": "unsupported: (131051) Message type unknown",
        "errors": (
            ErrorInfo(
                code=131051,
                title="Message type unknown",
                details="Message type is currently not supported.",
            ),
        ),
    },
    "unsupported_with_type": {
        "unsupported_reason": "unsupported: type 'pool' (131051) Message type unknown",
    },
    "unsupported_deleted_message_recorded": {"errors.0.code": 131051},
    "unsupported_deleted_message_errors_flat": {
        "errors.0.details": "Message type is not currently supported",
        "unsupported_reason": "unsupported: (131051) Unsupported message type",
    },
    "unknown_type_legacy": {
        "type": "unknown",
        "unsupported_reason": "unsupported: (131051) Unsupported message type",
    },
    "revoke_deleted_message": {
        "type": "revoke",
        "original_message_id": "<ORIGINAL_WHATSAPP_MESSAGE_ID>",
        "unsupported_reason": None,
    },
    "edit_message_image": {
        "type": "edit",
        "original_message_id": "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
        "text": "Updated image caption",
        "media.url": "https://media.example.com/updated-image.jpg",
        "unsupported_reason": None,
    },
}


def _resolve(obj: object, path: str) -> object:
    for name in path.split("."):
        if isinstance(obj, dict):
            obj = obj[name]
        elif isinstance(obj, tuple):
            obj = obj[int(name)]
        else:
            obj = getattr(obj, name)
    return obj


@pytest.mark.parametrize("stem", sorted(MESSAGE_CHECKS))
def test_message_fields(corpus: Corpus, stem: str) -> None:
    message = only_message(corpus, stem)
    for path, expected in MESSAGE_CHECKS[stem].items():
        assert _resolve(message, path) == expected, (stem, path)


def test_contacts_multiple(corpus: Corpus) -> None:
    shared = only_message(corpus, "contacts_multiple").contacts
    assert [c.formatted_name for c in shared] == ["Chandler Bing", "Monica", "Rachel Green"]
    assert shared[2].phones == ("+1 777-777-7777",)


def test_order_prices_are_decimal(corpus: Corpus) -> None:
    order = only_message(corpus, "order_catalog").order
    assert order is not None
    assert [(i.product_retailer_id, i.quantity, i.item_price, i.currency) for i in order.items] == [
        ("HAMBURGER", 3, Decimal(30), "ILS"),
        ("FRENCH_FRIES", 2, Decimal(35), "ILS"),
        ("SODA", 2, Decimal(10), "ILS"),
    ]
    assert all(type(item.item_price) is Decimal for item in order.items)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (7.99, Decimal("7.99")),
        ("7.99", Decimal("7.99")),
        (12, Decimal(12)),
        ("0.1", Decimal("0.1")),
    ],
)
def test_order_price_shapes(price: object, expected: Decimal) -> None:
    item = {"product_retailer_id": "SKU", "quantity": "2", "item_price": price, "currency": "ARS"}
    value = text_value(type="order", order={"catalog_id": "C", "product_items": [item]})
    [message] = parse_body(wrap(value))
    assert isinstance(message, InboundMessage) and message.order is not None
    assert message.order.items[0].item_price == expected
    assert message.order.items[0].quantity == 2
    assert summarize(message)["items"][0]["item_price"] == str(expected)


@pytest.mark.parametrize("price", [None, "abc", "NaN", "Infinity", True, [], "1e999"])
def test_order_with_an_unreadable_item_is_refused_whole(price: object) -> None:
    good = {"product_retailer_id": "A", "quantity": 1, "item_price": 5, "currency": "ARS"}
    bad = good | {"product_retailer_id": "B", "item_price": price}
    value = text_value(type="order", order={"product_items": [good, bad]})
    [message] = parse_body(wrap(value))
    assert isinstance(message, InboundMessage)
    assert message.order is None
    assert message.unsupported_reason == "unreadable: order items 1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1700000000", 1700000000),
        (1700000000, 1700000000),
        (1700000000.0, 1700000000),
        ("", 0),
        ("17e8", 0),
        (None, 0),
        (-5, 0),
        (2.0**70, 0),  # what orjson reads an integer beyond 64 bits as
        ("9" * 30, 0),
        (True, 0),
        (float("nan"), 0),
    ],
)
def test_timestamp_shapes(raw: object, expected: int) -> None:
    [message] = parse_body(wrap(text_value(timestamp=raw)))
    assert isinstance(message, InboundMessage)
    assert message.timestamp == expected


def test_int_and_string_timestamps_in_corpus(corpus: Corpus) -> None:
    assert only_message(corpus, "button_all_context_and_referral_fields").timestamp == 1669233778
    assert only_message(corpus, "text_bsuid_and_wa_id").timestamp == 1669233778


BATCHES = {
    "batch_two_messages_one_change": ["wamid.GBGX2323902", "wamid.OMGReaction"],
    "batch_two_changes_one_entry": ["wamid.ID", "wamid.ID"],
    "batch_mixed_changes_and_fields": [
        "wamid.TEXT123",
        "wamid.LOC789",
        "wamid.RXN001",
        "wamid.STK002",
    ],
}


@pytest.mark.parametrize("stem", sorted(BATCHES))
def test_batches_yield_every_message(corpus: Corpus, stem: str) -> None:
    assert [m.id for m in messages(parse_body(corpus[stem]))] == BATCHES[stem]


def test_batch_details(corpus: Corpus) -> None:
    texts = [m.text for m in messages(parse_body(corpus["batch_two_changes_one_entry"]))]
    assert texts == ["MESSAGE_BODY", "MESSAGE_BODY2"]
    events = parse_body(corpus["batch_mixed_changes_and_fields"])
    assert events[-1] == Ignored(
        reason="entry[0].changes[2]: field 'user_preferences' is not handled",
        field="user_preferences",
    )
    untyped = messages(events)[1]
    assert untyped.type == "unknown"
    assert untyped.unsupported_reason == "unsupported: message without a type"


def test_several_entries_are_all_read(corpus: Corpus) -> None:
    body = orjson.loads(corpus["text_basic"])
    body["entry"] += orjson.loads(corpus["status_read"])["entry"]
    body["entry"] += orjson.loads(corpus["reaction_basic"])["entry"]
    kinds = [type(event).__name__ for event in parse_body(body)]
    assert kinds == ["InboundMessage", "StatusUpdate", "InboundMessage"]


@pytest.mark.parametrize(
    "stem",
    [
        "other_field_account_update_recorded",
        "other_field_calls_connect",
        "other_field_smb_message_echoes",
        "other_field_template_status_update",
        "other_field_unknown_future",
        "other_field_user_preferences",
    ],
)
def test_other_fields_are_ignored(corpus: Corpus, stem: str) -> None:
    [event] = parse_body(corpus[stem])
    assert isinstance(event, Ignored)
    assert event.field == orjson.loads(corpus[stem])["entry"][0]["changes"][0]["field"]
    assert "is not handled" in event.reason


def test_unknown_future_field(corpus: Corpus) -> None:
    assert parse_body(corpus["other_field_unknown_future"]) == [
        Ignored(
            reason="entry[0].changes[0]: field 'automatic_events' is not handled",
            field="automatic_events",
        )
    ]


def test_value_errors_are_reported(corpus: Corpus) -> None:
    events = parse_body(corpus["interactive_missing_body_value_errors"])
    assert events[-1] == Ignored(
        reason="entry[0].changes[0].value.errors: (131000) Something went wrong: "
        "Unsupported webhook payload",
        field="messages",
    )
    body = orjson.loads(corpus["interactive_missing_body_value_errors"])
    del body["entry"][0]["changes"][0]["value"]["messages"]
    assert parse_body(body) == events[-1:]


STATUS_CHECKS: dict[str, dict[str, object]] = {
    "status_sent": {
        "status": "sent",
        "recipient": "972987654321",
        "timestamp": 1698266945,
        "phone_number_id": "1122334455667",
        "pricing_category": "service",
        "conversation_id": "7270432eae37498234f4444b35ffc5",
        "biz_opaque_callback_data": None,
        "errors": (),
    },
    "status_delivered": {"status": "delivered"},
    "status_read": {"status": "read"},
    "status_played": {"status": "played"},
    "status_read_group": {"recipient": "fowefinoewcnw", "conversation_id": None},
    "status_sent_biz_opaque_callback_data": {"biz_opaque_callback_data": "some data"},
    "status_delivered_pricing_marketing": {"pricing_category": "marketing"},
    "status_sent_business_initiated_recorded": {"pricing_category": "business_initiated"},
    "status_delivered_business_initiated_recorded": {
        "conversation_id": "8eb644d2350611f3746e7f0985bddfc1"
    },
    "status_sent_user_initiated_legacy": {
        "id": "wamid.STATUSMSG",
        "pricing_category": "user_initiated",
    },
    "status_failed_130472_experiment": {"status": "failed", "errors.0.code": 130472},
    "status_failed_131047_reengagement_recorded": {
        "errors.0.code": 131047,
        "errors.0.title": "Re-engagement message",
    },
    "status_failed_131053_media_upload_recorded": {
        "errors.0.details": "Unsupported Video mime type text/html. "
        "Please use one of video/3gpp, video/mp4.",
    },
    "status_failed_minimal_error": {
        "id": "amid.ID",
        "errors": (ErrorInfo(code=131053, title="ERROR_TITLE", details=None),),
    },
}


@pytest.mark.parametrize("stem", sorted(STATUS_CHECKS))
def test_status_fields(corpus: Corpus, stem: str) -> None:
    [status] = parse_body(corpus[stem])
    assert isinstance(status, StatusUpdate)
    for path, expected in STATUS_CHECKS[stem].items():
        assert _resolve(status, path) == expected, (stem, path)


def test_status_with_bsuid_recipient_only() -> None:
    status = {"id": "wamid.S", "status": "sent", "timestamp": 1, "recipient_user_id": "US.1"}
    [event] = parse_body(wrap({"statuses": [status]}))
    assert isinstance(event, StatusUpdate) and event.recipient == "US.1"


def test_every_message_and_status_file_is_checked(corpus: Corpus) -> None:
    covered = MESSAGE_CHECKS.keys() | STATUS_CHECKS.keys() | BATCHES.keys()
    covered |= {"contacts_multiple", "order_catalog"}
    expected = {stem for stem in corpus if not stem.startswith("other_field_")}
    assert expected <= covered, expected - covered


def _roundtrip(message: InboundMessage) -> None:
    # The bot stores the envelope as JSON and parses it again later.
    stored = orjson.loads(orjson.dumps(message.envelope))
    again = parse_body(wrap(stored))
    assert again == [message]


def test_envelope_round_trip_for_every_corpus_message(corpus: Corpus) -> None:
    count = 0
    for raw in corpus.values():
        for message in messages(parse_body(raw)):
            _roundtrip(message)
            assert message.envelope["messages"][0]["id"] == message.id
            assert len(message.envelope.get("contacts", [])) <= 1
            count += 1
    assert count == 64


def test_envelope_keeps_only_the_sender_contact() -> None:
    value = text_value()
    value["contacts"] = [
        {"profile": {"name": "Other"}, "wa_id": "1"},
        {"profile": {"name": "Ana"}, "wa_id": "5491100000000"},
    ]
    [message] = parse_body(wrap(value))
    assert isinstance(message, InboundMessage)
    assert message.name == "Ana"
    assert message.envelope["contacts"] == [value["contacts"][1]]
    assert set(message.envelope) == {"messaging_product", "metadata", "contacts", "messages"}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"id": None}, "entry[0].changes[0].value.messages[0]: message without an id"),
        ({"id": ""}, "entry[0].changes[0].value.messages[0]: message without an id"),
        (
            {"from": None},
            "entry[0].changes[0].value.messages[0]: message 'wamid.T' has no sender "
            "(no from, wa_id or user_id)",
        ),
    ],
)
def test_messages_without_id_or_sender_are_ignored(message: dict[str, Any], reason: str) -> None:
    assert parse_body(wrap(text_value(**message))) == [Ignored(reason=reason, field="messages")]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"type": "poll", "poll": {}}, "unsupported: type 'poll'"),
        (
            {"type": "text", "text": {"body": 5}},
            "unreadable: text message without its 'text' object",
        ),
        (
            {"type": "interactive", "interactive": {"type": "carousel"}},
            "unsupported: interactive type 'carousel'",
        ),
        (
            {"type": "location", "location": {"latitude": "x"}},
            "unreadable: location without valid coordinates",
        ),
        (
            {"type": "edit", "edit": {"original_message_id": "w", "message": {"type": "edit"}}},
            "unsupported: type 'edit'",
        ),
    ],
)
def test_unreadable_shapes_set_unsupported_reason(extra: dict[str, Any], reason: str) -> None:
    [message] = parse_body(wrap(text_value(**extra)))
    assert isinstance(message, InboundMessage)
    assert message.unsupported_reason == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is not valid JSON"),
        (b"{", "body is not valid JSON"),
        (b"\xff\xfe{}", "body is not valid JSON"),
        ("\ud800", "body is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "body is not valid JSON"),
        (b"[]", "body is a JSON array, not an object"),
        (b"null", "body is a JSON null, not an object"),
        (b'"x"', "body is a JSON string, not an object"),
        (None, "body is a JSON null, not an object"),
        (42, "body is a JSON number, not an object"),
        (b"{}", "'entry' is missing or null, expected a non-empty array"),
        ({"entry": 5}, "'entry' is a JSON number, expected a non-empty array"),
        ({"entry": []}, "'entry' is an empty array, expected a non-empty array"),
        ({"object": "page", "entry": []}, "object is 'page', not 'whatsapp_business_account'"),
        ({"object": [[[]]], "entry": []}, "object is <array>, not 'whatsapp_business_account'"),
        ({"entry": [7]}, "entry[0] is a JSON number, not an object"),
        ({"entry": [{}]}, "entry[0].changes is missing or null, expected a non-empty array"),
        ({"entry": [{"changes": ["x"]}]}, "entry[0].changes[0] is a JSON string, not an object"),
        (
            {"entry": [{"changes": [{"field": "messages", "value": []}]}]},
            "entry[0].changes[0].value is an empty array, expected an object",
        ),
        (
            {"entry": [{"changes": [{"field": "messages", "value": {"messages": {}}}]}]},
            "entry[0].changes[0].value.messages is a JSON object, not an array",
        ),
        (
            {"entry": [{"changes": [{"field": "messages", "value": {"statuses": [1]}}]}]},
            "entry[0].changes[0].value.statuses[0] is a JSON number, not an object",
        ),
        (
            {"entry": [{"changes": [{"field": "messages", "value": {"messages": []}}]}]},
            "entry[0].changes[0].value has no messages, statuses or errors",
        ),
    ],
)
def test_garbage_bodies(body: object, reason: str) -> None:
    for raw in (body, bytearray(body), memoryview(body)) if isinstance(body, bytes) else (body,):
        [event] = parse_body(raw)
        assert isinstance(event, Ignored)
        assert event.reason.startswith(reason), event.reason


def test_deeply_nested_decoded_object() -> None:
    deep: object = "x"
    for _ in range(100_000):
        deep = [deep]
    body = wrap(text_value())
    body["entry"][0]["changes"][0]["field"] = deep
    [event] = parse_body(body)
    assert event == Ignored(reason="entry[0].changes[0]: field <array> is not handled")
    body["entry"] = [deep]
    assert parse_body(body) == [Ignored(reason="entry[0] is a JSON array, not an object")]


# --- random mutations ---------------------------------------------------------------------------

ODD_STRINGS = [
    "",
    "\u0000",
    "\ud800",
    "\u202eevil",
    "e\u0301\u0301\u0301",
    "🇦🇷🏳️‍🌈",
    "９９",
    "99999999999999999999999",
    "-1",
    "1e400",
    "NaN",
    "x" * 100_000,
]


def _nested(depth: int) -> object:
    node: object = {"k": "v"}
    for index in range(depth):
        node = [node] if index % 2 else {"k": node}
    return node


def _replacement(rng: random.Random, old: object) -> object:
    choices: list[object] = [
        None,
        True,
        0,
        -1,
        2**70,
        1.5,
        float("inf"),
        [],
        {},
        [old],
        {"k": old},
        _nested(rng.randint(1, 200)),
        rng.choice(ODD_STRINGS),
    ]
    if isinstance(old, dict):
        choices.append(list(old.values()))
    if isinstance(old, list):
        choices.append({str(index): item for index, item in enumerate(old)})
    return rng.choice(choices)


def _slots(node: object) -> list[tuple[dict[str, Any] | list[Any], Any]]:
    """Every (container, key) pair in a decoded body, outermost first."""
    found: list[tuple[dict[str, Any] | list[Any], Any]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            pairs: list[tuple[Any, Any]] = list(current.items())
        elif isinstance(current, list):
            pairs = list(enumerate(current))
        else:
            continue
        for key, child in pairs:
            found.append((current, key))
            stack.append(child)
    return found


def _mutate(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 4)):
        slots = _slots(body)
        if not slots:
            break
        container, key = rng.choice(slots)
        if rng.random() < 0.3:
            del container[key]
        else:
            container[key] = _replacement(rng, container[key])
    return body


def _as_input(rng: random.Random, body: dict[str, Any]) -> object:
    if rng.random() < 0.5:
        try:
            raw = orjson.dumps(body)
        except TypeError:  # lone surrogates, NaN-free but huge ints: hand over the object itself
            return body
        if rng.random() < 0.2:
            flipped = bytearray(raw)
            for _ in range(rng.randint(1, 5)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            return bytes(flipped)
        return raw if rng.random() < 0.5 else raw.decode()
    return body


def test_random_mutations_never_raise(corpus: Corpus) -> None:
    rng = random.Random(20260911)
    bodies = [orjson.loads(raw) for raw in corpus.values()]
    produced = {"InboundMessage": 0, "StatusUpdate": 0, "Ignored": 0}
    for _ in range(4000):
        body = _mutate(rng, rng.choice(bodies))
        events = parse_body(_as_input(rng, body))
        assert isinstance(events, list) and events
        for event in events:
            assert isinstance(event, InboundMessage | StatusUpdate | Ignored)
            produced[type(event).__name__] += 1
            summary = summarize(event)
            assert summary["kind"] in {"message", "status", "ignored"}
            if isinstance(event, InboundMessage):
                assert event.customer and event.id
                assert parse_body(wrap(event.envelope)) == [event]
    # The mutations must leave plenty of readable messages, or the test proves little.
    assert min(produced.values()) > 150, produced


def test_the_webhook_index_stores_exactly_what_the_full_parse_reads(corpus: Corpus) -> None:
    # The webhook stores index_body's view; the worker parses the stored envelope fully.
    for name, raw in corpus.items():
        full = [e for e in parse_body(raw) if isinstance(e, InboundMessage)]
        stored = [e for e in index_body(raw) if isinstance(e, StoredMessage)]
        assert [(m.id, m.customer, m.phone_number_id, m.type, m.timestamp) for m in full] == [
            (s.id, s.customer, s.phone_number_id, s.type, s.timestamp) for s in stored
        ], name
        for message, kept in zip(full, stored, strict=True):
            [again] = parse_body(wrap(orjson.loads(kept.envelope_json)))
            assert again == message, name
