"""Transactional outbox: replies are stored with the message's outcome, then sent in order.

A reply row is written in the same transaction that marks its inbound message done, keyed
``<inbound wamid>:<n>``; sending happens after the commit. A crash between the two leaves the
row pending, and the next worker to take that customer sends it.

Between the Graph API call and recording its answer, two things can go wrong:

- PostgreSQL is unreachable: the answer is kept in memory (``Unrecorded``) and recorded when
  PostgreSQL is back; meanwhile no flush in this process sends that row again.
- The process dies: each attempt first marks the row ``sending`` and the message carries the
  row's key as ``biz_opaque_callback_data``. Meta echoes it in the status webhooks, which settle
  the row as accepted (``OutboundLog.apply_statuses``). A resumed flush waits for that up to the
  grace period, and only then sends the row again: late rather than twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import asyncpg

from bot.logs import mask
from bot.outbound import OutboundLog, PendingReply
from bot.unrecorded import Unrecorded
from bot.whatsapp.graph import GraphSender, SendResult, retryable

__all__ = ["Outbox"]

log = logging.getLogger(__name__)


class _Settled(Exception):
    """A status webhook settled the row before the next attempt: nothing left to send."""


class Outbox:
    def __init__(
        self,
        graph: GraphSender,
        outbound: OutboundLog,
        *,
        grace_s: float,
        retry_s: float = 0.5,
    ) -> None:
        self._graph = graph
        self._outbound = outbound
        self._grace_s = grace_s
        self._unrecorded = Unrecorded(outbound, retry_s=retry_s)

    @property
    def grace_s(self) -> float:
        """How long a `sending` row waits for a status webhook before it goes out again."""
        return self._grace_s

    async def flush(
        self,
        conn: asyncpg.Connection,
        customer: str,
        replies: Sequence[PendingReply] | None = None,
    ) -> bool:
        """Send the customer's pending replies in order (``replies``, if the caller has just
        read them); False if one must wait for a later turn. Raises if PostgreSQL fails (the
        worker reconnects)."""
        if replies is None:
            replies = await self._outbound.pending(conn, customer, self._grace_s)
        # Mark-reads' answers are recorded with the next write (the next reply's `sending`
        # mark or answer, else at the end): one round trip fewer per message. Should that
        # write fail, the mark-read goes out again later, which is harmless.
        answered: list[tuple[int, SendResult]] = []
        done = await self._send_in_order(replies, customer, answered)
        if answered:
            await self._outbound.record_all(answered)
        return done

    async def _send_in_order(
        self,
        replies: Sequence[PendingReply],
        customer: str,
        answered: list[tuple[int, SendResult]],
    ) -> bool:
        for reply in replies:
            if self._unrecorded.busy(reply.id):
                # Sent or recorded by another flush here, whose worker lost its connection
                # (and the customer's lock) meanwhile.
                return False
            with self._unrecorded.owning(reply.id):
                result = self._unrecorded.take(reply.id)
                if result is None:
                    if reply.awaiting_status:
                        return False  # later replies wait behind this one: order kept
                    if self._unrecorded.full:
                        log.error("too many unrecorded send outcomes: sending paused")
                        return False
                    result = await self._send(reply, customer, answered)
                    if result is None:
                        continue
                if reply.is_marker:
                    answered.append((reply.id, result))
                else:
                    await self._unrecorded.record(reply.id, result, answered)
                    answered.clear()
            if retryable(result):
                # Keep order: later replies wait behind this one until the Graph API recovers.
                log.warning(
                    "reply postponed",
                    extra={"customer": mask(customer), "code": result.error_code},
                )
                return False
        return True

    async def _send(
        self, reply: PendingReply, customer: str, answered: list[tuple[int, SendResult]]
    ) -> SendResult | None:
        """The Graph API's answer; None if a status webhook settled the row meanwhile."""
        if reply.is_marker:
            # Nothing echoes a mark-read, and repeating one after a crash is harmless.
            return await self._graph.send(reply.body)
        if reply.sending:
            log.warning(
                "reply %d sent again: no status settled its last attempt within %.0f s",
                reply.id,
                self._grace_s,
                extra={"customer": mask(customer)},
            )
        body = {**reply.body, "biz_opaque_callback_data": reply.key}
        try:
            return await self._graph.send(
                body, functools.partial(self._mark_sending, reply.id, answered)
            )
        except _Settled:
            return None

    async def _mark_sending(self, row_id: int, answered: list[tuple[int, SendResult]]) -> None:
        settled = not await self._outbound.mark_sending(row_id, answered)
        answered.clear()  # recorded with the mark
        if settled:
            raise _Settled

    async def aclose(self) -> None:
        await self._unrecorded.aclose()
