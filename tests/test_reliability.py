"""The short versions of the reliability scenarios (``make reliability`` runs the full ones).

Each runs real processes on loopback: ``python -m bot serve``, a private Redis, its own
database, the Graph sink. Recovery times are printed by ``make reliability``, never asserted.
"""

from __future__ import annotations

import pytest

from reliability import (
    ai_down,
    checkout_rush,
    crash,
    graph_throttle,
    postgres_restart,
    redis_outage,
    storm,
)
from reliability.harness import Result

pytestmark = pytest.mark.slow

# A kill -9, or PostgreSQL going away, may land after a message's read receipt went out and
# before its commit: the message is processed again, receipt included (harmless, and never a
# reply: those are stored once and settled by their status webhooks). Each inbox worker (16 by
# default) has at most one message in hand, so one outage repeats at most that many receipts.
IN_FLIGHT_PER_OUTAGE = 16


def _missed(result: Result) -> list[str]:
    """Missed targets, except recovery times (wall time)."""
    return [m for m in result.misses if m != "recovery"]


def _everything_answered(result: Result, *, repeated_reads_allowed: int = 0) -> None:
    o = result.outcome
    assert o.sent > 0
    assert o.acked == o.sent
    assert o.processed == o.sent
    assert o.replied == o.sent
    assert o.lost == 0
    assert o.duplicated == 0
    assert o.duplicate_reads <= repeated_reads_allowed


async def test_storm_of_redeliveries_answers_each_message_once() -> None:
    result = await storm.run(short=True)
    _everything_answered(result)
    assert _missed(result) == []


async def test_kill_9_under_load_loses_nothing() -> None:
    result = await crash.run(short=True)
    _everything_answered(result, repeated_reads_allowed=IN_FLIGHT_PER_OUTAGE * crash.SHORT.kills)
    assert _missed(result) == []


async def test_redis_outage_is_invisible_to_customers() -> None:
    result = await redis_outage.run(short=True)
    _everything_answered(result)
    assert _missed(result) == []
    assert int(result.figures["posted while down"]) > 0
    assert result.figures["answered of those"] == result.figures["posted while down"]


async def test_postgres_restart_loses_nothing_acknowledged() -> None:
    result = await postgres_restart.run(short=True)
    # An answer PostgreSQL missed is recorded later, not resent.
    _everything_answered(result, repeated_reads_allowed=IN_FLIGHT_PER_OUTAGE)
    assert _missed(result) == []  # includes "503 while down"


async def test_failing_ai_providers_fall_back_to_keywords() -> None:
    result = await ai_down.run(short=True)
    _everything_answered(result)
    assert _missed(result) == []  # includes "every failing provider was asked"
    assert "keywords fallback" in result.figures["intent events"]


async def test_graph_throttling_delays_replies_in_order_without_duplicates() -> None:
    result = await graph_throttle.run(short=True)
    _everything_answered(result)
    assert _missed(result) == []  # includes customers answered out of order
    assert int(result.figures["sends refused with 429"]) > 0


async def test_checkout_rush_sells_exactly_the_stock() -> None:
    result = await checkout_rush.run(short=True)
    _everything_answered(result)
    assert _missed(result) == []
    assert result.figures["orders"] == str(checkout_rush.UNITS)
    assert result.figures["stock left"] == "0"
    customers = checkout_rush.SHORT.customers
    assert result.figures["told out of stock"] == str(customers - checkout_rush.UNITS)
