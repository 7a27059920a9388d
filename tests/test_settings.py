"""Settings come from the environment; a missing or bad one stops the start, named in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.botlink import DEV_ENV
from bot.settings import Settings, SettingsError

BASE = {
    **DEV_ENV,
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_defaults_and_overrides() -> None:
    settings = Settings.from_env({**BASE, "BOT_WORKERS": "0", "BOT_DB_POOL_SIZE": "6"})
    assert (settings.workers, settings.db_pool_size, settings.inbox_poll_ms) == (0, 6, 500)
    assert "dev-app-secret" not in repr(settings)  # secrets stay out of logs and tracebacks


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WHATSAPP_APP_SECRET": None}, "WHATSAPP_APP_SECRET is not set"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
        ({"BOT_PORT": "eighty"}, "BOT_PORT is invalid"),
        ({"BOT_DB_POOL_SIZE": "0"}, "BOT_DB_POOL_SIZE is invalid"),
        ({"BOT_WORKERS": "-1"}, "BOT_WORKERS is invalid"),
    ],
)
def test_a_bad_setting_is_named(change: dict[str, str | None], message: str) -> None:
    env = {**BASE, **change}
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({k: v for k, v in env.items() if v is not None})


def test_the_command_stops_with_one_clear_line() -> None:
    env = {**os.environ, **BASE, "BOT_DB_POOL_SIZE": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "BOT_DB_POOL_SIZE is invalid" in lines[0], done.stderr
