"""The outbox when PostgreSQL or the sender fails between the Graph API call and its record.

The outages are real: the test database stops accepting connections and its backends are
terminated at the moment the Graph sink accepts a message, exactly when the bot would record it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from bot.app import create_app, running
from bot.botlink import signed
from bot.inbox import STORAGE_DOWN
from bot.outbound import OutboundLog, PendingReply, reply_columns, unsettled
from bot.outbox import Outbox
from bot.settings import Settings
from bot.simulator import SimCustomer
from bot.whatsapp.events import StatusUpdate
from bot.whatsapp.graph import SendResult
from bot.whatsapp.sink import GraphSink, create_sink_app
from tests.servers import graph_on_sink

CUSTOMER = "5491122334455"
FIRST = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "1"}}
SECOND = {**FIRST, "text": {"body": "2"}}
STORAGE_FAILURES = (*STORAGE_DOWN, asyncpg.PostgresError)


def sent(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {**body, "biz_opaque_callback_data": key}


class DatabaseOutage:
    """The test database refuses connections and drops the ones it has, until ``end()``."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.name = parts.path.lstrip("/")
        self._admin = urlunsplit(parts._replace(path="/postgres"))

    async def _run(self, sql: str, *args: object) -> None:
        conn = await asyncpg.connect(self._admin)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def begin(self) -> None:
        await self._run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        conn = await asyncpg.connect(self._admin)
        try:
            # Terminating is asynchronous: wait until every backend of the database is gone.
            while await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.name,
            ):
                await asyncio.sleep(0.01)
        finally:
            await conn.close()

    async def end(self) -> None:
        await self._run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


class OutageSink(GraphSink):
    """Accepts like Meta, but the first message it accepts takes PostgreSQL down with it."""

    def __init__(self, outage: DatabaseOutage) -> None:
        super().__init__()
        self._outage: DatabaseOutage | None = outage
        self.answered: list[str] = []  # wamids given out

    async def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if self._outage is not None and isinstance(body, dict) and "to" in body:
            outage, self._outage = self._outage, None
            await outage.begin()
        status, answer = await super().answer(path, body)
        self.answered.extend(m["id"] for m in answer.get("messages", []))
        return status, answer


async def store(pool: asyncpg.Pool, *bodies: dict[str, Any]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await OutboundLog(pool).enqueue(conn, CUSTOMER, "k", bodies)


async def flush(pool: asyncpg.Pool, outbox: Outbox) -> bool:
    async with pool.acquire() as conn:
        replies = await OutboundLog(pool).pending(conn, CUSTOMER, outbox.grace_s)
    return await outbox.flush(CUSTOMER, replies)


async def statuses(pool: asyncpg.Pool) -> list[tuple[str, str | None]]:
    rows = await pool.fetch("SELECT status, wamid FROM outbound_messages ORDER BY id")
    return [(r["status"], r["wamid"]) for r in rows]


def echo(wamid: str, key: str) -> StatusUpdate:
    """A status webhook for one of our messages, echoing its key."""
    return StatusUpdate(
        id=wamid,
        status="sent",
        recipient=CUSTOMER,
        timestamp=1_700_000_000,
        phone_number_id="106540352242922",
        biz_opaque_callback_data=key,
    )


# --- PostgreSQL down when the answer should be recorded ----------------------------------------


async def test_reply_accepted_while_postgres_is_down_is_never_sent_again(
    pg_pool: asyncpg.Pool, database_url: str
) -> None:
    outage = DatabaseOutage(database_url)
    sink = OutageSink(outage)
    log = OutboundLog(pg_pool)
    async with graph_on_sink(sink) as graph:
        # The background retry is far off: the next flush must use the held answer itself.
        outbox = Outbox(graph, log, grace_s=20, retry_s=60)
        await store(pg_pool, FIRST, SECOND)
        with pytest.raises(STORAGE_FAILURES):
            await flush(pg_pool, outbox)
        assert [r.body for r in sink.requests] == [sent(FIRST, "k:0")]
        await outage.end()
        # The worker reconnects and flushes the customer again: the first reply is recorded
        # from memory, not sent again, and the second follows it.
        assert await flush(pg_pool, outbox)
        await outbox.aclose()
    assert [r.body for r in sink.requests] == [sent(FIRST, "k:0"), sent(SECOND, "k:1")]
    assert await statuses(pg_pool) == [("accepted", w) for w in sink.answered]


async def test_held_answers_are_recorded_as_soon_as_postgres_is_back(
    pg_pool: asyncpg.Pool, database_url: str
) -> None:
    outage = DatabaseOutage(database_url)
    sink = OutageSink(outage)
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, OutboundLog(pg_pool), grace_s=20, retry_s=0.05)
        await store(pg_pool, FIRST, SECOND)
        with pytest.raises(STORAGE_FAILURES):
            await flush(pg_pool, outbox)
        await asyncio.sleep(0.3)  # retries fail meanwhile
        await outage.end()
        async with asyncio.timeout(10):
            while (await statuses(pg_pool))[0][0] != "accepted":
                await asyncio.sleep(0.02)
        assert await flush(pg_pool, outbox)
        await outbox.aclose()
    assert [r.body for r in sink.requests] == [sent(FIRST, "k:0"), sent(SECOND, "k:1")]
    assert await statuses(pg_pool) == [("accepted", w) for w in sink.answered]


async def test_a_reply_being_sent_here_is_not_sent_by_another_flush(
    pg_pool: asyncpg.Pool,
) -> None:
    # A worker whose connection died keeps its Graph call going while another worker of this
    # process takes the customer. No grace period: only this process's own record stops it.
    sink = GraphSink(latency_s=0.5)
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, OutboundLog(pg_pool), grace_s=0)
        await store(pg_pool, FIRST)
        first = asyncio.create_task(flush(pg_pool, outbox))
        async with asyncio.timeout(5):
            while (await statuses(pg_pool))[0][0] != "sending":
                await asyncio.sleep(0.01)
        assert not await flush(pg_pool, outbox)
        assert await first
        await outbox.aclose()
    assert [r.body for r in sink.requests] == [sent(FIRST, "k:0")]


async def test_a_whole_outage_through_the_workers_sends_each_reply_once(
    bot_settings: Settings, database_url: str
) -> None:
    outage = DatabaseOutage(database_url)
    sink = OutageSink(outage)
    transport = httpx.ASGITransport(app=create_sink_app(sink))
    async with running(bot_settings, graph_transport=transport) as deps:
        app = httpx.ASGITransport(app=create_app(deps=deps))
        async with httpx.AsyncClient(transport=app, base_url="http://bot") as client:
            raw, headers = signed(
                bot_settings.whatsapp_app_secret, SimCustomer(CUSTOMER).says("hola")
            )
            assert (await client.post("/webhook", content=raw, headers=headers)).status_code == 200
            async with asyncio.timeout(10):
                while not sink.answered:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(1.0)  # workers and pollers fail to reconnect meanwhile
            await outage.end()
            async with asyncio.timeout(20):
                while await deps.pool.fetchval(
                    "SELECT count(*) FROM outbound_messages WHERE status <> 'accepted'"
                ) or await deps.pool.fetchval(
                    "SELECT count(*) FROM inbound_messages WHERE state <> 'done'"
                ):
                    await asyncio.sleep(0.05)
            await asyncio.sleep(2.5)  # past the poller's 2 s: a repeat would show up here
    kinds = [r.body.get("type", "read") for r in sink.requests]
    assert kinds == ["read", "interactive"]


# --- the sender died: status webhooks settle what Meta accepted ---------------------------------


async def _as_if_a_dead_process_was_sending(pool: asyncpg.Pool, seconds_ago: float) -> None:
    await pool.execute(
        "UPDATE outbound_messages SET status = 'sending',"
        " sending_at = now() - make_interval(secs => $1) WHERE idempotency_key = 'k:0'",
        seconds_ago,
    )


async def test_an_unsettled_send_waits_for_its_status_webhook(pg_pool: asyncpg.Pool) -> None:
    sink = GraphSink()
    log = OutboundLog(pg_pool)
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, log, grace_s=20)
        await store(pg_pool, FIRST, SECOND)
        await _as_if_a_dead_process_was_sending(pg_pool, 1)
        assert not await flush(pg_pool, outbox)  # the second waits behind it: order kept
        assert sink.requests == []
        await log.apply_statuses([echo("wamid.FROM.META", "k:0")])
        assert await flush(pg_pool, outbox)
        await outbox.aclose()
    assert [r.body for r in sink.requests] == [sent(SECOND, "k:1")]
    first, second = await statuses(pg_pool)
    assert (first, second[0]) == (("accepted", "wamid.FROM.META"), "accepted")


async def test_an_unsettled_send_goes_out_again_after_the_grace_period(
    pg_pool: asyncpg.Pool,
) -> None:
    sink = GraphSink()
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, OutboundLog(pg_pool), grace_s=20)
        await store(pg_pool, FIRST, SECOND)
        await _as_if_a_dead_process_was_sending(pg_pool, 21)
        assert await flush(pg_pool, outbox)
        await outbox.aclose()
    assert [r.body for r in sink.requests] == [sent(FIRST, "k:0"), sent(SECOND, "k:1")]
    assert [s for s, _ in await statuses(pg_pool)] == ["accepted", "accepted"]


async def test_a_status_arriving_between_attempts_stops_the_retries(
    pg_pool: asyncpg.Pool,
) -> None:
    # The first attempt reached Meta but its answer was lost; its status arrives during the
    # backoff, so the retry is not made.
    log = OutboundLog(pg_pool)

    async def status_arrives(seconds: float) -> None:
        await log.apply_statuses([echo("wamid.FIRST.TRY", "k:0")])

    sink = GraphSink()
    sink.fail_next(1, http_status=500, code=131000, title="Something went wrong")
    async with graph_on_sink(sink, sleep=status_arrives) as graph:
        outbox = Outbox(graph, log, grace_s=20)
        await store(pg_pool, FIRST, SECOND)
        assert await flush(pg_pool, outbox)
        await outbox.aclose()
    assert len(sink.rejected) == 1
    assert [r.body for r in sink.requests] == [sent(SECOND, "k:1")]
    assert (await statuses(pg_pool))[0] == ("accepted", "wamid.FIRST.TRY")


# --- replies claimed by their commit -------------------------------------------------------------


async def _claimed(pool: asyncpg.Pool, *bodies: dict[str, Any]) -> list[PendingReply]:
    """Stored the way a message's commit stores a processed message's replies, and returned."""
    replies = reply_columns("k", bodies, claim=True)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT enqueue_replies($1, $2, $3, $4, $5)", CUSTOMER, *replies)
        return unsettled(await conn.fetchval("SELECT unsettled_replies($1, 20)", CUSTOMER))


async def test_claimed_replies_go_out_without_a_mark_of_their_own(pg_pool: asyncpg.Pool) -> None:
    marks: list[int] = []

    class CountingLog(OutboundLog):
        async def mark_sending(
            self, row_id: int, answered: Sequence[tuple[int, SendResult]] = ()
        ) -> bool:
            marks.append(row_id)
            return await super().mark_sending(row_id, answered)

    sink = GraphSink()
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, CountingLog(pg_pool), grace_s=20)
        replies = await _claimed(pg_pool, FIRST, SECOND)
        assert [r.claimed for r in replies] == [True, True]
        assert await outbox.flush(CUSTOMER, replies)
        await outbox.aclose()
    assert marks == []
    assert [r.body for r in sink.requests] == [sent(FIRST, "k:0"), sent(SECOND, "k:1")]
    assert [s for s, _ in await statuses(pg_pool)] == ["accepted", "accepted"]


async def test_claimed_replies_behind_a_throttled_one_do_not_wait_out_the_grace(
    pg_pool: asyncpg.Pool,
) -> None:
    sink = GraphSink()
    sink.fail_for(60)  # 429 throughout: the first reply is postponed
    async with graph_on_sink(sink) as graph:
        outbox = Outbox(graph, OutboundLog(pg_pool), grace_s=20)
        replies = await _claimed(pg_pool, FIRST, SECOND)
        assert not await outbox.flush(CUSTOMER, replies)
        async with pg_pool.acquire() as conn:
            # Both are back to `pending`, so the next turn sends them at once, in order.
            later = await OutboundLog(pg_pool).pending(conn, CUSTOMER, 20)
        await outbox.aclose()
    assert [(r.sending, r.awaiting_status) for r in later] == [(False, False), (False, False)]
    rows = await pg_pool.fetch("SELECT http_status, attempts FROM outbound_messages ORDER BY id")
    assert [(r["http_status"], r["attempts"]) for r in rows] == [(429, 3), (None, 0)]
