"""``/health`` (alive), ``/ready`` (dependencies answer), ``/health/storage``, ``/metrics``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.deps import Deps

__all__ = ["alive", "metrics", "ready", "storage"]


async def _timed(coro: Any, timeout_s: float = 1.0) -> tuple[bool, float, Any]:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(coro, timeout_s)
    except Exception as exc:
        return False, (time.perf_counter() - started) * 1000, type(exc).__name__
    return True, (time.perf_counter() - started) * 1000, result


async def alive(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    deps: Deps = request.app.state.deps
    pg_ok, _, _ = await _timed(deps.pool.fetchval("SELECT 1"))
    redis_ok, _, _ = await _timed(deps.redis.ping())
    # Redis is optional for correctness (PostgreSQL-only fallback), PostgreSQL is not.
    body = {"status": "ready" if pg_ok else "not ready", "postgres": pg_ok, "redis": redis_ok}
    return JSONResponse(body, 200 if pg_ok else 503)


async def storage(request: Request) -> Response:
    deps: Deps = request.app.state.deps
    pg_ok, pg_ms, _ = await _timed(deps.pool.fetchval("SELECT 1"))
    redis_ok, redis_ms, _ = await _timed(deps.redis.ping())
    redis_info: dict[str, Any] = {}
    if redis_ok:
        ok, _, info = await _timed(deps.redis.info())
        if ok:
            redis_info = {
                "version": info.get("redis_version"),
                "used_memory_bytes": info.get("used_memory"),
                "used_memory_human": info.get("used_memory_human"),
            }
    sessions = deps.sessions
    return JSONResponse(
        {
            "session_backend": sessions.backend,
            "fallback_active": sessions.backend != "redis",
            "redis_sessions_enabled": deps.config.flag("use_redis_sessions"),
            "postgres": {"reachable": pg_ok, "latency_ms": round(pg_ms, 2)},
            "redis": {"reachable": redis_ok, "latency_ms": round(redis_ms, 2), **redis_info},
            "session_cache": {
                "hits": sessions.stats.hits,
                "misses": sessions.stats.misses,
                "errors": sessions.stats.errors,
                "hit_rate": round(sessions.stats.hit_rate, 4),
            },
        }
    )


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
