"""The intents the bot knows and the result every detector returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Intent", "IntentResult"]


class Intent(StrEnum):
    GREETING = "greeting"
    BROWSE_CATEGORIES = "browse_categories"
    SEARCH_PRODUCT = "search_product"
    ADD_TO_CART = "add_to_cart"
    VIEW_CART = "view_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    CHECKOUT = "checkout"
    ORDER_STATUS = "order_status"
    STORE_INFO = "store_info"
    HUMAN_AGENT = "human_agent"
    HELP = "help"
    AFFIRM = "affirm"
    DENY = "deny"
    GOODBYE = "goodbye"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentResult:
    intent: Intent
    confidence: float
    quantity: int | None = None
    query: str | None = None
    # Where the answer came from: "tap", "keywords", "cache" or a provider name.
    source: str = "keywords"
    language: str | None = None

    def as_json(self, text: str) -> dict[str, object]:
        """The shape `bot intent` prints, one object per line."""
        return {
            "text": text,
            "intent": self.intent.value,
            "confidence": round(self.confidence, 3),
            "quantity": self.quantity,
            "query": self.query,
            "source": self.source,
        }
