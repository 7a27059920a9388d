"""A local server speaking Stripe's Checkout Sessions API, and signed webhook deliveries.

``POST /v1/checkout/sessions`` checks the Bearer key and the form (bracket notation, as Stripe
takes it), honours ``Idempotency-Key`` like Stripe (same key and form: the saved session; same
key, other form: 400), and answers a session object shaped like Stripe's. ``fail(...)`` scripts
error answers for the next requests; they are not saved under the key, as for a request Stripe
never started executing.

It is also the replay's payment provider (``bot.replay.PaymentProvider``): it finds its checkout
links in the bot's messages and confirms them with the event Stripe would post to the bot's
endpoint, signed with the webhook secret that ``configure`` gives the bot.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.botlink import Notification
from bot.settings import Settings
from tests.servers import serve_app

__all__ = [
    "SECRET_KEY",
    "WEBHOOK_SECRET",
    "FakeStripe",
    "SeenRequest",
    "event",
    "running",
    "signed_event",
]

SECRET_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_test_secret"
# Where the shop's Stripe Dashboard sends events (the route in bot/app.py).
WEBHOOK_PATH = "/payments/stripe/webhook"
_KEY_PART = re.compile(r"[^\[\]]+")
_CHECKOUT_LINK = re.compile(r"https://checkout\.stripe\.com/c/pay/(cs_test_[A-Za-z0-9]+)")


@dataclass(frozen=True, slots=True)
class SeenRequest:
    form: dict[str, str]
    idempotency_key: str | None
    authorization: str


@dataclass(slots=True)
class _Saved:
    form: dict[str, str]
    session: dict[str, Any]


@dataclass(slots=True)
class FakeStripe:
    secret_key: str = SECRET_KEY
    webhook_secret: str = WEBHOOK_SECRET
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: deque[int] = field(default_factory=deque)
    _by_key: dict[str, _Saved] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/checkout/sessions", self._create, methods=["POST"])])

    def configure(self, settings: Settings) -> Settings:
        """``settings`` with the bot's Stripe keys and API pointed at this fake."""
        return replace(
            settings,
            stripe_secret_key=self.secret_key,
            stripe_webhook_secret=self.webhook_secret,
            stripe_api_base=self.base_url,
        )

    def fail(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses, in order."""
        self._failures.extend(statuses)

    def paid_event(
        self,
        session_id: str,
        *,
        event_type: str = "checkout.session.completed",
        payment_status: str = "paid",
    ) -> dict[str, Any]:
        """The event Stripe sends when the customer finishes paying ``session_id``."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status=payment_status, url=None)
        return event(event_type, dict(session))

    def checkout_link(self, text: str) -> str | None:
        """The last link to one of this fake's sessions in ``text``, if any."""
        links = [m for m in _CHECKOUT_LINK.finditer(text) if m[1] in self.sessions]
        return links[-1][0] if links else None

    def confirm(self, link: str) -> Notification:
        """The customer pays at ``link``: Stripe's signed ``checkout.session.completed``."""
        found = _CHECKOUT_LINK.fullmatch(link)
        assert found is not None, f"not a Stripe Checkout link: {link}"
        raw, headers = signed_event(self.webhook_secret, self.paid_event(found[1]))
        return Notification(WEBHOOK_PATH, raw, headers)

    async def _create(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        self.requests.append(SeenRequest(form, key, auth))
        if auth != f"Bearer {self.secret_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        if self._failures:
            status = self._failures.popleft()
            kind = "api_error" if status >= 500 else "invalid_request_error"
            return _error(status, kind, f"scripted failure {status}")
        if key is not None and key in self._by_key:
            saved = self._by_key[key]
            if saved.form != form:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters",
                )
            return _json(200, saved.session, {"Idempotent-Replayed": "true"})
        problem = _invalid(form)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        session = _session(form)
        self.sessions[session["id"]] = session
        if key is not None:
            self._by_key[key] = _Saved(form, session)
        return _json(200, session)


def _nest(form: dict[str, str]) -> dict[str, Any]:
    """``a[0][b]=v`` pairs as nested dicts, the way Stripe reads bracket notation."""
    root: dict[str, Any] = {}
    for name, value in form.items():
        parts = _KEY_PART.findall(name)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


def _invalid(form: dict[str, str]) -> str | None:
    """Why Stripe would refuse this form, or None."""
    data = _nest(form)
    if data.get("mode") != "payment":
        return "mode must be payment"
    if not data.get("success_url", "").startswith(("http://", "https://")):
        return "Missing required param: success_url."
    items = data.get("line_items")
    if not isinstance(items, dict) or not items:
        return "line_items is required in payment mode"
    currencies = set()
    for index, item in items.items():
        price = item.get("price_data", {})
        amount = price.get("unit_amount", "")
        if not amount.isdigit():
            return f"line_items[{index}][price_data][unit_amount] must be an integer"
        if not price.get("currency", "").islower():
            return f"line_items[{index}][price_data][currency] must be lowercase ISO"
        if not price.get("product_data", {}).get("name"):
            return f"Missing required param: line_items[{index}][price_data][product_data][name]."
        if not item.get("quantity", "").isdigit():
            return f"line_items[{index}][quantity] must be an integer"
        currencies.add(price["currency"])
    if len(currencies) != 1:
        return "All line items must use the same currency"
    return None


def _session(form: dict[str, str]) -> dict[str, Any]:
    data = _nest(form)
    items = data["line_items"].values()
    total = sum(int(i["price_data"]["unit_amount"]) * int(i["quantity"]) for i in items)
    session_id = "cs_test_" + secrets.token_urlsafe(44).replace("-", "a").replace("_", "b")
    now = int(time.time())
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": data.get("cancel_url"),
        "client_reference_id": data.get("client_reference_id"),
        "created": now,
        "currency": next(iter(items))["price_data"]["currency"],
        "customer": None,
        "expires_at": now + 24 * 3600,
        "livemode": False,
        "metadata": data.get("metadata", {}),
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": data["success_url"],
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A Stripe event envelope around ``obj``."""
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


def signed_event(
    secret: str, event_dict: dict[str, Any], *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook delivery as Stripe makes it: the raw body and its ``Stripe-Signature``."""
    raw = orjson.dumps(event_dict)
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), str(at).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "stripe-signature": f"t={at},v1={digest}"}


def _error(status: int, kind: str, message: str) -> Response:
    return _json(status, {"error": {"type": kind, "message": message}})


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@asynccontextmanager
async def running(secret_key: str = SECRET_KEY) -> AsyncIterator[FakeStripe]:
    """A FakeStripe served on a free 127.0.0.1 port for the duration of the block."""
    fake = FakeStripe(secret_key)
    async with serve_app(fake.app()) as port:
        fake.port = port
        yield fake
