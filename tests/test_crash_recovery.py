"""kill -9 after the 200: what was acknowledged is processed exactly once after a restart."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from bot.botlink import signed
from bot.simulator import SimCustomer
from bot.whatsapp.sink import GraphSink, create_sink_app
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
   AND NOT EXISTS (SELECT FROM outbound_messages WHERE status = 'pending')
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
                pg_pool, "SELECT count(*) = 2 FROM outbound_messages WHERE status = 'accepted'"
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
        env = _env(database_url, redis_url, sink_port)
        async with bot_process(env) as first:
            assert await _post(first.url, customer.says("hola")) == 200
            await _wait_for(
                pg_pool, "SELECT count(*) = 2 FROM outbound_messages WHERE status = 'pending'"
            )
            first.kill()
        sink.latency_s = 0
        async with bot_process(env):
            await _wait_for(
                pg_pool, "SELECT count(*) = 2 FROM outbound_messages WHERE status = 'accepted'"
            )
            await asyncio.sleep(0.5)
    kinds = [r.body.get("type", "read") for r in sink.requests]
    # The hung call never reached "Meta"; the restarted bot sent each reply once.
    assert kinds == ["read", "interactive"]


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
