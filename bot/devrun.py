"""``bot dev`` (what ``make run`` calls): a whole local shop in one command."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import uvicorn

from bot.app import create_app
from bot.botlink import DEV_ENV, dev_settings
from bot.devservices import ensure_services
from bot.logs import configure_logging
from bot.migrate import migrate
from bot.whatsapp.sink import GraphSink, create_sink_app

__all__ = ["run_dev"]

ROOT = Path(__file__).resolve().parent.parent
DEMO_CATALOG = ROOT / "data" / "catalog_demo.csv"


async def _prepare(database_url: str, redis_url: str) -> None:
    from bot.commerce.catalog import import_csv

    applied = await migrate(database_url)
    print(f"· database ready ({len(applied)} migration(s) applied)")
    import asyncpg

    from bot.redis_client import create_redis

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    client = await create_redis(redis_url)
    try:
        report = await import_csv(pool, DEMO_CATALOG, redis=client)
        print(
            f"· demo catalogue: {report.inserted} new, {report.updated} updated, {len(report.bad)} bad rows"
        )
    finally:
        await pool.close()
        await client.aclose()


async def _serve(port: int, sink_port: int) -> None:
    settings = dev_settings(GRAPH_API_URL=f"http://127.0.0.1:{sink_port}/v23.0")
    configure_logging(settings.log_level)
    bot = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    sink = uvicorn.Server(
        uvicorn.Config(
            create_sink_app(GraphSink()), host="127.0.0.1", port=sink_port, log_level="warning"
        )
    )
    print(
        f"\nBot listening on http://127.0.0.1:{port}/webhook, Graph API sink on http://127.0.0.1:{sink_port}.\n"
        "Talk to it as a customer:   .venv/bin/bot chat\n"
        "Replay a conversation:      .venv/bin/bot replay --url http://127.0.0.1:8080 tests/conversations/greeting.jsonl\n"
        "Stop with Ctrl-C.\n",
        flush=True,
    )
    await asyncio.gather(bot.serve(), sink.serve())


def run_dev(*, port: int, sink_port: int) -> int:
    try:
        services = ensure_services(
            os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL"), folder=ROOT / ".embedded"
        )
    except RuntimeError as exc:
        print(f"bot dev: {exc}", file=sys.stderr)
        return 1
    for name in services.embedded:
        print(f"· started an embedded {name} under .embedded/")
    os.environ.update({"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url})
    for key, value in DEV_ENV.items():
        os.environ.setdefault(key, value)
    asyncio.run(_prepare(services.database_url, services.redis_url))
    asyncio.run(_serve(port, sink_port))
    return 0
