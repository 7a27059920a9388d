"""kill -9 after the 200: what was acknowledged is processed exactly once after a restart."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import asyncpg
import httpx
import pytest

from bot.botlink import signed
from bot.simulator import SimCustomer
from bot.whatsapp.sink import GraphSink, create_sink_app
from bot.whatsapp.sink_statuses import StatusWebhooks
from tests.servers import bot_process, serve_app

pytestmark = pytest.mark.slow


async def _post(url: str, body: dict[str, object]) -> int:
    raw, headers = signed("dev-app-secret", body)
    async with httpx.AsyncClient() as client:
        return (await client.post(f"{url}/webhook", content=raw, headers=headers)).status_code


async def _wait_for(pool: asyncpg.Pool, sql: str, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await pool.fetchval(sql):
            await asyncio.sleep(0.05)


_ALL_ANSWERED = """
SELECT NOT EXISTS (SELECT FROM inbound_messages WHERE state <> 'done')
   AND NOT EXISTS (SELECT FROM outbound_messages WHERE status IN ('pending', 'sending'))
"""


def _env(database_url: str, redis_url: str, sink_port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "GRAPH_API_URL": f"http://127.0.0.1:{sink_port}/v23.0",
        "BOT_INBOX_POLL_MS": "100",
    }


async def test_killed_before_processing(
    database_url: str, redis_url: str, pg_pool: asyncpg.Pool, redis_client: object
) -> None:
    sink = GraphSink()
    customer = SimCustomer("5491100000101", "Ana")
    async with serve_app(create_sink_app(sink)) as sink_port:
        env = _env(database_url, redis_url, sink_port)
        # Hold the customer's lock as a busy worker would, so the first bot cannot start on it.
        blocker = await asyncpg.connect(database_url)
        await blocker.fetchval(
            "SELECT pg_advisory_lock(hashtextextended($1, 7301442))", customer.wa_id
        )
        async with bot_process(env) as first:
            assert await _post(first.url, customer.says("hola")) == 200
            first.kill()
        await blocker.close()
        assert sink.requests == []
        async with bot_process(env):
            await _wait_for(
                pg_pool, "SELECT count(*) = 1 FROM outbound_messages WHERE status = 'accepted'"
            )
            await asyncio.sleep(0.5)  # a duplicate would show up here
    kinds = [r.body.get("type", "read") for r in sink.requests]
    assert kinds == ["read", "interactive"]
    assert await pg_pool.fetchval("SELECT state FROM inbound_messages") == "done"


async def test_killed_while_sending(
    database_url: str, redis_url: str, pg_pool: asyncpg.Pool, redis_client: object
) -> None:
    sink = GraphSink(latency_s=60)  # the first bot's Graph calls hang until it is killed
    customer = SimCustomer("5491100000102", "Beto")
    async with serve_app(create_sink_app(sink)) as sink_port:
        # The reply was stored `sending` (to go out right after the commit): after a crash it
        # waits out the grace period, as an attempt cut short might have reached Meta.
        env = {**_env(database_url, redis_url, sink_port), "BOT_SEND_GRACE_S": "2"}
        async with bot_process(env) as first:
            assert await _post(first.url, customer.says("hola")) == 200
            await _wait_for(
                pg_pool, "SELECT count(*) = 1 FROM outbound_messages WHERE status = 'sending'"
            )
            first.kill()
        sink.latency_s = 0
        async with bot_process(env):
            await _wait_for(
                pg_pool, "SELECT count(*) = 1 FROM outbound_messages WHERE status = 'accepted'"
            )
            await asyncio.sleep(0.5)
    kinds = [r.body.get("type", "read") for r in sink.requests]
    # The hung calls never reached "Meta"; the restarted bot sent the reply once. The read
    # receipt is not stored, so it died with the first bot (the customer's next message is
    # marked read, and WhatsApp shows the earlier ones read with it).
    assert kinds == ["interactive"]


async def test_stopped_under_a_backlog_exits_promptly_and_loses_nothing(
    database_url: str, redis_url: str, pg_pool: asyncpg.Pool, redis_client: object
) -> None:
    sink = GraphSink(latency_s=0.3)  # slow enough that a backlog is still there at the stop
    customers = [SimCustomer(f"54911000003{n:02d}", f"Cliente {n}") for n in range(40)]
    async with serve_app(create_sink_app(sink)) as sink_port:
        env = _env(database_url, redis_url, sink_port)
        async with bot_process(env) as first:
            for round_ in range(3):
                posted = [_post(first.url, c.says(f"hola {round_}")) for c in customers]
                assert set(await asyncio.gather(*posted)) == {200}
            # Workers finish the message in hand, then leave; a stuck worker would hold this
            # past the 10 s grace (and the old behaviour: forever).
            assert first.terminate(timeout_s=12) < 12
        left = await pg_pool.fetchval("SELECT count(*) FROM inbound_messages WHERE state <> 'done'")
        assert left > 0, "the backlog was gone before the stop: the test proves nothing"
        async with bot_process(env):
            await _wait_for(pg_pool, _ALL_ANSWERED, 60)
    assert await pg_pool.fetchval("SELECT count(*) FROM inbound_messages") == 120
    read = [r.body["message_id"] for r in sink.requests if r.body.get("status") == "read"]
    assert len(read) == len(set(read)) == 120  # every message answered, none twice


class KillingSink(GraphSink):
    """The first message it receives kills ``victim`` (kill -9) before the bot hears back:
    after Meta accepted it (``accept``), or before it got there."""

    def __init__(self, statuses: StatusWebhooks, *, accept: bool) -> None:
        super().__init__(statuses=statuses)
        self.victim: subprocess.Popen[bytes] | None = None
        self.killed_at = 0.0
        self._accept = accept

    async def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if self.victim is not None and isinstance(body, dict) and "to" in body:
            self.victim.kill()
            self.victim.wait()
            self.victim, self.killed_at = None, time.time()
            if not self._accept:
                return 503, {}  # nobody reads it: the bot is gone
        return await super().answer(path, body)


async def _kill_mid_send(
    sink: KillingSink, env: dict[str, str], customer: SimCustomer, statuses: StatusWebhooks
) -> None:
    async with bot_process(env) as first:
        statuses.urls = [f"{first.url}/webhook"]
        sink.victim = first.process
        assert await _post(first.url, customer.says("hola")) == 200
        async with asyncio.timeout(15):
            while first.process.poll() is None:
                await asyncio.sleep(0.02)


async def test_killed_after_meta_accepted_a_reply_it_is_not_sent_again(
    database_url: str, redis_url: str, pg_pool: asyncpg.Pool, redis_client: object
) -> None:
    statuses = StatusWebhooks([], "dev-app-secret", retry_s=0.05)
    sink = KillingSink(statuses, accept=True)
    customer = SimCustomer("5491100000103", "Caro")
    async with serve_app(create_sink_app(sink)) as sink_port:
        # A grace period longer than the wait below: only the status webhook can settle it.
        env = {**_env(database_url, redis_url, sink_port), "BOT_SEND_GRACE_S": "60"}
        await _kill_mid_send(sink, env, customer, statuses)
        assert (
            await pg_pool.fetchval(
                "SELECT count(*) FROM outbound_messages WHERE status = 'sending'"
            )
            == 1
        )
        async with bot_process(env) as second:
            statuses.urls = [f"{second.url}/webhook"]  # Meta keeps retrying the status
            await _wait_for(pg_pool, _ALL_ANSWERED, 15)
            await asyncio.sleep(0.5)
        await statuses.aclose()
    kinds = [r.body.get("type", "read") for r in sink.requests]
    # The reply went out once; the status webhook settled it.
    assert kinds == ["read", "interactive"]
    settled = await pg_pool.fetchrow(
        "SELECT o.status, s.status AS delivery FROM outbound_messages o"
        " JOIN message_statuses s USING (wamid) WHERE o.kind = 'interactive'"
    )
    assert tuple(settled) == ("accepted", "sent")


async def test_killed_before_a_reply_reached_meta_it_goes_out_after_the_grace(
    database_url: str, redis_url: str, pg_pool: asyncpg.Pool, redis_client: object
) -> None:
    statuses = StatusWebhooks([], "dev-app-secret", retry_s=0.05)
    sink = KillingSink(statuses, accept=False)
    customer = SimCustomer("5491100000104", "Dani")
    async with serve_app(create_sink_app(sink)) as sink_port:
        env = {**_env(database_url, redis_url, sink_port), "BOT_SEND_GRACE_S": "2"}
        await _kill_mid_send(sink, env, customer, statuses)
        async with bot_process(env) as second:
            statuses.urls = [f"{second.url}/webhook"]
            await _wait_for(pg_pool, _ALL_ANSWERED, 15)
            await asyncio.sleep(0.5)
        await statuses.aclose()
    (read, reply) = sink.requests
    assert read.body.get("status") == "read"
    assert reply.body["type"] == "interactive"
    # No status came, so the reply waited out the grace period (from the commit that claimed it,
    # just before the kill): late, and once.
    assert reply.at - sink.killed_at > 1.5
