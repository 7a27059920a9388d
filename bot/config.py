"""Live operator switches from the ``system_config`` table.

A change made with plain SQL reaches every running bot within a second: a trigger sends
NOTIFY on channel ``system_config`` and each process reloads; a periodic refresh covers a
missed notification (e.g. while the listening connection was reconnecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from bot.cancellation import cancel_and_wait

__all__ = ["CONFIG_KEYS", "ConfigError", "LiveConfig", "parse_value", "set_value"]

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """An unknown key or an invalid value; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ConfigKey:
    default: Any
    check: Callable[[Any], bool]
    expected: str


def _int_between(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _text_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= 1000)


_WA_NUMBER = re.compile(r"\d{8,15}")
_FAQ_TEXT_CHARS = 1000


def _number_or_https(value: Any) -> bool:
    """A WhatsApp number (digits, as Meta writes wa_ids), an https URL, or null."""
    if value is None:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `bot config set handoff_notify 5491100000000` parses as a number
    if not isinstance(value, str):
        return False
    return bool(_WA_NUMBER.fullmatch(value)) or (
        value.startswith("https://") and len(value) <= 1000 and " " not in value
    )


def _faq(value: Any) -> bool:
    """{"es": {"hours": "...", ...}, "en": {...}}: languages to entries to texts."""
    return isinstance(value, dict) and all(
        isinstance(language, str)
        and isinstance(entries, dict)
        and all(
            isinstance(key, str) and isinstance(text, str) and 0 < len(text) <= _FAQ_TEXT_CHARS
            for key, text in entries.items()
        )
        for language, entries in value.items()
    )


CONFIG_KEYS: dict[str, ConfigKey] = {
    "use_ai_providers": ConfigKey(True, _is_bool, "true or false"),
    "use_redis_sessions": ConfigKey(True, _is_bool, "true or false"),
    "rate_limiting_enabled": ConfigKey(True, _is_bool, "true or false"),
    "maintenance_mode": ConfigKey(False, _is_bool, "true or false"),
    "maintenance_message": ConfigKey(None, _text_or_null, "a text of 1-1000 characters, or null"),
    "session_ttl_seconds": ConfigKey(7200, _int_between(60, 30 * 86400), "seconds, 60 to 2592000"),
    "ai_deadline_ms": ConfigKey(2500, _int_between(50, 30_000), "milliseconds, 50 to 30000"),
    "handoff_minutes": ConfigKey(30, _int_between(1, 24 * 60), "minutes, 1 to 1440"),
    "handoff_notify": ConfigKey(
        None, _number_or_https, "a WhatsApp number (digits only), an https:// URL, or null"
    ),
    "store_faq": ConfigKey(
        {}, _faq, 'an object like {"es": {"hours": "..."}, "en": {...}} (texts up to 1000 chars)'
    ),
}

_SELECT = "SELECT key, value FROM system_config"
_UPSERT = """
INSERT INTO system_config (key, value, updated_by) VALUES ($1, $2::jsonb, $3)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(),
    updated_by = EXCLUDED.updated_by
"""


def parse_value(key: str, raw: str) -> Any:
    """Turn shell input into a checked value: JSON if it parses, else the plain string."""
    spec = CONFIG_KEYS.get(key)
    if spec is None:
        raise ConfigError(f"unknown key {key!r}; known keys: {', '.join(sorted(CONFIG_KEYS))}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    if not spec.check(value):
        raise ConfigError(f"invalid value for {key}: {raw!r}; expected {spec.expected}")
    return value


async def set_value(pool: asyncpg.Pool, key: str, value: Any, *, by: str) -> None:
    await pool.execute(_UPSERT, key, orjson.dumps(value).decode(), by)


class LiveConfig:
    """The current switches; ``get`` never touches the database."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values = {key: spec.default for key, spec in CONFIG_KEYS.items()}
        self._values.update(values or {})
        self._task: asyncio.Task[None] | None = None
        self._other_channels: dict[str, Callable[[], Awaitable[None]]] = {}

    def on_notify(self, channel: str, reload: Callable[[], Awaitable[None]]) -> None:
        """Also LISTEN on ``channel`` and await ``reload`` when it fires (and at each refresh)."""
        self._other_channels[channel] = reload

    def get(self, key: str) -> Any:
        return self._values[key]

    def flag(self, key: str) -> bool:
        return bool(self._values[key])

    def number(self, key: str) -> int:
        return int(self._values[key])

    def apply(self, rows: Mapping[str, Any]) -> None:
        """Take valid values; an invalid one set by hand keeps the previous value (logged)."""
        for key, value in rows.items():
            spec = CONFIG_KEYS.get(key)
            if spec is None:
                continue
            if not spec.check(value):
                log.warning(
                    "system_config %s has an invalid value; keeping %r", key, self._values[key]
                )
                continue
            if self._values[key] != value:
                log.info("system_config %s changed", key)
                self._values[key] = value

    async def load(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        rows = await conn.fetch(_SELECT)
        self.apply({row["key"]: orjson.loads(row["value"]) for row in rows})

    async def start(self, dsn: str, *, refresh_s: float = 5.0) -> None:
        self._task = asyncio.create_task(self._follow(dsn, refresh_s), name="system-config")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _follow(self, dsn: str, refresh_s: float) -> None:
        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("system_config listener cannot connect: %s", exc)
                await asyncio.sleep(refresh_s)
                continue
            changed = asyncio.Event()

            def on_notify(*_: object, changed: asyncio.Event = changed) -> None:
                changed.set()

            try:
                await conn.add_listener("system_config", on_notify)
                for channel in self._other_channels:
                    await conn.add_listener(channel, on_notify)
                while True:
                    await self.load(conn)
                    for reload in self._other_channels.values():
                        await reload()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), refresh_s)
                    changed.clear()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("system_config listener lost its connection: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
