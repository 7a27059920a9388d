from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from bot import keys
from bot.intent.breaker import Breaker, BreakerConfig

# Unique per test run, so that two runs sharing the Redis db do not share breakers.
P = f"p-{uuid.uuid4().hex[:8]}"
CONFIG = BreakerConfig(
    failure_rate=0.5, slow_call_ms=100, slow_rate=0.5, min_calls=4, window_s=10, open_s=0.3
)


class CountingRedis(aioredis.Redis):
    """A client that counts the commands it sends."""

    commands = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


@pytest.fixture
async def other_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A second connection, as another process of the bot would have."""
    client: aioredis.Redis = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def feed(breaker: Breaker, *outcomes: bool, slow: bool = False) -> None:
    for ok in outcomes:
        permit = await breaker.allow()
        assert permit.allowed
        await breaker.record(permit, ok=ok, slow=slow)


async def trip(breaker: Breaker) -> None:
    await feed(breaker, *[False] * CONFIG.min_calls)
    assert await breaker.state() == "open"


async def test_opens_at_the_failure_rate_but_not_before_min_calls(
    redis_client: aioredis.Redis,
) -> None:
    breaker = Breaker(P, redis_client, CONFIG, cache_s=0)
    await feed(breaker, False, True, False)  # 67% failures, but only 3 calls
    assert await breaker.state() == "closed"
    await feed(breaker, True)  # 4 calls, 50%
    assert await breaker.state() == "open"
    assert not (await breaker.allow()).allowed


async def test_failing_every_second_call_trips(redis_client: aioredis.Redis) -> None:
    breaker = Breaker(P, redis_client, BreakerConfig(min_calls=10, window_s=10), cache_s=0)
    await feed(breaker, *[True, False] * 4)
    assert await breaker.state() == "closed"
    await feed(breaker, True, False)
    assert await breaker.state() == "open"


async def test_another_process_sees_it_open(
    redis_client: aioredis.Redis, other_client: aioredis.Redis
) -> None:
    first = Breaker(P, redis_client, CONFIG, cache_s=0)
    second = Breaker(P, other_client, CONFIG, cache_s=0)
    assert (await second.allow()).allowed
    await trip(first)
    assert await second.state() == "open"
    assert (await second.allow()).kind == "open"


async def test_one_probe_at_a_time_across_processes_and_success_closes(
    redis_client: aioredis.Redis, other_client: aioredis.Redis
) -> None:
    first = Breaker(P, redis_client, CONFIG, cache_s=0)
    second = Breaker(P, other_client, CONFIG, cache_s=0)
    await trip(first)
    await asyncio.sleep(CONFIG.open_s + 0.05)
    assert await first.state() == "half_open"
    probe = await second.allow()
    assert probe.kind == "probe"
    assert [(await first.allow()).kind, (await second.allow()).kind] == ["open", "open"]
    await second.record(probe, ok=True, slow=False)
    assert await first.state() == "closed"
    assert (await first.allow()).kind == "allowed"
    # The counters started afresh: three more failures stay under min_calls.
    await feed(first, False, False, False)
    assert await first.state() == "closed"


async def test_probe_failure_reopens(
    redis_client: aioredis.Redis, other_client: aioredis.Redis
) -> None:
    first = Breaker(P, redis_client, CONFIG, cache_s=0)
    second = Breaker(P, other_client, CONFIG, cache_s=0)
    await trip(first)
    await asyncio.sleep(CONFIG.open_s + 0.05)
    probe = await first.allow()
    assert probe.kind == "probe"
    await first.record(probe, ok=False, slow=False)
    assert await second.state() == "open"
    assert (await second.allow()).kind == "open"
    await asyncio.sleep(CONFIG.open_s + 0.05)
    assert (await second.allow()).kind == "probe"


async def test_a_probe_unrelated_to_health_releases_the_reservation(
    redis_client: aioredis.Redis,
) -> None:
    breaker = Breaker(P, redis_client, CONFIG, cache_s=0)
    await trip(breaker)
    await asyncio.sleep(CONFIG.open_s + 0.05)
    probe = await breaker.allow()
    await breaker.record(probe, ok=False, slow=False, counts=False)
    assert await breaker.state() == "half_open"
    assert (await breaker.allow()).kind == "probe"


async def test_slow_calls_trip(redis_client: aioredis.Redis) -> None:
    breaker = Breaker(P, redis_client, CONFIG, cache_s=0)
    await feed(breaker, True, True, True, slow=True)
    assert await breaker.state() == "closed"
    await feed(breaker, True, slow=True)
    assert await breaker.state() == "open"


async def test_outcomes_unrelated_to_health_never_trip(redis_client: aioredis.Redis) -> None:
    breaker = Breaker(P, redis_client, CONFIG, cache_s=0)
    for _ in range(10):
        await breaker.record(await breaker.allow(), ok=False, slow=False, counts=False)
    assert await breaker.state() == "closed"


async def test_failures_older_than_the_window_are_forgotten(redis_client: aioredis.Redis) -> None:
    config = BreakerConfig(min_calls=4, window_s=1)
    breaker = Breaker(P, redis_client, config, cache_s=0)
    await feed(breaker, False, False, False)
    await asyncio.sleep(1.1)
    await feed(breaker, False)
    assert await breaker.state() == "closed"
    fields = await redis_client.hkeys(keys.breaker(P))
    assert len(fields) == 1


async def test_allow_on_a_closed_breaker_is_served_from_memory(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    client = cast(CountingRedis, CountingRedis.from_url(redis_url))
    try:
        config = BreakerConfig(min_calls=CONFIG.min_calls, open_s=30)
        breaker = Breaker(P, client, config, cache_s=0.3)
        assert (await breaker.allow()).allowed
        after_first = client.commands
        assert after_first >= 1
        for _ in range(100):
            assert (await breaker.allow()).allowed
        assert client.commands == after_first
        # Another process trips it: this one notices once its cached state expires.
        await trip(Breaker(P, redis_client, config, cache_s=0))
        await asyncio.sleep(0.35)
        assert (await breaker.allow()).kind == "open"
    finally:
        await client.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_redis_down_falls_back_to_an_in_process_breaker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client: aioredis.Redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    caplog.set_level(logging.WARNING, logger="bot.intent.breaker")
    try:
        breaker = Breaker(P, client, CONFIG, cache_s=0)
        await feed(breaker, True, False, True)
        assert await breaker.state() == "closed"
        await feed(breaker, False)
        assert await breaker.state() == "open"
        assert (await breaker.allow()).kind == "open"
        await asyncio.sleep(CONFIG.open_s + 0.05)
        probe = await breaker.allow()
        assert probe.kind == "probe" and probe.local
        assert (await breaker.allow()).kind == "open"
        await breaker.record(probe, ok=True, slow=False)
        assert await breaker.state() == "closed"
    finally:
        await client.aclose()
    unreachable = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(unreachable) == 1


async def test_script_flushed_from_redis_is_reloaded(redis_client: aioredis.Redis) -> None:
    breaker = Breaker(P, redis_client, CONFIG, cache_s=0)
    await feed(breaker, False, False)
    await redis_client.script_flush()
    await feed(breaker, False, False)
    assert await breaker.state() == "open"
