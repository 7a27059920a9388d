"""Scale-out: the bot on a 3-master Redis Cluster, and two instances sharing Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import pytest
import redis
from redis.asyncio import RedisCluster
from redis.exceptions import RedisError

from bot import keys
from bot.botlink import InProcessLink, in_process_bot, signed
from bot.commerce.catalog import list_categories
from bot.commerce.catalog_import import invalidate_category_cache
from bot.intent.breaker import Breaker, BreakerConfig
from bot.intent.normalize import fold
from bot.ratelimit import RateLimiter, TierLimits
from bot.redis_client import create_redis
from bot.settings import Settings
from bot.simulator import SimCustomer
from bot.whatsapp.view import body_kind, body_text
from tests import fake_ai
from tests.servers import RedisCluster3, free_port

# Every check is another message (the limiter answers a repeated one as it did the first time).
MESSAGE_IDS = (f"wamid.RL{n}" for n in itertools.count())

KEY_ENV = "WBOT_SCALE_TEST_AI_KEY"
# Breaker keys carry the provider name: a unique one keeps concurrent runs on db 15 apart.
AI = f"scale-{uuid.uuid4().hex[:8]}"
# What one customer types, and the intent the fake AI answers if it is asked. With the "new"
# tier (5 a minute) the sixth message gets the notice and the seventh silence.
SCRIPT = (
    ("hola", "greeting"),
    ("hola", "greeting"),  # intent cache hit
    ("ver categorías", "browse_categories"),  # category menu, cached in Redis
    ("ver categorías", "browse_categories"),  # both caches hit
    ("ayuda", "help"),
    ("hola", "greeting"),  # refused, with the notice
    ("hola", "greeting"),  # refused, silently
)
OTHERS = 5  # more customers, one "hola" each: their sessions spread over the nodes
# The notice says how long to wait, which depends on when in the window the run fell.
_WAIT = re.compile(r"\d+ (s|min|h)\b")


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster3]:
    server = RedisCluster3()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def cluster_client(cluster: RedisCluster3) -> AsyncIterator[RedisCluster]:
    cluster.flush()
    client = await create_redis(cluster.url)
    assert isinstance(client, RedisCluster)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[fake_ai.FakeAI]:
    monkeypatch.setenv(KEY_ENV, "k")
    async with fake_ai.running() as server:
        yield server


async def use_fake_provider(database_url: str, fake: fake_ai.FakeAI) -> None:
    """The only enabled AI provider is the fake one, so every detection asks it or the cache."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE ai_provider_config SET enabled = false")
        await conn.execute(
            "INSERT INTO ai_provider_config (name, kind, base_url, model, api_key_env, priority)"
            " VALUES ($1, 'openai', $2, 'fake-model', $3, 1)",
            AI,
            fake.base_url(AI),
            KEY_ENV,
        )
    finally:
        await conn.close()


def texts(link_replies: list[dict[str, object]]) -> list[str]:
    return [_WAIT.sub(r"N \1", body_text(r)) for r in link_replies if body_kind(r) != "read"]


async def converse(bot: InProcessLink, fake: fake_ai.FakeAI, first: int) -> list[list[str]]:
    """SCRIPT for customer ``first``, then one "hola" from each of the next OTHERS customers."""
    provider = fake.provider(AI)
    customer = SimCustomer(str(first))
    steps = [(customer, text, intent) for text, intent in SCRIPT]
    steps += [(SimCustomer(str(first + n)), "hola", "greeting") for n in range(1, OTHERS + 1)]
    transcript = []
    for who, text, intent in steps:
        provider.script(fake_ai.ok(intent))
        await bot.post(who.says(text))
        provider.replies.clear()  # unused after a cache hit or a refusal
        transcript.append(texts(await bot.replies()))
    return transcript


def node_port(client: RedisCluster, key: str) -> int:
    """The port of the master that holds ``key``."""
    node = client.get_node_from_key(key)
    assert node is not None
    return int(node.port)


def bot_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("bot") and r.levelno >= logging.WARNING
    ]


async def test_conversation_on_cluster_matches_standalone(
    shop_settings: Settings,
    cluster: RedisCluster3,
    cluster_client: RedisCluster,
    fake: fake_ai.FakeAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await use_fake_provider(shop_settings.database_url, fake)
    caplog.set_level(logging.WARNING)
    asked = fake.provider(AI).requests
    first = 5491100000710
    customers = [str(first + n) for n in range(OTHERS + 1)]
    async with in_process_bot(replace(shop_settings, redis_url=cluster.url)) as bot:
        assert isinstance(bot.deps.redis, RedisCluster)
        on_cluster = await converse(bot, fake, first)
        assert len(asked) == 3  # hola, ver categorías, ayuda: everything else came from the cache
        assert len(on_cluster[5]) == 1 and "por minuto" in on_cluster[5][0]
        assert on_cluster[6] == []
        assert all(on_cluster[n] for n in (0, 1, 2, 3, 4, *range(7, 7 + OTHERS)))
        stats = bot.deps.sessions.stats
        assert stats.hits == 4 and stats.errors == 0  # messages 2 to 5 of the first customer

        session_keys = [keys.session(c) for c in customers]
        assert await cluster_client.exists(*session_keys) == len(customers)
        nodes = {node_port(cluster_client, k) for k in session_keys}
        assert nodes == set(cluster.ports)
        assert await cluster_client.exists(keys.intent_cache("any", fold("hola")))
        assert await cluster_client.exists(keys.category_cache("es"))
        assert await cluster_client.exists(keys.rate_limit(customers[0]))
        assert await bot.deps.router.breaker(AI).state() == "closed"
        assert await cluster_client.exists(keys.breaker(AI))  # three successes recorded
        storage = (await bot.client.get("/health/storage")).json()
        assert storage["session_backend"] == "redis" and storage["redis"]["version"]

        assert await bot.deps.sessions.forget_all() == len(customers)
        assert [k async for k in cluster_client.scan_iter(match=keys.session("*"))] == []
    assert bot_warnings(caplog) == []

    async with in_process_bot(shop_settings) as bot:
        standalone = await converse(bot, fake, first + 100)
    assert standalone == on_cluster


async def test_scripts_survive_script_flush_on_every_node(cluster_client: RedisCluster) -> None:
    limiter = RateLimiter(cluster_client)
    tier = TierLimits(per_minute=2, per_hour=10, per_day=10, burst=10)
    customers = [str(5491100000730 + n) for n in range(6)]
    breaker = Breaker(
        f"{AI}-direct",
        cluster_client,
        BreakerConfig(min_calls=2, window_s=10, open_s=0.2),
        cache_s=0.0,
    )
    for _ in range(2):  # the second round runs after SCRIPT FLUSH: NOSCRIPT, then reload
        for customer in customers:
            decision = await limiter.check(customer, next(MESSAGE_IDS), tier)
            assert not decision.degraded
        permit = await breaker.allow()
        assert permit.kind == "allowed" and not permit.local
        await cluster_client.script_flush()
    nodes = {node_port(cluster_client, keys.rate_limit(c)) for c in customers}
    assert len(nodes) == 3
    refused = await limiter.check(customers[0], next(MESSAGE_IDS), tier)
    assert not refused.allowed and refused.window == "minute" and refused.notify

    for _ in range(2):
        await breaker.record(await breaker.allow(), ok=False, slow=False)
    assert await breaker.state() == "open"
    await asyncio.sleep(0.25)
    probe = await breaker.allow()
    assert probe.kind == "probe" and not probe.local
    assert not (await breaker.allow()).allowed  # one probe across all processes
    await breaker.record(probe, ok=True, slow=False)
    assert await breaker.state() == "closed"


async def test_cold_start_and_a_dropped_connection_under_load(
    cluster: RedisCluster3, cluster_client: RedisCluster
) -> None:
    """A fresh client with 32 commands at once, then one node drops every client connection.

    redis-py 8.1 alone fails cold commands (MOVED) and lets an AttributeError escape when the
    connections drop (it closes them under the coroutines using them); the bot's client fails
    none of the first, and turns the rest into ConnectionErrors, which every caller handles.
    """
    client = await create_redis(cluster.url)
    done: list[int] = []
    failures: list[Exception] = []
    stop = asyncio.Event()
    progress = asyncio.Condition()

    async def customer(n: int) -> None:
        for count in itertools.count():
            if stop.is_set():
                return
            try:
                await client.set(keys.session(f"{n}-{count}"), b"{}", ex=60)
                done.append(n)
            except Exception as exc:  # what escapes is the point of the test
                failures.append(exc)
            async with progress:
                progress.notify_all()

    async def until_done(count: int) -> None:
        async with asyncio.timeout(10), progress:
            await progress.wait_for(lambda: len(done) >= count)

    tasks = [asyncio.create_task(customer(n)) for n in range(32)]
    try:
        await until_done(500)
        assert failures == []
        with redis.Redis("127.0.0.1", cluster.ports[1]) as node:
            assert node.client_kill_filter(_type="normal", skipme=True) > 0
        await until_done(len(done) + 500)  # and it recovers
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await client.aclose()
    assert all(isinstance(exc, RedisError) for exc in failures), failures[:3]


async def test_unreachable_cluster_means_the_fallbacks() -> None:
    client = await create_redis(f"redis+cluster://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RedisError):  # redis-py alone: RedisClusterException, no RedisError
            await client.get(keys.session("5491100000750"))
        tier = TierLimits(per_minute=5, per_hour=60, per_day=500, burst=10)
        decision = await RateLimiter(client).check("5491100000750", next(MESSAGE_IDS), tier)
        assert decision.allowed and decision.degraded
    finally:
        await client.aclose()


async def test_category_cache_on_cluster(
    shop_database_url: str, cluster_client: RedisCluster
) -> None:
    cached = [keys.category_cache(lang) for lang in ("es", "en")]
    # Different slots: invalidating both in one call is the CROSSSLOT case.
    assert cluster_client.keyslot(cached[0]) != cluster_client.keyslot(cached[1])
    pool = await asyncpg.create_pool(shop_database_url, min_size=1, max_size=2)
    try:
        spanish = await list_categories(pool, cluster_client, "es")
        english = await list_categories(pool, cluster_client, "en")
        assert spanish and await cluster_client.exists(*cached) == 2
        await pool.execute("UPDATE categories SET name_es = 'Cambiado', name_en = 'Changed'")
        await pool.execute("REFRESH MATERIALIZED VIEW category_summary")
        assert await list_categories(pool, cluster_client, "es") == spanish  # from the cache
        assert await list_categories(pool, cluster_client, "en") == english
        await invalidate_category_cache(cluster_client)
        assert await cluster_client.exists(*cached) == 0
    finally:
        await pool.close()


async def _wait_all_sent(pool: asyncpg.Pool, messages: int) -> None:
    async with asyncio.timeout(15):
        while True:
            done = await pool.fetchval("SELECT count(*) FROM inbound_messages WHERE state = 'done'")
            unsent = await pool.fetchval(
                "SELECT count(*) FROM outbound_messages WHERE status <> 'accepted'"
            )
            if done == messages and unsent == 0:
                return
            await asyncio.sleep(0.02)


async def _reply_order(pool: asyncpg.Pool, customer: str) -> list[str]:
    """Inbound wamids in the order their replies were committed (once each if exactly once)."""
    rows = await pool.fetch(
        "SELECT idempotency_key FROM outbound_messages WHERE customer = $1 ORDER BY id", customer
    )
    order: list[str] = []
    for row in rows:
        wamid = row["idempotency_key"].rsplit(":", 1)[0]
        if not order or order[-1] != wamid:
            order.append(wamid)
    return order


@pytest.mark.parametrize("wait_each", [True, False], ids=["taking-turns", "racing"])
async def test_two_instances_share_the_customers(
    bot_settings: Settings, pg_pool: asyncpg.Pool, wait_each: bool
) -> None:
    """Each customer's messages go to both instances in turn: answered once each, in order."""
    await pg_pool.execute("UPDATE rate_limit_config SET max_per_minute = 100, burst_size = 100")
    customers = [SimCustomer(str(5491100000740 + n)) for n in range(3)]
    bodies = [(c, c.says(f"hola {n}")) for n in range(6) for c in customers]
    async with in_process_bot(bot_settings) as one, in_process_bot(bot_settings) as two:
        links = (one, two)
        for n, (_, body) in enumerate(bodies):
            link = links[n % 2]
            if wait_each:  # the instance that got the message processes it, mostly
                assert await link.post(body) == 200
            else:
                raw, headers = signed(bot_settings.whatsapp_app_secret, body)
                response = await link.client.post("/webhook", content=raw, headers=headers)
                assert response.status_code == 200
        await _wait_all_sent(pg_pool, len(bodies))
        read = [
            [r.body["message_id"] for r in link.sink.take() if body_kind(r.body) == "read"]
            for link in links
        ]
    posted = [body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for _, body in bodies]
    # Every message read (and answered) exactly once, by one instance or the other.
    assert sorted(read[0] + read[1]) == sorted(posted)
    for customer in customers:
        mine = [wamid for who, wamid in zip(bodies, posted, strict=True) if who[0] is customer]
        assert await _reply_order(pg_pool, customer.wa_id) == mine
    if wait_each:  # both instances did work
        assert read[0] and read[1]
