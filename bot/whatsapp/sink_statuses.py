"""Status webhooks from the local Graph sink, as Meta posts them after accepting a message.

For every message it accepts, Meta posts a signed ``statuses`` webhook that echoes the send's
``biz_opaque_callback_data``, and retries a delivery the app does not answer with 200. The sink
does the same with a ``sent`` status, retrying every ``retry_s`` until a bot takes it: a bot
restarted after a kill -9 learns this way which replies its predecessor got out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from bot.cancellation import cancel_and_wait
from bot.webhook import signature_for

__all__ = ["StatusWebhooks"]

log = logging.getLogger(__name__)

_BATCH = 100  # statuses per POST; Meta batches up to 1000 updates


class StatusWebhooks:
    """Queues ``sent`` statuses and delivers them, in order, to the first URL that takes them."""

    def __init__(self, urls: Sequence[str], app_secret: str, *, retry_s: float = 0.5) -> None:
        self.urls = list(urls)  # the bots' webhook URLs; tried in turn while one fails
        self._secret = app_secret
        self._retry_s = retry_s
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._queued = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def sent(self, phone_number_id: str, wamid: str, to: str, callback_data: Any) -> None:
        """Meta accepted message ``wamid``: announce it (once a bot answers)."""
        status: dict[str, Any] = {
            "id": wamid,
            "status": "sent",
            "timestamp": str(int(time.time())),
            "recipient_id": to.lstrip("+"),
        }
        if isinstance(callback_data, str):
            status["biz_opaque_callback_data"] = callback_data
        self._queue.append((phone_number_id, status))
        self._queued.set()
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name="sink-status-webhooks")

    @property
    def waiting(self) -> int:
        """Statuses not delivered yet."""
        return len(self._queue)

    async def _deliver(self) -> None:
        target = 0
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                await self._queued.wait()
                self._queued.clear()
                while self._queue:
                    batch = list(itertools.islice(self._queue, _BATCH))
                    if await self._post(client, self.urls[target % len(self.urls)], batch):
                        for _ in batch:
                            self._queue.popleft()
                    else:
                        target += 1
                        await asyncio.sleep(self._retry_s)

    async def _post(
        self, client: httpx.AsyncClient, url: str, batch: list[tuple[str, dict[str, Any]]]
    ) -> bool:
        raw = orjson.dumps(_webhook_body(batch))
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": signature_for(self._secret, raw),
        }
        try:
            response = await client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("status webhook to %s not delivered: %s", url, type(exc).__name__)
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


def _webhook_body(batch: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Meta's envelope: one change per business number, its statuses in order."""
    by_number: dict[str, list[dict[str, Any]]] = {}
    for phone_number_id, status in batch:
        by_number.setdefault(phone_number_id, []).append(status)
    changes = [
        {
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": "15550783881",
                    "phone_number_id": phone_number_id,
                },
                "statuses": statuses,
            },
        }
        for phone_number_id, statuses in by_number.items()
    ]
    return {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": changes}]}
