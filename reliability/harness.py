"""Shared pieces of the scenarios: the running stack, ordinary traffic, and one result row each.

``stack()`` starts, for one scenario, a private Redis, a fresh ``wbot_rel_*`` database (on the
local PostgreSQL, or on a private one), the Graph sink (uvicorn in this process) and the bots
(``python -m bot serve`` processes), and stops every one of them afterwards, even on failure.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import orjson
from starlette.requests import ClientDisconnect

from bot.botlink import DEV_ENV
from bot.simulator import SimCustomer
from bot.whatsapp.sink import create_sink_app
from bot.whatsapp.sink_statuses import StatusWebhooks
from reliability.load import Duplicate, Load, Step, message
from reliability.observe import Outcome, WatchedSink, measure, settle
from reliability.services import ADMIN_DSN, BotServer, PrivatePostgres, scenario_database
from tests.servers import PrivateRedis, serve_app

__all__ = [
    "MESSAGES_PER_CUSTOMER",
    "TARGET_RECOVERY_S",
    "OutageSize",
    "Result",
    "Stack",
    "chatter",
    "customers_for",
    "disturbed",
    "repeats_near",
    "spread_duplicates",
    "stack",
]

TARGET_RECOVERY_S = 5.0
# Small talk that every bot state answers with at least one message (no handoff, no silence).
_TEXTS = ("hola", "ayuda", "qué horario tienen", "ver categorías", "gracias", "buenas tardes")
# Per customer and scenario, fewer messages than the strictest tier allows in a minute, so no
# message is refused by the rate limiter (a refusal is answered once, then silence by design).
MESSAGES_PER_CUSTOMER = 4

# The last line of a traceback: "asyncpg.exceptions.FooError: …".
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Disconnect)\b")
Prepare = Callable[[asyncpg.Pool], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutageSize:
    """A dependency out for ``outage_s`` while customers chat at ``rate`` messages/s, starting
    ``lead_s`` before the outage and going on ``tail_s`` after it; ``settle_s`` bounds the drain."""

    outage_s: float
    rate: float = 20
    lead_s: float = 4
    tail_s: float = 10
    settle_s: float = 300

    @property
    def chat_s(self) -> float:
        return self.lead_s + self.outage_s + self.tail_s


SHORT_OUTAGE = {"rate": 10, "lead_s": 3, "tail_s": 4, "settle_s": 90}


@dataclass(frozen=True, slots=True)
class Result:
    """One row of the table; ``misses`` names every target this run did not meet."""

    scenario: str
    outcome: Outcome
    seconds: float
    recovery_s: float | None = None
    recovery_from: str = ""  # what the recovery time is measured between
    figures: Mapping[str, str] = field(default_factory=dict)
    misses: tuple[str, ...] = ()


@dataclass(slots=True)
class Stack:
    dsn: str
    pool: asyncpg.Pool
    redis: PrivateRedis
    sink: WatchedSink
    sink_url: str
    bots: list[BotServer]
    loads: list[Load] = field(default_factory=list)

    def load(self, rate: float, *, give_up_s: float = 600.0) -> Load:
        """A load generator on every bot of the stack, closed with the stack."""
        load = Load([bot.url for bot in self.bots], rate=rate, give_up_s=give_up_s)
        self.loads.append(load)
        return load

    async def drain(self, load: Load, settle_s: float) -> float:
        """Wait for the bots to answer everything acked (at most ``settle_s``); returns when."""
        return await settle(self.pool, load, self.sink, settle_s)

    async def finish(self, load: Load, settle_s: float) -> tuple[Outcome, float]:
        """``drain``, then count."""
        drained_at = await self.drain(load, settle_s)
        return await measure(self.pool, load, self.sink), drained_at

    async def first_sent_after(self, since: float, timeout_s: float) -> float | None:
        """When the Graph sink next accepted a request after ``since`` (``time.time()``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            requests = self.sink.requests
            after = bisect.bisect_right(requests, since, key=lambda r: r.at)
            if after < len(requests):
                return requests[after].at
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.02)

    async def storage(self, bot: BotServer) -> dict[str, object]:
        """The bot's ``/health/storage`` answer."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            data: dict[str, object] = (await client.get(f"{bot.url}/health/storage")).json()
            return data


class _QuietDisconnects(logging.Filter):
    """A bot killed mid-send leaves the sink a half-read request; not an error of the sink's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


@contextlib.asynccontextmanager
async def stack(
    label: str,
    *,
    bots: int = 1,
    env: Mapping[str, str] | None = None,
    prepare: Prepare | None = None,
    postgres: PrivatePostgres | None = None,
) -> AsyncIterator[Stack]:
    """Everything one scenario runs against; ``prepare`` runs on the database before the bots."""
    logs = Path(tempfile.mkdtemp(prefix=f"wbot_rel_{label}_logs_"))
    quiet = _QuietDisconnects()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    redis = PrivateRedis()
    servers: list[BotServer] = []
    made: Stack | None = None
    failed = True
    try:
        redis.start()
        admin = postgres.admin_dsn if postgres is not None else ADMIN_DSN
        async with scenario_database(label, admin) as dsn:
            # No connection floor: asyncpg would log a traceback per retry while PostgreSQL is down.
            pool = await asyncpg.create_pool(dsn, min_size=0, max_size=4)
            sink = WatchedSink()
            try:
                if prepare is not None:
                    await prepare(pool)
                async with serve_app(create_sink_app(sink)) as sink_port:
                    sink_url = f"http://127.0.0.1:{sink_port}"
                    bot_env = {
                        "DATABASE_URL": dsn,
                        "REDIS_URL": redis.url,
                        "GRAPH_API_URL": f"{sink_url}/v23.0",
                        "BOT_RECORD_FILE": "",
                        **(env or {}),
                    }
                    servers.extend(BotServer(bot_env, logs, f"bot{n}") for n in range(bots))
                    # Like Meta, the sink posts a status webhook for each message it accepted.
                    sink.statuses = StatusWebhooks(
                        [f"{server.url}/webhook" for server in servers],
                        {**DEV_ENV, **bot_env}["WHATSAPP_APP_SECRET"],
                    )
                    for server in servers:
                        await server.start()
                    made = Stack(dsn, pool, redis, sink, sink_url, servers)
                    yield made
                    failed = False
            finally:
                for server in servers:
                    await server.stop()
                if sink.statuses is not None:
                    await sink.statuses.aclose()
                if made is not None:
                    for load in made.loads:
                        await load.aclose()
                await pool.close()
    finally:
        for server in servers:
            await server.kill()  # a no-op unless stopping failed above
        redis.stop()
        logging.getLogger("uvicorn.error").removeFilter(quiet)
        for error, count in _logged_errors(logs).most_common(5):
            print(f"reliability: {label}: the bot logged {count} × {error[:300]}", file=sys.stderr)
        if failed or os.environ.get("RELIABILITY_KEEP_LOGS"):
            print(f"reliability: {label}: bot logs kept in {logs}", file=sys.stderr)
        else:
            shutil.rmtree(logs, ignore_errors=True)


async def disturbed(
    s: Stack,
    plan: list[list[Step]],
    *,
    rate: float,
    lead_s: float,
    disturb: Callable[[], Awaitable[T]],
) -> tuple[Load, T]:
    """Post ``plan`` at ``rate``; ``lead_s`` into it, run ``disturb`` while the load goes on."""
    load = s.load(rate)
    posting = asyncio.create_task(load.run(plan))
    try:
        await asyncio.sleep(lead_s)
        happened = await disturb()
        await posting
    finally:
        posting.cancel()
    return load, happened


def _logged_errors(folder: Path) -> Counter[str]:
    """What the bots logged at error level, and uncaught exceptions, with how often."""
    found: Counter[str] = Counter()
    for log in folder.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"level":"error"' in line:
                entry = orjson.loads(line)
                cause = str(entry.get("exc", "")).strip().splitlines()[-1:]
                found[": ".join([entry.get("msg", ""), *cause])] += 1
            elif _EXCEPTION.match(line):
                found[line] += 1
    return found


def repeats_near(outcome: Outcome, events: list[float]) -> str:
    """When the copies that were repeated had been sent, in seconds from the nearest event,
    and how long after them the repeats came."""
    if not outcome.repeats:
        return "none"
    offsets = [first - min(events, key=lambda e: abs(first - e)) for first, _ in outcome.repeats]
    gaps = [again - first for first, again in outcome.repeats]
    return (
        f"{len(offsets)}, sent {min(offsets):+.2f}…{max(offsets):+.2f} s from it,"
        f" again {min(gaps):.1f}…{max(gaps):.1f} s later"
    )


def customers_for(rate: float, seconds: float) -> int:
    """How many customers keep ``rate`` messages per second going for ``seconds``."""
    return math.ceil(rate * seconds / MESSAGES_PER_CUSTOMER)


def chatter(customers: int, first_id: int, *, seed: int = 0) -> list[list[Step]]:
    """Ordinary traffic: ``customers`` people, each sending a few small-talk messages."""
    rng = random.Random(seed)
    plan: list[list[Step]] = []
    for n in range(customers):
        person = SimCustomer(f"549{first_id + n:010d}", f"Cliente {n}")
        texts = rng.sample(_TEXTS, MESSAGES_PER_CUSTOMER)
        plan.append([Step(message(person.says(text))) for text in texts])
    return plan


def spread_duplicates(plan: list[list[Step]], count: int, *, seed: int = 0) -> list[list[Step]]:
    """The same plan with ``count`` extra deliveries: half posted concurrently, half later."""
    rng = random.Random(seed)
    slots = [(c, s) for c, steps in enumerate(plan) for s in range(len(steps))]
    chosen = rng.sample(slots, count)
    marked = [list(steps) for steps in plan]
    for n, (c, s) in enumerate(chosen):
        kind: Duplicate = "concurrent" if n % 2 == 0 else "later"
        marked[c][s] = Step(marked[c][s].message, kind)
    return marked
