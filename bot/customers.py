"""Customer records: created on first contact, touched on every message."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

__all__ = ["CustomerRecord", "KnownCustomer", "set_language", "touch_customer"]

_TOUCH = """
INSERT INTO customers (customer, wa_id, user_id, name, last_inbound_at)
VALUES (
    $1, $2,
    -- A user id already on another record (the user changed number) stays there: unique.
    (SELECT $3::text WHERE NOT EXISTS (SELECT 1 FROM customers WHERE user_id = $3 AND customer <> $1)),
    $4, now()
)
ON CONFLICT (customer) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, customers.name),
    wa_id = COALESCE(customers.wa_id, EXCLUDED.wa_id),
    user_id = COALESCE(customers.user_id, EXCLUDED.user_id),
    last_inbound_at = now(), updated_at = now()
RETURNING tier, language, total_orders, (xmax = 0) AS created
"""
_SET_LANGUAGE = "UPDATE customers SET language = $2, updated_at = now() WHERE customer = $1"


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    tier: str
    language: str | None
    total_orders: int
    created: bool


@dataclass(frozen=True, slots=True)
class KnownCustomer:
    """The customer's record as the worker read it on taking the customer (begin_turn())."""

    tier: str
    language: str | None
    total_orders: int
    name: str | None
    wa_id: str | None
    user_id: str | None

    def unchanged_by(
        self, *, wa_id: str | None, user_id: str | None, name: str | None
    ) -> CustomerRecord | None:
        """What touch_customer would return, if a message with this profile would change
        nothing stored but its time (which the message's commit notes); else None."""
        if name not in (None, self.name):
            return None
        # wa_id and user_id are kept once known: only filling one in changes the record.
        if (wa_id is not None and self.wa_id is None) or (
            user_id is not None and self.user_id is None
        ):
            return None
        return CustomerRecord(self.tier, self.language, self.total_orders, created=False)


async def touch_customer(
    pool: asyncpg.Pool, *, customer: str, wa_id: str | None, user_id: str | None, name: str | None
) -> CustomerRecord:
    try:
        row = await pool.fetchrow(_TOUCH, customer, wa_id, user_id, name)
    except asyncpg.UniqueViolationError:
        # Another record took this user id a moment ago; the retry sees it and leaves it there.
        row = await pool.fetchrow(_TOUCH, customer, wa_id, user_id, name)
    assert row is not None  # INSERT … RETURNING always returns the row
    return CustomerRecord(row["tier"], row["language"], row["total_orders"], row["created"])


async def set_language(pool: asyncpg.Pool, customer: str, language: str) -> None:
    await pool.execute(_SET_LANGUAGE, customer, language)
