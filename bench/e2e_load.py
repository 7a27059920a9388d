"""Simulated customers for the end-to-end benchmark: raw keep-alive HTTP/1.1, one loop.

Each customer owns one connection to the bot and walks a scripted conversation, sending its
next message only once the previous one was answered (a mark-read for that wamid, then a
message to that customer, as seen on the sink's live feed). ``closed_loop`` keeps every
customer busy; ``open_loop`` starts messages at a fixed rate, each from a customer who is
waiting for nothing (a message that finds none idle is counted as not offered).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench.common import percentile
from bot.simulator import SimCustomer
from bot.webhook import signature_for

__all__ = ["Outcome", "closed_loop", "open_loop", "sink_record", "summarize"]

HOST = "127.0.0.1"
# A slow server still answers within seconds; none for this long means the rest are lost.
STALL_S = 5.0


@dataclass(slots=True)
class Outcome:
    """What the customers did; latencies come later from the sink's own record."""

    sent: dict[str, float] = field(default_factory=dict)  # wamid → unix time the POST started
    sender: dict[str, str] = field(default_factory=dict)  # wamid → the customer's phone
    rejected: set[str] = field(default_factory=set)  # wamids answered non-200, or not at all
    not_offered: int = 0  # open loop: a due message found no idle customer
    window: tuple[float, float] = (0.0, 0.0)  # unix times: the measured part of the run
    answered_in_drain: bool = True
    reconnects: int = 0  # connections reopened after more than IDLE_S without a request


class _Connection:
    """One keep-alive HTTP/1.1 connection, reopened when uvicorn may have closed it."""

    # uvicorn closes a connection idle for 5 s (timeout_keep_alive); a customer waiting longer
    # than that for an answer starts again on a new connection, as Meta's sender would.
    IDLE_S = 4.0

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0
        self.reopened = 0

    async def _ensure(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is not None and time.monotonic() - self._used > self.IDLE_S:
            self.close()
            self.reopened += 1
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
        return self._reader, self._writer

    async def post(self, path: bytes, body: bytes, signature: str) -> int:
        reader, writer = await self._ensure()
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (path, HOST.encode(), signature.encode(), len(body), body)
        )
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            start = lower.find(b"content-length:")
            if start < 0:
                raise RuntimeError("the load generator reads only responses with a Content-Length")
            length = int(lower[start + 15 : lower.find(b"\r\n", start)])
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            return 0  # no answer: counted as rejected, the customer goes on
        self._used = time.monotonic()
        return int(head[9:12])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class _Customer:
    def __init__(self, number: int, script: Sequence[str], secret: str, port: int) -> None:
        self.sim = SimCustomer(f"5491{number:09d}", f"Cliente {number}")
        self.phone = self.sim.wa_id
        self._script: Iterator[str] = itertools.cycle(script)
        self._secret = secret
        self.connection = _Connection(port)
        self.read_seen = False
        self.answered: asyncio.Future[None] | None = None

    def answer(self) -> None:
        """The first message after this customer's mark-read: the answer has arrived."""
        self.read_seen = False
        if self.answered is not None and not self.answered.done():
            self.answered.set_result(None)

    async def turn(self, feed: _Feed, outcome: Outcome) -> None:
        """Send the next scripted message and wait until it is answered."""
        body = self.sim.says(next(self._script))
        wamid: str = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        raw = orjson.dumps(body)
        self.read_seen = False
        self.answered = asyncio.get_running_loop().create_future()
        feed.waiting[wamid] = self  # before sending: the answer may overtake the 200
        outcome.sent[wamid] = time.time()
        outcome.sender[wamid] = self.phone
        status = await self.connection.post(b"/webhook", raw, signature_for(self._secret, raw))
        if status != 200:
            outcome.rejected.add(wamid)
            feed.waiting.pop(wamid, None)
            return
        await self.answered


class _Feed:
    """Reads the sink's live feed and wakes the customer each answer belongs to."""

    def __init__(self, customers: Sequence[_Customer]) -> None:
        self.waiting: dict[str, _Customer] = {}
        self._by_phone = {c.phone: c for c in customers}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def subscribe(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection(HOST, port)
        self._writer.write(b"GET /_bench/stream HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST.encode())
        await self._reader.readuntil(b"\r\n\r\n")
        await self._chunk()  # the first line says the subscription is in place

    async def _chunk(self) -> bytes:
        assert self._reader is not None
        size = int(await self._reader.readuntil(b"\r\n"), 16)
        return (await self._reader.readexactly(size + 2))[:-2]

    async def run(self) -> None:
        while True:
            for line in (await self._chunk()).splitlines():
                kind, _, ident = line.decode().partition(" ")
                if kind == "r":
                    customer = self.waiting.pop(ident, None)
                    if customer is not None:
                        customer.read_seen = True
                elif kind == "m":
                    customer = self._by_phone.get(ident)
                    if customer is not None and customer.read_seen:
                        customer.answer()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def _session(
    bot_port: int, sink_port: int, numbers: range, script: Sequence[str], secret: str
) -> tuple[list[_Customer], _Feed, asyncio.Task[None]]:
    customers = [_Customer(n, script, secret, bot_port) for n in numbers]
    feed = _Feed(customers)
    await feed.subscribe(sink_port)
    return customers, feed, asyncio.create_task(feed.run())


async def _finish(
    customers: list[_Customer], feed: _Feed, feed_task: asyncio.Task[None],
    busy: set[asyncio.Task[None]], outcome: Outcome, drain_s: float,
) -> None:  # fmt: skip
    """Wait for the answers still due (up to ``drain_s``, or STALL_S without one), then close."""
    pending, left = busy, len(busy)
    loop = asyncio.get_running_loop()
    deadline, progress_at = loop.time() + drain_s, loop.time()
    while pending and loop.time() < deadline and loop.time() - progress_at < STALL_S:
        _, pending = await asyncio.wait(pending, timeout=0.5)
        if len(pending) < left:
            left, progress_at = len(pending), loop.time()
    outcome.answered_in_drain = not pending
    if pending:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    feed_task.cancel()
    await asyncio.gather(feed_task, return_exceptions=True)
    feed.close()
    for customer in customers:
        customer.connection.close()
        outcome.reconnects += customer.connection.reopened


async def closed_loop(
    bot_port: int, sink_port: int, *, customers: int, first: int, script: Sequence[str],
    secret: str, warmup_s: float, measure_s: float, drain_s: float,
) -> Outcome:  # fmt: skip
    """Every customer sends, waits for the answer, sends the next: no think time."""
    numbers = range(first, first + customers)
    people, feed, feed_task = await _session(bot_port, sink_port, numbers, script, secret)
    outcome = Outcome()
    stop = asyncio.Event()

    async def walk(customer: _Customer) -> None:
        while not stop.is_set():
            await customer.turn(feed, outcome)

    started = time.time()
    outcome.window = (started + warmup_s, started + warmup_s + measure_s)
    tasks = {asyncio.create_task(walk(c)) for c in people}
    await asyncio.sleep(warmup_s + measure_s)
    stop.set()
    await _finish(people, feed, feed_task, tasks, outcome, drain_s)
    return outcome


async def open_loop(
    bot_port: int, sink_port: int, *, customers: int, first: int, script: Sequence[str],
    secret: str, rate: float, warmup_s: float, measure_s: float, drain_s: float,
) -> Outcome:  # fmt: skip
    """Messages start at ``rate`` per second whatever the answers' pace, from idle customers."""
    numbers = range(first, first + customers)
    people, feed, feed_task = await _session(bot_port, sink_port, numbers, script, secret)
    outcome = Outcome()
    idle = deque(people)
    busy: set[asyncio.Task[None]] = set()

    async def one(customer: _Customer) -> None:
        await customer.turn(feed, outcome)
        idle.append(customer)

    loop = asyncio.get_running_loop()
    started, clock = time.time(), loop.time()
    outcome.window = (started + warmup_s, started + warmup_s + measure_s)
    issued = 0
    while (elapsed := loop.time() - clock) < warmup_s + measure_s:
        for _ in range(int(elapsed * rate) - issued):
            issued += 1
            if not idle:
                outcome.not_offered += 1
                continue
            task = asyncio.create_task(one(idle.popleft()))
            busy.add(task)
            task.add_done_callback(busy.discard)
        await asyncio.sleep(0.002)
    await _finish(people, feed, feed_task, set(busy), outcome, drain_s)
    return outcome


def summarize(outcome: Outcome, sink_requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput, latency to the answer, and the exactly-once check.

    A message's answer is the first message the sink received for its customer after the
    message's mark-read: a customer has one message in flight at a time, and both the bot and
    the relay send the mark-read first."""
    reads: dict[str, list[float]] = {}
    answers: dict[str, list[float]] = {}  # phone → when messages to it arrived
    for request in sink_requests:
        body = request["body"]
        if body.get("status") == "read":
            reads.setdefault(body["message_id"], []).append(request["at"])
        elif "to" in body:
            answers.setdefault(body["to"], []).append(request["at"])
    for times in answers.values():
        times.sort()

    def answered_at(wamid: str, read_at: float) -> float | None:
        times = answers.get(outcome.sender.get(wamid, ""), [])
        found = bisect.bisect_left(times, read_at)
        return times[found] if found < len(times) else None

    begin, end = outcome.window
    latencies_ms: list[float] = []
    done_in_window = 0
    answered = lost = duplicated = 0
    for wamid, sent_at in outcome.sent.items():
        seen = reads.get(wamid, [])
        at = answered_at(wamid, min(seen)) if seen else None
        answered += at is not None
        lost += at is None and wamid not in outcome.rejected
        duplicated += len(seen) > 1
        if at is not None and begin <= at < end:
            done_in_window += 1
        if at is not None and begin <= sent_at < end:
            latencies_ms.append((at - sent_at) * 1000)
    return {
        "sent": len(outcome.sent),
        "answered": answered,
        "msgs_per_s": done_in_window / (end - begin),
        "measured": len(latencies_ms),
        "p50_ms": percentile(latencies_ms, 50),
        "p95_ms": percentile(latencies_ms, 95),
        "p99_ms": percentile(latencies_ms, 99),
        "max_ms": max(latencies_ms, default=float("nan")),
        "lost": lost,
        "duplicated": duplicated,
        "rejected": len(outcome.rejected),
        "not_offered": outcome.not_offered,
        "graph_calls_per_message": len(sink_requests) / max(1, len(outcome.sent)),
        "drained": outcome.answered_in_drain,
        "reconnects": outcome.reconnects,
    }


async def sink_record(sink_port: int, *, clear: bool) -> list[dict[str, Any]]:
    """Everything the sink accepted so far (optionally clearing its record)."""
    async with httpx.AsyncClient(timeout=120.0) as client:
        response = await client.get(f"http://{HOST}:{sink_port}/_sink/requests")
        requests: list[dict[str, Any]] = orjson.loads(response.content)["requests"]
        if clear:
            await client.delete(f"http://{HOST}:{sink_port}/_sink/requests")
        return requests
