"""Transactional outbox: replies are stored with the message's outcome, then sent in order.

A reply row is written in the same transaction that marks its inbound message done, keyed
``<inbound wamid>:<n>``; sending happens after the commit. A crash between the two leaves the
row pending, and the next worker to take that customer sends it: never lost, never twice.
"""

from __future__ import annotations

import logging

import asyncpg

from bot.logs import mask
from bot.outbound import OutboundLog
from bot.whatsapp.graph import GraphSender, retryable

__all__ = ["flush"]

log = logging.getLogger(__name__)


async def flush(
    conn: asyncpg.Connection, customer: str, graph: GraphSender, outbound: OutboundLog
) -> bool:
    """Send the customer's pending replies in order; False if one must wait for a later retry."""
    for row_id, body in await outbound.pending(conn, customer):
        result = await graph.send(body)
        await outbound.record(row_id, result)
        if retryable(result):
            # Keep order: later replies wait behind this one until the Graph API recovers.
            log.warning(
                "reply postponed",
                extra={"customer": mask(customer), "code": result.error_code},
            )
            return False
    return True
