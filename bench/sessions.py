"""Sessions: load+save p95 with the Redis cache vs PostgreSQL only, and the cache hit rate.

    python -m bench.sessions [--customers 500] [--rounds 4]

Both paths go through ``bot.sessions.SessionStore`` as the inbox worker uses it: ``load``, a
change, the save (``save_session()``: the single-customer form of the upsert the worker's
commit, ``finish_messages()``, runs for a round of customers) inside a transaction, then
``cache`` after the commit. The only difference is the ``use_redis_sessions`` switch. The commit is timed but left
out of the headline figure: the worker's transaction also marks the message done and queues the
replies, so it commits whether or not a session was saved (both figures are printed). One task, no concurrency:
the figure is the cost of the store, not queueing. Each mode has its own customers (sessions
of a realistic size: two cart lines and a context), all created before timing, so the Redis
path measures cache hits; the two modes take turns step by step so that load from other
processes on the host hits both alike. Own database, Redis db 13 (flushed before and after).

The hit rate comes from replaying every scripted conversation in tests/conversations/ through
an in-process bot on the same database (demo catalogue loaded); its reference is the charter's
target of 0.80 (a target, not a measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench.common import REDIS_URL, Row, demo_shop, fresh_database, percentile, print_table
from bot.botlink import dev_settings, in_process_bot
from bot.config import LiveConfig
from bot.replay import ReplayMismatch, load_conversation, replay
from bot.sessions import CartLine, SessionStore

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "tests" / "conversations"
DATABASE = "wbot_bench_sessions"
CHARTER_HIT_RATE = 0.80
TARGET_HIT_RATE = 0.95
MODES = {"redis": True, "postgres": False}


def _cart() -> list[CartLine]:
    return [
        CartLine(101, "CAFE-COL-500", "Café de Colombia molido 500 g", 2, Decimal("12.99"), "USD"),
        CartLine(207, "PARL-BT-BLA", "Parlante portátil Bluetooth blanco", 1, Decimal("64.99"), "USD"),
    ]  # fmt: skip


# The session upsert of a message's commit, for one customer (sql/migrations/0010 and 0012).
_SAVE = "SELECT save_session($1, $2, $3::jsonb, $4::jsonb, $5)"


async def _step(store: SessionStore, conn: asyncpg.Connection, customer: str) -> tuple[float, ...]:
    """One message's session work; (load, save, commit, cache) in µs."""
    t0 = time.perf_counter()
    session = await store.load(customer)
    t1 = time.perf_counter()
    session.state = "cart"
    session.cart = session.cart or _cart()
    session.context["messages"] = int(session.context.get("messages", 0)) + 1
    session.context.setdefault("lang", "es")
    session.context.setdefault("last_results", list(range(300, 310)))
    transaction = conn.transaction()
    await transaction.start()
    t2 = time.perf_counter()
    await conn.execute(_SAVE, customer, *store.columns(session))
    t3 = time.perf_counter()
    await transaction.commit()
    t4 = time.perf_counter()
    await store.cache(session)
    t5 = time.perf_counter()
    return (t1 - t0) * 1e6, (t3 - t2) * 1e6, (t4 - t3) * 1e6, (t5 - t4) * 1e6


async def _timing(dsn: str, redis: aioredis.Redis, customers: int, rounds: int) -> dict[str, Any]:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    conn = await asyncpg.connect(dsn)
    try:
        stores = {
            mode: SessionStore(pool, redis, LiveConfig({"use_redis_sessions": on}))
            for mode, on in MODES.items()
        }
        people = {
            mode: [f"5493{n:09d}{i}" for n in range(customers)] for i, mode in enumerate(MODES)
        }
        for mode, store in stores.items():  # create every session (and fill the cache)
            for customer in people[mode]:
                await _step(store, conn, customer)
        samples: dict[str, list[tuple[float, ...]]] = {mode: [] for mode in MODES}
        shuffle = random.Random(3)
        for _ in range(rounds):
            order = list(range(customers))
            shuffle.shuffle(order)
            for n in order:  # step by step in turn, so a burst of load elsewhere hits both
                for mode, store in stores.items():
                    samples[mode].append(await _step(store, conn, people[mode][n]))
        result: dict[str, Any] = {}
        for mode, rows in samples.items():
            # The commit is left out of the total: the worker commits mark_done anyway.
            total = [load + save + cache for load, save, _, cache in rows]
            result[mode] = {
                "n": len(rows),
                "p50_us": percentile(total, 50),
                "p95_us": percentile(total, 95),
                "p99_us": percentile(total, 99),
                "with_commit_p95_us": percentile([sum(r) for r in rows], 95),
                **{
                    f"{part}_p95_us": percentile([r[i] for r in rows], 95)
                    for i, part in enumerate(("load", "save", "commit", "cache"))
                },
                "hit_rate": stores[mode].stats.hit_rate,
            }
        return result
    finally:
        await conn.close()
        await pool.close()


async def _hit_rate(dsn: str) -> dict[str, Any]:
    await demo_shop(dsn)
    settings = dev_settings(
        DATABASE_URL=dsn, REDIS_URL=REDIS_URL, BOT_WORKERS="4", BOT_INBOX_POLL_MS="100",
        BOT_RECORD_FILE="",
    )  # fmt: skip
    # A conversation that pays needs a payment provider stand-in, which only the tests run.
    conversations = [load_conversation(p) for p in sorted(CONVERSATIONS.glob("*.jsonl"))]
    paths = [c.path for c in conversations if not c.pays]
    mismatched: list[str] = []
    async with in_process_bot(settings) as link:
        for conversation in conversations:
            if conversation.pays:
                continue
            try:
                await replay(conversation, link)
            except ReplayMismatch:  # the load still counts; the flows are tested elsewhere
                mismatched.append(conversation.path.stem)
        stats = link.deps.sessions.stats
    return {
        "conversations": len(paths),
        # First messages of new customers skip the lookup (SessionStore.start): not counted.
        "started": stats.started,
        "mismatched": mismatched,
        "hits": stats.hits,
        "misses": stats.misses,
        "errors": stats.errors,
        "hit_rate": stats.hit_rate,
    }


async def _run(dsn: str, customers: int, rounds: int) -> dict[str, Any]:
    redis: aioredis.Redis = aioredis.Redis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        timing = await _timing(dsn, redis, customers, rounds)
        await redis.flushdb()
        return {**timing, "replay": await _hit_rate(dsn), "customers": customers, "rounds": rounds}
    finally:
        await redis.flushdb()
        await redis.aclose()


def run(customers: int = 500, rounds: int = 4) -> dict[str, Any]:
    """About customers × rounds × 2 steps, then the replay; well under a minute."""
    with fresh_database(DATABASE) as dsn:
        return asyncio.run(_run(dsn, customers, rounds))


def rows(figures: dict[str, Any]) -> list[Row]:
    redis, pg, replayed = figures["redis"], figures["postgres"], figures["replay"]
    return [
        Row("session load+save p95 (commit excluded)", "µs", redis["p95_us"], pg["p95_us"], "use_redis_sessions off",
            "", higher_is_better=False),
        Row("session load p95", "µs", redis["load_p95_us"], pg["load_p95_us"],
            "use_redis_sessions off", "", higher_is_better=False),
        Row(f"session cache hit rate ({replayed['conversations']} conversations)", "",
            replayed["hit_rate"], CHARTER_HIT_RATE, "charter target, not measured",
            f"≥ {TARGET_HIT_RATE:.2f}"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    figures = run(args.customers, args.rounds)
    parts = ("load", "save", "cache", "commit", "with_commit")
    print(f"{'µs':<10}{'p50':>8}{'p95':>8}{'p99':>8}" + "".join(f"{p + ' p95':>17}" for p in parts))
    for mode in MODES:
        f = figures[mode]
        print(
            f"{mode:<10}{f['p50_us']:>8.0f}{f['p95_us']:>8.0f}{f['p99_us']:>8.0f}"
            + "".join(f"{f[p + '_p95_us']:>17.0f}" for p in parts)
        )
    r = figures["replay"]
    print(
        f"replay: {r['conversations']} conversations, hits {r['hits']}, misses {r['misses']}, "
        f"errors {r['errors']}, hit rate {r['hit_rate']:.3f}; first contacts that needed no "
        f"lookup: {r['started']}; mismatched: {r['mismatched'] or 'none'}"
    )
    print()
    print_table(rows(figures))


if __name__ == "__main__":
    main()
