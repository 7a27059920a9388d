"""Configuration from environment variables, validated once at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["DEFAULT_GRAPH_API_URL", "REDIS_CLUSTER_SCHEMES", "Settings", "SettingsError"]

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v23.0"
# REDIS_URL schemes that mean a Redis Cluster (bot/redis_client.py builds the client).
REDIS_CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
_T = TypeVar("_T")


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the variable."""


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value.rstrip("/") if parts.scheme.startswith("http") else value

    return check


def _bool(value: str) -> bool:
    folded = value.strip().lower()
    if folded in ("1", "true", "yes", "on"):
        return True
    if folded in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _whole_number(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number, 0 or more")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def _level(value: str) -> str:
    upper = value.strip().upper()
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return upper


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    # One server (redis://, rediss://, unix://) or a Redis Cluster through any of its nodes
    # (redis+cluster://host:port, rediss+cluster:// with TLS).
    redis_url: str
    whatsapp_app_secret: str = field(repr=False)
    whatsapp_verify_token: str = field(repr=False)
    whatsapp_access_token: str = field(repr=False)
    whatsapp_phone_number_id: str
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    log_level: str = "INFO"
    # Development only: accept POSTs without X-Hub-Signature-256 (logged loudly at start).
    allow_unsigned_webhooks: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    # Inbox workers in this process; 0 = acknowledge only (run `bot work` elsewhere).
    workers: int = 16
    # Largest asyncpg pool per process (pipeline queries, webhook inserts); see the README's
    # connection budget: processes × (pool + 3) must fit PostgreSQL's max_connections.
    db_pool_size: int = 20
    inbox_poll_ms: int = 500
    max_attempts: int = 5
    # Seconds a reply whose sender died mid-send waits for Meta's status webhook before it is
    # sent again (late rather than twice).
    send_grace_s: int = 20
    record_file: str = ""
    catalog_id: str = ""
    shop_name: str = "Tienda Demo"
    # Stripe Checkout; with no secret key the payment-link method is not offered.
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    # Where Stripe sends the customer after paying or giving up: back to WhatsApp by default.
    payment_success_url: str = "https://wa.me/"
    payment_cancel_url: str = "https://wa.me/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; raise SettingsError naming the first bad variable."""
        source = os.environ if env is None else env
        required: dict[str, Callable[[str], Any]] = {
            "database_url": _url(("postgresql", "postgres")),
            "redis_url": _url(("redis", "rediss", "unix", *REDIS_CLUSTER_SCHEMES)),
            "whatsapp_app_secret": _text,
            "whatsapp_verify_token": _text,
            "whatsapp_access_token": _text,
            "whatsapp_phone_number_id": _text,
        }
        optional: dict[str, Callable[[str], Any]] = {
            "graph_api_url": _url(("http", "https")),
            "log_level": _level,
            "allow_unsigned_webhooks": _bool,
            "host": _text,
            "port": _positive_int,
            "workers": _whole_number,
            "db_pool_size": _positive_int,
            "inbox_poll_ms": _positive_int,
            "max_attempts": _positive_int,
            "send_grace_s": _positive_int,
            "record_file": str,
            "catalog_id": str,
            "shop_name": _text,
            "stripe_secret_key": str.strip,
            "stripe_webhook_secret": str.strip,
            "stripe_api_base": _url(("http", "https")),
            "payment_success_url": _url(("http", "https")),
            "payment_cancel_url": _url(("http", "https")),
        }
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.name
            env_name = "BOT_" + name.upper() if name in _BOT_PREFIXED else name.upper()
            raw = source.get(env_name)
            if raw is None or (raw == "" and name in required):
                if name in required:
                    raise SettingsError(f"{env_name} is not set")
                continue
            parse = required.get(name) or optional[name]
            try:
                values[name] = parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{env_name} is invalid: {exc}") from None
        return cls(**values)


# Names that would be too generic alone in the environment get a BOT_ prefix.
_BOT_PREFIXED = frozenset(
    {
        "host",
        "port",
        "workers",
        "db_pool_size",
        "inbox_poll_ms",
        "max_attempts",
        "send_grace_s",
        "record_file",
        "allow_unsigned_webhooks",
    }
)
