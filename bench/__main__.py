"""``make bench``: every benchmark, one table, our figure beside its reference from the same run.

Writes bench/results.json too. ``python -m bench NAME...`` runs only the named ones. A benchmark
that fails is reported and skipped; the others still run (exit status 1).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.common import Row, print_table

# Module name → what it measures; each module has run() -> dict and rows(dict) -> list[Row].
BENCHMARKS = {
    "parse": "webhook parsing vs pywa on the shared corpus",
    "webhook_ack": "webhook ack vs a bare Starlette endpoint",
    "ratelimit": "rate limiter vs limits (one hit per window) and an empty EVALSHA",
    "sessions": "sessions with the Redis cache vs PostgreSQL only; cache hit rate on a replay",
    "intent_accuracy": "keyword intent accuracy vs a naive keyword baseline",
    "intent_latency": "intent latency: fake AI provider at 200 ms, breaker open, keywords",
    "search": "search at 100,000 products vs ILIKE",
    "checkout": "checkout rush: locks taken last vs held from the start",
    "redis_cluster": "conversation throughput on a 3-master Redis Cluster vs one Redis",
    "e2e": "end to end over HTTP, 1/2/4 processes, vs a bare relay under the same load",
}
RESULTS = Path(__file__).with_name("results.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    all_rows: list[Row] = []
    figures: dict[str, Any] = {}
    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run: Callable[[], dict[str, Any]] = module.run
        started = time.monotonic()
        # The host may be shared: the load average says how much the figures can be trusted.
        load_before = os.getloadavg()[0]
        print(f"… {BENCHMARKS[name]} (load average {load_before:.2f})", file=sys.stderr, flush=True)
        try:
            figures[name] = run()
        except Exception as exc:  # one failure (e.g. PostgreSQL out of connections) ends no run
            print(f"✗ {name} failed: {exc!r}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        figures[name]["_seconds"] = round(time.monotonic() - started, 1)
        figures[name]["_load_average"] = [load_before, os.getloadavg()[0]]
        all_rows.extend(module.rows(figures[name]))
    print()
    print_table(all_rows)
    RESULTS.write_bytes(
        orjson.dumps(
            {"rows": [r.as_json() for r in all_rows], "figures": figures},
            option=orjson.OPT_INDENT_2,
            default=str,
        )
    )
    print(
        f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
