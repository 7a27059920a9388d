"""Meta's side of the webhook: signed deliveries at a steady rate, each re-posted until it gets 200.

Each simulated customer posts its messages in order, the next one only after the previous one
was acknowledged (so arrival order is the customer's order). A delivery that gets anything but
200 (a 503 while PostgreSQL is down, a refused connection while the bot restarts) is posted
again after a short exponential backoff, as Meta redelivers, until the scenario's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from bot.botlink import DEV_ENV
from bot.webhook import signature_for

__all__ = ["Duplicate", "Load", "Message", "Step", "message"]

Duplicate = Literal["", "concurrent", "later"]


@dataclass(frozen=True, slots=True)
class Message:
    """One distinct inbound message, ready to post (the same bytes on every delivery)."""

    wamid: str
    customer: str
    raw: bytes
    signature: str


@dataclass(frozen=True, slots=True)
class Step:
    message: Message
    # "concurrent": posted twice at once; "later": posted again a moment afterwards.
    duplicate: Duplicate = ""


def message(body: Mapping[str, Any], secret: str = DEV_ENV["WHATSAPP_APP_SECRET"]) -> Message:
    """A Message from a webhook body holding exactly one inbound message (``SimCustomer``)."""
    inbound = body["entry"][0]["changes"][0]["value"]["messages"][0]
    raw = orjson.dumps(body)
    return Message(inbound["id"], inbound["from"], raw, signature_for(secret, raw))


class _Pacer:
    """Hands out send slots no faster than ``rate`` per second, in request order."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def slot(self) -> None:
        now = asyncio.get_running_loop().time()
        at = max(self._next, now)
        self._next = at + self._interval
        await asyncio.sleep(at - now)


class Load:
    """Posts plans of customers' messages to one or more bots (round robin, like a balancer)."""

    def __init__(
        self,
        targets: Sequence[str],
        *,
        rate: float,
        give_up_s: float = 600.0,
        max_backoff_s: float = 1.0,
        connections: int = 64,
    ) -> None:
        self._targets = itertools.cycle([f"{t.rstrip('/')}/webhook" for t in targets])
        self._pacer = _Pacer(rate)
        self._give_up_s = give_up_s
        self._max_backoff_s = max_backoff_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        # httpcore scans its whole queue on every request: a queue as long as the number of
        # customers made the load generator, not the bot, the bottleneck. Never queue there.
        # Deliveries beyond this many in flight wait here, as if Meta opened no more connections.
        self._in_flight = asyncio.Semaphore(connections)
        self._later: set[asyncio.Task[bool]] = set()
        self._acks = asyncio.Condition()
        self._deadline = float("inf")
        self.messages: dict[str, Message] = {}  # wamid → message, every one ever posted
        self.order: dict[str, list[str]] = {}  # customer → wamids in the order they were posted
        self.first_post: dict[str, float] = {}  # wamid → time.time() of its first delivery
        self.acked_at: dict[str, float] = {}  # wamid → time.time() of its first 200
        self.ack_seconds: list[float] = []  # how long each POST answered 200 took (server side)
        self.deliveries = 0  # deliveries started (duplicates included, re-posts not)
        self.answers: Counter[str] = Counter()  # every HTTP answer or transport error, by kind

    @property
    def sent(self) -> int:
        return len(self.messages)

    @property
    def acked(self) -> int:
        return len(self.acked_at)

    async def until_acked(self, count: int) -> None:
        """Wait until ``count`` distinct messages were acknowledged."""
        async with self._acks:
            await self._acks.wait_for(lambda: self.acked >= count)

    def first_ack_after(self, since: float) -> float | None:
        """When a delivery was next acknowledged after ``since`` (``time.time()``)."""
        return min((at for at in self.acked_at.values() if at > since), default=None)

    async def run(self, plan: Sequence[Sequence[Step]]) -> None:
        """Post every customer's steps (customers in parallel), then wait for late duplicates."""
        self._deadline = time.monotonic() + self._give_up_s
        await asyncio.gather(*(self._customer(steps) for steps in plan))
        await asyncio.gather(*self._later)

    async def deliver(self, msg: Message) -> bool:
        """One delivery of ``msg``, re-posted until 200; False if the deadline came first."""
        self.deliveries += 1
        if msg.wamid not in self.messages:
            self.messages[msg.wamid] = msg
            self.order.setdefault(msg.customer, []).append(msg.wamid)
            self.first_post[msg.wamid] = time.time()
        headers = {"content-type": "application/json", "x-hub-signature-256": msg.signature}
        failures = 0
        while True:
            try:
                async with self._in_flight:
                    posted = time.monotonic()
                    response = await self._client.post(
                        next(self._targets), content=msg.raw, headers=headers
                    )
                    took = time.monotonic() - posted
                answer = str(response.status_code)
            except httpx.TransportError as exc:
                answer = type(exc).__name__
            self.answers[answer] += 1
            if answer == "200":
                self.ack_seconds.append(took)
                self.acked_at.setdefault(msg.wamid, time.time())
                async with self._acks:
                    self._acks.notify_all()
                return True
            if time.monotonic() > self._deadline:
                return False
            failures += 1
            backoff = min(self._max_backoff_s, 0.05 * 2**failures)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))

    async def aclose(self) -> None:
        for task in self._later:
            task.cancel()
        for task in self._later:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def _customer(self, steps: Sequence[Step]) -> None:
        for step in steps:
            msg = step.message
            await self._pacer.slot()
            if step.duplicate == "concurrent":
                await asyncio.gather(self.deliver(msg), self.deliver(msg))
                continue
            await self.deliver(msg)
            if step.duplicate == "later":
                task = asyncio.create_task(self._again(msg, random.uniform(0.2, 3.0)))
                self._later.add(task)

    async def _again(self, msg: Message, delay_s: float) -> bool:
        await asyncio.sleep(delay_s)
        return await self.deliver(msg)
