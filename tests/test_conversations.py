"""Replay every conversation in tests/conversations/ against an in-process bot.

Each inbound is delivered three times (Meta redelivers; nothing may change) and every body the
bot sends is validated against Meta's OpenAPI contract. Conversations that pay (``{"pay": ...}``)
run with the shop's Stripe pointed at a local fake, which also confirms their payment links.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.botlink import InProcessLink
from bot.replay import Conversation, load_conversation, replay, replay_files
from bot.settings import Settings
from tests import fake_stripe
from tests.fake_stripe import FakeStripe
from tests.specval import assert_valid_outbound

FOLDER = Path(__file__).parent / "conversations"
CONVERSATIONS = sorted(FOLDER.glob("*.jsonl"))


@pytest.fixture
def conversation(path: Path) -> Conversation:
    return load_conversation(path)


@pytest.fixture
async def payments(conversation: Conversation) -> AsyncIterator[FakeStripe | None]:
    """The payment provider's stand-in, only where the conversation pays (as under bot replay)."""
    if not conversation.pays:
        yield None
        return
    async with fake_stripe.running() as stripe:
        yield stripe


@pytest.fixture
def shop_settings(shop_settings: Settings, payments: FakeStripe | None) -> Settings:
    return shop_settings if payments is None else payments.configure(shop_settings)


@pytest.mark.parametrize("path", CONVERSATIONS, ids=[p.stem for p in CONVERSATIONS])
async def test_conversation(
    shop_bot: InProcessLink, conversation: Conversation, payments: FakeStripe | None
) -> None:
    replies = await replay(
        conversation,
        shop_bot,
        check_outbound=assert_valid_outbound,
        redeliveries=2,
        payments=payments,
    )
    assert replies, "a conversation must make the bot answer"


async def test_bot_replay_refuses_to_pay_without_a_provider(
    database_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BOT_WORKERS": "0",
        "BOT_RECORD_FILE": "",
        "STRIPE_SECRET_KEY": "",
    }.items():
        monkeypatch.setenv(name, value)
    assert await replay_files([FOLDER / "payment_link.jsonl"], url=None, sink_url="") == 1
    error = capsys.readouterr().err
    assert "payment_link.jsonl:" in error
    assert "the pay step needs a payment provider stand-in, and none is configured" in error
