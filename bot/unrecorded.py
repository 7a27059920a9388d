"""Graph API answers that PostgreSQL has not recorded yet, kept in memory until it can.

Once Meta has accepted a reply, sending it again shows the customer a duplicate. When
PostgreSQL is unreachable at the moment the answer should be recorded, the row stays
``pending``/``sending`` in the database, so the answer is kept here: no flush in this process
sends a row held (or being sent) here, and a background task records the held answers as soon
as PostgreSQL is back. Only final answers (accepted, or failed for good) are held; a retryable
failure may be sent again anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence

from bot.cancellation import cancel_and_wait, raise_if_cancelling
from bot.outbound import OutboundLog
from bot.whatsapp.graph import SendResult, retryable

__all__ = ["Unrecorded"]

log = logging.getLogger(__name__)


class Unrecorded:
    def __init__(
        self,
        outbound: OutboundLog,
        *,
        capacity: int = 10_000,
        retry_s: float = 0.5,
        # Short: another instance may send a row it finds `sending` once the grace period is
        # over, so a long outage must be recorded promptly when PostgreSQL returns.
        max_retry_s: float = 1.0,
    ) -> None:
        self._outbound = outbound
        # Each flush stops at its first failed record, so an outage holds about one answer per
        # inbox worker; the cap only guards memory against a bug.
        self._capacity = capacity
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._held: dict[int, SendResult] = {}
        self._busy: set[int] = set()  # rows a coroutine here is sending or recording
        self._retrier: asyncio.Task[None] | None = None

    @property
    def full(self) -> bool:
        return len(self._held) >= self._capacity

    def busy(self, row_id: int) -> bool:
        return row_id in self._busy

    @contextlib.contextmanager
    def owning(self, row_id: int) -> Iterator[None]:
        """Mark the row as being sent or recorded here for the duration."""
        self._busy.add(row_id)
        try:
            yield
        finally:
            self._busy.discard(row_id)

    def take(self, row_id: int) -> SendResult | None:
        """The held answer for a row the caller owns, which then records it."""
        return self._held.pop(row_id, None)

    async def record(self, outcomes: Sequence[tuple[int, SendResult]]) -> None:
        """Record the answers; if that fails, the final ones are held and retried, and the
        error is raised (the caller's connection is probably gone as well)."""
        try:
            await self._outbound.record_all(outcomes)
        except BaseException:  # cancelled too: the answers must outlive the caller
            for row_id, result in outcomes:
                if not retryable(result):  # a retryable one may be sent again anyway
                    self._hold(row_id, result)
            raise

    def _hold(self, row_id: int, result: SendResult) -> None:
        self._held[row_id] = result
        log.warning(
            "send outcome of reply %d kept in memory until PostgreSQL records it (%d held)",
            row_id,
            len(self._held),
        )
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.create_task(self._retry(), name="record-held-outcomes")

    async def _retry(self) -> None:
        delay = self._retry_s
        while self._held:
            await asyncio.sleep(delay)
            if await self._record_held() is None:
                delay = min(delay * 2, self._max_retry_s)
            else:
                delay = self._retry_s

    async def _record_held(self) -> int | None:
        """Record every held answer nobody else is recording: how many, or None on failure."""
        batch = {row_id: r for row_id, r in self._held.items() if row_id not in self._busy}
        if not batch:
            return 0
        for row_id in batch:
            del self._held[row_id]
        self._busy.update(batch)
        try:
            await self._outbound.record_all(list(batch.items()))
        except BaseException as exc:
            self._held.update(batch)
            if not isinstance(exc, Exception):
                raise  # cancelled: the answers stay held
            raise_if_cancelling(exc)
            log.info("held send outcomes still not recorded: %s", type(exc).__name__)
            return None
        finally:
            self._busy.difference_update(batch)
        log.warning("recorded %d held send outcome(s); PostgreSQL is back", len(batch))
        return len(batch)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop retrying after one last attempt; what is still held is logged as an error."""
        await cancel_and_wait(self._retrier)
        if self._held:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._record_held()
        if self._held:
            # Those rows stay `sending`: Meta's status webhooks settle them, or, failing that,
            # they are sent again after the grace period.
            log.error("%d send outcome(s) could not be recorded before exit", len(self._held))
