-- Shop conversation settings (types and defaults in bot/config.py), seeded with demo values that
-- an operator replaces with `bot config set` or a plain UPDATE (running bots reload at once).
INSERT INTO system_config (key, value, description) VALUES
    ('handoff_minutes', '30',
     'Minutes the bot stays silent after a customer asks for a person (they can write "menu" to come back)'),
    ('handoff_notify', 'null',
     'Who hears about a handoff: a WhatsApp number (digits only), an https URL (JSON POST), or null'),
    ('store_faq', $json${
        "es": {
            "hours": "Lunes a viernes de 9 a 19 h y sábados de 10 a 14 h. Domingos y feriados, cerrado; el bot responde siempre.",
            "location": "Av. Corrientes 1234, local 5, Buenos Aires. Podés retirar tu pedido en el local sin costo.",
            "shipping": "Enviamos a todo el país. En la ciudad, envío en el día para pedidos antes de las 13 h (3 USD); al resto del país, 6,50 USD y llega en 2 a 5 días hábiles. Envío gratis desde 60 USD.",
            "payment": "Efectivo al recibir, transferencia bancaria o link de pago con tarjeta.",
            "bank_transfer": "Banco Demo · Cuenta corriente 0123-4567/8 · CBU 0000003100012345678901 · Alias TIENDA.DEMO.BOT · Titular: Tienda Demo S.R.L.",
            "returns": "Tenés 30 días para cambios o devoluciones con el producto sin uso y en su caja. Escribinos y coordinamos el retiro."
        },
        "en": {
            "hours": "Monday to Friday 9 am to 7 pm, Saturday 10 am to 2 pm. Closed on Sundays and public holidays; the bot always answers.",
            "location": "Av. Corrientes 1234, shop 5, Buenos Aires. You can pick up your order at the shop for free.",
            "shipping": "We deliver nationwide. In town, same-day delivery for orders placed before 1 pm (USD 3); elsewhere USD 6.50, arriving in 2 to 5 working days. Free delivery from USD 60.",
            "payment": "Cash on delivery, bank transfer, or a card payment link.",
            "bank_transfer": "Banco Demo · Current account 0123-4567/8 · CBU 0000003100012345678901 · Alias TIENDA.DEMO.BOT · Holder: Tienda Demo S.R.L.",
            "returns": "You have 30 days to exchange or return an unused product in its box. Write to us and we'll arrange the pickup."
        }
    }$json$,
     'Answers to store questions by language and topic (hours, location, shipping, payment, bank_transfer, returns)');
