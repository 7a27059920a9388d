"""``POST /payments/stripe/webhook``: Stripe's signed payment events settle orders.

Stripe redelivers any event that did not get a 2xx, for days, so an answer other than 2xx
means "try again later": only a bad signature or body (400) and storage trouble (503) get one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response

from bot.commerce.payments import PaymentError, minor_units
from bot.outbound import OutboundLog
from bot.texts import texts_for
from bot.webhook import read_body
from bot.whatsapp import messages

__all__ = ["TOLERANCE_S", "Settled", "settle_checkout", "stripe_webhook", "verify_signature"]

log = logging.getLogger(__name__)

TOLERANCE_S = 300  # Stripe's default: older deliveries may be replays
# Card payments are paid at `completed`; delayed methods (OXXO, boleto, bank debits) complete
# unpaid and send `async_payment_succeeded` once the money arrives.
_PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
_STORE_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)

# Both rows locked: a concurrent redelivery waits here and then sees the payment already paid.
_FIND = """
SELECT p.id AS payment_id, p.status AS payment_status, p.amount, p.currency,
       o.id AS order_id, o.order_number, o.customer, o.status AS order_status,
       COALESCE(c.language, 'es') AS language
FROM payments p
JOIN orders o ON o.id = p.order_id
LEFT JOIN customers c ON c.customer = o.customer
WHERE p.provider = 'stripe' AND p.provider_ref = $1
FOR UPDATE OF p, o
"""
_PAYMENT_PAID = """
UPDATE payments
SET status = 'paid', paid_at = now(), raw = raw || jsonb_build_object('paid_event', $2::jsonb)
WHERE id = $1
"""
_ORDER_PAID = """
UPDATE orders SET status = 'paid', updated_at = now()
WHERE id = $1 AND status = 'pending_payment'
"""


@dataclass(frozen=True, slots=True)
class Settled:
    """What one paid session did: ``outcome`` is paid, already_paid, unknown or mismatch."""

    outcome: str
    order_number: str | None = None
    order_status: str | None = None  # after this event
    notified: str | None = None  # the customer whose "payment received" notice was queued


def verify_signature(secret: str, header: str | None, body: bytes, *, now: float) -> str | None:
    """None when ``header`` is Stripe's signature of ``body``, else the reason it is not."""
    if not header:
        return "missing Stripe-Signature header"
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = int(value) if value.isascii() and value.isdigit() else None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return "Stripe-Signature header has no timestamp or no v1 signature"
    if abs(now - timestamp) > TOLERANCE_S:
        return "Stripe-Signature timestamp is outside the tolerance"
    expected = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    # Any v1 entry may match: during a secret roll Stripe signs with the old and the new one.
    if any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
        return None
    return "Stripe-Signature does not match the body"


async def settle_checkout(
    pool: asyncpg.Pool, session: dict[str, Any], event: dict[str, Any]
) -> Settled:
    """Mark a paid session's payment and order paid and queue the customer's notice, atomically."""
    session_id = session["id"]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_FIND, session_id)
        if row is None:
            return Settled("unknown")
        number, status = row["order_number"], row["order_status"]
        if row["payment_status"] == "paid":
            return Settled("already_paid", number, status)
        if not _same_amount(session, row["amount"], row["currency"]):
            return Settled("mismatch", number, status)
        await conn.execute(_PAYMENT_PAID, row["payment_id"], orjson.dumps(event).decode())
        moved = await conn.execute(_ORDER_PAID, row["order_id"]) == "UPDATE 1"
        # Only a pending order is told "payment received": an order the shop already moved on
        # has had its own status notices, and a cancelled one needs a person, not a message.
        if not moved:
            return Settled("paid", number, status)
        customer = row["customer"]
        text = texts_for(row["language"]).payment_received.format(order=number)
        await OutboundLog(pool).enqueue(
            conn, customer, f"payment:{session_id}", messages.text(customer, text)
        )
        return Settled("paid", number, "paid", customer)


def _same_amount(session: dict[str, Any], amount: Decimal, currency: str) -> bool:
    try:
        expected = minor_units(amount, currency)
    except PaymentError:
        return False
    paid_currency = session.get("currency")
    return (
        session.get("amount_total") == expected
        and isinstance(paid_currency, str)
        and paid_currency.upper() == currency.upper()
    )


async def stripe_webhook(request: Request) -> Response:
    deps = request.app.state.deps
    secret = deps.settings.stripe_webhook_secret
    if not secret:
        # 503, not 4xx: Stripe keeps redelivering until the operator sets the secret.
        log.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return _json({"error": "webhook secret not configured"}, 503)
    body = await read_body(request.receive, request.headers.get("content-length"))
    if body is None:
        return _json({"error": "body too large"}, 413)
    problem = verify_signature(
        secret, request.headers.get("stripe-signature"), body, now=time.time()
    )
    if problem is not None:
        log.warning("Stripe webhook refused: %s", problem)
        return _json({"error": problem}, 400)
    event = _parse(body)
    if event is None:
        return _json({"error": "body is not a Stripe event"}, 400)
    kind = event["type"]
    if kind not in _PAID_EVENTS:
        return _json({"ignored": kind})
    session = _session(event)
    if session is None:
        return _json({"error": "event has no Checkout Session object"}, 400)
    if session.get("payment_status") != "paid":
        return _json({"ignored": f"payment_status {session.get('payment_status')}"})
    try:
        settled = await settle_checkout(deps.pool, session, event)
    except _STORE_DOWN as exc:
        log.error("cannot store Stripe payment, asking Stripe to redeliver: %s", type(exc).__name__)
        return _json({"error": "storage unavailable, please retry"}, 503)
    _log_settled(settled, session)
    if settled.notified is not None:
        # Sent now by this process's workers, like a reply, not at a poll seconds later.
        deps.workers.notify(settled.notified)
    return _json(
        {
            "outcome": settled.outcome,
            "order": settled.order_number,
            "order_status": settled.order_status,
        }
    )


def _parse(body: bytes) -> dict[str, Any] | None:
    """The event when the body is a JSON object with a type, else None."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    return event


def _session(event: dict[str, Any]) -> dict[str, Any] | None:
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict) or not isinstance(session.get("id"), str):
        return None
    return session


def _log_settled(settled: Settled, session: dict[str, Any]) -> None:
    fields = {"session": session["id"], "order": settled.order_number}
    if settled.outcome == "unknown":
        # 200 anyway: another integration on the same Stripe account may own this session,
        # and Stripe would otherwise redeliver it for days.
        log.warning("Stripe session unknown here, ignored", extra=fields)
    elif settled.outcome == "mismatch":
        log.error(
            "Stripe session paid a different amount than the order; not marked paid",
            extra={**fields, "amount_total": session.get("amount_total")},
        )
    elif settled.outcome == "paid" and settled.order_status == "cancelled":
        log.warning("Stripe payment for a cancelled order: refund or reopen it", extra=fields)
    else:
        log.info("Stripe payment %s", settled.outcome, extra=fields)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
