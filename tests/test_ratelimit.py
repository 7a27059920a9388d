"""The per-customer limiter against the real Redis (db 15), and its in-memory stand-in."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from bot import keys
from bot.ratelimit import WINDOWS, RateLimiter, TierLimits, _Memory, load_tier_limits

# Every check is another message (the limiter answers a repeated one as it did the first time).
MESSAGE_IDS = (f"wamid.RL{n}" for n in itertools.count())

NEW = TierLimits(per_minute=5, per_hour=60, per_day=500, burst=10)
ROOMY = 1_000_000  # a limit no test reaches
DAY = 86_400_000


def _counters(fields: Mapping[Any, Any]) -> dict[str, int]:
    """The hash's message counters, without the notice markers and the last message's answer."""
    return {k.decode(): int(v) for k, v in fields.items() if not k.startswith((b"n:", b"m"))}


async def _server_ms(client: aioredis.Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def _send(limiter: RateLimiter, customer: str, limits: TierLimits, n: int) -> None:
    for _ in range(n):
        assert (await limiter.check(customer, next(MESSAGE_IDS), limits)).allowed


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_tiers_load_from_rate_limit_config(pg_pool: asyncpg.Pool) -> None:
    tiers = await load_tier_limits(pg_pool)
    assert tiers == {
        "new": NEW,
        "regular": TierLimits(per_minute=10, per_hour=120, per_day=1000, burst=20),
        "vip": TierLimits(per_minute=20, per_hour=300, per_day=2000, burst=50),
    }


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TierLimits(per_minute=0, per_hour=1, per_day=1, burst=1)


async def test_sixth_message_in_a_minute_is_refused_without_charging_any_window(
    redis_client: aioredis.Redis, pg_pool: asyncpg.Pool
) -> None:
    new = (await load_tier_limits(pg_pool))["new"]
    limiter = RateLimiter(redis_client)
    key = keys.rate_limit("5491100000001")
    await _send(limiter, "5491100000001", new, 5)
    before = _counters(await redis_client.hgetall(key))
    # Every window counted the 5 messages (in two buckets if one rolled over meanwhile).
    per_window = {str(size): 0 for _, size in WINDOWS}
    for field, count in before.items():
        per_window[field.split(":")[0]] += count
    assert per_window == {str(size): 5 for _, size in WINDOWS}

    decision = await limiter.check("5491100000001", next(MESSAGE_IDS), new)

    assert not decision.allowed and not decision.degraded
    assert decision.window == "minute"
    # At most: the rest of this minute, then a fifth of the next until the 5 have decayed to 4.
    assert 1 <= decision.retry_after_ms <= 60_000 + 12_000
    assert decision.notify
    assert _counters(await redis_client.hgetall(key)) == before


async def test_all_or_nothing_when_only_the_hour_is_full(redis_client: aioredis.Redis) -> None:
    limits = TierLimits(per_minute=100, per_hour=3, per_day=100, burst=100)
    limiter = RateLimiter(redis_client)
    await _send(limiter, "c-hour", limits, 3)
    before = _counters(await redis_client.hgetall(keys.rate_limit("c-hour")))

    refused = [await limiter.check("c-hour", next(MESSAGE_IDS), limits) for _ in range(3)]

    assert [d.window for d in refused] == ["hour"] * 3
    assert [d.notify for d in refused] == [True, False, False]
    assert all(d.retry_after_ms > 0 for d in refused)
    assert _counters(await redis_client.hgetall(keys.rate_limit("c-hour"))) == before


async def test_the_most_restrictive_window_is_reported(redis_client: aioredis.Redis) -> None:
    limits = TierLimits(per_minute=2, per_hour=2, per_day=100, burst=2)
    limiter = RateLimiter(redis_client)
    await _send(limiter, "c-three", limits, 2)
    decision = await limiter.check("c-three", next(MESSAGE_IDS), limits)
    # Burst, minute and hour are all full; the hour bucket takes longest to drain.
    assert decision.window == "hour"
    assert decision.retry_after_ms > 60_000


async def test_tiers_differ_and_customers_are_isolated(
    redis_client: aioredis.Redis, pg_pool: asyncpg.Pool
) -> None:
    tiers = await load_tier_limits(pg_pool)
    limiter = RateLimiter(redis_client)
    decisions = await asyncio.gather(
        *(
            limiter.check(f"c-{tier}", next(MESSAGE_IDS), limits)
            for tier, limits in tiers.items()
            for _ in range(25)
        )
    )
    allowed = {
        tier: sum(d.allowed for d in decisions[i * 25 : i * 25 + 25])
        for i, tier in enumerate(tiers)
    }
    assert allowed == {"new": 5, "regular": 10, "vip": 20}
    assert (await limiter.check("c-other", next(MESSAGE_IDS), tiers["new"])).allowed


async def test_one_tagged_hash_per_customer_that_outlives_two_days(
    redis_client: aioredis.Redis,
) -> None:
    await RateLimiter(redis_client).check("5491100000002", next(MESSAGE_IDS), NEW)
    assert keys.rate_limit("5491100000002") == "wbot:rl:{5491100000002}"
    assert await redis_client.type(keys.rate_limit("5491100000002")) == b"hash"
    ttl = await redis_client.pttl(keys.rate_limit("5491100000002"))
    assert 2 * DAY - 5_000 <= ttl <= 2 * DAY


async def test_a_message_checked_again_gets_the_same_answer_uncounted(
    redis_client: aioredis.Redis,
) -> None:
    limits = TierLimits(per_minute=100, per_hour=2, per_day=100, burst=100)
    limiter = RateLimiter(redis_client)
    key = keys.rate_limit("c-again")
    first = await limiter.check("c-again", "wamid.A", limits)
    counted = _counters(await redis_client.hgetall(key))
    # Processed again (its first run crashed after the check): neither counted nor refused.
    assert await limiter.check("c-again", "wamid.A", limits) == first
    assert _counters(await redis_client.hgetall(key)) == counted
    assert (await limiter.check("c-again", "wamid.B", limits)).allowed  # the hour's second
    refused = await limiter.check("c-again", "wamid.C", limits)
    assert not refused.allowed and refused.notify
    # The refusal, notice included, is the answer again: its reply is stored under the same key.
    again = await limiter.check("c-again", "wamid.C", limits)
    assert (again.allowed, again.window, again.notify) == (False, "hour", True)
    assert not (await limiter.check("c-again", "wamid.D", limits)).notify  # once per window


async def test_buckets_older_than_the_previous_one_are_deleted(
    redis_client: aioredis.Redis,
) -> None:
    key = keys.rate_limit("c-stale")
    minute = (await _server_ms(redis_client)) // 60_000
    stale = [f"60000:{minute - 2}", f"60000:{minute - 30}", f"n:60000:{minute - 1}", "5000:1"]
    await redis_client.hset(key, mapping={field: 3 for field in stale})
    await redis_client.hset(key, f"60000:{minute - 1}", 1)

    await RateLimiter(redis_client).check("c-stale", next(MESSAGE_IDS), NEW)

    fields = set(_counters(await redis_client.hgetall(key)))
    assert fields.isdisjoint(stale)
    assert await redis_client.hlen(key) == len(fields) + 1  # no notice marker; the answer kept
    assert f"60000:{minute - 1}" in fields


async def test_previous_bucket_counts_by_its_overlap_with_the_window(
    redis_client: aioredis.Redis,
) -> None:
    limits = TierLimits(per_minute=ROOMY, per_hour=ROOMY, per_day=100, burst=ROOMY)
    limiter = RateLimiter(redis_client)
    now = await _server_ms(redis_client)
    day, elapsed = divmod(now, DAY)
    weight = (DAY - elapsed) / DAY

    # Yesterday's messages still weigh ~150 now: refused until they have decayed to 99.
    heavy = math.ceil(150 / weight)
    await redis_client.hset(keys.rate_limit("c-heavy"), f"{DAY}:{day - 1}", heavy)
    decision = await limiter.check("c-heavy", next(MESSAGE_IDS), limits)
    assert decision.window == "day"
    expected = DAY - 99 * DAY / heavy - elapsed
    assert expected - 1_000 <= decision.retry_after_ms <= expected + 1

    # ~50 left from yesterday: room for more today, and today's bucket counts it.
    light = math.floor(50 / weight)
    await redis_client.hset(keys.rate_limit("c-light"), f"{DAY}:{day - 1}", light)
    assert (await limiter.check("c-light", next(MESSAGE_IDS), limits)).allowed
    today = await redis_client.hget(keys.rate_limit("c-light"), f"{DAY}:{day}")
    assert today == b"1"

    # Today's bucket full: only tomorrow's, once today's 100 have decayed to 99, admits more.
    await redis_client.hset(keys.rate_limit("c-full"), f"{DAY}:{day}", 100)
    decision = await limiter.check("c-full", next(MESSAGE_IDS), limits)
    expected = DAY - elapsed + DAY / 100
    assert expected - 1_000 <= decision.retry_after_ms <= expected + 1


async def test_an_active_customer_costs_little_memory(redis_client: aioredis.Redis) -> None:
    key = keys.rate_limit("5491100000003")
    limiter = RateLimiter(redis_client)
    await _send(limiter, "5491100000003", NEW, 5)
    assert not (await limiter.check("5491100000003", next(MESSAGE_IDS), NEW)).allowed
    fresh = await redis_client.memory_usage(key)
    # The steady state: every window also has a previous bucket.
    now = await _server_ms(redis_client)
    await redis_client.hset(key, mapping={f"{s}:{now // s - 1}": 7 for _, s in WINDOWS})
    steady = await redis_client.memory_usage(key)
    print(f"\nrate-limit hash: {fresh} B (one bucket per window), {steady} B (two)")
    assert fresh is not None and steady is not None
    assert fresh < steady < 512


async def test_script_is_reloaded_after_script_flush(redis_client: aioredis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    await limiter.check("c-flush", next(MESSAGE_IDS), NEW)
    await redis_client.script_flush()
    sha = limiter._script.sha
    assert await redis_client.script_exists(sha) == [False]

    decision = await limiter.check("c-flush", next(MESSAGE_IDS), NEW)

    assert decision.allowed and not decision.degraded
    assert await redis_client.script_exists(sha) == [True]
    assert sum(_counters(await redis_client.hgetall(keys.rate_limit("c-flush"))).values()) >= 8


async def test_concurrent_checks_admit_exactly_the_limit(redis_client: aioredis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    limits = TierLimits(per_minute=5, per_hour=ROOMY, per_day=ROOMY, burst=ROOMY)
    decisions = await asyncio.gather(
        *(limiter.check("c-rush", next(MESSAGE_IDS), limits) for _ in range(50))
    )
    assert sum(d.allowed for d in decisions) == 5
    assert sum(d.notify for d in decisions) == 1
    assert not any(d.degraded for d in decisions)


async def test_redis_down_limits_in_memory(caplog: pytest.LogCaptureFixture) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=_closed_port())
    limiter = RateLimiter(client, timeout_s=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.ratelimit"):
            decisions = [
                await limiter.check("5491100000004", next(MESSAGE_IDS), NEW) for _ in range(7)
            ]
    finally:
        await client.aclose()
    assert all(d.degraded for d in decisions)
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert decisions[5].window == "minute" and decisions[5].retry_after_ms > 0
    assert [d.notify for d in decisions[5:]] == [True, False]
    assert len(caplog.records) == 1
    assert "5491100000004" not in caplog.text


class _Relay:
    """A TCP relay to the test Redis that can be cut and restored, to stage an outage."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def cut(self, cut: bool) -> None:
        self._cut = cut
        for writer in self._writers if cut else ():
            writer.close()

    async def close(self) -> None:
        self.cut(True)
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def relay(redis_client: aioredis.Redis) -> AsyncIterator[_Relay]:
    kwargs = redis_client.connection_pool.connection_kwargs
    relay = _Relay(kwargs["host"], kwargs["port"])
    try:
        yield relay
    finally:
        await relay.close()


async def test_outage_and_recovery_are_logged_once(
    relay: _Relay, redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client = aioredis.Redis(host="127.0.0.1", port=await relay.start(), db=db)
    limiter = RateLimiter(client, timeout_s=0.2, redis_retry_s=0.05)
    try:
        with caplog.at_level(logging.INFO, logger="bot.ratelimit"):
            assert not (await limiter.check("c-outage", next(MESSAGE_IDS), NEW)).degraded
            relay.cut(True)
            during = [await limiter.check("c-outage", next(MESSAGE_IDS), NEW) for _ in range(3)]
            await asyncio.sleep(0.06)
            during.append(await limiter.check("c-outage", next(MESSAGE_IDS), NEW))
            relay.cut(False)
            await asyncio.sleep(0.06)
            after = await limiter.check("c-outage", next(MESSAGE_IDS), NEW)
    finally:
        await client.aclose()
    assert all(d.degraded and d.allowed for d in during)
    assert not after.degraded and after.allowed
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "back" in caplog.records[1].getMessage()


def test_memory_limiter_slides_like_the_script() -> None:
    now = [60_000 * 1_000_000 + 30_000]  # 30 s into a minute bucket
    memory = _Memory(lambda: now[0], max_customers=10)
    for _ in range(5):
        assert memory.check("c", NEW).allowed
    refused = memory.check("c", NEW)
    assert (refused.window, refused.retry_after_ms, refused.notify) == ("minute", 42_000, True)
    assert not memory.check("c", NEW).notify

    now[0] += 36_000  # 6 s into the next bucket: the 5 still weigh 4.5
    refused = memory.check("c", NEW)
    assert (refused.window, refused.retry_after_ms, refused.notify) == ("minute", 6_000, True)
    now[0] += 6_000  # they weigh 4 now: exactly one more fits
    assert memory.check("c", NEW).allowed
    assert not memory.check("c", NEW).allowed


def test_memory_limiter_forgets_idle_customers_and_stays_bounded() -> None:
    now = [DAY * 100]
    memory = _Memory(lambda: now[0], max_customers=3)
    one = TierLimits(per_minute=1, per_hour=1, per_day=1, burst=1)
    for customer in "abcd":
        assert memory.check(customer, one).allowed
    assert len(memory) == 3
    assert memory.check("a", one).allowed  # evicted first, so forgotten
    assert not memory.check("d", one).allowed
    now[0] += 2 * DAY + 1
    memory.check("e", one)
    assert len(memory) == 1
