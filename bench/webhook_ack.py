"""Webhook ack: signed POSTs/s and p50/p99 latency at 200 connections, vs a bare Starlette 200.

Both servers run under the same uvicorn settings in their own process; wrk (C) drives them.
Every request to the bot carries a distinct, correctly signed message, so each one is really
verified, parsed and stored in PostgreSQL before its 200. Three variants: the workers process
meanwhile in the same process, or in a `bot work` process on the same two cores, or not at all
while wrk runs (an ack-only instance: the front door of a split deployment, the ack path alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench.common import (
    REDIS_URL,
    Row,
    free_port,
    fresh_database,
    print_table,
    require_wrk,
    server_process,
)
from bot.botlink import DEV_ENV
from bot.simulator import SimCustomer
from bot.webhook import signature_for

LUA = """
local requests = {}
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == id then
      local tab = line:find("\\t")
      local headers = {["Content-Type"] = "application/json",
                       ["X-Hub-Signature-256"] = line:sub(1, tab - 1)}
      table.insert(requests, wrk.format("POST", "/webhook", headers, line:sub(tab + 1)))
    end
    i = i + 1
  end
end
function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end
"""

WARMUP_S = 2
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_PCT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _bodies(path: Path, count: int, customers: int) -> None:
    people = [SimCustomer(f"54911{n:08d}", f"Cliente {n}") for n in range(customers)]
    secret = DEV_ENV["WHATSAPP_APP_SECRET"]
    with path.open("wb") as out:
        for n in range(count):
            raw = orjson.dumps(people[n % customers].says(f"hola, busco zapatillas {n}"))
            out.write(signature_for(secret, raw).encode() + b"\t" + raw + b"\n")


def _measure(
    url: str, script: Path, data: Path, seconds: int, connections: int
) -> dict[str, float]:
    """Two seconds of the same load first, not counted (fresh connections, cold caches), then
    the measured run; the bare endpoint and the bot get the same treatment."""
    _wrk(url, script, data, WARMUP_S, connections)
    return _wrk(url, script, data, seconds, connections)


def _wrk(url: str, script: Path, data: Path, seconds: int, connections: int) -> dict[str, float]:
    result = subprocess.run(
        [
            require_wrk(),
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(data),
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = {"rps": float(_RPS.search(result.stdout).group(1))}  # type: ignore[union-attr]
    for pct, value, unit in _PCT.findall(result.stdout):
        figures[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    figures["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


async def _count(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS stored, count(*) FILTER (WHERE state = 'done') AS done FROM inbound_messages"
        )
        assert row is not None
        return row["stored"], row["done"]
    finally:
        await conn.close()


def _measure_bot(
    dsn: str,
    script: Path,
    data: Path,
    seconds: int,
    connections: int,
    *,
    split: bool,
    ack_only: bool = False,
) -> dict[str, float]:
    """wrk against `bot serve`; with ``split``, the workers run in a `bot work` process; with
    ``ack_only``, no workers run during the measurement (the front instance of a split
    deployment whose workers are elsewhere: what the ack path alone costs)."""
    bot_port, sink_port = free_port(), free_port()
    env = {
        **DEV_ENV,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "GRAPH_API_URL": f"http://127.0.0.1:{sink_port}/v23.0",
        "BOT_PORT": str(bot_port),
        "LOG_LEVEL": "ERROR",
    }
    sink = ["-m", "bot.whatsapp.sink", "--port", str(sink_port)]
    serve_env = {**env, "BOT_WORKERS": "0"} if split or ack_only else env
    worker = (
        subprocess.Popen([sys.executable, "-m", "bot", "work"], env={**os.environ, **env})
        if split
        else None
    )
    try:
        with (
            server_process(sink, port=sink_port, health="/_sink/requests"),
            server_process(["-m", "bot", "serve"], port=bot_port, env=serve_env, health="/health"),
        ):
            figures = _measure(f"http://127.0.0.1:{bot_port}", script, data, seconds, connections)
            figures["stored"], figures["processed"] = asyncio.run(_count(dsn))
            return figures
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)


# Name, workers in a `bot work` process, no workers at all; labels for the table.
VARIANTS = (("ours", False, False), ("split", True, False), ("ack_only", False, True))
LABELS = {
    "ours": "workers in process",
    "split": "workers in `bot work`",
    "ack_only": "ack-only instance, workers elsewhere",
}


def run(seconds: int = 10, connections: int = 200) -> dict[str, Any]:
    uvicorn_args = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    with tempfile.TemporaryDirectory() as folder:
        script, data = Path(folder) / "post.lua", Path(folder) / "bodies.txt"
        script.write_text(LUA)
        _bodies(data, 120_000, 2_000)
        _bodies(data.with_suffix(".warmup"), 40_000, 2_000)
        bare_port = free_port()
        bare_args = ["-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *uvicorn_args]
        with server_process(bare_args, port=bare_port):
            bare = _measure(f"http://127.0.0.1:{bare_port}", script, data, seconds, connections)
        results: dict[str, Any] = {"bare": bare, "seconds": seconds, "connections": connections}
        for name, split, ack_only in VARIANTS:
            with fresh_database("wbot_bench_ack") as dsn:
                results[name] = _measure_bot(
                    dsn, script, data, seconds, connections, split=split, ack_only=ack_only
                )
    return results


def rows(figures: dict[str, Any]) -> list[Row]:
    bare = figures["bare"]
    found: list[Row] = []
    for key, label in LABELS.items():
        ours = figures[key]
        found += [
            Row(
                f"webhook ack req/s ({label})",
                "req/s",
                ours["rps"],
                bare["rps"],
                "bare Starlette",
                "≥ 0.5×",
            ),
            Row(
                f"webhook ack p50 ({label})",
                "ms",
                ours["p50_ms"],
                bare["p50_ms"],
                "bare Starlette",
                "",
                higher_is_better=False,
            ),
            Row(
                f"webhook ack p99 ({label})",
                "ms",
                ours["p99_ms"],
                bare["p99_ms"],
                "bare Starlette",
                "< 50 ms",
                higher_is_better=False,
            ),
        ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    figures = run(args.seconds, args.connections)
    print_table(rows(figures))
    for name in ("ours", "split"):
        f = figures[name]
        print(
            f"{name}: stored {f['stored']}, processed meanwhile {f['processed']}, non-2xx {f['non_2xx']:.0f}"
        )


if __name__ == "__main__":
    main()
