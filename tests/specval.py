"""Validate outbound WhatsApp bodies against Meta's OpenAPI contract (v23.0).

The spec's top-level ``Message`` cannot be used as is: each variant is ``allOf`` of the shared
envelope and an object with ``additionalProperties: false`` that cannot see the envelope's
properties, so even Meta's own examples fail it. Instead this module checks

- the envelope against ``BaseMessageProperties`` plus what it leaves implicit (``messaging_product``
  is "whatsapp", ``type`` names a known type whose content key is present, no stray fields);
- the content object against the per-type schema that ``Message``'s discriminator maps the type
  to (``interactive`` -> ``InteractiveObject``, ``template`` -> ``TemplateObject``, ...), honouring
  nested discriminators (template components and parameters);
- the rules the spec states only in prose ("cannot be empty, must be unique", "required for
  product_list", ...), and the few limits Meta documents elsewhere (each marked with its source);
- read receipts against ``MarkMessageRequestPayload``.

Location requests (``location_request_message``) are missing from the spec entirely although
Meta's location-request-messages page documents them; a small local schema covers them, reusing
the spec's ``BodyObject``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["assert_valid_outbound", "meta_request_examples", "spec", "validate_outbound"]

SPEC_PATH = Path(
    os.environ.get(
        "WHATSAPP_OPENAPI_SPEC",
        Path(__file__).resolve().parents[2] / "shared/spec/whatsapp-business-messaging-v23.0.yaml",
    )
)
SPEC_URI = "urn:meta:whatsapp-business-messaging:v23.0"
MESSAGES_PATH = "/{Version}/{Phone-Number-ID}/messages"

# Limits Meta documents outside the spec, which only bounds them per section.
LIST_ROWS_TOTAL = 10  # Meta's interactive-list-messages page
PRODUCT_ITEMS_TOTAL = 30  # multi-product messages (secondary sources)
CAPTION = 1024  # Meta's image-messages page

Body = Mapping[str, Any]

# Envelope fields of a message that Meta documents and v23.0's BaseMessageProperties leaves out.
# biz_opaque_callback_data: echoed in the status webhooks of that message, at most 512
# characters (Meta's Cloud API changelog: added to free-form messages, maximum raised from 256
# to 512; the spec itself has it only on calls). Read receipts do not take it.
_EXTRA_ENVELOPE: dict[str, Any] = {
    "biz_opaque_callback_data": {"type": "string", "maxLength": 512},
}


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed spec, loaded once per process (about half a second with the C loader)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as file:
        document: dict[str, Any] = yaml.load(file, Loader=loader)
    return document


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = spec()["components"]["schemas"]
    return schemas


def meta_request_examples() -> dict[str, dict[str, Any]]:
    """Meta's sample request bodies for ``POST /{phone-number-id}/messages``, by name."""
    content = spec()["paths"][MESSAGES_PATH]["post"]["requestBody"]["content"]
    return {name: ex["value"] for name, ex in content["application/json"]["examples"].items()}


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


def _ref(pointer: str) -> dict[str, str]:
    return {"$ref": f"{SPEC_URI}{pointer}"}


_in_progress: set[tuple[int, str]] = set()


def _discriminator(
    validator: Any, value: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """OpenAPI ``discriminator``: also validate against the schema the type property names."""
    if not isinstance(instance, dict) or not isinstance(value, dict):
        return
    chosen = instance.get(value.get("propertyName", ""))
    target = value.get("mapping", {}).get(chosen) if isinstance(chosen, str) else None
    key = (id(instance), str(target))
    # The mapped schema usually extends this one through allOf; do not dispatch twice.
    if not isinstance(target, str) or key in _in_progress:
        return
    _in_progress.add(key)
    try:
        yield from validator.descend(instance, {"$ref": target})
    finally:
        _in_progress.discard(key)


_Validator = validators.extend(Draft202012Validator, {"discriminator": _discriminator})

_LOCATION_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "body", "action"],
    "properties": {
        "type": {"const": "location_request_message"},
        "body": _ref("#/components/schemas/BodyObject"),
        "action": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"const": "send_location"}},
        },
    },
}


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(prefix: str, error: ValidationError) -> str:
    return "/".join([prefix, *map(str, error.absolute_path)]).strip("/") or "(body)"


def _closest(alternatives: list[ValidationError]) -> list[ValidationError]:
    """The errors of the oneOf/anyOf branch the body most likely meant.

    That is the branch whose own required fields are present, then the one with fewest errors;
    jsonschema's ``best_match`` tends to blame a missing field of an unrelated branch instead.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for error in alternatives:
        branches.setdefault(error.relative_schema_path[0], []).append(error)

    def unlikely(errors: list[ValidationError]) -> tuple[bool, int]:
        missing = any(e.validator == "required" and not e.relative_path for e in errors)
        return missing, len(errors)

    return min(branches.values(), key=unlikely)


def _describe(error: ValidationError) -> str:
    """jsonschema's message, short: size errors say the size instead of repeating the value."""
    if error.validator in ("maxLength", "minLength", "maxItems", "minItems"):
        unit = "characters" if "Length" in str(error.validator) else "items"
        return f"{len(error.instance)} {unit}, {error.validator} is {error.validator_value}"
    return _clip(error.message)


def _schema_errors(schema: Mapping[str, Any], instance: Any, prefix: str) -> Iterator[str]:
    for error in _Validator(schema, registry=_registry()).iter_errors(instance):
        if error.context:  # a failed oneOf/anyOf: say what is wrong in the intended branch
            for closest in _closest(error.context):
                yield f"{_path(prefix, closest)}: {_describe(closest)} (in {error.validator})"
        else:
            yield f"{_path(prefix, error)}: {_describe(error)}"


def _message_types() -> dict[str, str]:
    mapping: dict[str, str] = _schemas()["Message"]["discriminator"]["mapping"]
    return mapping


def _content_schema(kind: str, content: Any) -> Mapping[str, Any]:
    """The schema of ``body[kind]``: the property of that name in the type's own allOf part."""
    if kind == "interactive" and _dict(content).get("type") == "location_request_message":
        return _LOCATION_REQUEST
    pointer = _message_types()[kind]
    parts = _schemas()[pointer.rsplit("/", 1)[1]]["allOf"]
    index = next(i for i, part in enumerate(parts) if kind in part.get("properties", {}))
    schema = _ref(f"{pointer}/allOf/{index}/properties/{kind}")
    if kind == "text":  # the send schema forgot body's limit; the spec's TextMessage_1 has it
        return {"allOf": [schema, _ref("#/components/schemas/TextMessage_1")]}
    return schema


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def _unique(values: list[Any], where: str) -> Iterator[str]:
    if len(set(map(str, values))) != len(values):
        yield f"{where}: values must be unique, got {_clip(repr(values))}"


def _button_rules(action: Body) -> Iterator[str]:
    replies = [_dict(_dict(button).get("reply")) for button in _list(action.get("buttons"))]
    if not replies:
        yield "interactive/action/buttons: a 'button' message needs reply buttons"
    if any(_blank(reply.get("title")) for reply in replies):
        yield "interactive/action/buttons: titles cannot be empty"
    # The spec: "Cannot be empty, must be unique" (titles) and "Unique identifier" (ids).
    yield from _unique([r.get("title") for r in replies], "interactive/action/buttons/*/title")
    yield from _unique([r.get("id") for r in replies], "interactive/action/buttons/*/reply/id")


def _section_rules(action: Body, items: str, total: int) -> Iterator[str]:
    sections = [_dict(section) for section in _list(action.get("sections"))]
    where = "interactive/action/sections"
    if not sections or any(not _list(section.get(items)) for section in sections):
        yield f"{where}: every section needs at least one of '{items}'"
    if len(sections) > 1 and any(_blank(section.get("title")) for section in sections):
        yield f"{where}: titles are required when there is more than one section"
    count = sum(len(_list(section.get(items))) for section in sections)
    if count > total:
        yield f"{where}: {count} {items} in total, at most {total} allowed"


def _list_rules(action: Body) -> Iterator[str]:
    if _blank(action.get("button")):
        yield "interactive/action/button: a list needs a non-empty button label"
    yield from _section_rules(action, "rows", LIST_ROWS_TOTAL)
    rows = [
        _dict(row) for s in _list(action.get("sections")) for row in _list(_dict(s).get("rows"))
    ]
    if any(_blank(row.get("title")) for row in rows):
        yield "interactive/action/sections/*/rows: titles cannot be empty"
    yield from _unique([row.get("id") for row in rows], "interactive/action/sections/*/rows/*/id")


def _product_rules(action: Body) -> Iterator[str]:
    if "product_retailer_id" not in action or "sections" in action:
        yield "interactive/action: a 'product' message names one product_retailer_id"


def _product_list_rules(action: Body) -> Iterator[str]:
    if "product_retailer_id" in action:
        yield "interactive/action: a 'product_list' message lists products in sections"
    yield from _section_rules(action, "product_items", PRODUCT_ITEMS_TOTAL)


_ACTION_RULES: dict[str, Callable[[Body], Iterator[str]]] = {
    "button": _button_rules,
    "list": _list_rules,
    "product": _product_rules,
    "product_list": _product_list_rules,
}


def _interactive_rules(content: Body) -> Iterator[str]:
    kind = content.get("type")
    header = _dict(content.get("header"))
    # HeaderObject and BodyObject descriptions.
    if kind != "product" and _blank(_dict(content.get("body")).get("text")):
        yield f"interactive/body: required (and non-empty) for {kind!r} messages"
    if kind == "product" and header:
        yield "interactive/header: cannot be set for 'product' messages"
    if kind == "product_list" and not header:
        yield "interactive/header: required for 'product_list' messages"
    if header.get("type") == "text" and _blank(header.get("text")):
        yield "interactive/header/text: required when the header type is 'text'"
    rules = _ACTION_RULES.get(str(kind))
    if rules is not None:
        yield from rules(_dict(content.get("action")))


def _text_rules(content: Body) -> Iterator[str]:
    if _blank(content.get("body")):
        yield "text/body: must not be empty"


def _image_rules(content: Body) -> Iterator[str]:
    caption = content.get("caption")
    if isinstance(caption, str) and len(caption) > CAPTION:
        yield f"image/caption: {len(caption)} characters, at most {CAPTION} allowed"


def _reaction_rules(content: Body) -> Iterator[str]:
    if _blank(content.get("message_id")) or not isinstance(content.get("emoji"), str):
        yield "reaction: needs the reacted message_id and an emoji ('' removes a reaction)"


_CONTENT_RULES: dict[str, Callable[[Body], Iterator[str]]] = {
    "interactive": _interactive_rules,
    "text": _text_rules,
    "image": _image_rules,
    "reaction": _reaction_rules,
}

_READ_FIELDS = frozenset({"messaging_product", "status", "message_id", "typing_indicator"})


def _read_receipt_errors(body: Body) -> Iterator[str]:
    yield from _schema_errors(_ref("#/components/schemas/MarkMessageRequestPayload"), body, "")
    if body.get("status") != "read":
        yield f"status: {body.get('status')!r}, only 'read' can be sent"
    if "typing_indicator" in body and body["typing_indicator"] != {"type": "text"}:
        yield "typing_indicator: must be {'type': 'text'}"
    for key in sorted(set(body) - _READ_FIELDS):
        yield f"{key}: unexpected field in a read receipt"


def _message_errors(body: Body) -> Iterator[str]:
    base = _ref("#/components/schemas/BaseMessageProperties")
    yield from _schema_errors(base, body, "")
    if body.get("messaging_product") != "whatsapp":
        yield "messaging_product: must be 'whatsapp'"
    if _blank(body.get("to")):
        yield "to: must be a non-empty string"
    kind = body.get("type")
    if kind not in _message_types():
        yield f"type: {_clip(repr(kind))} is not a message type of the spec"
        return
    envelope = set(_schemas()["BaseMessageProperties"]["properties"]) | set(_EXTRA_ENVELOPE)
    for key in sorted(set(body) - envelope - {kind}):
        yield f"{key}: unexpected field in a {kind!r} message"
    for key in sorted(set(body) & set(_EXTRA_ENVELOPE)):
        yield from _schema_errors(_EXTRA_ENVELOPE[key], body[key], key)
    if kind not in body:
        yield f"{kind}: missing, although type is {kind!r}"
        return
    yield from _schema_errors(_content_schema(kind, body[kind]), body[kind], kind)
    rules = _CONTENT_RULES.get(kind)
    if rules is not None and isinstance(body[kind], Mapping):
        yield from rules(body[kind])


def validate_outbound(body: Any) -> list[str]:
    """Every reason Meta's contract rejects ``body`` (empty when it is valid)."""
    if not isinstance(body, Mapping):
        return [f"(body): expected an object, got {type(body).__name__}"]
    errors = _read_receipt_errors(body) if "status" in body else _message_errors(body)
    return list(dict.fromkeys(errors))  # nested discriminators can report one fault twice


def assert_valid_outbound(body: Any) -> None:
    """Fail the test with every reason ``body`` breaks the contract."""
    errors = validate_outbound(body)
    if errors:
        shown = _clip(json.dumps(body, ensure_ascii=False, default=str), 600)
        raise AssertionError("invalid outbound body:\n  " + "\n  ".join(errors) + f"\n{shown}")
