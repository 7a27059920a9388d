"""JSON log lines with masked phone numbers; never secrets or message bodies at info level."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import orjson

__all__ = ["configure_logging", "log_context", "mask", "note"]

_DIGITS = re.compile(r"\+?\d{7,15}")
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Fields every line logged inside ``log_context`` carries (the message being processed).
_OUTSIDE: dict[str, Any] = {}  # never written: ``note`` outside any context does nothing
_CONTEXT: ContextVar[dict[str, Any]] = ContextVar("log_context", default=_OUTSIDE)
_STARTED = "_started"  # perf_counter() when the context began; shown as latency_ms


def mask(value: str | None) -> str:
    """'5491122334455' -> '*********4455'; also masks numbers inside longer strings."""
    if not value:
        return ""
    return _DIGITS.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], value)


@contextlib.contextmanager
def log_context(*, timed: bool = False, **fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged inside the block (in this task and its children);
    ``timed`` adds latency_ms, the milliseconds since the block began."""
    extra = {**_CONTEXT.get(), **fields}
    if timed:
        extra[_STARTED] = time.perf_counter()
    token = _CONTEXT.set(extra)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def note(**fields: Any) -> None:
    """Set fields of the innermost ``log_context`` in place (cheap enough for every stage)."""
    current = _CONTEXT.get()
    if current is not _OUTSIDE:
        current.update(fields)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        context = _CONTEXT.get()
        if _STARTED in context:
            line["latency_ms"] = round((time.perf_counter() - context[_STARTED]) * 1000, 1)
        fields = {**context, **vars(record)}  # the record's own `extra=` wins
        for key, value in fields.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = mask(value) if key in ("customer", "phone", "to") else value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at info; the Graph URL carries the phone number id.
    logging.getLogger("httpx").setLevel(logging.WARNING)
