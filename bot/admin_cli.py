"""Operator subcommands: ``bot config``, ``bot intent`` and ``bot catalog``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

__all__ = ["add_admin_parsers"]


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        print(f"bot: configuration error: {name} is not set", file=sys.stderr)
        raise SystemExit(2)
    return value


@asynccontextmanager
async def _pool() -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(_env("DATABASE_URL"), min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def _config(args: argparse.Namespace) -> int:
    from bot.config import CONFIG_KEYS, ConfigError, parse_value, set_value

    async with _pool() as pool:
        rows = {
            r["key"]: r
            for r in await pool.fetch(
                "SELECT key, value, description, updated_at, updated_by FROM system_config"
            )
        }
        if args.action == "list":
            for key in sorted(set(rows) | set(CONFIG_KEYS)):
                row = rows.get(key)
                value = row["value"] if row else orjson.dumps(CONFIG_KEYS[key].default).decode()
                note = f"  # {row['description']}" if row and row["description"] else ""
                print(f"{key} = {value}{note}")
            return 0
        if args.key is None:
            print("bot config: name a key", file=sys.stderr)
            return 2
        if args.action == "get":
            if args.key not in rows and args.key not in CONFIG_KEYS:
                print(f"bot config: unknown key {args.key!r}", file=sys.stderr)
                return 1
            row = rows.get(args.key)
            print(row["value"] if row else orjson.dumps(CONFIG_KEYS[args.key].default).decode())
            return 0
        if args.value is None:
            print("bot config set: give a value", file=sys.stderr)
            return 2
        try:
            value = parse_value(args.key, args.value)
        except ConfigError as exc:
            print(f"bot config: {exc}", file=sys.stderr)
            return 1
        await set_value(pool, args.key, value, by=f"cli:{getpass.getuser()}")
        print(f"{args.key} = {orjson.dumps(value).decode()} (running bots follow within a second)")
        return 0


async def _intent(args: argparse.Namespace) -> int:
    from bot.intent.keywords import classify

    lines = [line.strip() for line in sys.stdin if line.strip()]
    emit: Callable[[str, Any], object] = lambda text, result: sys.stdout.write(  # noqa: E731
        orjson.dumps(result.as_json(text)).decode() + "\n"
    )
    if args.keywords_only:
        for text in lines:
            emit(text, classify(text))
        return 0
    import httpx

    from bot.config import LiveConfig
    from bot.intent.router import IntentRouter
    from bot.redis_client import create_redis

    redis = await create_redis(_env("REDIS_URL"))
    async with _pool() as pool, httpx.AsyncClient() as http:
        config = LiveConfig()
        await config.load(pool)
        router = await IntentRouter.create(pool=pool, redis=redis, http=http, fallback=classify)
        for text in lines:
            result = await router.detect(
                text,
                customer="cli",
                use_ai=config.flag("use_ai_providers"),
                deadline_ms=config.number("ai_deadline_ms"),
            )
            emit(text, result)
        await router.flush()
    await redis.aclose()
    return 0


async def _catalog(args: argparse.Namespace) -> int:
    from bot.commerce.catalog_import import import_csv, progress_bar
    from bot.redis_client import create_redis

    redis_url = os.environ.get("REDIS_URL")
    redis = await create_redis(redis_url) if redis_url else None
    try:
        async with _pool() as pool:
            report = await import_csv(pool, args.file, progress=progress_bar, redis=redis)
    except FileNotFoundError:
        print(f"bot catalog: no such file: {args.file}", file=sys.stderr)
        return 1
    finally:
        if redis is not None:
            await redis.aclose()
    print(
        f"\n{report.inserted} inserted, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.bad)} bad rows"
    )
    for bad in report.bad:
        print(f"  line {bad.line}: {bad.reason}")
    return 0


def add_admin_parsers(sub: Any) -> None:
    config = sub.add_parser("config", help="read or change live operator switches")
    config.add_argument("action", choices=["list", "get", "set"])
    config.add_argument("key", nargs="?")
    config.add_argument("value", nargs="?", help='JSON (true, 30, "text") or plain text')
    config.set_defaults(func=lambda a: asyncio.run(_config(a)))
    intent = sub.add_parser("intent", help="classify utterances from stdin, one JSON line each")
    intent.add_argument("--keywords-only", action="store_true", help="skip AI providers")
    intent.set_defaults(func=lambda a: asyncio.run(_intent(a)))
    catalog = sub.add_parser("catalog", help="catalogue tools")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    importer = catalog_sub.add_parser("import", help="import a Meta Commerce catalogue CSV")
    importer.add_argument("file")
    importer.set_defaults(func=lambda a: asyncio.run(_catalog(a)))
