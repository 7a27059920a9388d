"""Replay every conversation in tests/conversations/ against an in-process bot.

Each inbound is delivered three times (Meta redelivers; nothing may change) and every body the
bot sends is validated against Meta's OpenAPI contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.botlink import InProcessLink
from bot.replay import load_conversation, replay
from tests.specval import assert_valid_outbound

CONVERSATIONS = sorted((Path(__file__).parent / "conversations").glob("*.jsonl"))


@pytest.mark.parametrize("path", CONVERSATIONS, ids=[p.stem for p in CONVERSATIONS])
async def test_conversation(shop_bot: InProcessLink, path: Path) -> None:
    replies = await replay(
        load_conversation(path), shop_bot, check_outbound=assert_valid_outbound, redeliveries=2
    )
    assert replies, "a conversation must make the bot answer"
