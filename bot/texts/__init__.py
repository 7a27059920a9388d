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

    # Menus and shared buttons (button titles fit in 20 characters, list rows in 24).
    menu_offers: str
    menu_store_info: str
    menu_agent: str
    menu_other_language: str
    button_checkout: str
    button_keep_shopping: str
    button_back: str
    button_no: str
    button_no_thanks: str
    button_continue: str
    button_confirm: str
    button_cancel: str
    see_options: str
    affirm_idle: str
    deny_idle: str
    location_unasked: str
    language_set: str
    # Browsing and search.
    categories_body: str
    see_categories: str
    more_categories: str
    category_count: str
    featured_title: str
    featured_description: str
    offers_title: str
    offers_description: str
    featured_body: str
    offers_body: str
    category_body: str
    see_products: str
    more_results: str
    products_header: str
    catalog_more: str
    price_on_sale: str
    sold_out: str
    product_detail: str
    product_actions: str
    product_gone: str
    stock_some: str
    stock_few: str
    stock_none: str
    button_add: str
    search_ask: str
    search_results: str
    search_corrected: str
    search_pick: str
    search_nothing: str
    # Cart.
    cart_header: str
    cart_line: str
    cart_total: str
    cart_empty: str
    cart_emptied: str
    added: str
    ask_quantity: str
    quantity_not_understood: str
    quantity_updated: str
    nothing_changed: str
    stock_only: str
    stock_sold_out: str
    stock_all_in_cart: str
    button_take_available: str
    button_edit_cart: str
    button_empty_cart: str
    button_change_quantity: str
    button_remove: str
    button_back_to_cart: str
    button_yes_empty: str
    see_cart_lines: str
    edit_which: str
    remove_which: str
    line_options: str
    removed: str
    not_in_cart: str
    ask_empty: str
    order_received: str
    order_unknown_items: str
    # Checkout.
    checkout_review: str
    ask_continue: str
    price_changed: str
    stock_problem: str
    short_line: str
    short_line_none: str
    button_fix_stock: str
    stock_fixed: str
    ask_address: str
    address_reuse: str
    button_same_address: str
    address_too_short: str
    ask_shipping: str
    shipping_none: str
    free: str
    ask_discount: str
    button_no_code: str
    code_type_it: str
    code_not_understood: str
    code_applied: str
    refused_unknown: str
    refused_inactive: str
    refused_expired: str
    refused_used_up: str
    refused_min_subtotal: str
    ask_payment: str
    pay_name_cash_on_delivery: str
    pay_name_bank_transfer: str
    pay_name_payment_link: str
    summary_header: str
    summary_subtotal: str
    summary_shipping: str
    summary_discount: str
    summary_total: str
    summary_delivery: str
    summary_payment: str
    ask_confirm: str
    checkout_cancelled: str
    order_placed: str
    pay_cash: str
    pay_transfer: str
    transfer_details_later: str
    pay_link: str
    pay_link_failed: str
    # Orders, store information, human handoff.
    orders_header: str
    order_row: str
    orders_none: str
    date_format: str
    store_info_missing: str
    faq_hours: str
    faq_location: str
    faq_shipping: str
    faq_payment: str
    faq_bank_transfer: str
    faq_returns: str
    handoff_started: str
    handoff_resumed: str
    # Sent to the shop (in the default language), not to the customer.
    handoff_notice: str

    def _named(self, prefix: str, key: str, fallback: str) -> str:
        value = getattr(self, f"{prefix}_{key}", None)
        return value if isinstance(value, str) else fallback

    def status_name(self, status: str) -> str:
        """Customer-facing name of an order status."""
        return self._named("status", status, status)

    def payment_name(self, method: str) -> str:
        """Customer-facing name of a payment method (fits a reply button)."""
        return self._named("pay_name", method, method)

    def discount_refused(self, reason: str) -> str:
        """Why a discount code was refused; ``{code}`` and ``{minimum}`` placeholders."""
        return self._named("refused", reason, self.refused_unknown)

    def faq_label(self, topic: str) -> str:
        """Heading of one store_faq entry."""
        return self._named("faq", topic, topic)


def texts_for(language: str | None) -> Texts:
    # Imported here so each language module can import Texts from this one.
    from bot.texts import en, es

    return en.TEXTS if language == "en" else es.TEXTS
