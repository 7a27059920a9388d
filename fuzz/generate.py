"""Webhook bodies generated from Meta's schema (``components/schemas/WebhookPayload``).

A small generator of our own, not hypothesis: it walks the schema once per body with a seeded
``random.Random``, so 100,000 bodies cost seconds. It supports what the webhook schemas use:
``$ref``, ``allOf`` (merged), ``oneOf`` and ``discriminator`` (one branch chosen), ``enum``,
``required``, ``additionalProperties``, ``not: {required}`` and the string formats.

Two readings of Meta's schema, both deliberate:
- ``allOf`` branches that say ``additionalProperties: false`` close the object over the union of
  every branch's properties (a strict validator would reject any instance; see the spec README).
- ``IncomingMessage`` is modelled on the outbound shape; Meta's own examples beside it carry
  ``from``, ``id`` and ``timestamp``, so those are patched into ``BaseMessageProperties``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SPEC_PATH", "SchemaGenerator", "load_schemas", "random_text", "spec_schemas"]

SPEC_PATH = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "spec"
    / "whatsapp-business-messaging-v23.0.yaml"
)
_ROOT = "WebhookPayload"
_REF_PREFIX = "#/components/schemas/"
_INBOUND_FIELDS = {
    "from": {"type": "string"},
    "id": {"type": "string"},
    "timestamp": {"type": "string"},
}

Schema = Mapping[str, Any]

# Characters that break naive code: controls (NUL included), bidi overrides, zero-width joiners,
# combining marks, non-characters, astral planes; plus the ordinary ones a shop really sees.
_POOLS = (
    string.ascii_letters + string.digits + " .,!?-_/@#%&*()[]{}<>'\"\\",
    "0123456789+",
    "áéíóúñüÁÉÍÓÚÑ¿¡çãõâêô",
    "".join(map(chr, range(0x00, 0x20))) + "\x7f\x85\u2028\u2029",
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c",
    "\u200b\u200c\u200d\ufeff\u2060\u00ad",
    "\u0301\u0308\u0327\u0336\u20dd\u0489",
    "مرحبا שלום ﷺ",
    "你好世界こんにちは한국어",
    "\ufffe\uffff\ufdd0\U0010ffff\U000e0001\ue000",
)
_SEQUENCES = (
    "👩\u200d👩\u200d👧\u200d👦",
    "👨🏽\u200d💻",
    "🏳️\u200d🌈",
    "🇦🇷🇲🇽🇨🇴",
    "👍🏿",
    "1️⃣",
    "e\u0301" * 3,
    "\u202eolleh\u202c",
    "Z̷̢̛a̶̧͝l̴͎̈g̵̱̾ǒ̷͜",
)


def _mixed_text(rng: random.Random, length: int) -> str:
    parts: list[str] = []
    size = 0
    while size < length:
        pick = rng.random()
        if pick < 0.08:
            piece = rng.choice(_SEQUENCES)
        elif pick < 0.12:
            # Any scalar value outside the surrogate block.
            code = rng.randrange(0x110000 - 0x800)
            piece = chr(code + 0x800 if code >= 0xD800 else code)
        else:
            pool = _POOLS[0] if pick < 0.6 else rng.choice(_POOLS)
            piece = "".join(rng.choices(pool, k=rng.randint(1, 8)))
        parts.append(piece)
        size += len(piece)
    return "".join(parts)


# Built once; strings are slices of it (cutting sequences in half is welcome), so a body's
# fifty-odd strings cost microseconds instead of milliseconds.
_TEXT = _mixed_text(random.Random(20250), 1 << 18)


def random_text(rng: random.Random, max_len: int = 60) -> str:
    """A string mixing ordinary and hostile characters (never a lone surrogate: not JSON-able)."""
    roll = rng.random()
    if roll < 0.05:
        return ""
    length = rng.randint(1, max_len if roll < 0.98 else max_len * 50)
    start = rng.randrange(len(_TEXT) - length)
    return _TEXT[start : start + length]


@cache
def spec_schemas(path: Path = SPEC_PATH) -> dict[str, Any]:
    """``components/schemas`` of the spec, as Meta wrote them (do not modify)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=loader)
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


@cache
def load_schemas(path: Path = SPEC_PATH) -> dict[str, Any]:
    """``components/schemas`` of the spec, with the inbound message fields patched in."""
    schemas = dict(spec_schemas(path))
    base = dict(schemas["BaseMessageProperties"])
    base["properties"] = {**base["properties"], **_INBOUND_FIELDS}
    base["required"] = [*base["required"], *_INBOUND_FIELDS]
    schemas["BaseMessageProperties"] = base
    return schemas


def _merge(a: Schema, b: Schema) -> dict[str, Any]:
    """One schema meaning ``allOf: [a, b]`` for the keywords the webhook schemas use."""
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        props = dict(a["properties"])
        for key, sub in b["properties"].items():
            props[key] = _merge(props[key], sub) if key in props else sub
        merged["properties"] = props
    if "required" in a or "required" in b:
        merged["required"] = list(dict.fromkeys([*a.get("required", ()), *b.get("required", ())]))
    if "enum" in a and "enum" in b:
        merged["enum"] = [v for v in b["enum"] if v in a["enum"]] or b["enum"]
    if a.get("additionalProperties") is False or b.get("additionalProperties") is False:
        merged["additionalProperties"] = False
    return merged


class SchemaGenerator:
    """Random instances of a schema; ``payload()`` gives one webhook body."""

    def __init__(self, rng: random.Random, schemas: Mapping[str, Any] | None = None) -> None:
        self._rng = rng
        self._schemas = schemas if schemas is not None else load_schemas()
        self._resolved: dict[str, Schema] = {}

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = self.instance({"$ref": _REF_PREFIX + _ROOT})
        return body

    def instance(self, schema: Schema, depth: int = 0) -> Any:
        schema = self._flatten(schema)
        rng = self._rng
        if "enum" in schema:
            return self._pick(schema["enum"])
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            roll = rng.random()
            # Mostly one item; arrays nest (entry, changes, messages), so big ones stay rare.
            count = (
                1 if roll < 0.7 else 0 if roll < 0.8 else rng.randint(2, 3 if roll < 0.98 else 10)
            )
            return [self.instance(schema.get("items", {}), depth + 1) for _ in range(count)]
        if kind == "integer":
            return self._pick([rng.randint(0, 100), rng.randint(1_600_000_000, 1_800_000_000),
                               rng.randint(-(2**63), 2**63 - 1), 2**64 - 1, -(2**63), 0])  # fmt: skip
        if kind == "number":
            return self._pick([round(rng.uniform(0, 1000), 2), rng.uniform(-1e308, 1e308),
                               5e-324, -0.0, rng.randint(-1000, 1000)])  # fmt: skip
        if kind == "boolean":
            return rng.random() < 0.5
        return self._string(schema)

    def _flatten(self, schema: Schema) -> Schema:
        """Resolve ``$ref``, merge ``allOf``, choose a ``oneOf`` branch or discriminator target."""
        while True:
            if "$ref" in schema:
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = _merge(self._resolve(schema["$ref"]), rest)
            elif "allOf" in schema:
                merged: Schema = {}
                for part in schema["allOf"]:  # later branches, then siblings, refine earlier ones
                    merged = _merge(merged, self._flatten(part))
                schema = _merge(merged, {k: v for k, v in schema.items() if k != "allOf"})
            elif "oneOf" in schema:
                rest = {k: v for k, v in schema.items() if k not in ("oneOf", "discriminator")}
                schema = _merge(rest, self._flatten(self._pick(schema["oneOf"])))
            elif "mapping" in schema.get("discriminator", {}):
                discriminator = schema["discriminator"]
                name = self._pick(list(discriminator["mapping"]))
                rest = {k: v for k, v in schema.items() if k != "discriminator"}
                fixed = {"properties": {discriminator["propertyName"]: {"enum": [name]}}}
                target = self._resolve(discriminator["mapping"][name])
                schema = _merge(_merge(rest, target), fixed)
            else:
                return schema

    def _resolve(self, ref: str) -> Schema:
        """The named schema with its ``allOf`` merged (no random choice there, so cached)."""
        if ref not in self._resolved:
            schema: Schema = self._schemas[ref.removeprefix(_REF_PREFIX)]
            if "allOf" in schema:
                schema = self._flatten(schema)
            self._resolved[ref] = schema
        return self._resolved[ref]

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        rng = self._rng
        forbidden = set(schema.get("not", {}).get("required", ()))
        required = set(schema.get("required", ())) - forbidden
        result: dict[str, Any] = {}
        for key, sub in schema.get("properties", {}).items():
            if key in forbidden or depth > 12:
                continue
            if key in required or rng.random() < 0.5:
                result[key] = self.instance(sub, depth + 1)
        extra = schema.get("additionalProperties", True)
        if extra is not False and rng.random() < 0.1:
            for _ in range(rng.randint(1, 2)):
                key = random_text(rng, 12)
                if key not in result and key not in forbidden:
                    result[key] = (
                        self.instance(extra, depth + 1)
                        if isinstance(extra, Mapping)
                        else random_text(rng)
                    )
        return result

    def _string(self, schema: Schema) -> str:
        rng = self._rng
        example = schema.get("example")
        if isinstance(example, str) and rng.random() < 0.6:
            return example
        match schema.get("format"):
            case "date":
                return (
                    f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                )
            case "email":
                return f"{random_text(rng, 10)}@example.com"
            case "url" | "uri":
                return f"https://example.com/{random_text(rng, 20)}"
        return random_text(rng)

    def _pick(self, options: list[Any]) -> Any:
        """Uniform, but the first option half the time: it is usually the common case."""
        return options[0] if self._rng.random() < 0.5 else self._rng.choice(options)
