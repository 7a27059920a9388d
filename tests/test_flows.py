"""Flow decisions that conversations cannot reach easily: id formats, typed answers, stock running
out between the summary and the confirmation, payment links, handoff expiry and notifications,
catalogue messages, and the copy itself (both languages, same placeholders, within Meta's limits).
"""

from __future__ import annotations

import dataclasses
import re
import string
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from bot.botlink import InProcessLink, in_process_bot
from bot.brain import typed_choice
from bot.commerce.payments import PaymentError, PaymentLink
from bot.config import ConfigError, parse_value
from bot.flows import handoff, ids, info, language
from bot.flows.checkout import code_in
from bot.flows.ids import Tap
from bot.flows.states import HANDOFF_UNTIL
from bot.flows.ui import money
from bot.pipeline.core import Context
from bot.sessions import Session
from bot.settings import Settings
from bot.simulator import SimCustomer
from bot.texts import Texts, texts_for
from bot.whatsapp import limits
from bot.whatsapp.events import InboundMessage
from bot.whatsapp.view import body_kind, body_options, body_text
from tests.specval import assert_valid_outbound

# --- ids --------------------------------------------------------------------------------------

BUILT = [
    (ids.category(3), Tap("cat", ("3",))),
    (ids.featured(), Tap("feat")),
    (ids.offers(), Tap("offers")),
    (ids.categories_page(9), Tap("more", ("cats", "9"))),
    (ids.category_page(4, 18), Tap("more", ("cat", "4", "18"))),
    (ids.search_page(9), Tap("more", ("search", "9"))),
    (ids.product(289), Tap("prod", ("289",))),
    (ids.add(289), Tap("add", ("289",))),
    (ids.add(289, 2), Tap("add", ("289", "2"))),
    (ids.set_quantity(289), Tap("setq", ("289",))),
    (ids.set_quantity(289, 5), Tap("setq", ("289", "5"))),
    (ids.remove(289), Tap("rm", ("289",))),
    (ids.line(289), Tap("line", ("289",))),
    (ids.edit(), Tap("edit")),
    (ids.empty(), Tap("empty")),
    (ids.back(), Tap("back")),
    (ids.ship(2), Tap("ship", ("2",))),
    (ids.pay("bank_transfer"), Tap("pay", ("bank_transfer",))),
    (ids.ok("checkout"), Tap("ok", ("checkout",))),
    (ids.no("code"), Tap("no", ("code",))),
    (ids.last_address(), Tap("addr", ("last",))),
    (ids.language("en"), Tap("lang", ("en",))),
]


@pytest.mark.parametrize(("built", "tap"), BUILT, ids=[b for b, _ in BUILT])
def test_every_built_id_parses_back(built: str, tap: Tap) -> None:
    assert ids.parse(built) == tap
    assert len(built) <= min(limits.ROW_ID, limits.BUTTON_ID)


@pytest.mark.parametrize(
    "reply_id",
    [
        "",
        "intent:checkout",  # the intent stage's, not ours
        "cat:",
        "cat:abc",
        "cat:1:2",
        "prod:-3",
        "add:12:0",  # zero units
        "add:12:1000",  # beyond a three-digit quantity
        "setq:7:0",
        "more:cats",
        "more:cat:4",
        "more:everything:1",
        "pay:bitcoin",
        "ok:everything",
        "lang:fr",
        "feat:1",
        "addr:home",
        "unknown:1",
    ],
)
def test_ids_we_did_not_build_are_refused(reply_id: str) -> None:
    assert ids.parse(reply_id) is None


def test_tap_numbers() -> None:
    tap = ids.parse(ids.add(42, 3))
    assert tap is not None
    assert (tap.number(0), tap.number(1), tap.number(2)) == (42, 3, None)
    assert Tap("pay", ("cash_on_delivery",)).number(0) is None


def test_builders_refuse_unknown_methods_and_topics() -> None:
    with pytest.raises(ValueError, match="payment method"):
        ids.pay("bitcoin")
    with pytest.raises(ValueError, match="topic"):
        ids.ok("everything")


# --- typed answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", "b"), (" 3. ", "c"), ("el 1", "a"), ("Opción 2", "b"), ("#3", "c"), ("4", None)],
)
def test_typed_numbers_pick_the_options_just_offered(text: str, expected: str | None) -> None:
    assert typed_choice(text, ["a", "b", "c"]) == expected


def test_a_number_in_a_sentence_is_not_a_choice() -> None:
    assert typed_choice("quiero 2 mochilas", ["a", "b"]) is None
    assert typed_choice("2", []) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("english", "en"),
        ("In English please", "en"),
        ("inglés", "en"),
        ("español", "es"),
        ("Spanish", "es"),
        ("hablame en castellano", "es"),
        ("¿venden diccionarios de inglés?", None),  # a question, not a switch
        ("english or spanish", None),
        ("hola", None),
    ],
)
def test_language_switch_requests(text: str, expected: str | None) -> None:
    assert language.requested(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BIENVENIDO10", "BIENVENIDO10"),
        ("bienvenido10", "bienvenido10"),
        ("mi código es BIENVENIDO10", "BIENVENIDO10"),
        ("tengo el cupon ENVIOGRATIS", "ENVIOGRATIS"),
        ("no sé cuál es", None),
        ("ok", None),
    ],
)
def test_discount_code_in_a_message(text: str, expected: str | None) -> None:
    assert code_in(text) == expected


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("¿cuáles son los horarios?", ["hours"]),
        ("hacen envíos a Córdoba? aceptan tarjeta?", ["shipping", "payment"]),
        ("pasame el CBU para transferir", ["bank_transfer"]),
        ("what's your returns policy", ["returns"]),
        ("info", []),
    ],
)
def test_faq_topics(text: str, topics: list[str]) -> None:
    assert info.faq_topics(text) == topics


@pytest.mark.parametrize(
    ("text", "resume"),
    [("menu", True), ("Menú", True), ("volver al bot", True), ("back", True), ("hola?", False)],
)
def test_resume_words(text: str, resume: bool) -> None:
    assert handoff.resume_requested(text) is resume


def test_resume_word_inside_a_long_message_does_not_end_a_handoff() -> None:
    assert not handoff.resume_requested("quiero volver a comprar lo mismo de ayer")


def test_money_formats() -> None:
    assert money(Decimal("1234.5"), "USD", "es") == "US$ 1.234,50"
    assert money(Decimal("1234.5"), "USD", "en") == "US$1,234.50"
    assert money(Decimal("7"), "ARS", "es") == "$ 7,00"
    assert money(Decimal("7"), "PYG", "es") == "PYG 7,00"


# --- configuration ----------------------------------------------------------------------------


def test_shop_config_values() -> None:
    assert parse_value("handoff_minutes", "45") == 45
    assert parse_value("handoff_notify", '"5491100000000"') == "5491100000000"
    assert parse_value("handoff_notify", "5491100000000") == 5491100000000
    assert parse_value("handoff_notify", "https://shop.example/hooks/handoff") == (
        "https://shop.example/hooks/handoff"
    )
    assert parse_value("handoff_notify", "null") is None
    faq = {"es": {"hours": "9 a 18"}, "en": {"hours": "9 to 6"}}
    assert parse_value("store_faq", orjson.dumps(faq).decode()) == faq


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("handoff_minutes", "0"),
        ("handoff_minutes", "true"),
        ("handoff_notify", "http://shop.example/hook"),  # not https
        ("handoff_notify", "+54 9 11 0000-0000"),  # Meta's wa_id has digits only
        ("store_faq", '{"es": {"hours": ""}}'),
        ("store_faq", '{"es": "hours"}'),
    ],
)
def test_shop_config_refuses(key: str, raw: str) -> None:
    with pytest.raises(ConfigError):
        parse_value(key, raw)


# --- the copy ---------------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_fill_the_same_placeholders() -> None:
    es, en = texts_for("es"), texts_for("en")
    for spec in dataclasses.fields(Texts):
        assert _placeholders(getattr(es, spec.name)) == _placeholders(getattr(en, spec.name)), (
            spec.name
        )


@pytest.mark.parametrize("language", ["es", "en"])
def test_titles_fit_meta_limits(language: str) -> None:
    t = texts_for(language)
    for spec in dataclasses.fields(Texts):
        value = getattr(t, spec.name)
        if spec.name.startswith(("button_", "pay_name_")):
            # Buttons with a count ("Sí, agregar {count}") are checked with a three-digit one.
            assert len(value.format(count=999)) <= limits.BUTTON_TITLE, spec.name
        elif spec.name.startswith("menu_") or spec.name.endswith("_title"):
            assert len(value) <= limits.ROW_TITLE, spec.name
        elif spec.name.startswith("see_") or spec.name == "menu_button":
            assert len(value) <= limits.LIST_BUTTON, spec.name


def test_named_texts_fall_back() -> None:
    t = texts_for("en")
    assert t.payment_name("bank_transfer") == "Bank transfer"
    assert t.discount_refused("something_new") == t.refused_unknown
    assert t.faq_label("parking") == "parking"


# --- in-process shop --------------------------------------------------------------------------


async def _without_rate_limits(link: InProcessLink) -> InProcessLink:
    # A purchase takes more messages than the new tier's five a minute.
    await link.deps.pool.execute(
        "UPDATE system_config SET value = 'false' WHERE key = 'rate_limiting_enabled'"
    )
    link.deps.config.apply({"rate_limiting_enabled": False})
    return link


@pytest.fixture
async def shop(shop_bot: InProcessLink) -> InProcessLink:
    return await _without_rate_limits(shop_bot)


class Chat:
    """One simulated customer; every reply is checked against Meta's contract."""

    def __init__(self, link: InProcessLink, wa_id: str, name: str = "Cliente") -> None:
        self.link = link
        self.customer = SimCustomer(wa_id, name)
        self.replies: list[dict[str, Any]] = []

    async def _deliver(self, body: dict[str, Any]) -> str:
        assert await self.link.post(body) == 200
        self.replies = [b for b in await self.link.replies() if body_kind(b) != "read"]
        for reply in self.replies:
            assert_valid_outbound(reply)
        return "\n".join(body_text(b) for b in self.replies)

    async def say(self, text: str) -> str:
        return await self._deliver(self.customer.says(text))

    async def tap(self, reply_id: str) -> str:
        """A tap on an option of the last replies, or (when not among them) of an older message."""
        shown = [(o, body_kind(b)) for b in self.replies for o in body_options(b)]
        title, kind = next(((o.title, k) for o, k in shown if o.id == reply_id), (reply_id, ""))
        return await self._deliver(
            self.customer.taps(
                reply_id=reply_id, title=title, on_list=kind == "list", context_id=None
            )
        )

    def offered(self) -> list[str]:
        return [o.id for b in self.replies for o in body_options(b)]


async def _to_summary(chat: Chat, product: str, *, payment: str = "cash_on_delivery") -> str:
    await chat.say("hola")
    assert "Agregué" in await chat.say(f"agregá 1 {product}")
    await chat.say("pagar")
    await chat.say("sí")
    await chat.say("Av. Rivadavia 5000, Buenos Aires")
    await chat.say("1")
    await chat.say("no")
    return await chat.tap(ids.pay(payment))


async def test_stock_gone_between_summary_and_confirmation_keeps_the_cart(
    shop: InProcessLink,
) -> None:
    chat = Chat(shop, "5491155559001")
    summary = await _to_summary(chat, "camisa de lino algodonera rosa talla s")
    assert "Confirmamos el pedido" in summary
    # Another customer takes the last units while this one reads the summary.
    await shop.deps.pool.execute("UPDATE products SET stock = 0 WHERE retailer_id = 'ROP-000189'")
    answer = await chat.tap(ids.ok("checkout"))
    assert "no tenemos stock suficiente" in answer
    assert "Camisa de lino Algodonera rosa talla S*: agotado" in answer
    assert await shop.deps.pool.fetchval("SELECT count(*) FROM orders") == 0
    assert "1 × Camisa de lino Algodonera rosa talla S" in await chat.say("carrito")


async def test_an_old_confirm_button_after_a_cart_change_shows_the_summary_again(
    shop: InProcessLink,
) -> None:
    chat = Chat(shop, "5491155559002")
    await _to_summary(chat, "café de colombia")
    await chat.say("agregá 1 alfajores de chocolate la abuela x 12")
    answer = await chat.tap(ids.ok("checkout"))
    assert "Resumen de tu pedido" in answer and "Alfajores" in answer
    assert await shop.deps.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_a_price_change_is_mentioned_and_the_cart_follows_it(shop: InProcessLink) -> None:
    chat = Chat(shop, "5491155559011")
    await chat.say("hola")
    assert "Total: US$ 25,98" in await chat.say("agregá 2 café de colombia")
    await shop.deps.pool.execute(
        "UPDATE products SET price = 14.49 WHERE retailer_id = 'ALM-000029'"
    )
    answer = await chat.say("pagar")
    assert "El precio de *Café de Colombia molido Grano de Oro 500 g* cambió" in answer
    assert "ahora es US$ 14,49" in answer and "Total: US$ 28,98" in answer


class FakeStripe:
    """Stands in for StripeCheckout: the payments helper tests the real one against Stripe."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.orders: list[str] = []

    async def create_link(self, pool: object, order: Any) -> PaymentLink:
        self.orders.append(order.order_number)
        if self.fail:
            raise PaymentError("Stripe answered 503", http_status=503, retryable=True)
        return PaymentLink("https://checkout.stripe.test/c/pay_123", "cs_test_123")


@pytest.mark.parametrize("fail", [False, True])
async def test_payment_link(shop: InProcessLink, fail: bool) -> None:
    stripe = FakeStripe(fail)
    shop.deps.payments = stripe  # type: ignore[assignment]
    chat = Chat(shop, "5491155559003" if fail else "5491155559004")
    await _to_summary(chat, "café de colombia", payment="payment_link")
    answer = await chat.tap(ids.ok("checkout"))
    assert re.search(r"Pedido \*PED-\d+\* confirmado", answer)
    assert len(stripe.orders) == 1
    if fail:
        assert "No pude generar el link de pago" in answer
    else:
        assert "https://checkout.stripe.test/c/pay_123" in answer
    assert await shop.deps.pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_payment_link_is_offered_only_with_a_provider(shop: InProcessLink) -> None:
    chat = Chat(shop, "5491155559005")
    await chat.say("hola")
    await chat.say("agregá 1 café de colombia")
    for text in ("pagar", "sí", "Av. Rivadavia 5000, Buenos Aires", "1", "no"):
        await chat.say(text)
    assert ids.pay("payment_link") not in chat.offered()
    assert ids.pay("bank_transfer") in chat.offered()


async def _set_config(link: InProcessLink, key: str, value: Any) -> None:
    await link.deps.pool.execute(
        "UPDATE system_config SET value = $2::jsonb WHERE key = $1",
        key,
        orjson.dumps(value).decode(),
    )
    link.deps.config.apply({key: value})


async def test_handoff_notifies_the_shop_on_whatsapp(shop: InProcessLink) -> None:
    await _set_config(shop, "handoff_notify", "5491100000099")
    chat = Chat(shop, "5491155559006", "Ana López")
    await chat.say("hola")
    await chat.say("quiero hablar con una persona")
    to_shop = [b for b in chat.replies if b["to"] == "5491100000099"]
    assert len(to_shop) == 1
    assert "Ana López (+5491155559006" in body_text(to_shop[0])
    assert any("le aviso a una persona" in body_text(b) for b in chat.replies)


async def test_a_failing_notification_url_does_not_stop_the_handoff(shop: InProcessLink) -> None:
    await _set_config(shop, "handoff_notify", "https://127.0.0.1:9/hooks/handoff")
    chat = Chat(shop, "5491155559007")
    await chat.say("hola")
    answer = await chat.say("asesor")
    assert "le aviso a una persona" in answer
    assert await chat.say("¿siguen ahí?") == ""


async def test_post_notice() -> None:
    seen: list[dict[str, Any]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        return httpx.Response(204)

    payload = {"event": "handoff", "customer": "5491155559008"}
    url = "https://shop.example/hook"
    assert await handoff.post_notice(url, payload, transport=httpx.MockTransport(accept))
    assert seen == [payload]
    refuse = httpx.MockTransport(lambda request: httpx.Response(500))
    assert not await handoff.post_notice(url, payload, transport=refuse)


def _message(text: str) -> InboundMessage:
    return InboundMessage(
        id="wamid.TEST",
        customer="5491155559009",
        wa_id="5491155559009",
        user_id=None,
        name="Cliente",
        phone_number_id="100000000000001",
        timestamp=int(time.time()),
        type="text",
        text=text,
        envelope={},
    )


async def _stage(link: InProcessLink, text: str, until: float) -> tuple[Context, bool]:
    ctx = Context(message=_message(text), deps=link.deps)
    ctx.session = Session("5491155559009", context={HANDOFF_UNTIL: until})
    called: list[Context] = []

    async def call_next(c: Context) -> None:
        called.append(c)

    await handoff.check_handoff(ctx, call_next)
    return ctx, bool(called)


async def test_handoff_stage(shop: InProcessLink) -> None:
    ctx, went_on = await _stage(shop, "hola?", time.time() + 600)
    assert not went_on and ctx.outbox == [] and HANDOFF_UNTIL in ctx.session.context  # type: ignore[union-attr]
    ctx, went_on = await _stage(shop, "hola?", time.time() - 1)
    assert went_on and HANDOFF_UNTIL not in ctx.session.context  # type: ignore[union-attr]
    ctx, went_on = await _stage(shop, "volver", time.time() + 600)
    assert not went_on and "Volví" in body_text(ctx.outbox[0])


# --- Meta catalogue messages ------------------------------------------------------------------


@pytest.fixture
async def catalogue_shop(shop_settings: Settings) -> AsyncIterator[InProcessLink]:
    settings = dataclasses.replace(shop_settings, catalog_id="1234567890")
    async with in_process_bot(settings) as link:
        yield await _without_rate_limits(link)


async def test_with_a_meta_catalogue_products_are_sent_as_product_messages(
    catalogue_shop: InProcessLink,
) -> None:
    chat = Chat(catalogue_shop, "5491155559010")
    await chat.say("hola")
    await chat.say("busco mochila")
    kinds = [body_kind(b) for b in chat.replies]
    assert kinds == ["product_list", "button"]  # the products, then "more results"
    assert chat.replies[0]["interactive"]["action"]["catalog_id"] == "1234567890"
    await chat.say("quiero ver el café de colombia molido")
    assert [body_kind(b) for b in chat.replies] == ["product", "button"]
    assert chat.replies[0]["interactive"]["action"]["product_retailer_id"] == "ALM-000029"
