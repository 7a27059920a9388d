"""The one place the bot builds its Redis client: a standalone server or a Redis Cluster.

``REDIS_URL`` chooses: ``redis://`` / ``rediss://`` / ``unix://`` is one server,
``redis+cluster://host:port`` (``rediss+cluster://`` with TLS) is a cluster reached through
any one of its nodes; the client discovers the others and routes every key to its slot.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.typing import EncodableT

from bot.settings import REDIS_CLUSTER_SCHEMES

__all__ = ["RedisClient", "create_redis"]

log = logging.getLogger(__name__)

# Either client: every command the bot issues is cluster-safe (see bot/keys.py).
RedisClient: TypeAlias = Redis | RedisCluster

# Short on purpose: a hanging Redis must cost a message half a second, then the fallbacks take
# over (sessions from PostgreSQL, rate limits and breakers in process memory).
_SOCKET_TIMEOUT_S = 0.5


class _Cluster(RedisCluster):
    """redis-py's cluster client, made to fail the way the bot's fallbacks expect.

    Every caller catches ``RedisError``/``OSError`` and falls back (PostgreSQL sessions, rate
    limits and breakers in memory). redis-py 8.1's cluster client also raises
    ``RedisClusterException`` (not a ``RedisError``) when no node answers, and
    ``AttributeError`` when a topology refresh closes a connection another coroutine is using:
    both become ``ConnectionError`` here.
    """

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        try:
            # Load the slot map first (a no-op once loaded): commands resolved before it is known
            # all go to one node, come back MOVED, and every fifth MOVED makes redis-py close
            # all connections, in use or not. Measured: 32 concurrent first commands failed
            # hundreds of times; after this, none.
            await self.initialize()
            return await super().execute_command(*args, **kwargs)
        except (RedisClusterException, AttributeError) as exc:
            raise RedisConnectionError(f"Redis Cluster: {type(exc).__name__}: {exc}") from exc


async def create_redis(url: str) -> RedisClient:
    """A client for ``url`` with the bot's short socket timeouts; a cluster's slot map loaded."""
    timeout = _SOCKET_TIMEOUT_S
    if urlsplit(url).scheme not in REDIS_CLUSTER_SCHEMES:
        client: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return client
    plain = url.replace("+cluster://", "://", 1)
    cluster = _Cluster.from_url(plain, socket_timeout=timeout, socket_connect_timeout=timeout)
    # Now rather than inside the first message's Redis deadlines (the breaker allows 0.25 s, and
    # loading the slot map and command table took 0.3 s on a busy 2-core host).
    try:
        await cluster.initialize()
    except (RedisClusterException, RedisError, OSError) as exc:
        log.warning("Redis Cluster unreachable at start (%s); retrying on first use", exc)
    return cluster
