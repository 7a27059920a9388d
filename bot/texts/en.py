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
    menu_offers="Offers",
    menu_store_info="Hours & delivery",
    menu_agent="Talk to a person",
    menu_other_language="Español",
    button_checkout="Checkout",
    button_keep_shopping="Keep shopping",
    button_back="Back",
    button_no="No",
    button_no_thanks="No, thanks",
    button_continue="Yes, continue",
    button_confirm="Place order",
    button_cancel="Cancel",
    see_options="See options",
    affirm_idle="Great! What would you like to do?",
    deny_idle="Alright 👍. I'm here if you need anything. Can I help with something else?",
    location_unasked=(
        "I got your location 📍. I'll ask for the delivery address when you check out. "
        "What would you like to do?"
    ),
    language_set="Done! We'll continue in English. What would you like to do?",
    categories_body="Here are our categories 🛍️. Pick one:",
    see_categories="See categories",
    more_categories="More categories ➡️",
    category_count="{count} products available",
    featured_title="⭐ Featured",
    featured_description="Our customers' favourites",
    offers_title="🔥 Offers",
    offers_description="Products on sale",
    featured_body="⭐ Our featured products. Tap one to see it:",
    offers_body="🔥 Today's offers. Tap one to see it:",
    category_body="*{name}*: tap a product to see it.",
    see_products="See products",
    more_results="More ➡️",
    products_header="Products",
    catalog_more="Want to see more?",
    price_on_sale="{price} (was {before})",
    sold_out="Sold out",
    product_detail="*{name}*\n💲 {price}\n{stock}\n\n{description}",
    product_actions="What would you like to do?",
    product_gone="That product is no longer available 😕.",
    stock_some="✅ In stock",
    stock_few="⚠️ Only a few left! Available: {count}",
    stock_none="❌ Out of stock for now",
    button_add="Add to cart",
    search_ask="What are you looking for? Type the product's name, e.g. *mochila* (backpack) or *café*.",
    search_results="Here's what I found for “{query}”. Tap one to see it:",
    search_corrected="I couldn't find exactly that, but here's what I found for “{query}”:",
    search_pick=(
        "I found several options for “{query}”. Which one? Tap it and I'll add {quantity} "
        "to your cart (or type its number)."
    ),
    search_nothing=(
        "I couldn't find anything for “{query}” 😕. Maybe one of these, "
        "or have a look at the whole catalogue:"
    ),
    cart_header="🛒 *Your cart*",
    cart_line="• {quantity} × {name}: {total}",
    cart_total="*Total: {total}*",
    cart_empty="Your cart is empty 🛒. Shall we find something?",
    cart_emptied="Done, your cart is empty now.",
    added="✅ Added {quantity} × {name} to your cart.",
    ask_quantity=(
        "How many *{name}* would you like? ({available} available) "
        "Tap an option or type the number."
    ),
    quantity_not_understood="I didn't get the quantity 🤔. Type a number, e.g. *2*.",
    quantity_updated="Done: you now have {quantity} × {name}.",
    nothing_changed="Alright, nothing changed. What next?",
    stock_only=(
        "Sorry 😕, we only have {available} of *{name}* in stock and you asked for {asked}. "
        "Shall I add {available}?"
    ),
    stock_sold_out="Sorry 😕, *{name}* is sold out for now. Shall I show you other options?",
    stock_all_in_cart="Your cart already has all the *{name}* we have left ({count}) 🙌.",
    button_take_available="Yes, add {count}",
    button_edit_cart="Edit cart",
    button_empty_cart="🗑️ Empty cart",
    button_change_quantity="Change quantity",
    button_remove="Remove",
    button_back_to_cart="Back to cart",
    button_yes_empty="Yes, empty it",
    see_cart_lines="See items",
    edit_which="Which item do you want to change?",
    remove_which="Several items match. Which one should I remove?",
    line_options="*{name}*: {quantity} in your cart. What should I do?",
    removed="I removed *{name}* from your cart.",
    not_in_cart="I couldn't find “{query}” in your cart.",
    ask_empty="Are you sure you want to empty your cart?",
    order_received="📦 I got your order from the WhatsApp catalogue and put it in your cart.",
    order_unknown_items=(
        "Some products in your order are no longer in our catalogue, so I left them out: "
        "{items}. Sorry about that 🙏."
    ),
    checkout_review="Let's review your order 🧾",
    ask_continue="Shall we continue?",
    price_changed="ℹ️ The price of *{name}* changed: it is now {price}.",
    stock_problem=(
        "Sorry 😕, we don't have enough stock for your order:\n{lines}\n\n"
        "Shall I adjust your cart to what we have? Your cart is kept as it is."
    ),
    short_line="• *{name}*: you asked for {asked}, we have {available}",
    short_line_none="• *{name}*: sold out",
    button_fix_stock="Adjust my cart",
    stock_fixed="Done, your cart now matches what we have ✅.",
    ask_address=(
        "📍 Where should we deliver it? Type street, number and city, or share your location."
    ),
    address_reuse="Shall we deliver to the same address as last time?\n{address}",
    button_same_address="Yes, same address",
    address_too_short="I need a slightly fuller address (street, number and city) 🙏.",
    ask_shipping="🚚 How would you like to get it? Pick a delivery option:",
    shipping_none=(
        "We have no delivery options set up right now 😕. "
        "A person from our team can help you arrange delivery."
    ),
    free="Free",
    ask_discount="🎟️ Do you have a discount code? Type it here, or tap *No code*.",
    button_no_code="No code",
    code_type_it="Great! Type your discount code.",
    code_not_understood="I couldn't find a code in your message 🤔. Type it as is, e.g. *BIENVENIDO10*.",
    code_applied="✅ Code *{code}* applied.",
    refused_unknown="The code *{code}* doesn't exist 😕. Please check the spelling.",
    refused_inactive="The code *{code}* isn't active right now 😕.",
    refused_expired="The code *{code}* has expired 😕.",
    refused_used_up="The code *{code}* has reached its usage limit 😕.",
    refused_min_subtotal="The code *{code}* applies to orders from {minimum} 😕.",
    ask_payment="💳 How would you like to pay?",
    pay_name_cash_on_delivery="Cash on delivery",
    pay_name_bank_transfer="Bank transfer",
    pay_name_payment_link="Payment link",
    summary_header="🧾 *Your order*",
    summary_subtotal="Subtotal: {amount}",
    summary_shipping="Delivery: {amount}",
    summary_discount="Discount: -{amount}",
    summary_total="*Total: {amount}*",
    summary_delivery="📍 Delivery: {address} ({option})",
    summary_payment="💳 Payment: {method}",
    ask_confirm="Shall I place the order?",
    checkout_cancelled="Alright, checkout cancelled. Your cart is saved if you want to come back to it.",
    order_placed="🎉 Order *{order}* confirmed! Thank you for your purchase.",
    pay_cash="💵 You pay {total} in cash on delivery. We'll let you know when it ships.",
    pay_transfer=(
        "🏦 Please transfer {total} quoting order *{order}*:\n{details}\n\n"
        "We'll let you know as soon as it arrives."
    ),
    transfer_details_later="We'll send you our bank details shortly.",
    pay_link="💳 Pay {total} securely here: {url}",
    pay_link_failed=(
        "I couldn't create the payment link right now 😕. Your order is registered: we'll send "
        "you the link shortly, or type *agent* if you'd rather pay another way."
    ),
    orders_header="📦 *Your latest orders*",
    order_row="• *{order}* ({date}): {total} · {status}",
    orders_none="You have no orders with us yet. Shall we look at the catalogue?",
    date_format="%b %d, %Y",
    store_info_missing="We haven't added that information yet 🙏. A person from our team can answer you.",
    faq_hours="🕘 Opening hours",
    faq_location="📍 Where we are",
    faq_shipping="🚚 Delivery",
    faq_payment="💳 Payment methods",
    faq_bank_transfer="🏦 Bank transfer details",
    faq_returns="🔄 Returns and exchanges",
    handoff_started=(
        "👤 Done, I'm letting someone from our team know so they can answer you here. Until "
        "then I won't reply automatically (up to {minutes} minutes). Type *menu* to talk to the "
        "bot again."
    ),
    handoff_resumed="🤖 I'm back! How can I help?",
    handoff_notice=(
        "🙋 {name} (+{phone}, language: {language}) wants to talk to a person. "
        "Answer them on WhatsApp."
    ),
)
