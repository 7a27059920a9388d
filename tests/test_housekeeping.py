"""The housekeeping task ends when cancelled, whatever its chores raise meanwhile."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bot.housekeeping import housekeeping


class _ConvertingPool:
    """Turns the cancellation of a query into an error of its own, as client libraries may."""

    def __init__(self) -> None:
        self.querying = asyncio.Event()
        self.converting = True

    async def fetchrow(self, query: str) -> Any:
        self.querying.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            if not self.converting:
                raise
            raise ConnectionResetError("connection closed while cancelling") from None


async def test_a_cancellation_turned_into_an_error_still_ends_the_task() -> None:
    pool = _ConvertingPool()
    deps = SimpleNamespace(pool=pool)
    task = asyncio.create_task(housekeeping(deps, every_s=0))  # type: ignore[arg-type]
    await pool.querying.wait()
    task.cancel()
    try:
        done, _ = await asyncio.wait({task}, timeout=5)  # no wait_for: it would wait for good
        assert task in done and task.cancelled()
    finally:
        pool.converting = False  # a task that survived: let the next cancellation end it
        task.cancel()
