"""The conversation core end to end: rate limits, Redis loss, live operator switches, health."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import pytest
import redis.asyncio as aioredis

from bot import keys
from bot.botlink import InProcessLink, in_process_bot
from bot.settings import Settings
from bot.simulator import SimCustomer
from bot.whatsapp.view import body_kind, body_text
from tests.servers import PrivateRedis


def texts(replies: list[dict[str, object]]) -> list[str]:
    return [body_text(r) for r in replies if body_kind(r) != "read"]


async def test_sixth_message_in_a_minute_is_refused_once_politely(bot: InProcessLink) -> None:
    customer = SimCustomer("5491100000201")
    for n in range(5):
        await bot.post(customer.says(f"hola {n}"))
    assert len(texts(await bot.replies())) == 5
    await bot.post(customer.says("hola 6"))
    notice = texts(await bot.replies())
    assert len(notice) == 1 and "por minuto" in notice[0]
    await bot.post(customer.says("hola 7"))
    assert await bot.replies() == []  # silence until the window frees
    flags = await bot.deps.pool.fetch(
        "SELECT rate_limit_exceeded FROM inbound_messages ORDER BY id"
    )
    assert [f["rate_limit_exceeded"] for f in flags] == [False] * 5 + [True, True]
    # Another customer is not affected.
    await bot.post(SimCustomer("5491100000202").says("hola"))
    assert len(texts(await bot.replies())) == 1


async def test_taps_on_our_buttons_are_not_limited(bot: InProcessLink) -> None:
    customer = SimCustomer("5491100000207")
    for n in range(5):
        await bot.post(customer.says(f"hola {n}"))
    await bot.replies()
    for _ in range(3):
        await bot.post(
            customer.taps(reply_id="intent:help", title="Ayuda", on_list=False, context_id=None)
        )
    answers = texts(await bot.replies())
    assert len(answers) == 3 and all("por minuto" not in a for a in answers)
    await bot.post(customer.says("hola otra vez"))
    assert "por minuto" in texts(await bot.replies())[0]


async def test_rate_limiting_switch_off_by_sql(bot: InProcessLink) -> None:
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = 'false' WHERE key = 'rate_limiting_enabled'"
    )
    await _until(lambda: not bot.deps.config.flag("rate_limiting_enabled"))
    customer = SimCustomer("5491100000203")
    for n in range(7):
        await bot.post(customer.says(f"hola {n}"))
    assert len(texts(await bot.replies())) == 7


async def _until(condition: object, timeout_s: float = 1.0) -> None:
    """Wait for ``condition()``: the operator promise is one second."""
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_maintenance_toggle_by_sql_is_obeyed_within_a_second(bot: InProcessLink) -> None:
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = '\"Volvemos a las 18 h\"' WHERE key = 'maintenance_message'"
    )
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = 'true' WHERE key = 'maintenance_mode'"
    )
    await _until(lambda: bot.deps.config.flag("maintenance_mode"))
    await bot.post(SimCustomer("5491100000204").says("hola"))
    assert texts(await bot.replies()) == ["Volvemos a las 18 h"]
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = 'false' WHERE key = 'maintenance_mode'"
    )
    await _until(lambda: not bot.deps.config.flag("maintenance_mode"))


async def test_invalid_value_set_by_hand_is_ignored(bot: InProcessLink) -> None:
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = '\"yes\"' WHERE key = 'use_ai_providers'"
    )
    await bot.deps.config.load(bot.deps.pool)
    assert bot.deps.config.flag("use_ai_providers") is True


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_redis_stopped_mid_conversation(
    bot_settings: Settings, private_redis: PrivateRedis, pg_pool: asyncpg.Pool
) -> None:
    settings = replace(bot_settings, redis_url=private_redis.url)
    customer = SimCustomer("5491100000205", "Rosa")
    probe: aioredis.Redis = aioredis.Redis.from_url(private_redis.url)
    async with in_process_bot(settings) as bot:
        await bot.post(customer.says("hola"))
        assert await probe.exists(keys.session(customer.wa_id))
        private_redis.stop()
        await bot.post(customer.says("ayuda"))
        served = texts(await bot.replies())
        assert len(served) == 2 and "Puedo ayudarte" in served[1]
        assert bot.deps.sessions.backend == "postgres-only"
        storage = (await bot.client.get("/health/storage")).json()
        assert storage["fallback_active"] and not storage["redis"]["reachable"]
        saved = await pg_pool.fetchval(
            "SELECT count(*) FROM customer_sessions WHERE customer = $1", customer.wa_id
        )
        assert saved == 1
        private_redis.start()
        await asyncio.sleep(1.1)  # the store probes Redis again once a second
        await bot.post(customer.says("hola"))
        assert texts(await bot.replies())
        assert bot.deps.sessions.backend == "redis"
        await probe.aclose()
        probe = aioredis.Redis.from_url(private_redis.url)  # its old connection died with Redis
        assert await probe.exists(keys.session(customer.wa_id))
        storage = (await bot.client.get("/health/storage")).json()
        assert storage["session_backend"] == "redis" and storage["redis"]["version"]
    await probe.aclose()


async def test_session_cache_switch_off_and_on(bot: InProcessLink) -> None:
    customer = SimCustomer("5491100000206")
    await bot.post(customer.says("hola"))
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = 'false' WHERE key = 'use_redis_sessions'"
    )
    await _until(lambda: not bot.deps.config.flag("use_redis_sessions"))
    await bot.post(customer.says("ayuda"))
    storage = (await bot.client.get("/health/storage")).json()
    assert storage["session_backend"] == "postgres-only"
    await bot.deps.pool.execute(
        "UPDATE system_config SET value = 'true' WHERE key = 'use_redis_sessions'"
    )
    await _until(lambda: bot.deps.config.flag("use_redis_sessions"))
    await bot.post(customer.says("hola"))
    assert (await bot.client.get("/health/storage")).json()["session_backend"] == "redis"


async def test_ready_and_health(bot: InProcessLink) -> None:
    assert (await bot.client.get("/health")).json() == {"status": "ok"}
    ready = (await bot.client.get("/ready")).json()
    assert ready == {"status": "ready", "postgres": True, "redis": True}
    metrics = (await bot.client.get("/metrics")).text
    assert "wbot_rate_limited_total" in metrics


async def test_a_first_contact_needs_no_session_lookup(bot: InProcessLink) -> None:
    stats = bot.deps.sessions.stats
    customer = SimCustomer("5491100000207")
    await bot.post(customer.says("hola"))
    assert (stats.started, stats.hits, stats.misses) == (1, 0, 0)
    await bot.post(customer.says("ver carrito"))
    assert (stats.started, stats.hits, stats.misses) == (1, 1, 0)
    # A known customer whose cached copy is gone is read from PostgreSQL, not started afresh.
    await bot.deps.redis.delete(keys.session(customer.wa_id))
    await bot.post(customer.says("ayuda"))
    assert (stats.started, stats.hits, stats.misses) == (1, 1, 1)
