"""Slow periodic chores of a running bot: reloads, sweeps, backlog gauges."""

from __future__ import annotations

import asyncio
import logging

from bot.cancellation import raise_if_cancelling
from bot.deps import Deps
from bot.metrics import INBOX_BACKLOG, INBOX_OLDEST_AGE

__all__ = ["housekeeping"]

log = logging.getLogger(__name__)

_BACKLOG = """
SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0) AS age
FROM inbound_messages WHERE state = 'pending'
"""


async def housekeeping(deps: Deps, *, every_s: float = 5.0, sweep_every: int = 120) -> None:
    """Runs until cancelled; a failing chore is logged and retried next round."""
    rounds = 0
    while True:
        await asyncio.sleep(every_s)
        rounds += 1
        try:
            row = await deps.pool.fetchrow(_BACKLOG)
            if row is not None:
                INBOX_BACKLOG.set(row["n"])
                INBOX_OLDEST_AGE.set(float(row["age"]))
            await deps.reload()
            if rounds % sweep_every == 0:
                await deps.sessions.sweep()
        except Exception as exc:
            raise_if_cancelling(exc)
            log.warning("housekeeping round failed: %s", type(exc).__name__)
