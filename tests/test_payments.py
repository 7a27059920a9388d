"""Stripe Checkout links against a local Stripe, and the payment webhook on real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from bot.botlink import in_process_bot
from bot.commerce.payment_webhook import stripe_webhook
from bot.commerce.payments import PaymentError, PaymentLink, StripeCheckout, minor_units
from bot.settings import Settings
from bot.texts import texts_for
from tests import fake_stripe
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, signed_event
from tests.servers import free_port

CUSTOMER = "5215512345678"
SUCCESS_URL = "https://wa.me/5215500000000"
CANCEL_URL = "https://shop.example/cancelled"
ITEMS = (("Camiseta", 2, Decimal("9.70")), ("Gorra", 1, Decimal("5.00")))


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    order_number: str
    customer: str
    items: tuple[Item, ...]
    total: Decimal
    currency: str


async def seed_order(
    pool: asyncpg.Pool,
    number: str = "PED-0001",
    *,
    currency: str = "USD",
    items: tuple[tuple[str, int, Decimal], ...] = ITEMS,
    shipping: Decimal = Decimal("3.00"),
    discount: Decimal = Decimal("1.50"),
    language: str | None = None,
    status: str = "pending_payment",
) -> Order:
    await pool.execute(
        "INSERT INTO customers (customer, language) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        CUSTOMER,
        language,
    )
    subtotal = sum((price * qty for _, qty, price in items), Decimal(0))
    total = subtotal + shipping - discount
    order_id = await pool.fetchval(
        """
        INSERT INTO orders (order_number, customer, status, subtotal, shipping_cost, discount,
                            total, currency, payment_method)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'payment_link') RETURNING id
        """,
        number,
        CUSTOMER,
        status,
        subtotal,
        shipping,
        discount,
        total,
        currency,
    )
    for name, qty, price in items:
        await pool.execute(
            """
            INSERT INTO order_items (order_id, retailer_id, name, quantity, unit_price)
            VALUES ($1, $2, $3, $4, $5)
            """,
            order_id,
            name.lower(),
            name,
            qty,
            price,
        )
    return Order(order_id, number, CUSTOMER, tuple(Item(*i) for i in items), total, currency)


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    async with fake_stripe.running() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def make_checkout(
    http: httpx.AsyncClient, api_base: str, secret_key: str = SECRET_KEY
) -> StripeCheckout:
    return StripeCheckout(
        http,
        api_base=api_base,
        secret_key=secret_key,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        backoff_s=0.01,
    )


@pytest.fixture
def checkout(http: httpx.AsyncClient, stripe: FakeStripe) -> StripeCheckout:
    return make_checkout(http, stripe.base_url)


async def payment_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch("SELECT * FROM payments ORDER BY id")
    return rows


# --- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("25.90", "USD", 2590),
        ("1299.50", "MXN", 129950),
        ("15990.00", "CLP", 15990),
        ("15990", "CLP", 15990),
        ("85000.00", "COP", 8500000),  # two-decimal in Stripe, though pesos have no cents
        ("1200", "JPY", 1200),
        ("1.25", "KWD", 1250),  # three-decimal, last digit 0
    ],
)
def test_minor_units(amount: str, currency: str, expected: int) -> None:
    assert minor_units(Decimal(amount), currency) == expected


@pytest.mark.parametrize(("amount", "currency"), [("15990.50", "CLP"), ("0.005", "USD")])
def test_amount_stripe_cannot_take(amount: str, currency: str) -> None:
    with pytest.raises(PaymentError, match="more decimals"):
        minor_units(Decimal(amount), currency)


async def test_link_amounts_in_smallest_unit(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout
) -> None:
    cases = [("USD", "25.90", "2590"), ("MXN", "1299.50", "129950"), ("CLP", "15990.00", "15990")]
    for n, (currency, price, unit_amount) in enumerate(cases):
        order = await seed_order(
            pg_pool,
            f"PED-{n}",
            currency=currency,
            items=(("Producto", 1, Decimal(price)),),
            shipping=Decimal(0),
            discount=Decimal(0),
        )
        link = await checkout.create_link(pg_pool, order)
        form = stripe.requests[-1].form
        assert form["line_items[0][price_data][unit_amount]"] == unit_amount
        assert form["line_items[0][price_data][currency]"] == currency.lower()
        assert stripe.sessions[link.provider_ref]["amount_total"] == int(unit_amount)


# --- links -------------------------------------------------------------------------------------


async def test_link_sends_form_and_stores_pending_payment(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout
) -> None:
    order = await seed_order(pg_pool)
    link = await checkout.create_link(pg_pool, order)

    assert link.provider_ref.startswith("cs_test_")
    assert link.url == f"https://checkout.stripe.com/c/pay/{link.provider_ref}"
    [seen] = stripe.requests
    assert seen.authorization == f"Bearer {SECRET_KEY}"
    assert seen.idempotency_key == "wbot-PED-0001-link-0"
    assert seen.form == {
        "mode": "payment",
        "client_reference_id": "PED-0001",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "metadata[order_number]": "PED-0001",
        "payment_intent_data[metadata][order_number]": "PED-0001",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        # 2 × 9.70 + 5.00 + 3.00 shipping − 1.50 discount: the order's total, in cents.
        "line_items[0][price_data][unit_amount]": "2590",
        "line_items[0][price_data][product_data][name]": "PED-0001",
        "line_items[0][price_data][product_data][description]": "2 × Camiseta, 1 × Gorra",
    }
    [row] = await payment_rows(pg_pool)
    assert row["order_id"] == order.id
    assert (row["provider"], row["provider_ref"], row["status"]) == (
        "stripe",
        link.provider_ref,
        "pending",
    )
    assert (row["amount"], row["currency"], row["checkout_url"]) == (
        Decimal("25.90"),
        "USD",
        link.url,
    )
    raw = orjson.loads(row["raw"])
    assert raw["id"] == link.provider_ref
    assert raw["metadata"] == {"order_number": "PED-0001"}
    assert row["paid_at"] is None


async def test_open_link_is_reused_until_it_nears_expiry(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout
) -> None:
    order = await seed_order(pg_pool)
    first = await checkout.create_link(pg_pool, order)
    assert await checkout.create_link(pg_pool, order) == first
    assert len(stripe.requests) == 1

    # Five minutes left: too little for the customer to pay, so a new session.
    await pg_pool.execute(
        "UPDATE payments SET raw = jsonb_set(raw, '{expires_at}', to_jsonb($1::bigint))",
        int(time.time()) + 300,
    )
    second = await checkout.create_link(pg_pool, order)
    assert second.provider_ref != first.provider_ref
    # A new key: the old one would get Stripe's saved (expiring) session back.
    assert [r.idempotency_key for r in stripe.requests] == [
        "wbot-PED-0001-link-0",
        "wbot-PED-0001-link-1",
    ]
    assert len(await payment_rows(pg_pool)) == 2


async def test_concurrent_links_share_one_session(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout
) -> None:
    order = await seed_order(pg_pool)
    links = await asyncio.gather(*(checkout.create_link(pg_pool, order) for _ in range(3)))
    assert len({link.provider_ref for link in links}) == 1
    assert len(stripe.sessions) == 1
    assert len(await payment_rows(pg_pool)) == 1


async def test_stripe_500_is_retried_with_the_same_key(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout
) -> None:
    order = await seed_order(pg_pool)
    stripe.fail(500, 503)
    link = await checkout.create_link(pg_pool, order)
    assert [r.idempotency_key for r in stripe.requests] == ["wbot-PED-0001-link-0"] * 3
    [row] = await payment_rows(pg_pool)
    assert row["provider_ref"] == link.provider_ref


async def test_transient_failures_raise_after_three_attempts(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, http: httpx.AsyncClient
) -> None:
    order = await seed_order(pg_pool)
    stripe.fail(500, 500, 500)
    with pytest.raises(PaymentError, match="Stripe answered 500") as caught:
        await checkout.create_link(pg_pool, order)
    assert (caught.value.http_status, caught.value.retryable) == (500, True)
    assert len(stripe.requests) == 3

    nowhere = make_checkout(http, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PaymentError, match="could not be reached") as caught:
        await nowhere.create_link(pg_pool, order)
    assert caught.value.http_status is None
    assert await payment_rows(pg_pool) == []


async def test_refusals_raise_without_retrying(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, http: httpx.AsyncClient
) -> None:
    order = await seed_order(pg_pool)
    stripe.fail(400)
    with pytest.raises(PaymentError, match="Stripe answered 400: scripted failure 400") as caught:
        await checkout.create_link(pg_pool, order)
    assert (caught.value.http_status, caught.value.retryable) == (400, False)
    assert len(stripe.requests) == 1

    wrong_key = make_checkout(http, stripe.base_url, secret_key="sk_test_wrong")
    with pytest.raises(PaymentError, match="401: Invalid API Key"):
        await wrong_key.create_link(pg_pool, order)
    assert len(stripe.requests) == 2

    free = await seed_order(
        pg_pool,
        "PED-0002",
        items=(("Regalo", 1, Decimal("5.00")),),
        shipping=Decimal(0),
        discount=Decimal(5),
    )
    with pytest.raises(PaymentError, match="nothing to pay"):
        await checkout.create_link(pg_pool, free)
    assert len(stripe.requests) == 2
    assert await payment_rows(pg_pool) == []


# --- settings ----------------------------------------------------------------------------------

BASE_ENV = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify",
    "WHATSAPP_ACCESS_TOKEN": "token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
}


def test_stripe_settings() -> None:
    settings = Settings.from_env(
        {
            **BASE_ENV,
            "STRIPE_SECRET_KEY": "sk_live_secret",
            "STRIPE_WEBHOOK_SECRET": "whsec_secret",
            "STRIPE_API_BASE": "http://127.0.0.1:12111/",
            "PAYMENT_SUCCESS_URL": SUCCESS_URL,
        }
    )
    assert settings.stripe_secret_key == "sk_live_secret"
    assert settings.stripe_webhook_secret == "whsec_secret"
    assert settings.stripe_api_base == "http://127.0.0.1:12111"
    assert (settings.payment_success_url, settings.payment_cancel_url) == (
        SUCCESS_URL,
        "https://wa.me/",
    )
    assert "sk_live_secret" not in repr(settings)
    assert "whsec_secret" not in repr(settings)
    default = Settings.from_env(BASE_ENV)
    assert (default.stripe_secret_key, default.stripe_api_base) == ("", "https://api.stripe.com")


# --- webhook -----------------------------------------------------------------------------------


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({**BASE_ENV, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET})


@dataclass(slots=True)
class Workers:
    """Stands in for the inbox workers: remembers the customers the webhook announced."""

    announced: list[str] = field(default_factory=list)

    def notify(self, customer: str) -> None:
        self.announced.append(customer)


def webhook_client(
    pool: asyncpg.Pool | None, settings: Settings, workers: Workers | None = None
) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/payments/stripe/webhook", stripe_webhook, methods=["POST"])])
    app.state.deps = SimpleNamespace(pool=pool, settings=settings, workers=workers or Workers())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot.test")


@pytest.fixture
def workers() -> Workers:
    return Workers()


@pytest.fixture
async def hook(
    pg_pool: asyncpg.Pool, settings: Settings, workers: Workers
) -> AsyncIterator[httpx.AsyncClient]:
    async with webhook_client(pg_pool, settings, workers) as client:
        yield client


async def deliver(
    client: httpx.AsyncClient, event: dict[str, Any], **signing: Any
) -> httpx.Response:
    raw, headers = signed_event(signing.pop("secret", WEBHOOK_SECRET), event, **signing)
    return await client.post("/payments/stripe/webhook", content=raw, headers=headers)


async def pending_link(
    pool: asyncpg.Pool, checkout: StripeCheckout, **order: Any
) -> tuple[Order, PaymentLink]:
    seeded = await seed_order(pool, **order)
    return seeded, await checkout.create_link(pool, seeded)


async def state(pool: asyncpg.Pool, order: Order) -> tuple[str, str, int]:
    """(payment status, order status, notifications queued)."""
    row = await pool.fetchrow(
        """
        SELECT p.status AS payment, o.status AS order_status,
               (SELECT count(*) FROM outbound_messages) AS outbound
        FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.id = $1
        """,
        order.id,
    )
    assert row is not None
    return row["payment"], row["order_status"], row["outbound"]


async def test_paid_event_marks_paid_and_queues_one_notice(
    pg_pool: asyncpg.Pool,
    stripe: FakeStripe,
    checkout: StripeCheckout,
    hook: httpx.AsyncClient,
    workers: Workers,
) -> None:
    order, link = await pending_link(pg_pool, checkout, language="en")
    event = stripe.paid_event(link.provider_ref)
    response = await deliver(hook, event)

    assert response.status_code == 200
    assert response.json() == {"outcome": "paid", "order": "PED-0001", "order_status": "paid"}
    assert await state(pg_pool, order) == ("paid", "paid", 1)
    payment = await pg_pool.fetchrow("SELECT paid_at, raw FROM payments")
    assert payment is not None and payment["paid_at"] is not None
    assert orjson.loads(payment["raw"])["paid_event"]["id"] == event["id"]
    notice = await pg_pool.fetchrow("SELECT * FROM outbound_messages")
    assert notice is not None
    assert notice["idempotency_key"] == f"payment:{link.provider_ref}:0"
    assert (notice["customer"], notice["kind"], notice["status"]) == (CUSTOMER, "text", "pending")
    body = orjson.loads(notice["body"])
    assert body["to"] == CUSTOMER
    assert body["text"]["body"] == texts_for("en").payment_received.format(order="PED-0001")
    # The workers send it now rather than at their next poll.
    assert workers.announced == [CUSTOMER]


async def test_redelivery_changes_nothing(
    pg_pool: asyncpg.Pool,
    stripe: FakeStripe,
    checkout: StripeCheckout,
    hook: httpx.AsyncClient,
    workers: Workers,
) -> None:
    order, link = await pending_link(pg_pool, checkout, language=None)
    event = stripe.paid_event(link.provider_ref)
    assert (await deliver(hook, event)).status_code == 200
    paid_at = await pg_pool.fetchval("SELECT paid_at FROM payments")
    # No language recorded: Spanish.
    body = orjson.loads(await pg_pool.fetchval("SELECT body FROM outbound_messages"))
    assert body["text"]["body"] == texts_for("es").payment_received.format(order="PED-0001")

    again = await deliver(hook, event)
    assert again.status_code == 200
    assert again.json()["outcome"] == "already_paid"
    assert await state(pg_pool, order) == ("paid", "paid", 1)
    assert await pg_pool.fetchval("SELECT paid_at FROM payments") == paid_at
    assert workers.announced == [CUSTOMER]

    # As if the first settlement were invisible: the outbox key still stops a second notice.
    await pg_pool.execute("UPDATE payments SET status = 'pending', paid_at = NULL")
    await pg_pool.execute("UPDATE orders SET status = 'pending_payment'")
    assert (await deliver(hook, event)).json()["outcome"] == "paid"
    assert await state(pg_pool, order) == ("paid", "paid", 1)


async def test_concurrent_deliveries_settle_once(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, hook: httpx.AsyncClient
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    event = stripe.paid_event(link.provider_ref)
    answers = await asyncio.gather(*(deliver(hook, event) for _ in range(4)))
    assert sorted(a.json()["outcome"] for a in answers) == ["already_paid"] * 3 + ["paid"]
    assert await state(pg_pool, order) == ("paid", "paid", 1)


async def test_async_payment_completes_unpaid_then_succeeds(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, hook: httpx.AsyncClient
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    completed = stripe.paid_event(link.provider_ref, payment_status="unpaid")
    response = await deliver(hook, completed)
    assert response.json() == {"ignored": "payment_status unpaid"}
    assert await state(pg_pool, order) == ("pending", "pending_payment", 0)

    succeeded = stripe.paid_event(
        link.provider_ref, event_type="checkout.session.async_payment_succeeded"
    )
    assert (await deliver(hook, succeeded)).json()["outcome"] == "paid"
    assert await state(pg_pool, order) == ("paid", "paid", 1)


async def test_signature_with_any_matching_v1_is_accepted(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, hook: httpx.AsyncClient
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    event = stripe.paid_event(link.provider_ref)
    now = int(time.time())
    raw, old = signed_event("whsec_rolled_over", event, timestamp=now)
    _, new = signed_event(WEBHOOK_SECRET, event, timestamp=now)
    header = old["stripe-signature"] + "," + new["stripe-signature"].split(",")[1]
    response = await hook.post(
        "/payments/stripe/webhook", content=raw, headers={"stripe-signature": header}
    )
    assert response.status_code == 200
    assert await state(pg_pool, order) == ("paid", "paid", 1)


async def test_refused_deliveries_are_400_and_change_nothing(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, hook: httpx.AsyncClient
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    event = stripe.paid_event(link.provider_ref)
    now = int(time.time())
    cases: list[tuple[dict[str, Any], str]] = [
        ({"secret": "whsec_someone_else"}, "does not match"),
        ({"timestamp": now - 301}, "outside the tolerance"),
        ({"timestamp": now + 3600}, "outside the tolerance"),
    ]
    for signing, error in cases:
        response = await deliver(hook, event, **signing)
        assert response.status_code == 400
        assert error in response.json()["error"]

    raw, headers = signed_event(WEBHOOK_SECRET, event)
    tampered = raw.replace(b'"amount_total":2590', b'"amount_total":1')
    assert tampered != raw
    url = "/payments/stripe/webhook"
    assert (await hook.post(url, content=tampered, headers=headers)).status_code == 400
    unsigned = await hook.post(url, content=raw)
    assert unsigned.status_code == 400
    assert unsigned.json() == {"error": "missing Stripe-Signature header"}
    garbled = await hook.post(url, content=raw, headers={"stripe-signature": "v1=abc,t=soon"})
    assert garbled.status_code == 400
    assert await state(pg_pool, order) == ("pending", "pending_payment", 0)


async def test_unknown_event_type_is_ignored(settings: Settings) -> None:
    event = fake_stripe.event("customer.created", {"id": "cus_123", "object": "customer"})
    async with webhook_client(None, settings) as client:  # never touches the database
        response = await deliver(client, event)
    assert response.status_code == 200
    assert response.json() == {"ignored": "customer.created"}


async def test_sessions_that_cannot_settle_are_acknowledged_unchanged(
    pg_pool: asyncpg.Pool, stripe: FakeStripe, checkout: StripeCheckout, hook: httpx.AsyncClient
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    # Another integration's session: 200 so Stripe stops redelivering it.
    elsewhere = {"id": "cs_test_elsewhere", "payment_status": "paid", "amount_total": 100}
    response = await deliver(hook, fake_stripe.event("checkout.session.completed", elsewhere))
    assert (response.status_code, response.json()["outcome"]) == (200, "unknown")

    event = stripe.paid_event(link.provider_ref)
    event["data"]["object"]["amount_total"] = 100
    response = await deliver(hook, event)
    assert (response.status_code, response.json()["outcome"]) == (200, "mismatch")
    assert await state(pg_pool, order) == ("pending", "pending_payment", 0)


async def test_paid_cancelled_order_stays_cancelled_without_notice(
    pg_pool: asyncpg.Pool,
    stripe: FakeStripe,
    checkout: StripeCheckout,
    hook: httpx.AsyncClient,
    workers: Workers,
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    await pg_pool.execute("UPDATE orders SET status = 'cancelled'")
    response = await deliver(hook, stripe.paid_event(link.provider_ref))
    assert response.json() == {"outcome": "paid", "order": "PED-0001", "order_status": "cancelled"}
    assert await state(pg_pool, order) == ("paid", "cancelled", 0)
    assert workers.announced == []


async def test_database_down_is_503(
    database_url: str,
    stripe: FakeStripe,
    pg_pool: asyncpg.Pool,
    checkout: StripeCheckout,
    settings: Settings,
) -> None:
    order, link = await pending_link(pg_pool, checkout)
    event = stripe.paid_event(link.provider_ref)
    closed = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert closed is not None
    await closed.close()
    async with webhook_client(closed, settings) as client:
        response = await deliver(client, event)
    assert response.status_code == 503
    assert await state(pg_pool, order) == ("pending", "pending_payment", 0)


async def test_missing_webhook_secret_is_503(settings: Settings) -> None:
    event = fake_stripe.event("checkout.session.completed", {"id": "cs_test_x"})
    async with webhook_client(None, replace(settings, stripe_webhook_secret="")) as client:
        response = await deliver(client, event)
    assert response.status_code == 503
    assert response.json() == {"error": "webhook secret not configured"}


async def test_running_bot_takes_stripe_payments(
    bot_settings: Settings, stripe: FakeStripe
) -> None:
    async with in_process_bot(stripe.configure(bot_settings)) as bot:
        assert bot.deps.payments is not None and bot.deps.http is not None
        order = await seed_order(bot.deps.pool)
        link = await bot.deps.payments.create_link(bot.deps.pool, order)
        raw, headers = signed_event(WEBHOOK_SECRET, stripe.paid_event(link.provider_ref))
        response = await bot.client.post("/payments/stripe/webhook", content=raw, headers=headers)
        assert response.json()["outcome"] == "paid"
        # Nobody wrote to the bot: its workers find the queued notice and send it on their own.
        sent: list[dict[str, Any]] = []
        for _ in range(200):
            sent += await bot.replies()
            if sent:
                break
            await asyncio.sleep(0.05)
        assert [body["text"]["body"] for body in sent] == [
            texts_for("es").payment_received.format(order="PED-0001")
        ]
    assert bot.deps.http.is_closed
