"""Prometheus metrics, defined once; every module records through these names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "AI_CALLS",
    "AI_COST",
    "BREAKER_STATE",
    "GRAPH_ERRORS",
    "INBOX_BACKLOG",
    "INBOX_OLDEST_AGE",
    "MESSAGES",
    "RATE_LIMITED",
    "SESSION_CACHE",
    "STAGE_SECONDS",
    "message_type",
]

# Label values come from webhook bodies; anything else would let a sender create series at will.
_MESSAGE_TYPES = frozenset(
    {
        "text", "image", "video", "document", "audio", "sticker", "location", "contacts", "order",
        "reaction", "system", "button", "interactive", "revoke", "edit", "request_welcome",
        "unsupported", "unknown",
    }
)  # fmt: skip
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

MESSAGES = Counter(
    "wbot_messages_total", "Inbound messages processed", ["type", "intent", "source"]
)
STAGE_SECONDS = Histogram(
    "wbot_stage_seconds", "Time spent per processing stage", ["stage"], buckets=_LATENCY_BUCKETS
)
RATE_LIMITED = Counter(
    "wbot_rate_limited_total", "Messages refused by the rate limiter", ["window"]
)
SESSION_CACHE = Counter("wbot_session_cache_total", "Session cache lookups", ["result"])
AI_CALLS = Counter("wbot_ai_calls_total", "AI provider attempts", ["provider", "outcome"])
AI_COST = Counter("wbot_ai_cost_usd_total", "AI provider cost in USD", ["provider"])
BREAKER_STATE = Gauge(
    "wbot_breaker_open",
    "Provider circuit breaker: 1 open, 0.5 half-open (one probe allowed), 0 closed",
    ["provider"],
)
GRAPH_ERRORS = Counter("wbot_graph_errors_total", "Graph API errors by code", ["code"])
INBOX_BACKLOG = Gauge("wbot_inbox_backlog", "Stored inbound messages not yet processed")
INBOX_OLDEST_AGE = Gauge(
    "wbot_inbox_oldest_age_seconds", "Age of the oldest unprocessed inbound message"
)


def message_type(kind: str) -> str:
    """The ``type`` label for a message type: one of Meta's, or ``other``."""
    return kind if kind in _MESSAGE_TYPES else "other"
