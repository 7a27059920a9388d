"""Ending background tasks, and cancellation that a client library reported as an error of
its own."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["cancel_and_wait", "raise_if_cancelling"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task (if any) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def raise_if_cancelling(exc: BaseException) -> None:
    """Raise CancelledError (from ``exc``) if the current task is being cancelled.

    A background loop that logs errors and goes on must call this first: when a client
    library turns the cancellation into an error of its own (a closed connection), swallowing
    it keeps the task, and the shutdown awaiting it, alive for good.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc
