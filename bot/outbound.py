"""The outbound message log in PostgreSQL: pending replies, send outcomes, delivery statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from bot.whatsapp.events import StatusUpdate
from bot.whatsapp.graph import SendResult, retryable

__all__ = ["OutboundLog"]

Body = dict[str, Any]

# Replies are stored in the transaction that settles their inbound message; the key
# "<inbound wamid>:<n>" makes storing them twice (a reprocessed message) a no-op.
_ENQUEUE = """
INSERT INTO outbound_messages (idempotency_key, customer, kind, body)
SELECT k, $1, kind, body::jsonb
FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(k, kind, body, ord)
ORDER BY ord
ON CONFLICT (idempotency_key) DO NOTHING
"""

_PENDING = """
SELECT id, body FROM outbound_messages
WHERE customer = $1 AND status = 'pending'
ORDER BY id
"""

_RECORD = """
UPDATE outbound_messages
SET status = $2, wamid = $3, http_status = $4, error_code = $5, error_title = $6,
    attempts = attempts + $7, updated_at = now()
WHERE id = $1
"""

# One row per wamid from the batch (a webhook often carries sent and delivered together, and
# ON CONFLICT may touch a row only once per statement); a status only ever replaces a lower rank,
# so late or repeated webhooks never move a message backwards and `failed` is final.
_APPLY_STATUSES = """
INSERT INTO message_statuses AS s (wamid, recipient, status, error_code, error_title, status_at)
SELECT DISTINCT ON (u.wamid) u.wamid, u.recipient, u.status, u.error_code, u.error_title, u.at
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[])
     AS u(wamid, recipient, status, error_code, error_title, at)
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


def _kind(body: Mapping[str, Any]) -> str:
    kind = body.get("type")
    if isinstance(kind, str):
        return kind
    # Bodies without a type are the mark-read marker, optionally with a typing indicator.
    return "typing" if "typing_indicator" in body else "read"


class OutboundLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def enqueue(
        self,
        conn: asyncpg.Connection,
        customer: str,
        key_prefix: str,
        bodies: Sequence[Mapping[str, Any]],
    ) -> None:
        """Store replies as pending rows, inside the caller's transaction."""
        if not bodies:
            return
        await conn.execute(
            _ENQUEUE,
            customer,
            [f"{key_prefix}:{n}" for n in range(len(bodies))],
            [_kind(b) for b in bodies],
            [orjson.dumps(dict(b)).decode() for b in bodies],
        )

    async def pending(self, conn: asyncpg.Connection, customer: str) -> list[tuple[int, Body]]:
        """The customer's unsent replies, oldest first."""
        rows = await conn.fetch(_PENDING, customer)
        return [(row["id"], orjson.loads(row["body"])) for row in rows]

    async def record(self, row_id: int, result: SendResult) -> None:
        await self._pool.execute(
            _RECORD,
            row_id,
            # A failure that may pass later stays pending: the next flush sends it again.
            "accepted" if result.ok else "pending" if retryable(result) else "failed",
            result.wamid,
            result.http_status,
            result.error_code,
            result.error_title,
            result.attempts,
        )

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
        )
