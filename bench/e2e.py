"""End to end: simulated customers against `bot serve` over HTTP, 1/2/4 processes, vs a bare relay.

    python -m bench.e2e [--processes 1 2 4] [--customers 200] [--rate 500] [--seconds 6]

Everything real, on loopback: `bot serve --processes N` (uvicorn) with PostgreSQL (a copy of a
bench database holding the demo catalogue, stock raised so that checkouts never run out),
Redis db 13 (flushed), keyword intents (use_ai_providers=false) and no rate limiting (the
simulated customers type fast), answering to the local Graph sink in its own process
(bot.whatsapp.sink unchanged, plus a live feed of what it accepts so that a customer learns it
was answered without polling: bench/e2e_sink.py).
Customers walk the shop's typed purchase (tests/conversations/purchase_typing_only.jsonl:
greet, add to cart, view the cart, checkout to a confirmed order) over and over.

Latency is from the moment the client starts the webhook POST to the moment the sink records
the answer: the first message to that customer after the mark-read that carries the inbound
wamid (the bot sends the mark-read as soon as it starts on a message, so the mark-read alone
would flatter it). Both are read from the same clock (the sink's ``at`` via
``GET /_sink/requests``). Throughput counts the messages whose answer landed in the measured
window (after a warm-up).

Two loads per variant: a closed loop (every customer sends its next message as soon as the
previous one was answered: the most the server answers) and an open loop at a fixed rate (the
issue's target: ≥ 500 messages/s with p95 < 100 ms; the charter's: p95 < 500 ms). The
reference is measured in the same run under the same load: a bare relay on the same stack
(uvicorn + Starlette + httpx, same process count) that verifies the signature, acks, and sends a
mark-read and one reply with no storage and no logic (bench/e2e_relay.py). It is the ceiling of
this machine and load generator, not a competitor. At the end of each run every message sent
is checked to have been answered, and marked read exactly once: "lost" counts those without an
answer when the drain ends (all answered, 30 s, or 5 s without any answer), "dup" those marked
read twice; for
our bot the inbox's unfinished rows tell a backlog (pending) from a loss (failed).

The host may be shared, so wall-clock figures depend on the neighbours; the CPU time the
server's processes and their PostgreSQL backends spent per answered message does much less
(bench/e2e_cpu.py), and the report turns it into what the host's cores could answer if the bot
had them to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis

from bench.common import REDIS_URL, Row, free_port, fresh_database, print_table
from bench.common import server_process as server
from bench.e2e_cpu import CpuMeter
from bench.e2e_load import closed_loop, open_loop, sink_record, summarize
from bench.e2e_setup import (
    bot_env,
    connections,
    inbox_left,
    prepare,
    server_args,
    statements,
    wait_ready,
)
from bot.botlink import DEV_ENV
from bot.replay import load_conversation

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "conversations" / "purchase_typing_only.jsonl"
DATABASE = "wbot_bench_e2e"
SECRET = DEV_ENV["WHATSAPP_APP_SECRET"]
T = TypeVar("T")


def script() -> tuple[str, ...]:
    """What a customer types in the shop's typed purchase conversation."""
    steps = load_conversation(SCRIPT).steps
    return tuple(str(step.value) for step in steps if step.kind == "say")


def _loop_run(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop for the load generator too: it shares two cores with everything it measures."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _variant(
    kind: str, processes: int, dsn: str, *, customers: int, rate: float, seconds: float
) -> dict[str, Any]:
    """Both loads against one server: a closed loop, then the open loop with new customers."""
    bot_port, sink_port = free_port(), free_port()
    env = {
        **DEV_ENV,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "GRAPH_API_URL": f"http://127.0.0.1:{sink_port}/v23.0",
        "BENCH_GRAPH_URL": f"http://127.0.0.1:{sink_port}/v23.0/{DEV_ENV['WHATSAPP_PHONE_NUMBER_ID']}/messages",
        "LOG_LEVEL": "ERROR",
        **bot_env(processes),
    }
    lines = script()
    common: dict[str, Any] = {"script": lines, "secret": SECRET, "warmup_s": 2.0, "drain_s": 30.0}
    results: dict[str, Any] = {}
    sink = ["-m", "bench.e2e_sink", "--port", str(sink_port)]
    bot = server_args(kind, processes, bot_port)
    # Several processes each build their pools and workers: slow on a busy host.
    database = dsn.rpartition("/")[2]
    with (
        server(sink, port=sink_port, health="/_sink/requests") as sink_process,
        server(bot, port=bot_port, env=env, health="/health", start_timeout_s=90) as bot_process,
    ):
        wait_ready(kind, processes, bot_port, database)
        roots = {"server": bot_process.pid, "sink": sink_process.pid}
        meter = CpuMeter(roots, database if kind == "ours" else None)
        if processes == 1:
            results["solo"] = _solo(bot_port, sink_port, common)
        for load, offset in (("closed", 0), ("open", 1)):
            load_average = os.getloadavg()[0]
            first = offset * customers * 10  # new customers: the closed loop left sessions mid-way
            if load == "closed":
                coro = closed_loop(bot_port, sink_port, customers=customers, first=first,
                                   measure_s=seconds, **common)  # fmt: skip
            else:
                coro = open_loop(bot_port, sink_port, customers=customers, first=first, rate=rate,
                                 measure_s=seconds, **common)  # fmt: skip
            meter.start()
            commits = asyncio.run(statements(database))
            outcome = _loop_run(coro)
            used = meter.stop()
            # Approximate: backends publish their counts to pg_stat_database about once a second.
            commits = asyncio.run(statements(database)) - commits
            figures = summarize(outcome, asyncio.run(sink_record(sink_port, clear=True)))
            answered = max(1, figures["answered"])
            figures["cpu_ms_per_message"] = {k: 1000 * v / answered for k, v in used.items()}
            figures["pg_commits_per_message"] = commits / answered
            # Pools do not shrink within seconds: the count after the run is about its peak.
            held = asyncio.run(connections(database))
            left = asyncio.run(inbox_left(dsn)) if kind == "ours" else {}
            results[load] = {**figures, "load_average_before": load_average,
                             "pg_connections": held, "inbox_not_done": left}  # fmt: skip
    return results


def _solo(bot_port: int, sink_port: int, common: dict[str, Any]) -> dict[str, Any]:
    """One customer alone walks the whole purchase, each message sent once the previous one
    was answered: how long the full conversation takes, unloaded."""
    solo = {**common, "warmup_s": 0.5}
    coro = closed_loop(bot_port, sink_port, customers=1, first=10**8, measure_s=4.0, **solo)
    figures = summarize(_loop_run(coro), asyncio.run(sink_record(sink_port, clear=True)))
    per_message_s = 1 / max(figures["msgs_per_s"], 1e-9)
    return {**figures, "conversation_ms": 1000 * per_message_s * len(common["script"])}


def run(
    processes: Sequence[int] = (1, 2, 4), customers: int = 200, rate: float = 500.0,
    seconds: float = 6.0, kinds: Sequence[str] = ("ours", "relay"),
) -> dict[str, Any]:  # fmt: skip
    """Each process count: ours and the relay, each a closed then an open loop; a few minutes."""
    results: dict[str, Any] = {
        "customers": customers, "rate": rate, "seconds": seconds, "script": list(script()),
        "cpus": os.cpu_count(),
    }  # fmt: skip
    flush = redis.Redis.from_url(REDIS_URL)
    try:
        with fresh_database(f"{DATABASE}_template") as template:
            asyncio.run(prepare(template))
            name = template.rpartition("/")[2]
            for count in processes:
                for kind in kinds:
                    flush.flushdb()
                    with fresh_database(DATABASE, template=name) as dsn:
                        try:
                            results[f"{kind}_{count}"] = _variant(
                                kind, count, dsn, customers=customers, rate=rate, seconds=seconds
                            )
                        except RuntimeError as exc:  # e.g. PostgreSQL out of connections
                            print(f"e2e {kind} × {count}: {exc}", file=sys.stderr)
                            results[f"{kind}_{count}"] = {"error": str(exc)}
    finally:
        flush.flushdb()
        flush.close()
    return results


def _cpu_ms(load: dict[str, Any]) -> float:
    """CPU of the bot's side per answered message: its processes and their database backends."""
    cpu = load["cpu_ms_per_message"]
    return float(cpu["server"] + cpu.get("postgres", 0.0))


def rows(figures: dict[str, Any]) -> list[Row]:
    found: list[Row] = []
    customers, rate = figures["customers"], figures["rate"]
    reference = "bare relay, same load"
    counts = sorted(
        int(key.split("_")[1])
        for key, value in figures.items()
        if key.startswith("ours_") and "error" not in value
        and "error" not in figures.get(f"relay_{key[5:]}", {"error": "not run"})
    )  # fmt: skip
    for n in counts:
        ours, relay = figures[f"ours_{n}"], figures[f"relay_{n}"]
        procs = f"{n} proc{'s' if n > 1 else ''}"
        found += [
            Row(f"e2e msgs/s, {customers} customers, {procs}", "msg/s",
                ours["closed"]["msgs_per_s"], relay["closed"]["msgs_per_s"], reference,
                "≥ 500 (issue)"),
            Row(f"e2e p95 at that load, {procs}", "ms", ours["closed"]["p95_ms"],
                relay["closed"]["p95_ms"], reference, "", higher_is_better=False),
            Row(f"e2e msgs/s answered at {rate:.0f}/s offered, {procs}", "msg/s",
                ours["open"]["msgs_per_s"], relay["open"]["msgs_per_s"], reference,
                f"{rate:.0f}"),
            Row(f"e2e p95 at {rate:.0f} msg/s offered, {procs}", "ms", ours["open"]["p95_ms"],
                relay["open"]["p95_ms"], reference, "< 100 ms (issue), < 500 (charter)",
                higher_is_better=False),
            Row(f"e2e CPU per message (server + PostgreSQL), {procs}", "ms",
                _cpu_ms(ours["closed"]), _cpu_ms(relay["closed"]), reference,
                f"≤ {1000 * figures['cpus'] / 500:.0f} ms (500 msg/s on {figures['cpus']} cores)",
                higher_is_better=False),
        ]  # fmt: skip

    if "solo" in figures.get("ours_1", {}) and "solo" in figures.get("relay_1", {}):
        steps = len(figures["script"])
        found.append(Row(f"full purchase conversation, one customer alone ({steps} messages)", "ms",
                         figures["ours_1"]["solo"]["conversation_ms"],
                         figures["relay_1"]["solo"]["conversation_ms"], reference, "",
                         higher_is_better=False))  # fmt: skip

    def once(kind: str) -> float:
        runs = [figures[f"{kind}_{n}"][load] for n in counts for load in ("closed", "open")]
        sent = sum(r["sent"] - r["rejected"] for r in runs)
        bad = sum(r["lost"] + r["duplicated"] for r in runs)
        return (sent - bad) / sent if sent else 0.0

    found.append(Row("e2e messages answered exactly once", "", once("ours"), once("relay"),
                     reference, "1.000"))  # fmt: skip
    return found


def report(figures: dict[str, Any]) -> str:
    head = (f"{'variant':<16}{'msg/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'sent':>8}{'lost':>6}{'dup':>5}{'non-200':>8}{'not offered':>12}{'graph/msg':>10}"
            f"{'pg conns':>9}{'commits/msg':>12}{'cpu ms/msg':>11}{'≈ msg/s if alone':>17}"
            f"{'load avg':>9}")  # fmt: skip
    lines = [
        "cpu ms/msg: the server's processes and their PostgreSQL backends, per answered message;",
        "≈ msg/s if alone: the host's cores divided by that (what they could answer CPU-bound,",
        "with the Graph sink, Redis and the load generator elsewhere)",
        head,
    ]
    for key, value in figures.items():
        if not key.startswith(("ours_", "relay_")):
            continue
        if "error" in value:
            lines.append(f"{key:<16}failed: {value['error']}")
            continue
        for load in ("closed", "open"):
            f = value[load]
            lines.append(
                f"{key + ' ' + load:<16}{f['msgs_per_s']:>8.0f}{f['p50_ms']:>9.1f}"
                f"{f['p95_ms']:>9.1f}{f['p99_ms']:>9.1f}{f['max_ms']:>9.0f}{f['sent']:>8}"
                f"{f['lost']:>6}{f['duplicated']:>5}{f['rejected']:>8}{f['not_offered']:>12}"
                f"{f['graph_calls_per_message']:>10.2f}{f['pg_connections']:>9}"
                f"{f['pg_commits_per_message']:>12.1f}"
                f"{_cpu_ms(f):>11.2f}{1000 * figures['cpus'] / _cpu_ms(f):>17.0f}"
                f"{f['load_average_before']:>9.2f}"
                + (f"  inbox not done: {f['inbox_not_done']}" if f["inbox_not_done"] else "")
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0, help="open loop, messages/s")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured, per load")
    parser.add_argument("--kinds", nargs="+", default=["ours", "relay"], help="ours and/or relay")
    args = parser.parse_args()
    figures = run(args.processes, args.customers, args.rate, args.seconds, args.kinds)
    print(f"script ({len(figures['script'])} messages, repeated): {' | '.join(figures['script'])}")
    print(report(figures))
    if {"ours", "relay"} <= set(args.kinds):
        print()
        print_table(rows(figures))


if __name__ == "__main__":
    main()
