"""Textos en español (idioma por defecto)."""

from __future__ import annotations

from bot.texts import Texts

TEXTS = Texts(
    welcome="¡Hola{name}! 👋 Bienvenido/a a {shop}. ¿Qué te gustaría hacer?",
    welcome_back="¡Hola de nuevo{name}! ¿En qué te ayudo hoy?",
    menu_browse="Ver catálogo",
    menu_search="Buscar producto",
    menu_cart="Mi carrito",
    menu_orders="Mis pedidos",
    menu_help="Ayuda",
    menu_button="Ver opciones",
    help=(
        "Puedo ayudarte a:\n"
        "• ver el catálogo: escribe *catálogo*\n"
        "• buscar: escribe lo que buscas, por ejemplo *zapatillas talla 42*\n"
        "• ver tu carrito: escribe *carrito*\n"
        "• pagar: escribe *pagar*\n"
        "• seguir tu pedido: escribe *mi pedido*\n"
        "• hablar con una persona: escribe *asesor*"
    ),
    not_understood="No estoy seguro de haber entendido 🤔. Escribe *ayuda* para ver lo que puedo hacer.",
    unsupported_message=(
        "Todavía no puedo leer ese tipo de mensaje. ¿Me lo escribes con palabras, por favor?"
    ),
    error_fallback="Uy, algo salió mal de nuestro lado 😕. Intenta de nuevo en un momento, por favor.",
    rate_limited=(
        "Estás enviando muchos mensajes {window} 🙏. Podrás seguir en {wait}. "
        "Mientras tanto no responderé."
    ),
    maintenance="Estamos haciendo mantenimiento. Volvemos pronto 🙏",
    goodbye="¡Gracias por escribirnos! Aquí estaremos cuando nos necesites 👋",
    window_minute="por minuto",
    window_hour="por hora",
    window_day="hoy",
    window_burst="seguidos",
    payment_received="✅ ¡Recibimos tu pago del pedido *{order}*! Te avisaremos cuando salga.",
    order_status_changed="📦 Tu pedido *{order}* ahora está: *{status}*.",
    status_pending_payment="pendiente de pago",
    status_paid="pagado",
    status_preparing="en preparación",
    status_shipped="en camino",
    status_delivered="entregado",
    status_cancelled="cancelado",
    menu_offers="Ofertas",
    menu_store_info="Horarios y envíos",
    menu_agent="Hablar con un asesor",
    menu_other_language="English",
    button_checkout="Pagar",
    button_keep_shopping="Seguir comprando",
    button_back="Volver",
    button_no="No",
    button_no_thanks="No, gracias",
    button_continue="Sí, continuar",
    button_confirm="Confirmar pedido",
    button_cancel="Cancelar",
    see_options="Ver opciones",
    affirm_idle="¡Genial! ¿Qué te gustaría hacer?",
    deny_idle="De acuerdo 👍. Si necesitas algo, aquí estoy. ¿Te ayudo con otra cosa?",
    location_unasked=(
        "Recibí tu ubicación 📍. Te pediré la dirección de entrega al finalizar una compra. "
        "¿Qué te gustaría hacer?"
    ),
    language_set="¡Listo! Seguimos en español. ¿Qué te gustaría hacer?",
    categories_body="Estas son nuestras categorías 🛍️. Elige una:",
    see_categories="Ver categorías",
    more_categories="Más categorías ➡️",
    category_count="{count} productos disponibles",
    featured_title="⭐ Destacados",
    featured_description="Lo más elegido de la tienda",
    offers_title="🔥 Ofertas",
    offers_description="Productos con descuento",
    featured_body="⭐ Nuestros destacados. Toca uno para ver el detalle:",
    offers_body="🔥 Ofertas de hoy. Toca una para ver el detalle:",
    category_body="*{name}*: toca un producto para ver el detalle.",
    see_products="Ver productos",
    more_results="Ver más ➡️",
    products_header="Productos",
    catalog_more="¿Quieres ver más?",
    price_on_sale="{price} (antes {before})",
    sold_out="Agotado",
    product_detail="*{name}*\n💲 {price}\n{stock}\n\n{description}",
    product_actions="¿Qué quieres hacer?",
    product_gone="Ese producto ya no está disponible 😕.",
    stock_some="✅ En stock",
    stock_few="⚠️ ¡Quedan pocas! Disponibles: {count}",
    stock_none="❌ Sin stock por ahora",
    button_add="Agregar al carrito",
    search_ask="¿Qué estás buscando? Escribe el nombre del producto, por ejemplo *mochila* o *café*.",
    search_results="Esto encontré para «{query}». Toca uno para ver el detalle:",
    search_corrected="No encontré exactamente eso, pero sí esto para «{query}»:",
    search_pick=(
        "Encontré varias opciones para «{query}». ¿Cuál quieres? Toca una y agrego {quantity} "
        "al carrito (o escribe su número)."
    ),
    search_nothing=(
        "No encontré nada para «{query}» 😕. Quizás te interese alguno de estos, "
        "o mira el catálogo completo:"
    ),
    cart_header="🛒 *Tu carrito*",
    cart_line="• {quantity} × {name}: {total}",
    cart_total="*Total: {total}*",
    cart_empty="Tu carrito está vacío 🛒. ¿Buscamos algo?",
    cart_emptied="Listo, vacié tu carrito.",
    added="✅ Agregué {quantity} × {name} al carrito.",
    ask_quantity=(
        "¿Cuántas unidades de *{name}* quieres? (disponibles: {available}) "
        "Toca una opción o escribe el número."
    ),
    quantity_not_understood="No entendí la cantidad 🤔. Escribe un número, por ejemplo *2*.",
    quantity_updated="Listo: ahora tienes {quantity} × {name}.",
    nothing_changed="De acuerdo, no cambié nada. ¿Qué hacemos ahora?",
    stock_only=(
        "Lo siento 😕, de *{name}* solo hay {available} en stock y pediste {asked}. "
        "¿Quieres que agregue {available}?"
    ),
    stock_sold_out="Lo siento 😕, *{name}* está agotado por ahora. ¿Te muestro otras opciones?",
    stock_all_in_cart="Ya tienes en tu carrito todo lo que nos queda de *{name}* ({count}) 🙌.",
    button_take_available="Sí, agregar {count}",
    button_edit_cart="Editar carrito",
    button_empty_cart="🗑️ Vaciar carrito",
    button_change_quantity="Cambiar cantidad",
    button_remove="Quitar",
    button_back_to_cart="Volver al carrito",
    button_yes_empty="Sí, vaciar",
    see_cart_lines="Ver productos",
    edit_which="¿Qué producto quieres cambiar?",
    remove_which="Varios productos coinciden. ¿Cuál quito?",
    line_options="*{name}*: {quantity} en el carrito. ¿Qué hago?",
    removed="Quité *{name}* del carrito.",
    not_in_cart="No encontré «{query}» en tu carrito.",
    ask_empty="¿Seguro que quieres vaciar el carrito?",
    order_received="📦 Recibí tu pedido del catálogo de WhatsApp y lo puse en tu carrito.",
    order_unknown_items=(
        "Algunos productos de tu pedido ya no están en nuestro catálogo y no los agregué: "
        "{items}. Disculpa las molestias 🙏."
    ),
    checkout_review="Revisemos tu pedido 🧾",
    ask_continue="¿Continuamos con la compra?",
    price_changed="ℹ️ El precio de *{name}* cambió: ahora es {price}.",
    stock_problem=(
        "Lo siento 😕, no tenemos stock suficiente para tu pedido:\n{lines}\n\n"
        "¿Ajusto el carrito a lo disponible? Tu carrito queda guardado."
    ),
    short_line="• *{name}*: pediste {asked}, hay {available}",
    short_line_none="• *{name}*: agotado",
    button_fix_stock="Ajustar carrito",
    stock_fixed="Listo, ajusté tu carrito a lo que hay disponible ✅.",
    ask_address=(
        "📍 ¿A qué dirección te lo enviamos? Escribe calle, número y ciudad, "
        "o comparte tu ubicación."
    ),
    address_reuse="¿Lo enviamos a la misma dirección que la última vez?\n{address}",
    button_same_address="Sí, a esa dirección",
    address_too_short="Necesito una dirección un poco más completa (calle, número y ciudad) 🙏.",
    ask_shipping="🚚 ¿Cómo quieres recibirlo? Elige una opción de envío:",
    shipping_none=(
        "Ahora mismo no tenemos opciones de envío configuradas 😕. "
        "Un asesor puede ayudarte a coordinar la entrega."
    ),
    free="Gratis",
    ask_discount="🎟️ ¿Tienes un código de descuento? Escríbelo aquí, o toca *No tengo código*.",
    button_no_code="No tengo código",
    code_type_it="¡Genial! Escribe tu código de descuento.",
    code_not_understood=(
        "No reconocí un código en tu mensaje 🤔. Escríbelo tal cual, por ejemplo *BIENVENIDO10*."
    ),
    code_applied="✅ Código *{code}* aplicado.",
    refused_unknown="El código *{code}* no existe 😕. Revisa que esté bien escrito.",
    refused_inactive="El código *{code}* no está activo en este momento 😕.",
    refused_expired="El código *{code}* ya venció 😕.",
    refused_used_up="El código *{code}* ya alcanzó su límite de usos 😕.",
    refused_min_subtotal="El código *{code}* vale para compras desde {minimum} 😕.",
    ask_payment="💳 ¿Cómo quieres pagar?",
    pay_name_cash_on_delivery="Efectivo al recibir",
    pay_name_bank_transfer="Transferencia",
    pay_name_payment_link="Link de pago",
    summary_header="🧾 *Resumen de tu pedido*",
    summary_subtotal="Subtotal: {amount}",
    summary_shipping="Envío: {amount}",
    summary_discount="Descuento: -{amount}",
    summary_total="*Total: {amount}*",
    summary_delivery="📍 Entrega: {address} ({option})",
    summary_payment="💳 Pago: {method}",
    ask_confirm="¿Confirmamos el pedido?",
    checkout_cancelled=(
        "Listo, cancelé la compra. Tu carrito sigue guardado por si quieres retomarla."
    ),
    order_placed="🎉 ¡Pedido *{order}* confirmado! Gracias por tu compra.",
    pay_cash="💵 Pagas {total} en efectivo cuando lo recibas. Te avisaremos cuando salga.",
    pay_transfer=(
        "🏦 Transfiere {total} indicando el pedido *{order}*:\n{details}\n\n"
        "Te avisamos en cuanto recibamos la transferencia."
    ),
    transfer_details_later="Te enviaremos los datos bancarios en breve.",
    pay_link="💳 Paga {total} de forma segura aquí: {url}",
    pay_link_failed=(
        "No pude generar el link de pago ahora 😕. Tu pedido quedó registrado: te enviaremos "
        "el link en breve, o escribe *asesor* si prefieres pagar de otra forma."
    ),
    orders_header="📦 *Tus últimos pedidos*",
    order_row="• *{order}* ({date}): {total} · {status}",
    orders_none="Todavía no tienes pedidos con nosotros. ¿Vemos el catálogo?",
    date_format="%d/%m/%Y",
    store_info_missing="Todavía no cargamos esa información 🙏. Un asesor puede responderte.",
    faq_hours="🕘 Horarios",
    faq_location="📍 Dónde estamos",
    faq_shipping="🚚 Envíos",
    faq_payment="💳 Formas de pago",
    faq_bank_transfer="🏦 Datos para transferencia",
    faq_returns="🔄 Cambios y devoluciones",
    handoff_started=(
        "👤 Listo, le aviso a una persona del equipo para que te responda por aquí. Mientras "
        "tanto no responderé automáticamente (hasta {minutes} minutos). Escribe *menu* para "
        "volver con el bot."
    ),
    handoff_resumed="🤖 ¡Volví! ¿En qué te ayudo?",
    handoff_notice=(
        "🙋 {name} (+{phone}, idioma: {language}) quiere hablar con una persona. "
        "Respóndele por WhatsApp."
    ),
)
