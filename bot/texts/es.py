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
)
