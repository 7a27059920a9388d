"""Typed, never-raising accessors over decoded JSON: wrong types read as absent."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "JsonObject",
    "bool_at",
    "decimal_at",
    "dict_at",
    "dicts_at",
    "id_at",
    "int_at",
    "kind_of",
    "str_at",
    "timestamp_at",
]

JsonObject = dict[str, Any]

# Integers stay inside signed 64 bits so every parsed value can be serialised again by orjson
# and stored in a PostgreSQL bigint.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# datetime cannot represent anything after 9999-12-31T23:59:59Z.
_MAX_TIMESTAMP = 253_402_300_799
# Prices and coordinates beyond 10^±30 are garbage, and would make later arithmetic overflow.
_MAX_EXPONENT = 30
# Ids are keys of unique btree indexes, whose entries cannot exceed 2704 bytes (676 four-byte
# characters); real wamids are under 100 characters, phone numbers and user ids far shorter.
_MAX_ID_CHARS = 256


def kind_of(value: object) -> str:
    """A JSON-flavoured name for the type of a value, for Ignored reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def dict_at(obj: JsonObject, key: str) -> JsonObject | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def dicts_at(obj: JsonObject, key: str) -> list[JsonObject]:
    """The objects of a list; other items are skipped."""
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def str_at(obj: JsonObject, key: str) -> str | None:
    """A string, with U+0000 as U+FFFD: PostgreSQL text and jsonb cannot hold it (the inbox
    stores envelopes the same way, so a worker re-parsing one reads what the webhook read)."""
    value = obj.get(key)
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else None


def id_at(obj: JsonObject, key: str) -> str | None:
    """A string usable as a key: not blank (a reply cannot quote or mark read a blank id) and
    short enough for an index; other values read as absent."""
    value = str_at(obj, key)
    return value if value and value.strip() and len(value) <= _MAX_ID_CHARS else None


def bool_at(obj: JsonObject, key: str) -> bool:
    return obj.get(key) is True


def int_at(obj: JsonObject, key: str) -> int | None:
    """An integer sent as a number or as a string of digits (Meta does both)."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and 0 < len(value) <= 20:
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, int) and _INT_MIN <= value <= _INT_MAX:
        return value
    return None


def timestamp_at(obj: JsonObject, key: str) -> int:
    """Unix seconds; 0 when missing or impossible."""
    value = int_at(obj, key)
    return value if value is not None and 0 <= value <= _MAX_TIMESTAMP else 0


def decimal_at(obj: JsonObject, key: str) -> Decimal | None:
    """An exact decimal from an int, a float (via its shortest repr) or a numeric string."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
        return None
    # str() of a float is its shortest round-trip form, so 7.99 becomes Decimal("7.99").
    text = str(value) if not isinstance(value, str) else value
    if len(text) > 64:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number.adjusted()) > _MAX_EXPONENT:
        return None
    return number
