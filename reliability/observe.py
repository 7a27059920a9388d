"""What happened, counted from the outside: the Graph sink's record and the scenario's database.

A reply is matched to the bot's outbound row that holds the same body for the same customer
(rows are keyed ``<inbound wamid>:<n>``), so a body received more often than the bot stored
it is a duplicate, whatever the order it came in. A message counts as answered once one of
its replies arrived. Read receipts name the inbound wamid too, but they are best effort (one
attempt, never stored): counted when repeated, they answer nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from bot.texts import texts_for
from bot.whatsapp.sink import GraphSink
from reliability.load import Load
from reliability.services import patiently

__all__ = [
    "Outcome",
    "WatchedSink",
    "latencies",
    "measure",
    "percentile",
    "settle",
]

Key = tuple[str, bytes]  # (customer, canonical body)

_APOLOGIES = frozenset(texts_for(lang).error_fallback for lang in ("es", "en"))
_ROWS = "SELECT idempotency_key, customer, kind, body FROM outbound_messages ORDER BY id"
_INBOX = """
SELECT count(*) FILTER (WHERE state = 'done') AS done,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       count(*) FILTER (WHERE rate_limit_exceeded) AS limited
FROM inbound_messages"""
_BUSY = """
SELECT (SELECT count(*) FROM inbound_messages WHERE state = 'pending')
     + (SELECT count(*) FROM outbound_messages WHERE status IN ('pending', 'sending'))"""


def _canonical(body: Any) -> bytes:
    # The stored row has no callback data: the outbox adds the row's key when it sends.
    content = {k: v for k, v in body.items() if k != "biz_opaque_callback_data"}
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def _text(canonical: bytes) -> str | None:
    text = orjson.loads(canonical).get("text")
    return text.get("body") if isinstance(text, dict) else None


def _is_read(body: dict[str, Any]) -> bool:
    return "status" in body  # the mark-read body, with or without a typing indicator


class WatchedSink(GraphSink):
    """The Graph sink, indexed: which inbound messages have a reply, and what each customer
    was sent."""

    def __init__(self) -> None:
        super().__init__()
        # Inbound wamid → time.time() of its first reply (the reply's key names the wamid).
        self.answered_at: dict[str, float] = {}
        self.sent_to: dict[str, list[dict[str, Any]]] = defaultdict(list)  # customer → bodies
        self._arrival = asyncio.Condition()

    async def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        status, answer = await super().answer(path, body)
        if status == 200 and isinstance(body, dict):
            if not _is_read(body):
                self.sent_to[str(body.get("to"))].append(body)
                wamid = str(body.get("biz_opaque_callback_data", "")).rpartition(":")[0]
                self.answered_at.setdefault(wamid, time.time())
            async with self._arrival:
                self._arrival.notify_all()
        return status, answer

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Until ``predicate()`` holds after some request; TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s), self._arrival:
            await self._arrival.wait_for(predicate)


@dataclass(frozen=True, slots=True)
class Outcome:
    sent: int
    acked: int
    processed: int
    replied: int
    lost: int
    duplicated: int  # reply bodies received more often than the bot stored them
    failed: int = 0  # inbound rows the bot gave up on
    rate_limited: int = 0
    unexpected: int = 0  # reply bodies the bot has no row for
    unsent: int = 0  # stored replies of acked messages that never reached the sink
    duplicate_reads: int = 0  # not a reply: shown, not counted as duplicated
    out_of_order: int = 0  # customers whose answers arrived out of their messages' order
    apologies: int = 0  # answered "something went wrong" instead of an answer
    # (previous copy, repeated copy) arrival times of every duplicate, mark-reads included.
    repeats: tuple[tuple[float, float], ...] = field(default=(), repr=False)
    # wamid → time.time() its first reply body (not the mark-read) reached the sink.
    reply_at: dict[str, float] = field(default_factory=dict, repr=False)

    def misses(self) -> list[str]:
        """Every count that should be 0 and is not, e.g. ``["3 lost"]``."""
        named = {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "not acked": self.sent - self.acked,
            "failed": self.failed,
            "rate-limited": self.rate_limited,
            "unexpected replies": self.unexpected,
            "replies never sent": self.unsent,
            "customers out of order": self.out_of_order,
            "error apologies": self.apologies,
        }
        return [f"{count} {name}" for name, count in named.items() if count]


async def settle(
    pool: asyncpg.Pool,
    load: Load,
    sink: WatchedSink,
    timeout_s: float,
    quiet_s: float = 1.0,
) -> float:
    """Wait until every acked message was answered and nothing is pending; returns when (or
    when ``timeout_s`` ran out), then waits ``quiet_s`` more so late duplicates show up."""
    deadline = time.monotonic() + timeout_s
    waiting = set(load.acked_at)
    while time.monotonic() < deadline:
        waiting -= sink.answered_at.keys()
        if not waiting and not await patiently(lambda: pool.fetchval(_BUSY)):
            break
        await asyncio.sleep(0.1)
    drained = time.time()
    await asyncio.sleep(quiet_s)
    return drained


async def measure(pool: asyncpg.Pool, load: Load, sink: GraphSink) -> Outcome:
    """Count the scenario's outcome (call after ``settle``)."""
    inbox = await patiently(lambda: pool.fetchrow(_INBOX))
    expected: dict[Key, list[str]] = defaultdict(list)
    for row in await patiently(lambda: pool.fetch(_ROWS)):
        expected[(row["customer"], _canonical(orjson.loads(row["body"])))].append(
            row["idempotency_key"]
        )
    seen: Counter[Key] = Counter()
    last_at: dict[bytes, float] = {}  # body → when it last arrived
    repeats: list[tuple[float, float]] = []
    reads: Counter[str] = Counter()
    reply_at: dict[str, float] = {}
    position = {w: n for wamids in load.order.values() for n, w in enumerate(wamids)}
    last: dict[str, int] = {}  # customer → position of the last message answered
    disorder: set[str] = set()

    def answered(customer: str, wamid: str) -> None:
        if position.get(wamid, -1) < last.get(customer, -1):
            disorder.add(customer)
        last[customer] = max(last.get(customer, -1), position.get(wamid, -1))

    for request in list(sink.requests):
        exact = _canonical(request.body)
        previous, last_at[exact] = last_at.get(exact, 0.0), request.at
        if _is_read(request.body):
            wamid = str(request.body.get("message_id"))
            reads[wamid] += 1
            if reads[wamid] > 1:
                repeats.append((previous, request.at))
            customer = load.messages[wamid].customer if wamid in load.messages else ""
            if reads[wamid] == 1 and customer:
                answered(customer, wamid)
            continue
        key = (str(request.body.get("to", "")), exact)
        seen[key] += 1
        keys = expected.get(key, [])
        if seen[key] <= len(keys):
            wamid = keys[seen[key] - 1].rpartition(":")[0]
            answered(key[0], wamid)
            reply_at.setdefault(wamid, request.at)
        elif key in expected:
            repeats.append((previous, request.at))

    acked = set(load.acked_at)
    replied = {w for w in reply_at if w in load.messages}
    stored_for_acked = Counter(
        {k: sum(1 for s in v if s.rpartition(":")[0] in acked) for k, v in expected.items()}
    )
    return Outcome(
        sent=load.sent,
        acked=len(acked),
        processed=inbox["done"],
        replied=len(replied),
        lost=len(acked - replied),
        duplicated=sum(max(0, n - len(expected[k])) for k, n in seen.items() if k in expected),
        failed=inbox["failed"],
        rate_limited=inbox["limited"],
        unexpected=sum(n for k, n in seen.items() if k not in expected),
        unsent=sum(max(0, n - seen[k]) for k, n in stored_for_acked.items()),
        duplicate_reads=sum(n - 1 for n in reads.values() if n > 1),
        out_of_order=len(disorder),
        apologies=sum(n for (_, body), n in seen.items() if _text(body) in _APOLOGIES),
        repeats=tuple(repeats),
        reply_at=reply_at,
    )


def latencies(load: Load, outcome: Outcome, among: Collection[str] | None = None) -> list[float]:
    """Seconds from each message's first post to its first reply at the sink, sorted; only the
    messages ``among`` when given."""
    wanted = load.first_post.keys() if among is None else among
    return sorted(at - load.first_post[w] for w, at in outcome.reply_at.items() if w in wanted)


def percentile(values: list[float], pct: float) -> float:
    """``pct`` (0–100) of sorted ``values``, nearest rank; 0 for none."""
    if not values:
        return 0.0
    rank = math.ceil(pct / 100 * len(values)) - 1
    return values[max(0, min(len(values) - 1, rank))]
