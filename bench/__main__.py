"""``make bench``: every benchmark, one table, our figure beside its reference from the same run.

Writes bench/results.json too. ``python -m bench NAME...`` runs only the named ones.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.common import Row, print_table

# Module name → what it measures; each module has run() -> dict and rows(dict) -> list[Row].
BENCHMARKS = {
    "webhook_ack": "webhook ack vs a bare Starlette endpoint",
    "ratelimit": "rate limiter vs limits (one hit per window) and an empty EVALSHA",
    "intent_accuracy": "keyword intent accuracy vs a naive keyword baseline",
    "intent_latency": "intent latency: fake AI provider at 200 ms, breaker open, keywords",
    "search": "search at 100,000 products vs ILIKE",
}
RESULTS = Path(__file__).with_name("results.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    all_rows: list[Row] = []
    figures: dict[str, Any] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run: Callable[[], dict[str, Any]] = module.run
        started = time.monotonic()
        print(f"… {BENCHMARKS[name]}", file=sys.stderr, flush=True)
        figures[name] = run()
        figures[name]["_seconds"] = round(time.monotonic() - started, 1)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
