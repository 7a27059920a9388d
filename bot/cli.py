"""The ``bot`` command: one subcommand per job, each importing only what it needs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from bot.settings import Settings, SettingsError

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        # One clear line naming the variable, not a traceback.
        print(f"bot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _database_url() -> str:
    import os

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("bot: configuration error: DATABASE_URL is not set", file=sys.stderr)
        raise SystemExit(2)
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "bot.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.processes,
        log_level="warning",
        access_log=False,
    )
    return 0


def cmd_work(args: argparse.Namespace) -> int:
    """Inbox workers without the HTTP server, for instances that only process."""
    import signal

    from bot.app import running, settle_heap
    from bot.logs import configure_logging

    settings = _settings()
    if settings.workers == 0:
        print("bot work: BOT_WORKERS is 0; nothing to run", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings):
            settle_heap()
            await stop.wait()

    asyncio.run(work())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.migrate import migrate

    applied = asyncio.run(migrate(_database_url()))
    for migration in applied:
        print(f"applied {migration.name}")
    print(f"{len(applied)} migration(s) applied")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from bot.whatsapp.parse import parse_body
    from bot.whatsapp.summary import summarize

    for name in args.files:
        path = Path(name)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            print(f"bot parse: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 1
        for event in parse_body(raw):
            line = {"file": name, **summarize(event)}
            sys.stdout.write(orjson.dumps(line, default=str).decode() + "\n")
    return 0


def _local_services() -> None:
    """Point DATABASE_URL/REDIS_URL at found or embedded services, migrated (as `make run`)."""
    import os

    from bot.devservices import DevServicesError, ensure_services
    from bot.migrate import migrate

    root = Path(__file__).resolve().parent.parent
    try:
        services = ensure_services(
            os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL"), folder=root / ".embedded"
        )
    except DevServicesError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    asyncio.run(migrate(services.database_url))


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.replay import replay_files

    if not args.url:
        _local_services()
    return asyncio.run(
        replay_files([Path(f) for f in args.files], url=args.url, sink_url=args.sink_url)
    )


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import chat

    return asyncio.run(chat(url=args.url, sink_url=args.sink_url, wa_id=args.wa_id, name=args.name))


def cmd_dev(args: argparse.Namespace) -> int:
    from bot.devrun import run_dev

    return run_dev(port=args.port, sink_port=args.sink_port)


Command = Callable[[argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="WhatsApp commerce bot")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    serve = add("serve", cmd_serve, "run the webhook server and its workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--processes", type=int, default=1, help="uvicorn worker processes")
    add("work", cmd_work, "run inbox workers only (no HTTP server)")
    add("migrate", cmd_migrate, "apply pending SQL migrations")
    parse = add("parse", cmd_parse, "parse webhook bodies; one JSON line per event")
    parse.add_argument("files", nargs="+")
    replay = add("replay", cmd_replay, "replay conversations (JSONL) against the bot")
    replay.add_argument("files", nargs="+")
    replay.add_argument("--url", help="a running bot; default: an in-process one")
    replay.add_argument("--sink-url", default="http://127.0.0.1:8081", help="its Graph sink")
    chat = add("chat", cmd_chat, "talk to the local bot as a customer")
    chat.add_argument("--url", default="http://127.0.0.1:8080")
    chat.add_argument("--sink-url", default="http://127.0.0.1:8081")
    chat.add_argument("--wa-id", default="5491100000001")
    chat.add_argument("--name", default="Cliente Demo")
    dev = add("dev", cmd_dev, "start services, migrate, load demo data, run bot and Graph sink")
    dev.add_argument("--port", type=int, default=8080)
    dev.add_argument("--sink-port", type=int, default=8081)
    from bot.admin_cli import add_admin_parsers
    from bot.commerce.orders_cli import add_orders_parser

    add_admin_parsers(sub)
    add_orders_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
