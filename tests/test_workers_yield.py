"""In a webhook burst the inbox workers let the acks go first, for a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from bot.inbox import InboxWriter, PendingMessage, mark_done
from bot.outbound import PendingReply
from bot.simulator import SimCustomer
from bot.turns import Turn, TurnDesk
from bot.whatsapp.events import StoredMessage
from bot.whatsapp.parse import index_body
from bot.workers import InboxWorkers


async def _run(
    database_url: str, pool: asyncpg.Pool, waiting: list[int], max_yield_s: float
) -> tuple[int, int]:
    """Messages processed while the burst lasted, and in all."""
    customer = SimCustomer("5491100000950")
    writer = InboxWriter(pool)
    stored = [e for e in index_body(customer.says("hola")) if isinstance(e, StoredMessage)]
    await writer.store(stored)
    await writer.aclose()
    processed: list[str] = []

    async def process(turn: Turn, message: PendingMessage) -> bool:
        processed.append(message.wamid)
        await mark_done(pool, message.id, rate_limited=False)
        return True

    async def resume(customer: str, replies: Sequence[PendingReply]) -> bool:
        return True

    desk = TurnDesk(database_url, grace_s=20)
    workers = InboxWorkers(
        database_url, desk, process, resume, concurrency=2, acks_waiting=lambda: waiting[0],
        max_yield_s=max_yield_s,
    )  # fmt: skip
    await workers.start()
    try:
        workers.notify(customer.wa_id)
        await asyncio.sleep(0.3)
        during = len(processed)
        if max_yield_s > 10:
            waiting[0] = 0  # the burst is over
        await workers.drain(timeout_s=10)
    finally:
        await workers.stop()
        await desk.aclose()
    return during, len(processed)


async def test_workers_wait_while_acks_queue_up(database_url: str, pg_pool: asyncpg.Pool) -> None:
    assert await _run(database_url, pg_pool, [100], max_yield_s=60) == (0, 1)


async def test_a_burst_that_does_not_end_delays_but_never_stops_them(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    _, processed = await _run(database_url, pg_pool, [100], max_yield_s=0.02)
    assert processed == 1
