"""The real processes a scenario runs against: its database, a private PostgreSQL, bot servers.

Everything is on 127.0.0.1 and owned by the scenario: a database named ``wbot_rel_*`` that is
dropped afterwards, a PostgreSQL cluster in a temporary folder when the scenario restarts it,
and ``python -m bot serve`` processes that are killed when the scenario ends, even on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bot.botlink import DEV_ENV
from bot.daemons import start_postgres, terminate
from bot.devservices import answers_postgres
from bot.migrate import migrate
from tests.servers import free_port

__all__ = ["ADMIN_DSN", "BotServer", "PrivatePostgres", "patiently", "scenario_database"]

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get(
    "RELIABILITY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

T = TypeVar("T")

# The harness shares a PostgreSQL server with the bots (and, on a busy machine, with anything
# else): a refused or restarting server must delay the counting, not end the scenario.
_TRANSIENT = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
)


async def patiently(query: Callable[[], Awaitable[T]], timeout_s: float = 60.0) -> T:
    """``query()``, tried again every half second while PostgreSQL is unreachable or full."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await query()
        except _TRANSIENT:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


async def _admin(dsn: str, sql: str) -> None:
    conn = await patiently(lambda: asyncpg.connect(dsn))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scenario_database(label: str, admin_dsn: str = ADMIN_DSN) -> AsyncIterator[str]:
    """A fresh migrated database ``wbot_rel_<label>_<random>``, dropped afterwards."""
    if not await answers_postgres(admin_dsn):
        raise RuntimeError(f"PostgreSQL does not answer at {admin_dsn} (RELIABILITY_DATABASE_URL)")
    name = f"wbot_rel_{label}_{uuid.uuid4().hex[:8]}"
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        dsn = _with_database(admin_dsn, name)
        await patiently(lambda: migrate(dsn))
        yield dsn
    finally:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrivatePostgres:
    """pgserver's PostgreSQL in a temporary folder, on its own port, which we may stop and start.

    Started with ``bot.daemons``' helpers, as ``make run`` starts its embedded server (under
    the ``pgserver`` account when we are root); the system PostgreSQL is never touched.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._folder = Path(tempfile.mkdtemp(prefix="wbot_rel_pg_"))
        self._pid = 0

    def start(self) -> None:
        """Start the server (initialised on first use); returns once it accepts connections."""
        # pg_ctl -w has waited for connections; callers check the database themselves.
        self._pid = start_postgres(self._folder, self.port, lambda: True)

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): every client is disconnected at once."""
        if self._pid:
            terminate(self._pid, "postgres", signal.SIGINT)
            self._pid = 0

    def remove(self) -> None:
        """Stop the server and delete its data folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


class BotServer:
    """``python -m bot serve`` on a fixed port, so a restarted bot keeps its URL."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, name: str = "bot") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            **DEV_ENV,
            "LOG_LEVEL": "WARNING",
            **env,
            "BOT_HOST": "127.0.0.1",
            "BOT_PORT": str(self.port),
        }
        self._log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        """Spawn the process and return once ``/health`` answers."""
        self._log = self._log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=self._env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"bot exited with {self.process.returncode}: {self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bot did not answer /health in {timeout_s} s")
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        await self._end(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 10 s."""
        await self._end(signal.SIGTERM)

    async def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.send_signal(sig)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 5) -> str:
        """The last lines the bot wrote to stderr (for error messages)."""
        with contextlib.suppress(OSError):
            text = self._log_path.read_text(errors="replace").strip().splitlines()
            return " | ".join(text[-lines:])
        return ""
