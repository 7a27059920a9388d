"""Every AI provider failing: one answers HTTP 500 (OpenAI wire format), one hangs (Gemini wire
format). Every message is still answered, from the keyword classifier; reply latency is compared
with the same traffic sent just before with the AI switched off, in the same run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from reliability.harness import Result, chatter, customers_for, stack
from reliability.observe import latencies, percentile
from reliability.services import patiently
from tests import fake_ai

__all__ = ["run"]


@dataclass(frozen=True, slots=True)
class Size:
    seconds: float  # of traffic, in each of the two phases
    rate: float = 5
    settle_s: float = 120


FULL = Size(seconds=45)
SHORT = Size(seconds=6)

# Provider rows seeded by the migration (deepseek speaks OpenAI's format), and how each fails.
_FAILING = (("deepseek", fake_ai.status(500)), ("gemini", fake_ai.hang(60)))
_KEYS = {"DEEPSEEK_API_KEY": "rel-deepseek", "GEMINI_API_KEY": "rel-gemini"}
_POINT = "UPDATE ai_provider_config SET base_url = $2, enabled = true WHERE name = $1"
_USE_AI = "UPDATE system_config SET value = $1::jsonb WHERE key = 'use_ai_providers'"
_DEADLINE = "SELECT value::int FROM system_config WHERE key = 'ai_deadline_ms'"
_EVENTS = """
SELECT provider, outcome, count(*) AS n FROM intent_events
GROUP BY provider, outcome ORDER BY provider, outcome"""
# The bots apply a system_config change within a second (NOTIFY, and a periodic refresh).
_CONFIG_APPLIED_S = 2.0


def _p(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct):.2f} s"


async def run(short: bool = False) -> Result:
    size = SHORT if short else FULL
    started = time.monotonic()
    customers = customers_for(size.rate, size.seconds)
    reference, failing = chatter(customers, 6_000_000), chatter(customers, 6_500_000)
    async with fake_ai.running() as fake:
        for name, reply in _FAILING:
            fake.provider(name).default = reply

        async def point_at_fakes(pool: asyncpg.Pool) -> None:
            for name, _ in _FAILING:
                await pool.execute(_POINT, name, fake.base_url(name))
            await pool.execute(_USE_AI, "false")  # the reference phase comes first

        async with stack("ai", env=_KEYS, prepare=point_at_fakes) as s:
            deadline_ms = await s.pool.fetchval(_DEADLINE)
            load = s.load(size.rate)
            await load.run(reference)
            await s.drain(load, size.settle_s)
            await s.pool.execute(_USE_AI, "true")
            await asyncio.sleep(_CONFIG_APPLIED_S)
            await load.run(failing)
            outcome, _ = await s.finish(load, size.settle_s)
            events = await patiently(lambda: s.pool.fetch(_EVENTS))
        asked = {name: len(fake.provider(name).requests) for name, _ in _FAILING}
    ai_off = latencies(load, outcome, {step.message.wamid for steps in reference for step in steps})
    ai_failing = latencies(load, outcome, {st.message.wamid for steps in failing for st in steps})
    misses = outcome.misses()
    if not all(asked.values()):
        misses.append("a failing provider was never asked")
    return Result(
        "5 every AI provider failing",
        outcome,
        time.monotonic() - started,
        figures={
            "reply p50/p95/max": f"{_p(ai_failing, 50)} / {_p(ai_failing, 95)} / {_p(ai_failing, 100)}",
            "same traffic with AI off": f"{_p(ai_off, 50)} / {_p(ai_off, 95)} / {_p(ai_off, 100)}",
            "AI deadline": f"{deadline_ms / 1000:.1f} s",
            "provider calls": ", ".join(f"{n} {c}" for n, c in asked.items()),
            "intent events": ", ".join(f"{r['provider']} {r['outcome']} {r['n']}" for r in events),
        },
        misses=tuple(misses),
    )
