"""The turn desk: one round trip takes a customer's lock and reads what waits for it (replies,
messages, the customer's record); the lock holds against other instances until released."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.botlink import InProcessLink
from bot.customers import CustomerRecord, KnownCustomer
from bot.outbound import OutboundLog
from bot.simulator import SimCustomer
from bot.turns import TurnDesk

CUSTOMER = "5491100000931"
_INBOUND = """
INSERT INTO inbound_messages (wamid, customer, type, envelope, state)
VALUES ($1, $2, 'text', $3::jsonb, $4)
"""
_OUTBOUND = """
INSERT INTO outbound_messages (idempotency_key, customer, kind, body, status, sending_at)
VALUES ($1, $2, $3, '{"type": "text"}', $4, now()) RETURNING id
"""


async def test_the_lock_and_what_waits_come_together(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    first = TurnDesk(database_url, grace_s=20, limit=2)
    second, late = TurnDesk(database_url, grace_s=20), TurnDesk(database_url, grace_s=0)
    try:
        for n, state in enumerate(("pending", "done", "pending", "failed", "pending")):
            envelope = f'{{"n": {n}, "text": {{"body": "ñandú ✓"}}}}'
            await pg_pool.execute(_INBOUND, f"wamid.T{n}", CUSTOMER, envelope, state)
        await pg_pool.execute(_INBOUND, "wamid.other", "5491100000932", "{}", "pending")
        for key, status in (("a:0", "accepted"), ("b:0", "pending"), ("b:1", "sending")):
            await pg_pool.execute(_OUTBOUND, key, CUSTOMER, "text", status)

        turn = await first.begin(CUSTOMER)
        assert turn is not None
        # Oldest first, at most `limit`, only this customer's pending ones, envelopes decoded.
        assert [m.wamid for m in turn.messages] == ["wamid.T0", "wamid.T2"]
        assert turn.messages[0].envelope == {"n": 0, "text": {"body": "ñandú ✓"}}
        # Unsettled replies in order; the recent `sending` one waits for its status webhook.
        assert [(r.key, r.sending, r.awaiting_status) for r in turn.replies] == [
            ("b:0", False, False),
            ("b:1", True, True),
        ]
        assert await second.begin(CUSTOMER) is None  # held by `first`: another instance
        turn.release()
        await first.begin("5491100000932")  # the release goes with the next round trip
        again = await late.begin(CUSTOMER)
        assert again is not None
        assert [r.awaiting_status for r in again.replies] == [False, False]  # grace over
    finally:
        for desk in (first, second, late):
            await desk.aclose()


async def test_a_sending_mark_stops_at_a_settled_row(pg_pool: asyncpg.Pool) -> None:
    reply = await pg_pool.fetchval(_OUTBOUND, "m:0", CUSTOMER, "text", "pending")
    log = OutboundLog(pg_pool)
    assert await log.mark_sending(reply)
    assert await pg_pool.fetchval("SELECT status FROM outbound_messages") == "sending"
    await pg_pool.execute("UPDATE outbound_messages SET status = 'accepted' WHERE id = $1", reply)
    assert not await log.mark_sending(reply)  # settled by a status webhook meanwhile


async def test_the_turn_brings_the_customers_record(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    desk, other = TurnDesk(database_url, grace_s=20), TurnDesk(database_url, grace_s=20)
    try:
        await pg_pool.execute(_INBOUND, "wamid.K1", CUSTOMER, "{}", "pending")
        first = await desk.begin(CUSTOMER)
        assert first is not None and first.messages[0].known is None  # first contact
        first.release()
        await pg_pool.execute(
            "INSERT INTO customers (customer, wa_id, name, tier, language)"
            " VALUES ($1, $1, 'Ana', 'vip', 'en')",
            CUSTOMER,
        )
        later = await desk.begin(CUSTOMER)  # released and taken again in one round trip
        assert later is not None
        assert later.messages[0].known == KnownCustomer("vip", "en", 0, "Ana", CUSTOMER, None)
        later.release()
        await desk.begin("5491100000932")
        assert await other.begin(CUSTOMER) is not None  # held once, released once: free
    finally:
        await desk.aclose()
        await other.aclose()


def test_a_message_that_changes_nothing_needs_no_touch() -> None:
    known = KnownCustomer("vip", "en", 3, "Ana", "549111", None)
    same = known.unchanged_by(wa_id="549111", user_id=None, name="Ana")
    assert same == CustomerRecord("vip", "en", 3, created=False)
    assert known.unchanged_by(wa_id=None, user_id=None, name=None) == same  # nothing told
    assert known.unchanged_by(wa_id="549111", user_id=None, name="Ana María") is None
    assert known.unchanged_by(wa_id="549111", user_id="AR.123", name="Ana") is None  # new id
    with_id = KnownCustomer("vip", "en", 3, "Ana", "549111", "AR.123")
    assert with_id.unchanged_by(wa_id="549999", user_id="AR.999", name="Ana") == same  # kept


async def test_returning_customers_are_kept_current(bot: InProcessLink) -> None:
    customer = SimCustomer("5491100000933", "Ana")
    await bot.post(customer.says("hola"))
    await bot.replies()
    row = await bot.deps.pool.fetchrow("SELECT name, last_inbound_at FROM customers")
    assert row is not None and row["name"] == "Ana"
    await bot.post(customer.says("hola de nuevo"))  # same profile: no touch, time noted
    await bot.replies()
    later = await bot.deps.pool.fetchrow("SELECT name, last_inbound_at FROM customers")
    assert later is not None and later["last_inbound_at"] > row["last_inbound_at"]
    renamed = SimCustomer(customer.wa_id, "Ana María")
    await bot.post(renamed.says("hola otra vez"))  # a new profile name is stored
    await bot.replies()
    assert await bot.deps.pool.fetchval("SELECT name FROM customers") == "Ana María"


async def test_a_begin_whose_worker_was_cancelled_releases_the_customer(
    database_url: str,
) -> None:
    desk, other = TurnDesk(database_url, grace_s=20), TurnDesk(database_url, grace_s=20)
    try:
        waiting = asyncio.create_task(desk.begin(CUSTOMER))
        await asyncio.sleep(0)  # asked; the round trip has not come back
        waiting.cancel()
        await desk.begin("5491100000932")  # the next round trip carries the release
        assert await other.begin(CUSTOMER) is not None
    finally:
        await desk.aclose()
        await other.aclose()
