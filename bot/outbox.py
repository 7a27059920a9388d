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

import logging
from collections.abc import Sequence

from bot.logs import mask
from bot.outbound import OutboundLog, PendingReply
from bot.unrecorded import Unrecorded
from bot.whatsapp.graph import GraphSender, SendResult, retryable

__all__ = ["Outbox"]

log = logging.getLogger(__name__)


# Recorded for a claimed row a flush stopped before: back to `pending`, nothing else changes.
_NOT_TRIED = SendResult(False, None, None, None, None, 0)


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

    async def flush(self, customer: str, replies: Sequence[PendingReply]) -> bool:
        """Send the customer's unsettled ``replies`` (as begin_turn() or finish_message()
        returned them) in order; False if one must wait for a later turn. Raises if PostgreSQL
        fails (the worker reconnects)."""
        # Mark-reads' answers are recorded with the next write (the next reply's `sending`
        # mark or answer, else at the end): one round trip fewer per message.
        answered: list[tuple[int, SendResult]] = []
        try:
            done = await self._send_in_order(replies, customer, answered)
        except BaseException:  # PostgreSQL failed, or a stop cut the flush short
            self._unrecorded.hold(answered)  # recorded later, not sent again
            raise
        if answered:
            await self._unrecorded.record(answered)
        return done

    async def _send_in_order(
        self,
        replies: Sequence[PendingReply],
        customer: str,
        answered: list[tuple[int, SendResult]],
    ) -> bool:
        tried: set[int] = set()
        for n, reply in enumerate(replies):
            if not await self._send_one(reply, customer, answered, tried):
                # Claimed rows this flush did not try go back to `pending`: they must not wait
                # out the grace period as if an attempt of theirs had been cut short.
                answered.extend(
                    (r.id, _NOT_TRIED) for r in replies[n:] if r.claimed and r.id not in tried
                )
                return False
        return True

    async def _send_one(
        self,
        reply: PendingReply,
        customer: str,
        answered: list[tuple[int, SendResult]],
        tried: set[int],
    ) -> bool:
        """Send and record one reply; False if the rest must wait for a later turn."""
        if self._unrecorded.busy(reply.id):
            # Sent or recorded by another flush here, whose worker lost its connection (and the
            # customer's lock) meanwhile.
            return False
        with self._unrecorded.owning(reply.id):
            result = self._unrecorded.take(reply.id)
            if result is None:
                if reply.awaiting_status:
                    return False  # later replies wait behind this one: order kept
                if self._unrecorded.full:
                    log.error("too many unrecorded send outcomes: sending paused")
                    return False
                tried.add(reply.id)
                result = await self._send(reply, customer, answered)
                if result is None:
                    return True  # settled by a status webhook: nothing to send or record
            if reply.is_marker:
                answered.append((reply.id, result))
            else:
                outcomes = [*answered, (reply.id, result)]
                answered.clear()  # held by record() if it fails
                await self._unrecorded.record(outcomes)
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
        if reply.sending and not reply.claimed:
            log.warning(
                "reply %d sent again: no status settled its last attempt within %.0f s",
                reply.id,
                self._grace_s,
                extra={"customer": mask(customer)},
            )
        body = {**reply.body, "biz_opaque_callback_data": reply.key}
        marked = reply.claimed  # its commit stored it `sending`: no mark before the 1st attempt

        async def before_attempt() -> None:
            nonlocal marked
            if not marked:
                await self._mark_sending(reply.id, answered)
            marked = False  # a retry is a new attempt: marked again, so its grace starts anew

        try:
            return await self._graph.send(body, before_attempt)
        except _Settled:
            return None

    async def _mark_sending(self, row_id: int, answered: list[tuple[int, SendResult]]) -> None:
        settled = not await self._outbound.mark_sending(row_id, answered)
        answered.clear()  # recorded with the mark
        if settled:
            raise _Settled

    async def aclose(self) -> None:
        await self._unrecorded.aclose()
