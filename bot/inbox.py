"""The durable inbox: inbound messages are stored here before the webhook answers 200.

Concurrent webhook requests hand their messages to one writer task that inserts them in
batches (group commit): under load one round trip stores many requests, and ids follow
arrival order within a process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from bot.cancellation import cancel_and_wait
from bot.customers import KnownCustomer
from bot.whatsapp.events import StoredMessage

__all__ = [
    "STORAGE_DOWN",
    "InboxWriter",
    "PendingMessage",
    "mark_done",
    "mark_failed_attempt",
]

log = logging.getLogger(__name__)

# PostgreSQL unreachable, restarting or out of connections: retry later, never answer for it.
STORAGE_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
)

_INSERT = """
INSERT INTO inbound_messages (wamid, customer, phone_number_id, type, sent_at, envelope)
SELECT m.wamid, m.customer, m.phone_number_id, m.type, m.sent_at, m.envelope::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
     WITH ORDINALITY AS m(wamid, customer, phone_number_id, type, sent_at, envelope, ord)
ORDER BY m.ord
ON CONFLICT (wamid) DO NOTHING
RETURNING wamid
"""

# Defined in sql/migrations/0010_turn_round_trips.sql (processing commits it with the rest).
_MARK_DONE = "SELECT mark_inbound_done($1, $2)"

_MARK_ATTEMPT = """
UPDATE inbound_messages
SET attempts = attempts + 1, error = $2,
    state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
    processed_at = CASE WHEN attempts + 1 >= $3 THEN now() ELSE NULL END
WHERE id = $1
RETURNING state
"""


@dataclass(frozen=True, slots=True)
class PendingMessage:
    id: int
    wamid: str
    envelope: dict[str, object]
    attempts: int
    # The customer's record when the worker took the customer; None on first contact.
    known: KnownCustomer | None = None


def _sent_at(message: StoredMessage) -> datetime | None:
    return datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp > 0 else None


class InboxWriter:
    """Stores inbound messages durably; `store` returns the ones that were new (not redeliveries)."""

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 500) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Sequence[StoredMessage], asyncio.Future[set[str]]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None

    async def store(self, messages: Sequence[StoredMessage]) -> list[StoredMessage]:
        if not messages:
            return []
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbox-writer")
        future: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((messages, future))  # unbounded: never waits
        new_ids = await future
        return [m for m in messages if m.id in new_ids]

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0][0])
            while size < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item[0])
            await self._settle(batch)

    async def _settle(
        self, batch: list[tuple[Sequence[StoredMessage], asyncio.Future[set[str]]]]
    ) -> None:
        try:
            new_ids = await self._insert([m for messages, _ in batch for m in messages])
        except Exception as exc:
            if len(batch) > 1:
                # One request's data must not fail the requests it shared a batch with.
                for item in batch:
                    await self._settle([item])
                return
            _, future = batch[0]
            if not future.done():  # the waiting request must hear about it (→ 503)
                future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(new_ids)

    async def _insert(self, messages: list[StoredMessage]) -> set[str]:
        rows = await self._pool.fetch(
            _INSERT,
            [m.id for m in messages],
            [m.customer for m in messages],
            [m.phone_number_id for m in messages],
            [m.type for m in messages],
            [_sent_at(m) for m in messages],
            [m.envelope_json.decode() for m in messages],
        )
        return {row["wamid"] for row in rows}


async def mark_done(db: asyncpg.Pool, message_id: int, *, rate_limited: bool) -> None:
    await db.execute(_MARK_DONE, message_id, rate_limited)


async def mark_failed_attempt(
    db: asyncpg.Pool, message_id: int, error: str, max_attempts: int
) -> str:
    """Count a failed attempt; return the new state ('pending' to retry, or 'failed')."""
    state: str = await db.fetchval(_MARK_ATTEMPT, message_id, error[:500], max_attempts)
    return state
