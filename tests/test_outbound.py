"""The outbound message log and the outbox flush, on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.outbound import OutboundLog
from bot.outbox import Outbox
from bot.whatsapp.events import ErrorInfo, StatusUpdate
from bot.whatsapp.graph import GraphClient, SendResult
from bot.whatsapp.sink import GraphSink
from tests.servers import graph_on_sink

CUSTOMER = "5491122334455"
TEXT = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Hola"}}
MORE = {**TEXT, "text": {"body": "¿Algo más?"}}
IMAGE = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"id": "1"}}
GRACE_S = 20.0


def with_key(body: dict[str, object], key: str) -> dict[str, object]:
    """A message as sent: with its row's key for the status webhooks to echo."""
    return {**body, "biz_opaque_callback_data": key}


@pytest.fixture
def sink() -> GraphSink:
    return GraphSink()


@pytest.fixture
def log(pg_pool: asyncpg.Pool) -> OutboundLog:
    return OutboundLog(pg_pool)


@pytest.fixture
async def graph(sink: GraphSink) -> AsyncIterator[GraphClient]:
    async with graph_on_sink(sink) as client:
        yield client


async def store(
    pool: asyncpg.Pool, log: OutboundLog, prefix: str, *bodies: dict[str, object]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await log.enqueue(conn, CUSTOMER, prefix, bodies)


async def send_pending(pool: asyncpg.Pool, graph: GraphClient, log: OutboundLog) -> bool:
    async with pool.acquire() as conn:
        replies = await log.pending(conn, CUSTOMER, GRACE_S)
        return await Outbox(graph, log, grace_s=GRACE_S).flush(CUSTOMER, replies)


def status(
    wamid: str,
    name: str,
    at: int = 1_700_000_000,
    code: int | None = None,
    callback: str | None = None,
) -> StatusUpdate:
    errors = (ErrorInfo(code=code, title=f"error {code}", details="why"),) if code else ()
    return StatusUpdate(
        id=wamid,
        status=name,
        recipient=CUSTOMER,
        timestamp=at,
        phone_number_id="106540352242922",
        errors=errors,
        biz_opaque_callback_data=callback,
    )


async def rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = await pool.fetch("SELECT * FROM outbound_messages ORDER BY id")
    return found


async def logged(pool: asyncpg.Pool, wamid: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM outbound_log WHERE wamid = $1", wamid)
    assert row is not None
    return row


async def current(pool: asyncpg.Pool, wamid: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM message_statuses WHERE wamid = $1", wamid)
    assert row is not None
    return row


async def sent(log: OutboundLog, wamid: str) -> int:
    """A message recorded as accepted under a wamid of our choosing."""
    async with log._pool.acquire() as conn:
        await log.enqueue(conn, CUSTOMER, wamid, [TEXT])
        (reply,) = await log.pending(conn, CUSTOMER, GRACE_S)
    await log.record_all([(reply.id, SendResult(True, wamid, 200, None, None, 1))])
    return reply.id


# --- sending -----------------------------------------------------------------------------------


async def test_replies_stored_twice_are_sent_once(
    graph: GraphClient, log: OutboundLog, sink: GraphSink, pg_pool: asyncpg.Pool
) -> None:
    await store(pg_pool, log, "wamid.IN1", TEXT, MORE)
    await store(pg_pool, log, "wamid.IN1", TEXT, MORE)  # the same message processed again
    assert await send_pending(pg_pool, graph, log)
    assert await send_pending(pg_pool, graph, log)
    assert [r.body for r in sink.requests] == [
        with_key(TEXT, "wamid.IN1:0"),
        with_key(MORE, "wamid.IN1:1"),
    ]
    found = await rows(pg_pool)
    assert [(r["idempotency_key"], r["kind"], r["status"]) for r in found] == [
        ("wamid.IN1:0", "text", "accepted"),
        ("wamid.IN1:1", "text", "accepted"),
    ]
    assert all(r["wamid"].startswith("wamid.") for r in found)


async def test_kinds_are_logged(log: OutboundLog, pg_pool: asyncpg.Pool) -> None:
    await store(pg_pool, log, "wamid.IN2", TEXT, IMAGE, {"to": CUSTOMER})
    assert [r["kind"] for r in await rows(pg_pool)] == ["text", "image", "unknown"]


async def test_failed_send_is_recorded_and_not_repeated(
    graph: GraphClient, log: OutboundLog, sink: GraphSink, pg_pool: asyncpg.Pool
) -> None:
    sink.fail_next(1, http_status=400, code=131047, title="(#131047) Re-engagement message")
    await store(pg_pool, log, "k1", TEXT)
    assert await send_pending(pg_pool, graph, log)  # nothing left waiting: it failed for good
    (row,) = await rows(pg_pool)
    assert (row["status"], row["error_code"], row["http_status"]) == ("failed", 131047, 400)
    assert row["error_title"].startswith("(#131047) Re-engagement message")
    assert await send_pending(pg_pool, graph, log)
    assert sink.requests == [] and len(sink.rejected) == 1


async def test_retryable_failure_stays_pending_and_blocks_later_replies(
    graph: GraphClient, log: OutboundLog, sink: GraphSink, pg_pool: asyncpg.Pool
) -> None:
    sink.fail_next(3)
    await store(pg_pool, log, "k1", TEXT, MORE)
    assert not await send_pending(pg_pool, graph, log)
    first, second = await rows(pg_pool)
    assert (first["status"], first["error_code"], first["attempts"]) == ("pending", 130429, 3)
    assert second["attempts"] == 0  # order kept: nothing overtook the first reply
    assert await send_pending(pg_pool, graph, log)
    first, second = await rows(pg_pool)
    assert (first["status"], first["attempts"]) == ("accepted", 4)
    assert second["status"] == "accepted"
    assert [r.body for r in sink.requests] == [with_key(TEXT, "k1:0"), with_key(MORE, "k1:1")]


# --- delivery statuses -------------------------------------------------------------------------


async def test_statuses_never_move_backwards(log: OutboundLog, pg_pool: asyncpg.Pool) -> None:
    await sent(log, "wamid.A")
    for name, at in (("sent", 1), ("read", 3), ("delivered", 2)):
        await log.apply_status(status("wamid.A", name, 1_700_000_000 + at))
    row = await current(pg_pool, "wamid.A")
    assert row["status"] == "read"
    assert row["status_at"] == datetime.fromtimestamp(1_700_000_003, UTC)
    assert (await logged(pg_pool, "wamid.A"))["status"] == "read"


async def test_read_before_sent_stays_read(log: OutboundLog, pg_pool: asyncpg.Pool) -> None:
    await sent(log, "wamid.A")
    await log.apply_status(status("wamid.A", "read"))
    await log.apply_status(status("wamid.A", "sent"))
    assert (await logged(pg_pool, "wamid.A"))["status"] == "read"


async def test_failed_is_terminal_and_keeps_its_code(
    log: OutboundLog, pg_pool: asyncpg.Pool
) -> None:
    await sent(log, "wamid.A")
    await log.apply_status(status("wamid.A", "delivered"))
    await log.apply_status(status("wamid.A", "failed", code=131047))
    await log.apply_status(status("wamid.A", "read"))
    await log.apply_status(status("wamid.A", "failed", code=131026))
    row = await logged(pg_pool, "wamid.A")
    assert (row["status"], row["error_code"], row["error_title"]) == (
        "failed",
        131047,
        "error 131047",
    )


async def test_status_for_unknown_wamid_waits_for_the_send(
    log: OutboundLog, pg_pool: asyncpg.Pool
) -> None:
    # The webhook can beat the send call's answer: keep the status until the wamid is recorded.
    await log.apply_status(status("wamid.EARLY", "delivered"))
    assert (await current(pg_pool, "wamid.EARLY"))["status"] == "delivered"
    assert await pg_pool.fetchval("SELECT count(*) FROM outbound_log") == 0
    row_id = await sent(log, "wamid.EARLY")
    row = await logged(pg_pool, "wamid.EARLY")
    assert (row["id"], row["status"], row["customer"]) == (row_id, "delivered", CUSTOMER)


async def test_a_batch_is_merged_per_wamid(log: OutboundLog, pg_pool: asyncpg.Pool) -> None:
    await log.apply_statuses(
        [
            status("wamid.A", "sent"),
            status("wamid.B", "sent"),
            status("wamid.A", "read"),
            status("wamid.A", "delivered"),
            status("wamid.B", "sent"),  # a redelivered webhook
            status("wamid.C", "failed", code=131049),
        ]
    )
    await log.apply_statuses([])
    found = await pg_pool.fetch("SELECT wamid, status, error_code FROM message_statuses ORDER BY 1")
    assert [tuple(r) for r in found] == [
        ("wamid.A", "read", None),
        ("wamid.B", "sent", None),
        ("wamid.C", "failed", 131049),
    ]


async def test_a_status_echoing_a_key_settles_only_an_unanswered_send(
    log: OutboundLog, pg_pool: asyncpg.Pool
) -> None:
    await store(pg_pool, log, "k", TEXT, TEXT, TEXT)
    sending, failed, pending = (r["id"] for r in await rows(pg_pool))
    assert await log.mark_sending(sending)
    await log.record_all(
        [(failed, SendResult(False, None, 400, 131047, "(#131047) Re-engagement", 1))]
    )
    await log.apply_statuses(
        [
            status("wamid.S", "sent", callback="k:0"),
            status("wamid.S", "delivered", callback="k:0"),  # sent and delivered in one body
            status("wamid.F", "failed", code=131047, callback="k:1"),
            status("wamid.P", "sent", callback="k:2"),
            status("wamid.X", "sent", callback="someone else's"),
        ]
    )
    found = {r["id"]: (r["status"], r["wamid"]) for r in await rows(pg_pool)}
    # A failed answer of ours stays failed; any status proves Meta has the other two.
    assert found == {
        sending: ("accepted", "wamid.S"),
        failed: ("failed", None),
        pending: ("accepted", "wamid.P"),
    }
    assert not await log.mark_sending(sending)  # settled: a retry in flight stops
    assert (await logged(pg_pool, "wamid.S"))["status"] == "delivered"


async def test_an_answer_never_moves_a_settled_reply_away_from_accepted(
    log: OutboundLog, pg_pool: asyncpg.Pool
) -> None:
    await store(pg_pool, log, "k", TEXT)
    (row,) = await rows(pg_pool)
    await log.apply_statuses([status("wamid.S", "sent", callback="k:0")])
    # The first attempt's answer was lost; the retry was throttled.
    await log.record_all(
        [(row["id"], SendResult(False, None, 429, 130429, "(#130429) Rate limit", 1))]
    )
    (row,) = await rows(pg_pool)
    assert (row["status"], row["wamid"]) == ("accepted", "wamid.S")
