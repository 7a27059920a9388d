"""CPU time spent per message by the server's processes and their PostgreSQL backends.

Wall-clock throughput on a shared host says as much about the neighbours as about the bot;
CPU seconds consumed per answered message do not, and divided into the host's cores they
bound what the bot could answer on an otherwise idle machine. Linux only (reads /proc).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

import asyncpg

from bench.common import ADMIN_DSN

__all__ = ["CpuMeter"]

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process has gone
        return None
    return text.rpartition(")")[2].split()  # fields from the 3rd on; the name may hold spaces


def _tree(root: int) -> set[int]:
    """``root`` and its descendants (uvicorn's worker processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def _cpu(pids: set[int]) -> dict[int, float]:
    """User + system seconds of each process still alive."""
    seconds: dict[int, float] = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            seconds[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


async def _backends(database: str) -> set[int]:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
        return {row["pid"] for row in rows}
    finally:
        await conn.close()


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by groups of processes."""

    def __init__(self, roots: Mapping[str, int], database: str | None) -> None:
        self._roots = dict(roots)
        self._database = database
        self._before: dict[str, dict[int, float]] = {}

    def _groups(self) -> dict[str, dict[int, float]]:
        groups = {name: _cpu(_tree(pid)) for name, pid in self._roots.items()}
        if self._database is not None:
            groups["postgres"] = _cpu(asyncio.run(_backends(self._database)))
        return groups

    def start(self) -> None:
        self._before = self._groups()

    def stop(self) -> dict[str, float]:
        """Seconds per group; a process born meanwhile counts from zero."""
        return {
            name: sum(s - self._before.get(name, {}).get(pid, 0.0) for pid, s in now.items())
            for name, now in self._groups().items()
        }
