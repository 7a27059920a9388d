"""Writes real traffic as a recorded conversation: ``{"in": body}`` / ``{"out": body}`` lines."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from bot.whatsapp.graph import GraphSender, Hook, SendResult

__all__ = ["Recorder", "RecordingGraph"]


class Recorder:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def _write(self, line: Mapping[str, Any]) -> None:
        with self._lock:
            self._file.write(orjson.dumps(line) + b"\n")
            self._file.flush()

    def inbound(self, payload: Mapping[str, Any]) -> None:
        self._write({"in": payload})

    def outbound(self, body: Mapping[str, Any]) -> None:
        self._write({"out": body})

    def close(self) -> None:
        self._file.close()


class RecordingGraph:
    """A Graph sender that also records every body it sends."""

    def __init__(self, graph: GraphSender, recorder: Recorder) -> None:
        self._graph = graph
        self._recorder = recorder

    async def send(
        self, body: Mapping[str, Any], before_attempt: Hook | None = None, *, retry: bool = True
    ) -> SendResult:
        self._recorder.outbound(body)
        return await self._graph.send(body, before_attempt, retry=retry)

    async def aclose(self) -> None:
        await self._graph.aclose()
