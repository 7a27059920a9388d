"""Customer turns: the lock that orders a customer's messages, and the commit of each message.

All the inbox workers of a process share one PostgreSQL connection for this (the desk). It
holds every customer lock (a session advisory lock) the process's workers have, and what the
workers ask of it while a round trip is under way goes in the next one, as one call of
turn_round() (sql/migrations/0012_turn_rounds.sql): release the customers whose turns ended,
record the Graph API's answers to the replies sent, commit the messages whose processing
ended, take the customers whose turns begin. Under load one round trip and one commit serve
many messages; alone, a request goes at once.

If the connection is lost, so are its locks, and another instance may take those customers:
the turns begun on it are over (``TurnLost``), their messages stay pending, and the next
connection starts a new epoch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import orjson

from bot.cancellation import cancel_and_wait
from bot.customers import KnownCustomer
from bot.inbox import PendingMessage
from bot.outbound import PendingReply, outcome_columns, unsettled
from bot.whatsapp.graph import SendResult

__all__ = ["BATCH", "Finish", "RoundRefused", "Turn", "TurnDesk", "TurnLost"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Messages one worker takes from one customer per turn.
BATCH = 20

_ROUND = """
SELECT kind, n, locked, replies, messages, known, error
FROM turn_round($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, $23, $24)
"""


class TurnLost(ConnectionError):
    """The desk's connection, and with it the customer's lock, was lost during the turn."""


class RoundRefused(Exception):
    """PostgreSQL refused one message's commit, or a round's answers to record; the rest of the
    round went through."""


@dataclass(frozen=True, slots=True)
class Finish:
    """A processed message's outcome, committed together: the session (state None: none to
    save), the replies (claimed: sent by the caller right after), and ``done``."""

    message_id: int
    rate_limited: bool
    customer: str
    session: tuple[str | None, str | None, str | None, float | None]  # state, cart, context, ttl
    replies: tuple[list[str], list[str], list[str], list[bool]]  # keys, kinds, bodies, claims


@dataclass(slots=True)
class Turn:
    """A customer this process's desk holds: what waited for it, and how to end the turn."""

    customer: str
    replies: list[PendingReply]  # committed earlier, not yet out (crash, Graph outage): first
    messages: list[PendingMessage]  # oldest first, at most BATCH
    desk: TurnDesk = field(repr=False)
    epoch: int

    async def finish(self, outcome: Finish) -> list[PendingReply]:
        """Commit a message's outcome; the customer's replies to send now."""
        return await self.desk.finish(self, outcome)

    def release(self) -> None:
        """End the turn: the lock goes with the desk's next round trip."""
        self.desk.release(self)


_Begin = tuple[str, "asyncio.Future[Turn | None]"]
_Finishing = tuple[Finish, "asyncio.Future[list[PendingReply]]"]
_Recording = tuple[Sequence[tuple[int, SendResult]], "asyncio.Future[None]"]


class TurnDesk:
    def __init__(self, dsn: str, *, grace_s: float, limit: int = BATCH) -> None:
        self._dsn = dsn
        self._grace_s = grace_s
        self._limit = limit
        self._conn: asyncpg.Connection | None = None
        self._epoch = 0
        self._releases: list[str] = []
        self._finishes: list[_Finishing] = []
        self._begins: list[_Begin] = []
        self._records: list[_Recording] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def begin(self, customer: str) -> Turn | None:
        """Take the customer and read what waits for it; None if another instance has it."""
        future: asyncio.Future[Turn | None] = asyncio.get_running_loop().create_future()
        self._begins.append((customer, future))
        self._kick()
        return await future

    async def finish(self, turn: Turn, outcome: Finish) -> list[PendingReply]:
        if turn.epoch != self._epoch:
            raise TurnLost("the connection holding the customer's lock was lost")
        future: asyncio.Future[list[PendingReply]] = asyncio.get_running_loop().create_future()
        self._finishes.append((outcome, future))
        self._kick()
        return await future

    async def record(self, outcomes: Sequence[tuple[int, SendResult]]) -> None:
        """Record Graph API answers to replies (any customer's; no lock needed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._records.append((outcomes, future))
        self._kick()
        await future

    def release(self, turn: Turn) -> None:
        if turn.epoch == self._epoch:  # else the lock went with the old connection
            self._releases.append(turn.customer)
            self._kick()

    async def aclose(self) -> None:
        """Stop; closing the connection frees every lock it holds."""
        await cancel_and_wait(self._task)
        self._task = None
        self._end_connection()
        closed = TurnLost("the turn desk closed")
        for waiting in (self._finishes, self._begins, self._records):
            _fail(waiting, closed)
        self._releases, self._finishes, self._begins, self._records = [], [], [], []

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="turn-desk")
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            releases, finishes, begins, records = (
                self._releases, self._finishes, self._begins, self._records
            )  # fmt: skip
            self._releases, self._finishes, self._begins, self._records = [], [], [], []
            if releases or finishes or begins or records:
                await self._round(releases, finishes, begins, records)

    async def _round(
        self,
        releases: list[str],
        finishes: list[_Finishing],
        begins: list[_Begin],
        records: list[_Recording],
    ) -> None:
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(self._dsn)
            rows = await self._conn.fetch(
                _ROUND, releases, *_finish_columns([f for f, _ in finishes]),
                [customer for customer, _ in begins], self._grace_s, self._limit,
                *outcome_columns([outcome for outcomes, _ in records for outcome in outcomes]),
            )  # fmt: skip
        except asyncio.CancelledError:  # closing: nobody would settle these otherwise
            for waiting in (finishes, begins, records):
                _fail(waiting, TurnLost("the turn desk closed"))
            raise
        except Exception as exc:
            # Whatever failed, locks may have been taken or released before it did (advisory
            # locks ignore rollbacks): only a new connection knows for sure which it holds.
            self._drop(exc)
            for waiting in (finishes, begins, records):
                _fail(waiting, exc)
            return
        for row in rows:
            if row["kind"] == "finish":
                self._settle_finish(finishes[row["n"] - 1][1], row)
            elif row["kind"] == "record":
                for _, future in records:
                    _settle(future, None, row["error"])
            else:
                customer, future = begins[row["n"] - 1]
                self._settle_begin(customer, future, row)

    def _end_connection(self) -> None:
        """Close the connection, which frees its locks: the turns begun on it are over."""
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
        self._epoch += 1

    def _drop(self, exc: BaseException) -> None:
        """Give up the connection after a failed round trip."""
        if self._conn is not None:
            log.warning("turn desk lost its connection: %s", exc)
        self._end_connection()
        # Begins and records wait for the next connection.
        _fail(self._finishes, TurnLost(f"the connection holding the locks was lost: {exc}"))
        self._releases, self._finishes = [], []

    def _settle_finish(
        self, future: asyncio.Future[list[PendingReply]], row: asyncpg.Record
    ) -> None:
        _settle(future, unsettled(row["replies"]) if row["error"] is None else [], row["error"])

    def _settle_begin(
        self, customer: str, future: asyncio.Future[Turn | None], row: asyncpg.Record
    ) -> None:
        if not row["locked"]:
            turn = None
        else:
            known = KnownCustomer(**orjson.loads(row["known"])) if row["known"] else None
            messages = [
                PendingMessage(m["id"], m["wamid"], m["envelope"], m["attempts"], known)
                for m in orjson.loads(row["messages"])
            ]
            turn = Turn(customer, unsettled(row["replies"]), messages, self, self._epoch)
        if future.done():  # the worker was cancelled: nobody will end this turn
            if turn is not None:
                turn.release()
        else:
            future.set_result(turn)


def _finish_columns(finishes: Sequence[Finish]) -> list[list[object]]:
    """The finishes as turn_round()'s parallel arrays, replies flattened with slices."""
    columns: list[list[object]] = [[] for _ in range(13)]
    ids, limited, customers, states, carts, contexts, ttls, first, count = columns[:9]
    keys, kinds, bodies, claims = columns[9:]
    for f in finishes:
        ids.append(f.message_id)
        limited.append(f.rate_limited)
        customers.append(f.customer)
        state, cart, context, ttl = f.session
        states.append(state)
        carts.append(cart)
        contexts.append(context)
        ttls.append(ttl)
        first.append(len(keys) + 1)
        count.append(len(f.replies[0]))
        keys.extend(f.replies[0])
        kinds.extend(f.replies[1])
        bodies.extend(f.replies[2])
        claims.extend(f.replies[3])
    return columns


def _settle(future: asyncio.Future[T], result: T, error: str | None) -> None:
    if future.done():  # its caller was cancelled
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(RoundRefused(error))


def _fail(
    requests: Sequence[_Begin] | Sequence[_Finishing] | Sequence[_Recording], exc: BaseException
) -> None:
    for _, future in requests:
        if not future.done():
            future.set_exception(exc)
