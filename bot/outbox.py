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

Read receipts (blue ticks and "typing…") are not replies: nothing echoes them, repeating one is
harmless and a lost one is not worth a wait, so they are sent at once, outside the log
(``read_receipt``), and the replies wait for them only to keep the ticks before the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from bot.logs import mask
from bot.outbound import OutboundLog, PendingReply
from bot.unrecorded import Unrecorded
from bot.whatsapp import messages
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
        self._receipts: set[asyncio.Task[SendResult]] = set()

    @property
    def grace_s(self) -> float:
        """How long a `sending` row waits for a status webhook before it goes out again."""
        return self._grace_s

    def read_receipt(self, message_id: str) -> asyncio.Task[SendResult]:
        """Mark an inbound message read and show "typing…" until the answer (at most 25 s),
        in the background: one attempt, never stored."""
        body = messages.mark_read(message_id, typing=True)
        task = asyncio.create_task(self._graph.send(body, retry=False), name="read-receipt")
        self._receipts.add(task)
        task.add_done_callback(self._receipts.discard)
        return task

    async def flush(self, customer: str, replies: Sequence[PendingReply]) -> bool:
        """Send the customer's unsettled ``replies`` (as a turn's begin or a message's commit
        returned them) in order; False if one must wait for a later turn. Raises if PostgreSQL
        fails (the worker reconnects)."""
        tried: set[int] = set()
        for n, reply in enumerate(replies):
            if not await self._send_one(reply, customer, tried):
                # Claimed rows this flush did not try go back to `pending`: they must not wait
                # out the grace period as if an attempt of theirs had been cut short.
                untried = [
                    (r.id, _NOT_TRIED) for r in replies[n:] if r.claimed and r.id not in tried
                ]
                if untried:
                    await self._unrecorded.record(untried)
                return False
        return True

    async def _send_one(self, reply: PendingReply, customer: str, tried: set[int]) -> bool:
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
                result = await self._send(reply, customer)
                if result is None:
                    return True  # settled by a status webhook: nothing to send or record
            await self._unrecorded.record([(reply.id, result)])
        if retryable(result):
            # Keep order: later replies wait behind this one until the Graph API recovers.
            log.warning(
                "reply postponed",
                extra={"customer": mask(customer), "code": result.error_code},
            )
            return False
        return True

    async def _send(self, reply: PendingReply, customer: str) -> SendResult | None:
        """The Graph API's answer; None if a status webhook settled the row meanwhile."""
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
            if not marked and not await self._outbound.mark_sending(reply.id):
                raise _Settled
            marked = False  # a retry is a new attempt: marked again, so its grace starts anew

        try:
            return await self._graph.send(body, before_attempt)
        except _Settled:
            return None

    async def aclose(self) -> None:
        for task in self._receipts:
            task.cancel()
        for task in list(self._receipts):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._unrecorded.aclose()
