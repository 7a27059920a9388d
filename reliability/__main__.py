"""``make reliability``: every failure scenario against real processes, one row each, with targets.

``python -m reliability`` runs the full versions; ``--short`` the CI sizes (what
tests/test_reliability.py runs); names select scenarios. The exit status is 1 only when a
scenario could not run at all: missed targets are findings, marked in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from reliability.harness import TARGET_RECOVERY_S, Result

# Module → what it does; each module has ``async run(short: bool) -> Result``. Checkout last.
SCENARIOS = {
    "storm": "10,000 deliveries, 30% of them redelivered",
    "crash": "kill -9 of the bot under load, restart, drain",
    "redis_outage": "Redis stopped under load, started again",
    "postgres_restart": "PostgreSQL restarted under load",
    "ai_down": "every AI provider failing (500, hanging)",
    "graph_throttle": "Graph API answering 429 (130429)",
    "checkout_rush": "concurrent checkouts for 10 units",
}
# A hung scenario must not hang the run: each one is cut off after this long.
LIMIT_S = {False: 1800.0, True: 300.0}
_COLUMNS = ("scenario", "sent", "acked", "processed", "replied", "lost", "dup", "recovery", "")


def _row(result: Result) -> tuple[str, ...]:
    o = result.outcome
    recovery = "–" if result.recovery_s is None else f"{result.recovery_s:.1f} s"
    verdict = "✓" if not result.misses else "✗ MISS"
    counts = (o.sent, o.acked, o.processed, o.replied, o.lost, o.duplicated)
    return (result.scenario, *(f"{n:,}" for n in counts), recovery, verdict)


def print_table(results: list[Result], errors: dict[str, str]) -> None:
    rows = [_COLUMNS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    print(
        f"targets: 0 lost, 0 duplicated (replies or orders), recovery ≤ {TARGET_RECOVERY_S:.0f} s"
        " after the dependency returns"
    )
    print()
    for result in results:
        figures = " · ".join(f"{k} {v}" for k, v in result.figures.items())
        if result.outcome.duplicate_reads:
            figures += f" · mark-reads sent twice {result.outcome.duplicate_reads}"
        print(f"{result.scenario} ({result.seconds:.0f} s): {figures}")
        if result.recovery_from:
            print(f"    recovery = {result.recovery_from}")
        if result.misses:
            print(f"    ✗ missed: {', '.join(result.misses)}")
    for name, error in errors.items():
        print(f"{name}: ✗ DID NOT RUN: {error}")


async def _run_one(name: str, short: bool) -> Result:
    run: Callable[[bool], Awaitable[Result]] = importlib.import_module(f"reliability.{name}").run
    async with asyncio.timeout(LIMIT_S[short]):
        return await run(short)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI sizes")
    parser.add_argument("names", nargs="*", choices=[*SCENARIOS, []], help="default: all")
    args = parser.parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results: list[Result] = []
    errors: dict[str, str] = {}
    for name in args.names or list(SCENARIOS):
        print(f"… {SCENARIOS[name]}", file=sys.stderr, flush=True)
        try:
            results.append(asyncio.run(_run_one(name, args.short)))
        except Exception as exc:
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
    print()
    print_table(results, errors)
    print(
        f"\n{'short' if args.short else 'full'} run: {time.monotonic() - started:.0f} s on"
        f" {os.cpu_count()} CPUs, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
