"""In-process workers that drain the inbox, one customer at a time, in arrival order.

Ordering across processes: a worker processes a customer only while its process holds a
PostgreSQL session advisory lock on that customer (bot/turns.py), so a crashed or killed
process releases it at once, and its unprocessed messages (still ``pending`` in the inbox) are
taken by the next worker that polls, here or in another instance, without Meta redelivering
anything. Within a process, a customer is served by one worker at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from bot.inbox import STORAGE_DOWN, PendingMessage
from bot.outbound import PendingReply
from bot.turns import BATCH, RoundRefused, Turn, TurnDesk

__all__ = ["InboxWorkers", "ProcessFn"]

log = logging.getLogger(__name__)

# Called with the customer's turn (which commits the message's outcome) and one message.
ProcessFn = Callable[[Turn, PendingMessage], Awaitable[bool]]
# Called when the lock is first taken with the replies a crash or an outage left unsent.
ResumeFn = Callable[[str, Sequence[PendingReply]], Awaitable[bool]]

_POLL = """
SELECT customer FROM (
    SELECT customer, min(id) AS first FROM inbound_messages
    WHERE state = 'pending' GROUP BY customer
    UNION ALL
    SELECT customer, min(id) FROM outbound_messages
    WHERE status IN ('pending', 'sending') AND updated_at < now() - interval '2 seconds'
    GROUP BY customer
) AS waiting
GROUP BY customer ORDER BY min(first) LIMIT $1
"""
# Webhook requests in flight above which the workers let the acks go first.
_ACK_BURST = 32
_YIELD_STEP_S = 0.05


class InboxWorkers:
    def __init__(
        self,
        dsn: str,
        desk: TurnDesk,
        process: ProcessFn,
        resume: ResumeFn,
        *,
        concurrency: int = 16,
        poll_interval_s: float = 0.5,
        acks_waiting: Callable[[], int] = lambda: 0,
        max_yield_s: float = 1.0,
    ) -> None:
        self._dsn = dsn
        self._acks_waiting = acks_waiting
        self._max_yield_s = max_yield_s
        self._process = process
        self._resume = resume
        self._concurrency = concurrency
        self._poll_interval_s = poll_interval_s
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._scheduled: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._desk = desk

    def notify(self, customer: str) -> None:
        """A new message for ``customer`` was stored: schedule it now instead of at the next poll."""
        if not self._tasks:
            return  # no workers in this process: another one's poller will find the message
        if customer in self._active:
            self._dirty.add(customer)
        elif customer not in self._scheduled:
            self._scheduled.add(customer)
            self._ready.put_nowait(customer)

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._worker(n), name=f"inbox-worker-{n}")
            for n in range(self._concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._poller(), name="inbox-poller"))

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let each worker finish the message in hand (up to ``grace_s``), then cancel."""
        self._stopping = True
        idle = self._concurrency - len(self._active)
        for _ in range(self._concurrency):
            self._ready.put_nowait("")  # wakes idle workers, which then see the flag and leave
        if self._tasks:
            _, late = await asyncio.wait(self._tasks[: self._concurrency], timeout=grace_s)
            if late:
                log.warning("%d inbox workers cancelled after %.0f s (%d were idle)",
                            len(late), grace_s, idle)  # fmt: skip
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._desk.aclose()  # its connection goes, and every customer lock with it
        self._ready = asyncio.Queue()
        self._scheduled.clear()

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until nothing is scheduled or running here (tests and the replay use it)."""
        async with asyncio.timeout(timeout_s):
            # Polling is fine for a helper that tests and replays call between steps.
            while self._scheduled or self._active or not self._ready.empty():  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    async def _poller(self) -> None:
        # Safety net for messages no notify() announced: other instances, restarts, retries.
        while not self._stopping:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("inbox poller cannot connect: %s", exc)
                await asyncio.sleep(self._poll_interval_s)
                continue
            try:
                while True:
                    # With a queue this long the workers have work enough; the query (which
                    # groups the whole backlog) would only take CPU from them and the webhook.
                    if self._ready.qsize() < 2 * self._concurrency:
                        for row in await conn.fetch(_POLL, 200):
                            self.notify(row["customer"])
                    await asyncio.sleep(self._poll_interval_s)
            except (*STORAGE_DOWN, asyncpg.PostgresError) as exc:
                log.warning("inbox poller lost its connection: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _worker(self, number: int) -> None:
        while not self._stopping:
            customer = await self._ready.get()
            if self._stopping:
                return
            await self._yield_to_acks()
            self._active.add(customer)
            self._scheduled.discard(customer)
            try:
                await self._serve(customer)
            except (*STORAGE_DOWN, asyncpg.PostgresError, RoundRefused) as exc:
                # The customer's messages stay pending: the poller announces them again.
                log.warning("inbox worker %d: PostgreSQL failed: %s", number, exc)
                await asyncio.sleep(self._poll_interval_s)
            finally:
                self._active.discard(customer)
                if customer in self._dirty:  # announced while we were releasing it
                    self._dirty.discard(customer)
                    self.notify(customer)

    async def _yield_to_acks(self) -> None:
        """In a burst, the webhook first: Meta waits on each ack (and retries, then disables a
        slow webhook), while what is acked is stored and can wait. Never more than
        ``max_yield_s`` (a second) per message, so processing goes on under a burst that does
        not end."""
        waited = 0.0
        # Spread: workers that began waiting together must not all resume in the same instant.
        limit = self._max_yield_s * random.uniform(0.5, 1.0)
        while self._acks_waiting() > _ACK_BURST and waited < limit:
            await asyncio.sleep(_YIELD_STEP_S)
            waited += _YIELD_STEP_S

    async def _serve(self, customer: str) -> None:
        turn = await self._desk.begin(customer)
        if turn is None:
            return  # another worker or instance has this customer; it drains the backlog
        try:
            if not await self._resume(customer, turn.replies):
                return  # replies still waiting on the Graph API; keep order, retry at next poll
            self._dirty.discard(customer)
            batch = turn.messages
            for message in batch:
                if self._stopping:
                    return  # the rest stays pending for the next run or another instance
                await self._yield_to_acks()
                if not await self._process(turn, message):
                    return  # failed attempt: retried at the next poll, order kept
            if len(batch) == BATCH:
                # One batch per turn, then to the back of the queue: a chatty customer must not
                # keep a worker while others wait (their order is kept by the lock either way).
                # A shorter batch was all there was: what arrives meanwhile is announced by
                # notify() (this process) or found by the poller (other instances), so no
                # second lock-and-look round trip for an empty batch.
                self._dirty.add(customer)
        finally:
            turn.release()
