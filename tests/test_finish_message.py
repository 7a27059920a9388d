"""A processed message's session, replies and state commit together or not at all, through the
turn desk, which commits several customers' messages in one round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.inbox import STORAGE_DOWN
from bot.turns import Finish, RoundRefused, Turn, TurnDesk, TurnLost
from bot.whatsapp.graph import SendResult

CUSTOMER = "5491100000901"
INSERT_INBOUND = """
INSERT INTO inbound_messages (wamid, customer, type, envelope)
VALUES ($1, $2, 'text', '{}') RETURNING id
"""
SESSION = ("browsing", '[{"product_id": 1, "quantity": 2}]', '{"page": 2}', 7200.0)
NO_SESSION = (None, None, None, None)


async def _state(pool: asyncpg.Pool, customer: str = CUSTOMER) -> tuple[str, int, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT state FROM inbound_messages WHERE customer = $1) AS inbound,
                  (SELECT count(*) FROM customer_sessions WHERE customer = $1) AS sessions,
                  (SELECT count(*) FROM outbound_messages WHERE customer = $1) AS replies""",
        customer,
    )
    assert row is not None
    return row["inbound"], row["sessions"], row["replies"]


async def _turn(desk: TurnDesk, pool: asyncpg.Pool, customer: str = CUSTOMER) -> Turn:
    await pool.fetchval(INSERT_INBOUND, f"wamid.{customer}", customer)
    turn = await desk.begin(customer)
    assert turn is not None
    return turn


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[TurnDesk]:
    desk = TurnDesk(database_url, grace_s=20)
    yield desk
    await desk.aclose()


async def test_everything_lands_together(desk: TurnDesk, pg_pool: asyncpg.Pool) -> None:
    turn = await _turn(desk, pg_pool)
    keys, kinds = [f"{turn.messages[0].wamid}:0", f"{turn.messages[0].wamid}:1"], ["text"] * 2
    bodies = ['{"type": "text", "text": {"body": "hola"}}', '{"type": "image"}']
    outcome = Finish(
        turn.messages[0].id, False, CUSTOMER, SESSION, (keys, kinds, bodies, [False, True])
    )
    to_send = await turn.finish(outcome)
    assert await _state(pg_pool) == ("done", 1, 2)
    # What to send next comes back with the commit, oldest first.
    assert [(r.key, r.body) for r in to_send] == [
        (keys[0], {"type": "text", "text": {"body": "hola"}}),
        (keys[1], {"type": "image"}),
    ]
    # The second reply is claimed (stored `sending`, to be sent now); the first is not.
    assert [(r.sending, r.claimed, r.awaiting_status) for r in to_send] == [
        (False, False, False),
        (True, True, False),
    ]
    await pg_pool.execute("UPDATE outbound_messages SET status = 'accepted' WHERE id = $1",
                          to_send[0].id)  # fmt: skip
    to_send = await turn.finish(outcome)  # processed again after a crash
    assert await _state(pg_pool) == ("done", 1, 2)  # nothing doubles
    # The reply's attempt may have reached Meta before the crash: it waits for its status.
    assert [(r.key, r.claimed, r.awaiting_status) for r in to_send] == [(keys[1], False, True)]


async def test_a_failing_message_rolls_back_alone(desk: TurnDesk, pg_pool: asyncpg.Pool) -> None:
    bad, good = await _turn(desk, pg_pool), await _turn(desk, pg_pool, "5491100000902")
    # The second reply's body is not JSON, which its jsonb column refuses.
    broken = Finish(bad.messages[0].id, False, CUSTOMER, SESSION,
                    (["k:0", "k:1"], ["text"] * 2, ["{}", "{not json"], [True] * 2))  # fmt: skip
    fine = Finish(
        good.messages[0].id, False, good.customer, SESSION, (["g:0"], ["text"], ["{}"], [True])
    )
    # Asked together, so both go in the same round trip.
    failed, landed = await asyncio.gather(
        bad.finish(broken), good.finish(fine), return_exceptions=True
    )
    assert isinstance(failed, RoundRefused) and "json" in str(failed)
    assert await _state(pg_pool) == ("pending", 0, 0)
    assert not isinstance(landed, BaseException) and [r.key for r in landed] == ["g:0"]
    assert await _state(pg_pool, good.customer) == ("done", 1, 1)


async def test_without_a_session_or_replies(desk: TurnDesk, pg_pool: asyncpg.Pool) -> None:
    turn = await _turn(desk, pg_pool)
    await turn.finish(Finish(turn.messages[0].id, True, CUSTOMER, NO_SESSION, ([], [], [], [])))
    assert await _state(pg_pool) == ("done", 0, 0)
    assert await pg_pool.fetchval("SELECT rate_limit_exceeded FROM inbound_messages")


async def test_a_lost_connection_ends_its_turns(
    desk: TurnDesk, database_url: str, pg_pool: asyncpg.Pool
) -> None:
    turn = await _turn(desk, pg_pool)
    other = TurnDesk(database_url, grace_s=20)
    try:
        assert await other.begin(CUSTOMER) is None
        await pg_pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        # The next round trip finds the connection gone: the lock went with it.
        with pytest.raises(STORAGE_DOWN):
            await desk.begin("5491100000902")
        with pytest.raises(TurnLost):  # the turn must not commit without its lock
            await turn.finish(
                Finish(turn.messages[0].id, False, CUSTOMER, NO_SESSION, ([], [], [], []))
            )
        assert await _state(pg_pool) == ("pending", 0, 0)
        taken = await other.begin(CUSTOMER)  # another instance takes the customer over
        assert taken is not None and [m.id for m in taken.messages] == [turn.messages[0].id]
        assert await desk.begin("5491100000903") is not None  # a new connection, a new epoch
    finally:
        await other.aclose()


async def test_answers_are_recorded_in_the_same_round_trip(
    desk: TurnDesk, pg_pool: asyncpg.Pool
) -> None:
    turn = await _turn(desk, pg_pool)
    first = Finish(
        turn.messages[0].id, False, CUSTOMER, NO_SESSION, (["a:0"], ["text"], ["{}"], [True])
    )
    (reply,) = await turn.finish(first)
    later = await _turn(desk, pg_pool, "5491100000902")
    second = Finish(later.messages[0].id, False, later.customer, NO_SESSION, ([], [], [], []))
    answer = SendResult(True, "wamid.OUT", 200, None, None, 1)
    # The answer to the first customer's reply and the second customer's commit, together.
    await asyncio.gather(desk.record([(reply.id, answer)]), later.finish(second))
    row = await pg_pool.fetchrow("SELECT status, wamid FROM outbound_messages")
    assert row is not None and (row["status"], row["wamid"]) == ("accepted", "wamid.OUT")
    assert await _state(pg_pool, later.customer) == ("done", 0, 0)
