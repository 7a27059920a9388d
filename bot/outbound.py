"""The outbound message log in PostgreSQL: pending replies, send outcomes, delivery statuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from bot.whatsapp.events import StatusUpdate
from bot.whatsapp.graph import SendResult, retryable

__all__ = ["OutboundLog", "PendingReply", "reply_columns", "unsettled"]

Body = dict[str, Any]

# Replies are stored in the transaction that settles their inbound message; the key
# "<inbound wamid>:<n>" makes storing them twice (a reprocessed message) a no-op.
# Defined in sql/migrations/0010_turn_round_trips.sql (processing enqueues with the rest).
_ENQUEUE = "SELECT enqueue_replies($1, $2, $3, $4, $5)"

# Defined in sql/migrations/0010_turn_round_trips.sql; a turn's begin and its commits return
# the same list (0012_turn_rounds.sql).
_PENDING = "SELECT unsettled_replies($1, $2)"
# Before a Graph API attempt; a row a status webhook settled meanwhile is left alone (false).
# Defined in sql/migrations/0011_read_receipts_outside_outbox.sql.
_MARK_SENDING = "SELECT mark_sending($1)"
_RECORD = "SELECT record_replies($1, $2, $3, $4, $5, $6, $7)"

# One row per wamid from the batch (a webhook often carries sent and delivered together, and
# ON CONFLICT may touch a row only once per statement); a status only ever replaces a lower rank,
# so late or repeated webhooks never move a message backwards and `failed` is final.
# Any status echoing a reply's key (biz_opaque_callback_data) proves Meta accepted that reply,
# which settles a row whose sender died before recording the answer.
_APPLY_STATUSES = """
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[],
                         $6::timestamptz[], $7::text[])
        AS u(wamid, recipient, status, error_code, error_title, at, callback)
), settled AS (
    UPDATE outbound_messages AS o
    SET status = 'accepted', wamid = u.wamid, updated_at = now()
    FROM u
    WHERE o.idempotency_key = u.callback AND o.status IN ('pending', 'sending')
)
INSERT INTO message_statuses AS s (wamid, recipient, status, error_code, error_title, status_at)
SELECT DISTINCT ON (u.wamid) u.wamid, u.recipient, u.status, u.error_code, u.error_title, u.at
FROM u
ORDER BY u.wamid, delivery_status_rank(u.status) DESC
ON CONFLICT (wamid) DO UPDATE
SET status = EXCLUDED.status,
    recipient = COALESCE(EXCLUDED.recipient, s.recipient),
    error_code = EXCLUDED.error_code,
    error_title = EXCLUDED.error_title,
    status_at = EXCLUDED.status_at,
    updated_at = now()
WHERE delivery_status_rank(EXCLUDED.status) > delivery_status_rank(s.status)
"""


@dataclass(frozen=True, slots=True)
class PendingReply:
    id: int
    key: str  # the idempotency key, which Meta's status webhooks echo for messages
    kind: str
    body: Body
    # An attempt started and its answer was never recorded (its sender died, or PostgreSQL).
    sending: bool
    # ... and that attempt is younger than the grace period.
    awaiting_status: bool
    # Stored `sending` by the commit that returned it: the caller sends it now, unmarked.
    claimed: bool = False


def _kind(body: Mapping[str, Any]) -> str:
    kind = body.get("type")
    return kind if isinstance(kind, str) else "unknown"


def _status(result: SendResult) -> str:
    # A failure that may pass later stays pending: the next flush sends it again.
    return "accepted" if result.ok else "pending" if retryable(result) else "failed"


def reply_columns(
    key_prefix: str, bodies: Sequence[Mapping[str, Any]], *, claim: bool
) -> tuple[list[str], list[str], list[str], list[bool]]:
    """Keys, kinds, JSON bodies and claims of replies, as enqueue_replies() takes them;
    ``claim``: the caller sends them right after the commit."""
    return (
        [f"{key_prefix}:{n}" for n in range(len(bodies))],
        [_kind(b) for b in bodies],
        [orjson.dumps(dict(b)).decode() for b in bodies],
        [claim] * len(bodies),
    )


def unsettled(replies: str) -> list[PendingReply]:
    """PendingReply rows from unsettled_replies() JSON (sql/migrations/0010_turn_round_trips.sql)."""
    fields = ("id", "key", "kind", "body", "sending", "awaiting_status", "claimed")
    return [PendingReply(*(r[f] for f in fields)) for r in orjson.loads(replies)]


def outcome_columns(outcomes: Sequence[tuple[int, SendResult]]) -> tuple[list[Any], ...]:
    """Graph API answers as the columns record_replies() takes."""
    results = [result for _, result in outcomes]
    return (
        [row_id for row_id, _ in outcomes],
        [_status(r) for r in results],
        [r.wamid for r in results],
        [r.http_status for r in results],
        [r.error_code for r in results],
        [r.error_title for r in results],
        [r.attempts for r in results],
    )


# Records answers on the caller's behalf: in the bot, the turn desk's shared round trips.
RecordFn = Callable[[Sequence[tuple[int, SendResult]]], Awaitable[None]]


class OutboundLog:
    def __init__(self, pool: asyncpg.Pool, *, record_via: RecordFn | None = None) -> None:
        self._pool = pool
        self._record_via = record_via

    async def enqueue(
        self,
        conn: asyncpg.Connection,
        customer: str,
        key_prefix: str,
        bodies: Sequence[Mapping[str, Any]],
    ) -> None:
        """Store replies as pending rows, inside the caller's transaction."""
        if bodies:
            await conn.execute(_ENQUEUE, customer, *reply_columns(key_prefix, bodies, claim=False))

    async def pending(
        self, conn: asyncpg.Connection, customer: str, grace_s: float
    ) -> list[PendingReply]:
        """The customer's unsent (or unsettled) replies, oldest first."""
        return unsettled(await conn.fetchval(_PENDING, customer, grace_s))

    async def mark_sending(self, row_id: int) -> bool:
        """Note an attempt about to start; False if a status webhook settled the row already."""
        return bool(await self._pool.fetchval(_MARK_SENDING, row_id))

    async def record_all(self, outcomes: Sequence[tuple[int, SendResult]]) -> None:
        """Record Graph API answers in one round trip (shared with others' via ``record_via``)."""
        if self._record_via is not None:
            await self._record_via(outcomes)
        else:
            await self._pool.execute(_RECORD, *outcome_columns(outcomes))

    async def apply_status(self, status: StatusUpdate) -> None:
        await self.apply_statuses((status,))

    async def apply_statuses(self, statuses: Sequence[StatusUpdate]) -> None:
        """Merge a batch of delivery statuses in one round trip."""
        if not statuses:
            return
        errors = [s.errors[0] if s.errors else None for s in statuses]
        await self._pool.execute(
            _APPLY_STATUSES,
            [s.id for s in statuses],
            [s.recipient or None for s in statuses],
            [s.status for s in statuses],
            [e.code if e else None for e in errors],
            [(e.title or e.details) if e else None for e in errors],
            [datetime.fromtimestamp(s.timestamp, UTC) if s.timestamp else None for s in statuses],
            [s.biz_opaque_callback_data for s in statuses],
        )
