"""English copy."""

from __future__ import annotations

from bot.texts import Texts

TEXTS = Texts(
    welcome="Hi{name}! 👋 Welcome to {shop}. What would you like to do?",
    welcome_back="Hi again{name}! How can I help today?",
    menu_browse="Browse catalogue",
    menu_search="Search products",
    menu_cart="My cart",
    menu_orders="My orders",
    menu_help="Help",
    menu_button="See options",
    help=(
        "I can help you:\n"
        "• browse the catalogue: type *catalogue*\n"
        "• search: type what you need, e.g. *sneakers size 42*\n"
        "• see your cart: type *cart*\n"
        "• pay: type *checkout*\n"
        "• track your order: type *my order*\n"
        "• talk to a person: type *agent*"
    ),
    not_understood="I'm not sure I understood 🤔. Type *help* to see what I can do.",
    unsupported_message="I can't read that kind of message yet. Could you write it in words, please?",
    error_fallback="Oops, something went wrong on our side 😕. Please try again in a moment.",
    rate_limited=(
        "You are sending a lot of messages {window} 🙏. You can continue in {wait}. "
        "I won't answer until then."
    ),
    maintenance="We are doing some maintenance. Back soon 🙏",
    goodbye="Thanks for writing to us! We're here whenever you need us 👋",
    window_minute="per minute",
    window_hour="per hour",
    window_day="today",
    window_burst="in a row",
    payment_received="✅ We received your payment for order *{order}*! We'll let you know when it ships.",
    order_status_changed="📦 Your order *{order}* is now: *{status}*.",
    status_pending_payment="awaiting payment",
    status_paid="paid",
    status_preparing="being prepared",
    status_shipped="on its way",
    status_delivered="delivered",
    status_cancelled="cancelled",
)
