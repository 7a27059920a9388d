"""Posts generated and mutated bodies, signed, to an in-process bot and checks what it did.

Checked: no 5xx, no exception reaching the ASGI layer or the event loop, no log record at ERROR,
every message ``parse_body`` finds in an accepted body stored and processed (state ``done``), a
body with a valid message never refused, and a normal "hola" still answered at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from bot.botlink import InProcessLink
from bot.simulator import SimCustomer
from bot.webhook import MAX_BODY_BYTES, signature_for
from bot.whatsapp.events import InboundMessage
from bot.whatsapp.parse import parse_body
from fuzz.generate import SchemaGenerator
from fuzz.mutate import CorpusMutator

__all__ = ["Report", "fuzz", "generate_bodies"]

_PROBE_CUSTOMER = "5491199999999"
_PENDING = "SELECT count(*) FROM inbound_messages WHERE state = 'pending'"
_MAX_PROBLEMS = 50
_PROGRESS_EVERY = 5000
# Posting pauses while this many messages wait: Meta does not outrun a bot by minutes either,
# and a bounded backlog keeps posting and processing interleaved for the whole run.
_MAX_BACKLOG = 1000

Progress = Callable[["Report"], None]


@dataclass(slots=True)
class Report:
    seed: int
    bodies: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # "schema", "corpus", and each corpus operator on its own ("corpus:deep"...), by status.
    by_source: Counter[tuple[str, int]] = field(default_factory=Counter)
    valid_messages: int = 0
    done: int = 0
    post_seconds: float = 0.0
    settle_seconds: float = 0.0
    warnings: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # the first _MAX_PROBLEMS
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)

    def lines(self) -> list[str]:
        rate = self.bodies / self.post_seconds if self.post_seconds else 0.0
        total = self.post_seconds + self.settle_seconds
        out = [
            f"seed {self.seed}: {self.bodies} bodies in {self.post_seconds:.1f} s "
            f"({rate:,.0f} bodies/s posted), all processed after {total:.1f} s "
            f"({self.bodies / total if total else 0:,.0f} bodies/s end to end)",
            "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            f"valid messages: {self.valid_messages} accepted, {self.done} stored and done",
            "by source and status:",
        ]
        out += [f"  {src:<28} {status}: {n}" for (src, status), n in sorted(self.by_source.items())]
        if self.warnings:
            out.append("warnings logged (not failures):")
            out += [f"  {n:>7}  {what}" for what, n in self.warnings.most_common(10)]
        shown = f"{self.problem_count} PROBLEMS, first {len(self.problems)}:"
        out.append("problems: none" if self.ok else shown)
        out += [f"  {p}" for p in self.problems]
        return out


def generate_bodies(
    seed: int, count: int, schema_share: float = 0.5
) -> Iterator[tuple[str, bytes]]:
    """(source, raw body) pairs; the same seed gives the same bodies in the same order."""
    rng = random.Random(seed)
    schema = SchemaGenerator(random.Random(rng.getrandbits(64)))
    corpus = CorpusMutator(random.Random(rng.getrandbits(64)))
    for _ in range(count):
        if rng.random() < schema_share:
            yield "schema", orjson.dumps(schema.payload())
        else:
            mutant = corpus.mutant()
            yield "corpus:" + "+".join(sorted(set(mutant.operators))), mutant.raw


class _Collector(logging.Handler):
    """Records at WARNING are counted; records at ERROR and above are problems."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.WARNING)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            exc = record.exc_info[1] if record.exc_info else None
            detail = f" ({type(exc).__name__}: {str(exc)[:200]})" if exc else ""
            message = record.getMessage()
            self._report.problem(f"log {record.levelname} {record.name}: {message}{detail}")
        else:
            self._report.warnings[f"{record.name}: {record.msg}"] += 1


@contextlib.contextmanager
def _watching(report: Report) -> Iterator[None]:
    collector = _Collector(report)
    root = logging.getLogger()
    root.addHandler(collector)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        report.problem(f"event loop: {context.get('message')} {exc!r}"[:300])

    loop.set_exception_handler(on_loop_error)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
        root.removeHandler(collector)


async def _post_all(
    link: InProcessLink,
    bodies: Iterator[tuple[str, bytes]],
    report: Report,
    expected: set[str],
    progress: Progress | None,
) -> None:
    secret = link.deps.settings.whatsapp_app_secret
    for number, (source, raw) in enumerate(bodies):
        found = [e.id for e in parse_body(raw) if isinstance(e, InboundMessage)]
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": signature_for(secret, raw),
        }
        where = f"body #{report.bodies} ({source}, {len(raw)} bytes): {raw[:160]!r}"
        report.bodies += 1
        if progress is not None and report.bodies % _PROGRESS_EVERY == 0:
            progress(report)
        if number % 50 == 0:
            while (await _pending(link) or 0) > _MAX_BACKLOG:
                await asyncio.sleep(0.05)
        try:
            response = await link.client.post("/webhook", content=raw, headers=headers)
        except Exception as exc:  # an exception that reached the ASGI server
            report.problem(f"unhandled {type(exc).__name__}: {exc} in {where}"[:600])
            continue
        status = response.status_code
        report.statuses[status] += 1
        if source == "schema":
            report.by_source[(source, status)] += 1
        else:
            report.by_source[("corpus", status)] += 1
            for operator in source.removeprefix("corpus:").split("+"):
                report.by_source[(f"corpus:{operator}", status)] += 1
        if status >= 500:
            report.problem(f"HTTP {status} {response.text[:100]} for {where}"[:600])
        elif found and status != 200 and len(raw) <= MAX_BODY_BYTES:
            report.problem(f"valid message refused with {status} for {where}"[:600])
        if status == 200:
            expected.update(found)
        if number % 200 == 0:
            link.sink.clear()  # what it records is not checked here; keep memory flat


async def _pending(link: InProcessLink) -> int | None:
    """Messages waiting in the inbox; None when the harness's own query cannot run (a shared
    server out of connections must not end the run: the bot's answers are what is checked)."""
    try:
        pending: int = await link.deps.pool.fetchval(_PENDING)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    return pending


async def _settle(link: InProcessLink, stall_s: float) -> None:
    """Wait until no inbound message is pending (failed attempts are retried by the poller);
    TimeoutError when the backlog stops shrinking for ``stall_s``."""
    loop = asyncio.get_running_loop()
    best, progress_at = None, loop.time()
    while (pending := await _pending(link)) != 0:
        if pending is not None and (best is None or pending < best):
            best, progress_at = pending, loop.time()
        elif loop.time() - progress_at > stall_s:
            raise TimeoutError
        await asyncio.sleep(0.1)
    await link.deps.workers.drain(stall_s)


async def _check_stored(link: InProcessLink, expected: set[str], report: Report) -> None:
    states = {r["wamid"]: r["state"] for r in await link.deps.pool.fetch(
        "SELECT wamid, state FROM inbound_messages"
    )}  # fmt: skip
    report.valid_messages = len(expected)
    report.done = sum(1 for wamid in expected if states.get(wamid) == "done")
    for wamid in sorted(expected):
        state = states.get(wamid)
        if state != "done":
            report.problem(f"valid message {wamid[:80]!r} is {state or 'not stored'}")


async def _check_hola(link: InProcessLink, report: Report) -> None:
    link.sink.clear()
    status = await link.post(SimCustomer(_PROBE_CUSTOMER).says("hola"))
    answers = [
        r for r in link.sink.take() if r.body.get("to") == _PROBE_CUSTOMER and "type" in r.body
    ]
    if status != 200 or not answers:
        report.problem(f"'hola' afterwards: HTTP {status}, {len(answers)} answers")


async def fuzz(
    link: InProcessLink,
    *,
    count: int,
    seed: int,
    concurrency: int = 8,
    stall_s: float = 60.0,
    progress: Progress | None = None,
) -> Report:
    """Post ``count`` bodies through ``concurrency`` clients, wait for the workers, check;
    ``progress`` is called every few thousand bodies."""
    report = Report(seed)
    expected: set[str] = set()
    bodies = generate_bodies(seed, count)
    with _watching(report):
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(_post_all(link, bodies, report, expected, progress))
        report.post_seconds = time.perf_counter() - started
        try:
            await _settle(link, stall_s)
        except TimeoutError:
            report.problem(f"inbox backlog stopped shrinking for {stall_s:.0f} s")
        report.settle_seconds = time.perf_counter() - started - report.post_seconds
        await _check_stored(link, expected, report)
        await _check_hola(link, report)
    return report
