"""finish_message(): a processed message's session, replies and state commit together or not at all."""

from __future__ import annotations

import asyncpg
import pytest

from bot.outbound import unsettled
from bot.processing import FINISH

INSERT_INBOUND = """
INSERT INTO inbound_messages (wamid, customer, type, envelope)
VALUES ('wamid.F1', '5491100000901', 'text', '{}') RETURNING id
"""
SESSION = ("browsing", '[{"product_id": 1, "quantity": 2}]', '{"page": 2}', 7200.0)


async def _state(pool: asyncpg.Pool) -> tuple[str, int, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT state FROM inbound_messages) AS inbound,
                  (SELECT count(*) FROM customer_sessions) AS sessions,
                  (SELECT count(*) FROM outbound_messages) AS replies"""
    )
    assert row is not None
    return row["inbound"], row["sessions"], row["replies"]


async def test_everything_lands_together(pg_pool: asyncpg.Pool) -> None:
    inbound = await pg_pool.fetchval(INSERT_INBOUND)
    keys, kinds = ["wamid.F1:0", "wamid.F1:1"], ["read", "text"]
    bodies = ['{"status": "read"}', '{"type": "text", "text": {"body": "hola"}}']
    args = (inbound, False, "5491100000901", *SESSION, keys, kinds, bodies, [False, True], 20.0)
    to_send = unsettled(await pg_pool.fetchval(FINISH, *args))
    assert await _state(pg_pool) == ("done", 1, 2)
    # What to send next comes back with the commit, oldest first.
    assert [(r.key, r.kind, r.body) for r in to_send] == [
        ("wamid.F1:0", "read", {"status": "read"}),
        ("wamid.F1:1", "text", {"type": "text", "text": {"body": "hola"}}),
    ]
    # The reply is claimed (stored `sending`, to be sent now); the mark-read needs no claim.
    assert [(r.sending, r.claimed, r.awaiting_status) for r in to_send] == [
        (False, False, False),
        (True, True, False),
    ]
    await pg_pool.execute("UPDATE outbound_messages SET status = 'accepted' WHERE kind = 'read'")
    to_send = unsettled(await pg_pool.fetchval(FINISH, *args))  # processed again after a crash
    assert await _state(pg_pool) == ("done", 1, 2)  # nothing doubles
    # The reply's attempt may have reached Meta before the crash: it waits for its status.
    assert [(r.key, r.claimed, r.awaiting_status) for r in to_send] == [("wamid.F1:1", False, True)]


async def test_a_failing_part_leaves_nothing_behind(pg_pool: asyncpg.Pool) -> None:
    inbound = await pg_pool.fetchval(INSERT_INBOUND)
    # One kind missing: the second reply's kind is NULL, which outbound_messages refuses.
    args = (
        inbound,
        False,
        "5491100000901",
        *SESSION,
        ["k:0", "k:1"],
        ["text"],
        ["{}", "{}"],
        [],
        20.0,
    )
    with pytest.raises(asyncpg.NotNullViolationError):
        await pg_pool.execute(FINISH, *args)
    assert await _state(pg_pool) == ("pending", 0, 0)


async def test_without_a_session_or_replies(pg_pool: asyncpg.Pool) -> None:
    inbound = await pg_pool.fetchval(INSERT_INBOUND)
    await pg_pool.execute(
        FINISH, inbound, True, "5491100000901", None, None, None, None, [], [], [], [], 20.0
    )
    assert await _state(pg_pool) == ("done", 0, 0)
    assert await pg_pool.fetchval("SELECT rate_limit_exceeded FROM inbound_messages")
