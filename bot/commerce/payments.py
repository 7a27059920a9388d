"""Stripe Checkout payment links for orders, stored in ``payments`` before the customer sees them.

The session carries one line: the order number with the order's total, and the items as its
description. Stripe line items cannot be negative and its discounts need pre-made coupons, so
itemising would misstate a discounted order; one line charges exactly what the bot quoted, and
the bot has already shown the customer the items, shipping and discount.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import asyncpg
import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

__all__ = ["PayableOrder", "PaymentError", "PaymentLink", "StripeCheckout", "minor_units"]

log = logging.getLogger(__name__)

# Stripe amounts are integers in the currency's smallest unit. Zero-decimal currencies are sent
# in whole units (CLP 15990 -> 15990); three-decimal ones in thousandths ending in 0, which a
# numeric(12,2) price always gives; every other currency (USD, MXN, COP, ...) in hundredths.
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# A link this close to Stripe's expiry is not handed out again: the customer needs time to pay.
_REUSE_MARGIN_S = 600
_DESCRIPTION_MAX = 500

# The newest open link, and how many links the order ever had: each new link gets a new
# idempotency key (retries of one request share it), so a link made after the previous one
# expired is a new session rather than Stripe's saved answer. One statement, one snapshot: a
# concurrent call either sees the other's stored link or computes the same key.
_LINKS = """
SELECT count(*) AS made,
       (array_agg(provider_ref ORDER BY id DESC) FILTER (WHERE open))[1] AS open_ref,
       (array_agg(checkout_url ORDER BY id DESC) FILTER (WHERE open))[1] AS open_url
FROM (
    SELECT id, provider_ref, checkout_url,
           status = 'pending' AND amount = $2 AND currency = $3 AND checkout_url IS NOT NULL
           AND (raw->>'expires_at')::bigint > extract(epoch FROM now()) + $4 AS open
    FROM payments
    WHERE order_id = $1 AND provider = 'stripe'
) AS links
"""
# Two concurrent calls send the same key, get the same session and store it once.
_STORE = """
INSERT INTO payments (order_id, provider, provider_ref, status, amount, currency, checkout_url, raw)
VALUES ($1, 'stripe', $2, 'pending', $3, $4, $5, $6::jsonb)
ON CONFLICT (provider_ref) DO NOTHING
"""


class PaymentError(Exception):
    """Stripe refused or could not be reached; the message says which and why."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class PaymentLink:
    url: str
    provider_ref: str


class _Item(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def quantity(self) -> int: ...


class PayableOrder(Protocol):
    """What a link needs from an order; ``bot.commerce.orders.OrderSummary`` has it."""

    @property
    def id(self) -> int: ...

    @property
    def order_number(self) -> str: ...

    @property
    def items(self) -> Sequence[_Item]: ...

    @property
    def total(self) -> Decimal: ...

    @property
    def currency(self) -> str: ...


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` as Stripe's integer in the smallest unit; PaymentError if it cannot be exact."""
    code = currency.upper()
    exponent = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise PaymentError(f"{amount} {code} has more decimals than Stripe accepts for {code}")
    return int(scaled)


def _description(items: Sequence[_Item]) -> str:
    text = ", ".join(f"{item.quantity} × {item.name}" for item in items)
    return text if len(text) <= _DESCRIPTION_MAX else text[: _DESCRIPTION_MAX - 1] + "…"


def _stripe_error(response: httpx.Response) -> PaymentError:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    found = body.get("error") if isinstance(body, dict) else None
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    message = error.get("message") or response.reason_phrase or "no error message"
    code = error.get("code") if isinstance(error.get("code"), str) else None
    status = response.status_code
    # Stripe says outright when a retry cannot help (or can); otherwise conflicts on the same
    # idempotency key, throttling and server errors are worth another try.
    hint = response.headers.get("stripe-should-retry")
    retryable = (
        hint == "true" if hint in ("true", "false") else status in (409, 429) or status >= 500
    )
    return PaymentError(
        f"Stripe answered {status}: {message}", http_status=status, code=code, retryable=retryable
    )


class StripeCheckout:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base: str,
        secret_key: str,
        success_url: str,
        cancel_url: str,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        self._http = http
        self._url = f"{api_base.rstrip('/')}/v1/checkout/sessions"
        self._auth = f"Bearer {secret_key}"
        self._success_url = success_url
        self._cancel_url = cancel_url
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def create_link(self, pool: asyncpg.Pool, order: PayableOrder) -> PaymentLink:
        """A Checkout link for ``order``: the open one if there is one, else a new session."""
        if order.total <= 0:
            raise PaymentError(f"order {order.order_number} has nothing to pay")
        amount = minor_units(order.total, order.currency)
        links = await pool.fetchrow(_LINKS, order.id, order.total, order.currency, _REUSE_MARGIN_S)
        if links["open_ref"] is not None:
            return PaymentLink(links["open_url"], links["open_ref"])
        session = await self._create_session(
            self._form(order, amount), f"wbot-{order.order_number}-link-{links['made']}"
        )
        await pool.execute(
            _STORE,
            order.id,
            session["id"],
            order.total,
            order.currency,
            session["url"],
            orjson.dumps(session).decode(),
        )
        log.info(
            "payment link created", extra={"order": order.order_number, "session": session["id"]}
        )
        return PaymentLink(session["url"], session["id"])

    def _form(self, order: PayableOrder, amount: int) -> dict[str, str]:
        number = order.order_number
        form = {
            "mode": "payment",
            "client_reference_id": number,
            "success_url": self._success_url,
            "cancel_url": self._cancel_url,
            "metadata[order_number]": number,
            # Also on the PaymentIntent, so the order shows next to the payment in the dashboard.
            "payment_intent_data[metadata][order_number]": number,
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": order.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(amount),
            "line_items[0][price_data][product_data][name]": number,
        }
        description = _description(order.items)
        if description:
            form["line_items[0][price_data][product_data][description]"] = description
        return form

    async def _create_session(self, form: dict[str, str], idempotency_key: str) -> dict[str, Any]:
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, PaymentError) and exc.retryable),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._backoff_s, max=self._backoff_s * 8, jitter=self._backoff_s
            ),
            before_sleep=_log_retry,
            reraise=True,
        )
        session: dict[str, Any] = await retrying(self._post, form, idempotency_key)
        return session

    async def _post(self, form: dict[str, str], idempotency_key: str) -> dict[str, Any]:
        headers = {"Authorization": self._auth, "Idempotency-Key": idempotency_key}
        try:
            response = await self._http.post(self._url, data=form, headers=headers)
        except httpx.TransportError as exc:
            raise PaymentError(
                f"Stripe could not be reached: {type(exc).__name__}", retryable=True
            ) from exc
        if not response.is_success:
            raise _stripe_error(response)
        try:
            session = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            session = None
        if not (
            isinstance(session, dict)
            and isinstance(session.get("id"), str)
            and isinstance(session.get("url"), str)
        ):
            raise PaymentError(f"Stripe answered {response.status_code} without a session URL")
        return session


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "retrying Stripe checkout session: %s", error, extra={"attempt": state.attempt_number}
    )
