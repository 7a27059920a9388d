"""Graph API client for `POST /<phone_number_id>/messages`, with Meta's retry policy built in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from bot.logs import mask
from bot.metrics import GRAPH_ERRORS
from bot.whatsapp.transport import default_transport

__all__ = [
    "PAIR_RATE_LIMIT",
    "RETRYABLE_CODES",
    "GraphClient",
    "GraphSender",
    "Hook",
    "SendResult",
    "retryable",
]

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]

PAIR_RATE_LIMIT = 131056
# Throughput (130429), temporary or unknown (131000, 131016, 1, 2), app and WABA rate limits
# (4, 80007), and the per-recipient pair limit. Any other code means the request must change.
RETRYABLE_CODES = frozenset({130429, 131000, 131016, 1, 2, 4, 80007, PAIR_RATE_LIMIT})


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    wamid: str | None
    http_status: int | None
    error_code: int | None
    error_title: str | None
    attempts: int


class GraphSender(Protocol):
    """GraphClient, or a wrapper around it (the traffic recorder)."""

    async def send(
        self, body: Mapping[str, Any], before_attempt: Hook | None = None, *, retry: bool = True
    ) -> SendResult: ...

    async def aclose(self) -> None: ...


def retryable(result: SendResult) -> bool:
    """Whether the same body may succeed later; the Graph error code decides when present."""
    if result.ok:
        return False
    if result.error_code is not None:
        return result.error_code in RETRYABLE_CODES
    # No Graph error body: a transport failure (no status), throttling or a server error.
    status = result.http_status
    return status is None or status == 429 or status >= 500


def _parse(response: httpx.Response) -> SendResult:
    """One HTTP answer as a SendResult (attempts filled in by the caller)."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    status = response.status_code
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return SendResult(
                ok=False,
                wamid=None,
                http_status=status,
                error_code=code if isinstance(code, int) else None,
                error_title=_error_title(error),
                attempts=0,
            )
        if response.is_success:
            messages = data.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                wamid = messages[0].get("id")
                if isinstance(wamid, str):
                    return SendResult(True, wamid, status, None, None, 0)
            if data.get("success") is True:  # mark-read and typing indicator
                return SendResult(True, None, status, None, None, 0)
    title = "unexpected response" if response.is_success else response.reason_phrase or None
    return SendResult(False, None, status, None, title, 0)


def _error_label(result: SendResult) -> str:
    """Meta's error code; without one (no Graph error body), the HTTP status."""
    if result.error_code is not None:
        return str(result.error_code)
    return f"http_{result.http_status}"


def _error_title(error: Mapping[str, Any]) -> str | None:
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    parts = [p for p in (error.get("message"), details) if isinstance(p, str) and p]
    return ": ".join(parts) or None


class _Backoff(wait_base):
    """Per-send wait: Meta's 4^X seconds for the pair limit, jittered exponential otherwise."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._base_s = base_s
        self._max_s = max_s
        self._exponential = wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)
        self._pair_hits = 0

    def __call__(self, retry_state: RetryCallState) -> float:
        assert retry_state.outcome is not None
        result: SendResult = retry_state.outcome.result()
        if result.error_code == PAIR_RATE_LIMIT:
            # 4^X seconds at the default base of 0.5 s; a smaller base shrinks the whole sequence.
            wait = (self._base_s / 0.5) * 4.0**self._pair_hits
            self._pair_hits += 1
            return min(wait, self._max_s)
        return self._exponential(retry_state)


class GraphClient:
    def __init__(
        self,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = httpx.URL(f"{base_url.rstrip('/')}/{phone_number_id}/messages")
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        # The transport itself, not an AsyncClient around it: one fixed URL and headers need none
        # of the client's cookies, redirects or URL merging, which cost more CPU than the
        # request. Keep-alive saves a TLS handshake per message at Meta's 80 msg/s.
        self._transport = transport or default_transport() or httpx.AsyncHTTPTransport()
        self._headers = [
            (b"Authorization", f"Bearer {access_token}".encode()),
            (b"Content-Type", b"application/json"),
        ]
        self._timeout = {
            "connect": timeout_s,
            "read": timeout_s,
            "write": timeout_s,
            "pool": timeout_s,
        }

    async def send(
        self, body: Mapping[str, Any], before_attempt: Hook | None = None, *, retry: bool = True
    ) -> SendResult:
        """POST one message or read/typing marker; never raises for HTTP, API or network errors.

        ``before_attempt`` runs before each attempt (the outbox notes when each one started);
        what it raises ends the send. ``retry=False``: one attempt, for what is not worth a
        wait (a read receipt).
        """
        content = orjson.dumps(dict(body))
        to = mask(str(body.get("to", "-")))
        attempts = 0

        async def attempt() -> SendResult:
            nonlocal attempts
            if before_attempt is not None:
                await before_attempt()
            attempts += 1
            request = httpx.Request(
                "POST", self._url, headers=self._headers, content=content,
                extensions={"timeout": self._timeout},
            )  # fmt: skip
            try:
                response = await self._transport.handle_async_request(request)
                await response.aread()
            except httpx.RequestError as exc:
                # Retried like Meta's 5xx: after a read timeout the message may already have been
                # accepted, and a rare duplicate is better than a reply that never arrives.
                GRAPH_ERRORS.labels("network").inc()
                return SendResult(False, None, None, None, type(exc).__name__, 0)
            result = _parse(response)
            if not result.ok:
                GRAPH_ERRORS.labels(_error_label(result)).inc()
            return result

        def before_sleep(state: RetryCallState) -> None:
            assert state.outcome is not None
            failed: SendResult = state.outcome.result()
            log.info(
                "graph send to %s failed (http=%s code=%s), attempt %d, retrying in %.2fs",
                to,
                failed.http_status,
                failed.error_code,
                state.attempt_number,
                state.upcoming_sleep,
            )

        if retry:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=_Backoff(self._backoff_base_s, self._backoff_max_s),
                retry=retry_if_result(retryable),
                sleep=self._sleep,
                before_sleep=before_sleep,
                # Out of attempts: hand back the last answer instead of raising RetryError.
                retry_error_callback=lambda state: (
                    state.outcome.result() if state.outcome else None
                ),
            )
            result: SendResult = await retrying(attempt)
        else:
            result = await attempt()
        result = replace(result, attempts=attempts)
        if not result.ok:
            log.warning(
                "graph send to %s failed after %d attempt(s): http=%s code=%s %s",
                to,
                attempts,
                result.http_status,
                result.error_code,
                result.error_title,
            )
        return result

    async def aclose(self) -> None:
        await self._transport.aclose()
