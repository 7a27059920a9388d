"""The validator accepts Meta's own examples and rejects bodies that break the contract."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.specval import assert_valid_outbound, meta_request_examples, spec, validate_outbound

EXAMPLES = meta_request_examples()

# Meta's examples that the spec itself contradicts: each is pinned to exactly the faults listed
# (every error it produces starts with one of the prefixes, and every prefix is hit), so a
# validator regression on these still fails.
_POLICY = "template/language: 'policy' is a required property"
_LAT_LONG = ("location/latitude: ", "location/longitude: ")
_NO_TYPE = ("(body): 'type' is a required property", "type: None is not a message type")
DIVERGENT: dict[str, tuple[str, ...]] = {
    # Named by the spec's README: values the spec's own enums do not list.
    "Send Order Details Message": (
        "interactive/type: 'order_details'",
        "interactive/action/name: 'review_and_pay'",
    ),
    "Send Order Status Message": (
        "interactive/type: 'order_status'",
        "interactive/action/name: 'review_order'",
    ),
    "Send Multi-Product Message": ("interactive/header/type: '<HEADER_TYPE>'",),
    # LanguageObject requires `policy`, which every template example omits (our builder sends it).
    "Send Message Template Media": (_POLICY,),
    "Send Message Template Text": (_POLICY,),
    "Send Sample Shipping Confirmation Template": (_POLICY,),
    "Send Sample Text Message": (_POLICY,),
    "Send Test Message": (_POLICY,),
    # ...and template button components: `index` must match "^[2-6, 11-14]$" (so "0" fails) and
    # be a string, `sub_type` lists neither "flow" nor "CATALOG", parameters no "action" type,
    # and one example passes booleans as parameter text.
    "Send Message Template Interactive": (_POLICY, "template/components/2/index: "),
    "Send Catalog Template Message": (_POLICY, "template/components/1/"),
    "Send Flow Template Message": (_POLICY, "template/components/0/"),
    "Send Sample Issue Resolution Template": ("template/components/1/", "template/components/2/"),
    # LocationMessage types latitude/longitude as strings; the examples send numbers.
    "Send Location Message": _LAT_LONG,
    "Send Reply to Location Message": _LAT_LONG,
    # BaseMessageProperties requires `type`; these rely on Meta's undocumented default ("text").
    "Send Text Message with Preview URL": _NO_TYPE,
    "Send Reply to List Message": _NO_TYPE,
}
# Several examples omit `recipient_type`; the spec's MessageRequest documents its default.
_RECIPIENT_DEFAULT = spec()["components"]["schemas"]["MessageRequest"]["properties"][
    "recipient_type"
]["default"]


def _example(name: str) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLES[name])
    if "status" not in body:
        body.setdefault("recipient_type", _RECIPIENT_DEFAULT)
    return body


def test_spec_is_parsed_once() -> None:
    assert spec() is spec()
    assert len(EXAMPLES) >= 50
    assert set(DIVERGENT) <= set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - set(DIVERGENT)))
def test_meta_examples_are_accepted(name: str) -> None:
    assert_valid_outbound(_example(name))


@pytest.mark.parametrize("name", sorted(DIVERGENT))
def test_divergent_examples_fail_only_as_documented(name: str) -> None:
    errors = validate_outbound(_example(name))
    prefixes = DIVERGENT[name]
    assert errors
    assert [e for e in errors if not e.startswith(prefixes)] == []
    assert [p for p in prefixes if not any(e.startswith(p) for e in errors)] == []


def _envelope(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5491155550000",
        "type": kind,
        kind: content,
    }


def _rows(count: int, prefix: str = "r") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "title": f"Fila {i}", "description": "ok"} for i in range(count)]


BASES: dict[str, dict[str, Any]] = {
    "text": _envelope("text", {"body": "Hola", "preview_url": False}),
    # The outbox sends each message with its row's key, for the status webhooks to echo.
    "text_with_callback_data": {
        **_envelope("text", {"body": "Hola"}),
        "biz_opaque_callback_data": "wamid.HBgLNTQ5MTE1NTU1MDAwMBUCABIYFDNBQjQ2:1",
    },
    "button": _envelope(
        "interactive",
        {
            "type": "button",
            "header": {"type": "text", "text": "Tienda"},
            "body": {"text": "¿Talla?"},
            "footer": {"text": "Gracias"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": f"b{i}", "title": f"Talla {i}"}}
                    for i in range(3)
                ]
            },
        },
    ),
    "list": _envelope(
        "interactive",
        {
            "type": "list",
            "body": {"text": "Elige"},
            "action": {
                "button": "Ver opciones",
                "sections": [
                    {"title": "Camisetas", "rows": _rows(5, "c")},
                    {"title": "Pantalones", "rows": _rows(5, "p")},
                ],
            },
        },
    ),
    "product": _envelope(
        "interactive",
        {
            "type": "product",
            "body": {"text": "Mira"},
            "action": {"catalog_id": "1", "product_retailer_id": "sku-1"},
        },
    ),
    "product_list": _envelope(
        "interactive",
        {
            "type": "product_list",
            "header": {"type": "text", "text": "Catálogo"},
            "body": {"text": "Novedades"},
            "action": {
                "catalog_id": "1",
                "sections": [
                    {"title": "A", "product_items": [{"product_retailer_id": "a"}]},
                    {"title": "B", "product_items": [{"product_retailer_id": "b"}]},
                ],
            },
        },
    ),
    "location_request": _envelope(
        "interactive",
        {
            "type": "location_request_message",
            "body": {"text": "¿Dónde entregamos?"},
            "action": {"name": "send_location"},
        },
    ),
    "image": _envelope("image", {"link": "https://example.com/a.jpg", "caption": "Foto"}),
    "template": _envelope(
        "template",
        {
            "name": "pedido_listo",
            "language": {"policy": "deterministic", "code": "es_MX"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
        },
    ),
    "reaction": _envelope("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
    "read": {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.X",
        "typing_indicator": {"type": "text"},
    },
}


@pytest.mark.parametrize("name", sorted(BASES))
def test_hand_written_bodies_are_accepted(name: str) -> None:
    assert_valid_outbound(BASES[name])


DROP = object()  # as a new value: delete the field


def _mutated(base: str, path: str, value: Any) -> dict[str, Any]:
    """A copy of ``BASES[base]`` with the '/'-separated ``path`` set to ``value`` (or deleted)."""
    body = copy.deepcopy(BASES[base])
    *parents, leaf = path.split("/")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(leaf) : int(leaf) + 1] = [] if value is DROP else [value]
    elif value is DROP:
        del node[leaf]
    else:
        node[leaf] = value
    return body


def _button(i: int) -> dict[str, Any]:
    return {"type": "reply", "reply": {"id": f"x{i}", "title": f"Otra {i}"}}


def _items(count: int) -> list[dict[str, str]]:
    return [{"product_retailer_id": f"p{i}"} for i in range(count)]


_I = "interactive"
_B = "interactive/action/buttons"
_SS = "interactive/action/sections"
_S0 = "interactive/action/sections/0"
_X = {n: "x" * n for n in (21, 25, 61, 73, 201, 257, 513, 1025, 4097)}
_ELEVEN_SECTIONS = [{"title": f"S{i}", "rows": _rows(1, f"s{i}-")} for i in range(11)]
_ELEVEN_PRODUCT_SECTIONS = [{"title": f"S{i}", "product_items": _items(1)} for i in range(11)]
REJECTED: list[tuple[str, str, str, Any, str]] = [
    # case, base body, path to change, new value, a fragment the errors must contain
    ("4 buttons", "button", f"{_B}/3", _button(3), "4 items, maxItems is 3"),
    ("21-char button title", "button", f"{_B}/0/reply/title", _X[21], "maxLength is 20"),
    ("257-char button id", "button", f"{_B}/0/reply/id", _X[257], "maxLength is 256"),
    ("duplicate button titles", "button", f"{_B}/1/reply/title", "Talla 0", "must be unique"),
    ("duplicate button ids", "button", f"{_B}/1/reply/id", "b0", "must be unique"),
    ("empty button title", "button", f"{_B}/1/reply/title", " ", "cannot be empty"),
    ("list type, buttons action", "button", f"{_I}/type", "list", "button label"),
    ("button type, list action", "list", f"{_I}/type", "button", "needs reply buttons"),
    ("1025-char button body", "button", f"{_I}/body/text", _X[1025], "maxLength is 1024"),
    ("61-char header", "button", f"{_I}/header/text", _X[61], "maxLength is 60"),
    ("61-char footer", "button", f"{_I}/footer/text", _X[61], "maxLength is 60"),
    ("header without text", "button", f"{_I}/header", {"type": "text"}, "header/text: required"),
    ("missing body", "button", f"{_I}/body", DROP, "interactive/body: required"),
    ("11 rows in a section", "list", f"{_S0}/rows", _rows(11), "maxItems is 10"),
    ("11 rows in two sections", "list", f"{_S0}/rows", _rows(6), "11 rows in total"),
    ("25-char row title", "list", f"{_S0}/rows/0/title", _X[25], "maxLength is 24"),
    ("73-char description", "list", f"{_S0}/rows/0/description", _X[73], "maxLength is 72"),
    ("201-char row id", "list", f"{_S0}/rows/0/id", _X[201], "maxLength is 200"),
    ("duplicate row ids", "list", f"{_S0}/rows/1/id", "c0", "must be unique"),
    ("11 sections", "list", _SS, _ELEVEN_SECTIONS, "11 items, maxItems is 10"),
    ("21-char list button", "list", "interactive/action/button", _X[21], "maxLength is 20"),
    ("25-char section title", "list", f"{_S0}/title", _X[25], "maxLength is 24"),
    ("untitled section of two", "list", f"{_S0}/title", DROP, "titles are required"),
    ("empty section", "list", f"{_S0}/rows", [], "at least one of 'rows'"),
    ("1025-char list body", "list", f"{_I}/body/text", _X[1025], "maxLength is 1024"),
    ("4097-char text", "text", "text/body", _X[4097], "maxLength is 4096"),
    ("blank text", "text", "text/body", "  ", "must not be empty"),
    ("unknown text field", "text", "text/bold", True, "'bold' was unexpected"),
    ("product with header", "product", f"{_I}/header", {"type": "text", "text": "h"}, "cannot"),
    ("product without id", "product", f"{_I}/action/product_retailer_id", DROP, "names one"),
    ("product list, no header", "product_list", f"{_I}/header", DROP, "header: required"),
    ("31 products in a section", "product_list", f"{_S0}/product_items", _items(31), "is 30"),
    ("31 products in two", "product_list", f"{_S0}/product_items", _items(30), "31 product_"),
    ("11 product sections", "product_list", _SS, _ELEVEN_PRODUCT_SECTIONS, "maxItems is 10"),
    ("location request footer", "location_request", f"{_I}/footer", {"text": "f"}, "'footer'"),
    ("location request action", "location_request", f"{_I}/action/name", "send", "expected"),
    ("location request body", "location_request", f"{_I}/body/text", _X[1025], "is 1024"),
    ("image with id and link", "image", "image/id", "123", "valid under each of"),
    ("image without media", "image", "image/link", DROP, "'id' is a required property"),
    ("1025-char caption", "image", "image/caption", _X[1025], "at most 1024"),
    ("template without language", "template", "template/language", DROP, "'language' is a"),
    ("template parameter", "template", "template/components/0/parameters/0/text", DROP, "'text'"),
    ("template component", "template", "template/components/0/type", "footer", "'footer' is not"),
    ("reaction extra field", "reaction", "reaction/sticker", "x", "'sticker' was unexpected"),
    ("reaction without target", "reaction", "reaction/message_id", DROP, "reacted message_id"),
    ("messaging_product sms", "text", "messaging_product", "sms", "must be 'whatsapp'"),
    ("no recipient_type", "text", "recipient_type", DROP, "'recipient_type' is a required"),
    ("recipient_type broadcast", "text", "recipient_type", "broadcast", "is not one of"),
    ("no to", "text", "to", DROP, "'to' is a required property"),
    ("empty to", "text", "to", "", "to: must be a non-empty string"),
    ("type without content", "text", "type", "image", "image: missing"),
    ("unknown type", "text", "type", "carousel", "not a message type of the spec"),
    ("two contents", "text", "image", {"link": "https://e.com/a.jpg"}, "image: unexpected"),
    ("unknown envelope field", "text", "priority", "high", "priority: unexpected"),
    ("513-char callback data", "text", "biz_opaque_callback_data", _X[513], "maxLength is 512"),
    ("callback data object", "text", "biz_opaque_callback_data", {"k": 1}, "is not of type"),
    ("read with callback data", "read", "biz_opaque_callback_data", "k", "unexpected field"),
    ("read, status delivered", "read", "status", "delivered", "only 'read'"),
    ("read, audio typing", "read", "typing_indicator", {"type": "audio"}, "typing_indicator"),
    ("read without message id", "read", "message_id", DROP, "'message_id' is a required"),
    ("read with recipient", "read", "to", "549", "to: unexpected field"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "fragment"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_contract_breaches_are_rejected(base: str, path: str, value: Any, fragment: str) -> None:
    errors = validate_outbound(_mutated(base, path, value))
    assert any(fragment in error for error in errors), errors


def test_assert_valid_outbound_names_the_fault() -> None:
    body = _mutated("button", f"{_B}/3", _button(3))
    with pytest.raises(AssertionError, match=r"interactive/action"):
        assert_valid_outbound(body)
    assert validate_outbound("not a body") == ["(body): expected an object, got str"]
