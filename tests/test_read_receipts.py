"""Read receipts: blue ticks and "typing…" as soon as the bot starts on a message it answers,
sent once, in the background, and never stored in the outbound log."""

from __future__ import annotations

from bot.botlink import InProcessLink
from bot.simulator import SimCustomer
from bot.whatsapp.view import body_kind
from tests.specval import assert_valid_outbound

PHONE = "5491133330001"


def _wamid(body: dict[str, object]) -> str:
    return body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]  # type: ignore[index,no-any-return]


async def test_the_receipt_goes_first_and_is_not_stored(bot: InProcessLink) -> None:
    body = SimCustomer(PHONE).says("hola")
    assert await bot.post(body) == 200
    sent = await bot.replies()
    receipt, *replies = sent
    assert receipt == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": _wamid(body),
        "typing_indicator": {"type": "text"},
    }
    for request in sent:
        assert_valid_outbound(request)
    assert replies and all(body_kind(r) != "read" for r in replies)
    # The log holds the replies only, each sent with its row's key.
    keys = await bot.deps.pool.fetch("SELECT idempotency_key FROM outbound_messages ORDER BY id")
    assert [r["biz_opaque_callback_data"] for r in replies] == [k[0] for k in keys]


async def test_a_reaction_gets_no_receipt(bot: InProcessLink) -> None:
    customer = SimCustomer(PHONE)
    first = customer.says("hola")
    assert await bot.post(first) == 200
    await bot.replies()
    reaction = customer.sends(
        {"type": "reaction", "reaction": {"message_id": _wamid(first), "emoji": "👍"}}
    )
    assert await bot.post(reaction) == 200
    assert await bot.replies() == []  # nothing to answer, so no ticks and no "typing…"


async def test_a_failed_receipt_is_not_retried_and_the_reply_still_goes_out(
    bot: InProcessLink,
) -> None:
    bot.sink.fail_next(1)  # a 429, which a reply would retry
    assert await bot.post(SimCustomer(PHONE).says("hola")) == 200
    assert len(bot.sink.rejected) == 1  # the receipt, tried once
    replies = await bot.replies()
    assert replies and all(body_kind(r) != "read" for r in replies)
    assert await bot.deps.pool.fetchval(
        "SELECT bool_and(status = 'accepted') FROM outbound_messages"
    )
