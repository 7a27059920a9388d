"""Every Redis key the bot writes, and its TTL, in one place.

Keys that one customer's operations touch together carry the customer in a
``{hash tag}`` so that Redis Cluster puts them in one slot (no CROSSSLOT).
"""

from __future__ import annotations

__all__ = [
    "BREAKER_PROBE_TTL_MS",
    "CATEGORY_CACHE_TTL_S",
    "INTENT_CACHE_TTL_S",
    "PREFIX",
    "SESSION_TTL_S",
    "breaker",
    "breaker_probe",
    "category_cache",
    "intent_cache",
    "rate_limit",
    "session",
]

PREFIX = "wbot:"

SESSION_TTL_S = 2 * 60 * 60  # default; operators change it with system_config.session_ttl_seconds
INTENT_CACHE_TTL_S = 24 * 60 * 60
CATEGORY_CACHE_TTL_S = 30 * 60
BREAKER_PROBE_TTL_MS = 10_000


def rate_limit(customer: str) -> str:
    """Hash of sliding-window counters for one customer (fields ``<window_ms>:<bucket>``)."""
    return f"{PREFIX}rl:{{{customer}}}"


def session(customer: str) -> str:
    """Cached copy of the customer's session (PostgreSQL is the source of truth)."""
    return f"{PREFIX}session:{{{customer}}}"


def breaker(provider: str) -> str:
    """Circuit-breaker hash for one AI provider."""
    return f"{PREFIX}cb:{{{provider}}}"


def breaker_probe(provider: str) -> str:
    """Reservation of the single half-open probe call for one AI provider."""
    return f"{PREFIX}cb:{{{provider}}}:probe"


def intent_cache(lang: str, normalized_text: str) -> str:
    """Cached intent for one normalized utterance."""
    return f"{PREFIX}intent:{lang}:{normalized_text}"


def category_cache(lang: str) -> str:
    """Cached category listing (invalidated on catalogue change)."""
    return f"{PREFIX}categories:{lang}"
