"""Everything a request or a worker needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bot.commerce.payments import StripeCheckout
from bot.config import LiveConfig
from bot.inbox import InboxWriter
from bot.intent.keywords import classify
from bot.intent.router import IntentRouter
from bot.outbound import OutboundLog
from bot.outbox import Outbox
from bot.ratelimit import RateLimiter, TierLimits, load_tier_limits
from bot.recorder import Recorder, RecordingGraph
from bot.redis_client import RedisClient, create_redis
from bot.sessions import SessionStore
from bot.settings import Settings
from bot.turns import TurnDesk
from bot.whatsapp.graph import GraphClient, GraphSender
from bot.workers import InboxWorkers

__all__ = ["Deps", "build_deps"]


@dataclass(slots=True, kw_only=True)
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    redis: RedisClient  # standalone or cluster, by REDIS_URL's scheme
    graph: GraphSender
    outbound: OutboundLog
    outbox: Outbox
    inbox: InboxWriter
    config: LiveConfig
    sessions: SessionStore
    limiter: RateLimiter
    tiers: dict[str, TierLimits]
    recorder: Recorder | None = None
    # Outbound HTTP other than the Graph API (AI providers, payments), one pooled client.
    http: httpx.AsyncClient
    router: IntentRouter
    payments: StripeCheckout | None = None
    turns: TurnDesk  # the inbox workers' locks and commits, and the outbox's records
    workers: InboxWorkers = field(init=False)
    # Webhook requests being answered right now: in a burst the workers let them go first.
    acks_in_flight: int = field(default=0, init=False)

    def tier_limits(self, tier: str) -> TierLimits:
        return self.tiers.get(tier) or self.tiers["new"]

    async def reload(self) -> None:
        """Re-read what operators change in tables other than system_config."""
        self.tiers = await load_tier_limits(self.pool)

    async def aclose(self) -> None:
        await self.config.stop()
        await self.inbox.aclose()
        await self.router.flush()  # buffered intent events need the pool
        await self.outbox.aclose()  # answers held during an outage need the pool
        await self.turns.aclose()
        await self.graph.aclose()
        await self.http.aclose()
        await self.redis.aclose()
        await self.pool.close()
        if self.recorder is not None:
            self.recorder.close()


async def _keep_session_state(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset round trip (UNLISTEN, advisory unlock, RESET ALL).

    Pool connections never hold session state: advisory locks and LISTEN use dedicated
    connections (the turn desk and the config listener), never the pool.
    """


async def build_deps(
    settings: Settings, *, graph_transport: httpx.AsyncBaseTransport | None = None
) -> Deps:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min(2, settings.db_pool_size),
        max_size=settings.db_pool_size,
        reset=_keep_session_state,
    )
    redis = await create_redis(settings.redis_url)
    graph: GraphSender = GraphClient(
        settings.graph_api_url,
        settings.whatsapp_phone_number_id,
        settings.whatsapp_access_token,
        transport=graph_transport,
    )
    recorder = Recorder(Path(settings.record_file)) if settings.record_file else None
    if recorder is not None:
        graph = RecordingGraph(graph, recorder)
    # No retries at this level: the intent router and the payment client run their own.
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0), limits=httpx.Limits(max_connections=100))
    router = await IntentRouter.create(pool=pool, redis=redis, http=http, fallback=classify)
    config = LiveConfig()
    await config.load(pool)
    # Operators' changes to providers reach every instance as they do for system_config.
    config.on_notify("ai_provider_config", router.reload)
    await config.start(settings.database_url)
    turns = TurnDesk(settings.database_url, grace_s=settings.send_grace_s)
    outbound = OutboundLog(pool, record_via=turns.record)
    return Deps(
        settings=settings,
        pool=pool,
        redis=redis,
        graph=graph,
        outbound=outbound,
        outbox=Outbox(graph, outbound, grace_s=settings.send_grace_s),
        inbox=InboxWriter(pool),
        config=config,
        sessions=SessionStore(pool, redis, config),
        limiter=RateLimiter(redis),
        tiers=await load_tier_limits(pool),
        recorder=recorder,
        http=http,
        router=router,
        payments=_payments(settings, http),
        turns=turns,
    )


def _payments(settings: Settings, http: httpx.AsyncClient) -> StripeCheckout | None:
    """Stripe Checkout when a secret key is configured; the payment-link method needs it."""
    if not settings.stripe_secret_key:
        return None
    return StripeCheckout(
        http,
        api_base=settings.stripe_api_base,
        secret_key=settings.stripe_secret_key,
        success_url=settings.payment_success_url,
        cancel_url=settings.payment_cancel_url,
    )
