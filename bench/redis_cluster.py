"""Conversation throughput of one bot instance on a 3-master Redis Cluster vs one Redis server.

    python -m bench.redis_cluster [--customers 100] [--messages 3] [--rounds 3]

An in-process bot (webhook, 16 inbox workers, the whole pipeline, a Graph sink) on one database
with the demo catalogue; every round posts ``messages`` texts from each of ``customers``
customers at once and times until every reply is out. The same bot code runs on both: only
REDIS_URL differs (``redis+cluster://`` to three local redis-server masters, tests/servers.py
``RedisCluster3``, or the standalone Redis at BENCH_REDIS_URL, db flushed before and after).
The modes take turns round by round, so load from elsewhere on the host hits both alike. Rate
limiting and AI providers are off: the figure is the bot and its storage, not the limiter's
refusals or a provider's latency. Redis work per message: the limiter is off, so a session GET
and SET and a category-menu GET for some texts.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import RedisCluster

from bench.common import REDIS_URL, Row, demo_shop, fresh_database, print_table
from bot.botlink import InProcessLink, dev_settings, in_process_bot, signed
from bot.redis_client import create_redis
from bot.simulator import SimCustomer
from tests.servers import RedisCluster3

DATABASE = "wbot_bench_cluster"
TEXTS = ("hola", "ver categorías", "ayuda", "busco café", "ver carrito")


async def _round(link: InProcessLink, people: list[SimCustomer], messages: int) -> float:
    """Seconds from the first post to the last reply, for messages × customers."""
    secret = link.deps.settings.whatsapp_app_secret
    started = time.perf_counter()
    for n in range(messages):
        posts = []
        for who in people:
            raw, headers = signed(secret, who.says(TEXTS[n % len(TEXTS)]))
            posts.append(link.client.post("/webhook", content=raw, headers=headers))
        for response in await asyncio.gather(*posts):
            response.raise_for_status()
    await link.deps.workers.drain(timeout_s=120)
    elapsed = time.perf_counter() - started
    link.sink.clear()
    return elapsed


async def _flush(url: str) -> None:
    client = await create_redis(url)
    try:
        if isinstance(client, RedisCluster):
            await client.flushall()  # a cluster has only db 0, and it is ours
        else:
            await client.flushdb()
    finally:
        await client.aclose()


async def _run(dsn: str, cluster_url: str, customers: int, messages: int, rounds: int) -> Any:
    await demo_shop(dsn)
    urls = {"standalone": REDIS_URL, "cluster": cluster_url}
    seconds: dict[str, list[float]] = {mode: [] for mode in urls}
    # Each mode its own customers, reused every round: from the second round on, sessions hit.
    people = {
        mode: [SimCustomer(f"549{i}{n:08d}") for n in range(customers)]
        for i, mode in enumerate(urls)
    }
    for url in urls.values():
        await _flush(url)
    for _ in range(rounds):
        for mode, url in urls.items():
            settings = dev_settings(
                DATABASE_URL=dsn, REDIS_URL=url, BOT_WORKERS="16", BOT_INBOX_POLL_MS="100",
                BOT_RECORD_FILE="",
            )  # fmt: skip
            async with in_process_bot(settings) as link:
                seconds[mode].append(await _round(link, people[mode], messages))
                errors = link.deps.sessions.stats.errors
                if errors:
                    raise RuntimeError(f"{mode}: {errors} session cache errors")
    for url in urls.values():
        await _flush(url)
    per_round = customers * messages
    best: Callable[[str], float] = lambda mode: per_round / min(seconds[mode])  # noqa: E731
    return {
        "customers": customers,
        "messages_per_customer": messages,
        "rounds": rounds,
        "seconds": seconds,
        "standalone_msgs_per_s": best("standalone"),
        "cluster_msgs_per_s": best("cluster"),
    }


def run(customers: int = 100, messages: int = 3, rounds: int = 3) -> dict[str, Any]:
    """About 2 × rounds × customers × messages messages; well under a minute on 2 cores."""
    cluster = RedisCluster3()
    cluster.start()
    try:
        with fresh_database(DATABASE) as dsn:
            figures: dict[str, Any] = asyncio.run(
                _run(dsn, cluster.url, customers, messages, rounds)
            )
            return figures
    finally:
        cluster.stop()


def rows(figures: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "conversation throughput, 3-master Redis Cluster",
            "msg/s",
            figures["cluster_msgs_per_s"],
            figures["standalone_msgs_per_s"],
            "one Redis server",
            "≈ 1×",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures = run(args.customers, args.messages, args.rounds)
    for mode in ("standalone", "cluster"):
        rounds = ", ".join(f"{s:.2f}" for s in figures["seconds"][mode])
        print(f"{mode:<11} best {figures[f'{mode}_msgs_per_s']:.0f} msg/s; rounds (s): {rounds}")
    print()
    print_table(rows(figures))


if __name__ == "__main__":
    main()
