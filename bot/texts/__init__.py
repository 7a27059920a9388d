"""Everything a customer reads, one module per language (``es`` first, ``en`` too)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "Texts", "texts_for"]

LANGUAGES = ("es", "en")


@dataclass(frozen=True, slots=True, kw_only=True)
class Texts:
    """Copy for one language; ``{name}`` placeholders are filled with ``str.format``."""

    welcome: str
    welcome_back: str
    menu_browse: str
    menu_search: str
    menu_cart: str
    menu_orders: str
    menu_help: str
    menu_button: str
    help: str
    not_understood: str
    unsupported_message: str
    error_fallback: str
    rate_limited: str
    maintenance: str
    goodbye: str
    window_minute: str
    window_hour: str
    window_day: str
    window_burst: str
    # Sent outside a conversation turn (payment notifications, operator status changes).
    payment_received: str
    order_status_changed: str
    status_pending_payment: str
    status_paid: str
    status_preparing: str
    status_shipped: str
    status_delivered: str
    status_cancelled: str

    def status_name(self, status: str) -> str:
        """Customer-facing name of an order status."""
        name = getattr(self, f"status_{status}", None)
        return name if isinstance(name, str) else status


def texts_for(language: str | None) -> Texts:
    # Imported here so each language module can import Texts from this one.
    from bot.texts import en, es

    return en.TEXTS if language == "en" else es.TEXTS
