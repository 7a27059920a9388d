"""Webhook bodies made by mutating the shared corpus (real bodies Meta sent or documents).

Each mutant starts from a corpus body whose message ids are made unique (so every valid message
must be stored anew) and whose senders come from a small pool (so sessions, rate limits and
per-customer ordering are exercised), then gets one to three operators. Operators that need
bytes no Python value serialises to (lone surrogate escapes, 1e400, duplicate keys, nesting
past orjson's writer limit) put an ``orjson.Fragment`` in the tree.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fuzz.generate import random_text

__all__ = ["CORPUS_DIR", "CorpusMutator", "Mutant", "load_corpus"]

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "whatsapp"
MAX_BODY = 3 * 1024 * 1024  # the webhook's limit (bot.webhook.MAX_BODY_BYTES)

Json = Any
# A place in the tree: the container and the key or index of the value.
Slot = tuple[dict[str, Any] | list[Any], Any]

_ODD = (
    "\x00", "\x00\x00nul", "\u200f", "\u202e", "\u2066\u2069", "\ufeff", "\u2028\u2029",
    "👩\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "\ufffe\uffff", "\U0010ffff", "\u0301" * 50,
    "'; DROP TABLE inbound_messages; --", "%s%n%x", "{{7*7}}", "\\", "\\u0000", "\r\n",
)  # fmt: skip
_ODD_ESCAPES = (
    b'"\\ud800"', b'"\\udfff"', b'"a\\ud83d"', b'"\\ud83d\\ude00"', b'"\\u0000"',
    b'"\\u0000\\u0000"', b'"x\\u200dy"', b'"\\uFEFF"', b'"\\/\\b\\f\\n\\r\\t"', b'"\\ud800\\u0041"',
)  # fmt: skip
_NUMBERS = (
    b"1e400", b"-1e400", b"1e-400", b"18446744073709551615", b"18446744073709551616",
    b"-9223372036854775809", b"9223372036854775808", b"1" + b"0" * 40, b"-0", b"-0.0",
    b"1.7976931348623157e308", b"5e-324", b"0.1e-99999", b"123456789.123456789e300", b"NaN",
    b"Infinity", b"1E+2", b"0e0",
)  # fmt: skip
_DEPTHS = (50, 254, 255, 256, 600, 1023, 1024, 1025, 3000, 10_000)
_TYPES = (
    "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
    "interactive", "button", "order", "reaction", "system", "unsupported", "unknown", "request_welcome",
    "", "TEXT", "text ",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutant:
    operators: tuple[str, ...]
    raw: bytes


def load_corpus(folder: Path = CORPUS_DIR) -> list[dict[str, Any]]:
    bodies = [orjson.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))]
    if not bodies:
        raise FileNotFoundError(f"no corpus bodies in {folder}")
    return bodies


def _slots(node: Json) -> Iterator[Slot]:
    """Every (container, key) pair under ``node``, depth first."""
    if isinstance(node, dict):
        for key in list(node):
            yield node, key
            yield from _slots(node[key])
    elif isinstance(node, list):
        for index in range(len(node)):
            yield node, index
            yield from _slots(node[index])


def _items(node: Json, key: str) -> list[Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _messages_lists(tree: Json) -> list[list[Any]]:
    """The ``messages`` arrays of every change value (wherever mutations left them)."""
    found = []
    for entry in _items(tree, "entry"):
        for change in _items(entry, "changes"):
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict) and isinstance(value.get("messages"), list):
                found.append(value["messages"])
    return found


def _dumps_with_duplicate(obj: dict[str, Any], key: str, other: Json) -> bytes:
    """The object with ``key`` written twice; the copy comes first or last (last one wins)."""
    items = [orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in obj.items()]
    duplicate = orjson.dumps(key) + b":" + orjson.dumps(other)
    return b"{" + b",".join([duplicate, *items] if len(items) % 2 else [*items, duplicate]) + b"}"


class CorpusMutator:
    def __init__(self, rng: random.Random, bodies: Sequence[dict[str, Any]] | None = None) -> None:
        self._rng = rng
        self._bodies = list(bodies) if bodies is not None else load_corpus()
        self._customers = [f"54911{n:08d}" for n in rng.sample(range(10**8), 300)]
        self._serial = 0
        self._operators: list[tuple[Callable[[Json], None], float]] = [
            (self._wrong_type, 3), (self._drop_key, 3), (self._odd_unicode, 3),
            (self._number, 2), (self._duplicate_key, 2), (self._splice, 2), (self._retype, 1),
            (self._empty, 1), (self._deep, 1), (self._many_messages, 0.5), (self._huge, 0.3),
        ]  # fmt: skip

    def mutant(self) -> Mutant:
        rng = self._rng
        tree = orjson.loads(orjson.dumps(rng.choice(self._bodies)))  # a deep copy
        self._freshen(tree)
        names: list[str] = []
        operators, weights = zip(*self._operators, strict=True)
        for operator in rng.choices(operators, weights, k=rng.choice((1, 1, 2, 3))):
            operator(tree)
            names.append(operator.__name__.strip("_"))
        raw = orjson.dumps(tree)
        if rng.random() < 0.05:
            raw = self._bytes(raw)
            names.append("bytes")
        return Mutant(tuple(names), raw)

    def _fresh_id(self) -> str:
        self._serial += 1
        return f"wamid.FUZZ{self._serial:08d}{self._rng.getrandbits(32):08x}"

    def _freshen(self, tree: Json) -> None:
        for messages in _messages_lists(tree):
            customer = self._rng.choice(self._customers)
            for message in messages:
                if isinstance(message, dict):
                    message["id"] = self._fresh_id()
                    if "from" in message:
                        message["from"] = customer

    def _slot(self, tree: Json, want: Callable[[Json], bool] = lambda v: True) -> Slot | None:
        slots = [(c, k) for c, k in _slots(tree) if want(c[k])]
        return self._rng.choice(slots) if slots else None

    def _random_value(self) -> Json:
        rng = self._rng
        return rng.choice(
            (
                None,
                True,
                False,
                0,
                -1,
                rng.randint(-(2**63), 2**63 - 1),
                3.14,
                "",
                random_text(rng),
                [],
                [random_text(rng)],
                {},
                {"body": random_text(rng)},
            )
        )

    def _wrong_type(self, tree: Json) -> None:
        slot = self._slot(tree)
        if slot is not None:
            container, key = slot
            current = type(container[key])
            container[key] = next(
                v for v in iter(self._random_value, object()) if type(v) is not current
            )

    def _drop_key(self, tree: Json) -> None:
        slot = self._slot(tree)
        if slot is not None:
            container, key = slot
            del container[key]

    def _odd_unicode(self, tree: Json) -> None:
        slot = self._slot(tree, lambda v: isinstance(v, str))
        if slot is None:
            return
        container, key = slot
        rng = self._rng
        if rng.random() < 0.3:
            container[key] = orjson.Fragment(rng.choice(_ODD_ESCAPES))
            return
        text: str = container[key]
        at = rng.randint(0, len(text))
        container[key] = text[:at] + rng.choice(_ODD) + text[at:]

    def _number(self, tree: Json) -> None:
        slot = self._slot(tree, lambda v: not isinstance(v, dict | list))
        if slot is not None:
            container, key = slot
            container[key] = orjson.Fragment(self._rng.choice(_NUMBERS))

    def _duplicate_key(self, tree: Json) -> None:
        slot = self._slot(tree, lambda v: isinstance(v, dict) and bool(v))
        if slot is not None:
            container, key = slot
            obj = container[key]
            dup = self._rng.choice(list(obj))
            container[key] = orjson.Fragment(_dumps_with_duplicate(obj, dup, self._random_value()))

    def _splice(self, tree: Json) -> None:
        donor = orjson.loads(orjson.dumps(self._rng.choice(self._bodies)))
        source, target = self._slot(donor), self._slot(tree)
        if source is not None and target is not None:
            target[0][target[1]] = source[0][source[1]]

    def _retype(self, tree: Json) -> None:
        for messages in _messages_lists(tree):
            for message in messages:
                if isinstance(message, dict):
                    message["type"] = self._rng.choice(_TYPES)

    def _empty(self, tree: Json) -> None:
        slot = self._slot(tree, lambda v: isinstance(v, dict | list | str))
        if slot is not None:
            container, key = slot
            container[key] = type(container[key])()

    def _deep(self, tree: Json) -> None:
        slot = self._slot(tree)
        if slot is not None:
            depth = self._rng.choice(_DEPTHS)
            opener, closer = (b"[", b"]") if self._rng.random() < 0.5 else (b'{"a":', b"}")
            container, key = slot
            container[key] = orjson.Fragment(opener * depth + b"1" + closer * depth)

    def _many_messages(self, tree: Json) -> None:
        lists = _messages_lists(tree)
        if lists:
            messages = self._rng.choice(lists)
            if messages and isinstance(messages[0], dict):
                template = messages[0]
                copies = self._rng.randint(2, 200)
                messages[:] = [{**template, "id": self._fresh_id()} for _ in range(copies)]

    def _huge(self, tree: Json) -> None:
        """A string of up to about the body limit (sometimes just over: the 413 path)."""
        slot = self._slot(tree, lambda v: isinstance(v, str))
        if slot is None:
            return
        rng = self._rng
        room = MAX_BODY - len(orjson.dumps(tree)) - 64
        size = rng.choice((64 * 1024, 512 * 1024, room // 2, room, room + 200))
        unit = rng.choice(("a", "ñ", "👩\u200d👩\u200d👧", "\u200f", "\\", " "))
        # Stay near ``size`` bytes once serialised (multi-byte characters, escaped backslashes).
        unit_bytes = len(orjson.dumps(unit)) - 2
        container, key = slot
        container[key] = unit * max(1, size // unit_bytes)

    def _bytes(self, raw: bytes) -> bytes:
        rng = self._rng
        at = rng.randrange(len(raw))
        choice = rng.randrange(5)
        if choice == 0:
            return raw[:at]  # truncated
        if choice == 1:
            return raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]
        if choice == 2:
            return b"\xef\xbb\xbf" + raw  # UTF-8 byte order mark
        if choice == 3:
            return raw[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00")) + raw[at:]
        return raw + rng.choice((b" ", b"\n", b"garbage", b"{}", b"\x00"))
