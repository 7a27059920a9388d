"""The webhook's contract: handshake, signatures, size and shape errors, durable dedup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from bot.botlink import InProcessLink, signed
from bot.simulator import SimCustomer
from bot.whatsapp.events import InboundMessage
from bot.whatsapp.parse import parse_body

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "whatsapp"


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.json"))
    assert len(files) >= 79, f"corpus not found at {CORPUS}"
    return files


async def test_handshake_echoes_the_challenge(bot: InProcessLink) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "dev-verify-token",
        "hub.challenge": "1158201444",
    }
    response = await bot.client.get("/webhook", params=params)
    assert (response.status_code, response.text) == (200, "1158201444")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "dev-verify-token", "hub.challenge": "1"},
        {},
    ],
)
async def test_handshake_refuses_anything_else(bot: InProcessLink, params: dict[str, str]) -> None:
    response = await bot.client.get("/webhook", params=params)
    assert response.status_code == 403


async def test_other_methods_on_the_webhook_are_405(bot: InProcessLink) -> None:
    # POST is answered before the router; the router still owns the path for the rest.
    response = await bot.client.put("/webhook", content=b"{}")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"].split(", ")


async def test_missing_signature_is_401(bot: InProcessLink) -> None:
    response = await bot.post_raw(b"{}", {"content-type": "application/json"})
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error"]


async def test_wrong_signature_is_403(bot: InProcessLink) -> None:
    raw, headers = signed("another-secret", SimCustomer("5491100000001").says("hola"))
    response = await bot.post_raw(raw, headers)
    assert response.status_code == 403
    assert await bot.replies() == []


async def test_signature_covers_the_raw_bytes(bot: InProcessLink) -> None:
    # Meta sends escaped unicode; re-serialising would break the HMAC, so the raw bytes count.
    body = SimCustomer("5491100000001").says("café @ 10% <b>")
    raw = orjson.dumps(body).replace("é".encode(), b"\\u00e9")
    _, headers = signed(bot.deps.settings.whatsapp_app_secret, {})
    headers["x-hub-signature-256"] = (
        "sha256=" + __import__("hmac").new(b"dev-app-secret", raw, "sha256").hexdigest()
    )
    response = await bot.post_raw(raw, headers)
    assert response.status_code == 200
    stored = await bot.deps.pool.fetchval(
        "SELECT envelope->'messages'->0->'text'->>'body' FROM inbound_messages"
    )
    assert stored == "café @ 10% <b>"


async def test_too_large_is_413(bot: InProcessLink) -> None:
    raw = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    _, headers = signed("dev-app-secret", {})
    response = await bot.post_raw(raw, {**headers, "content-length": str(len(raw))})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("raw", "reason"), [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object")]
)
async def test_bad_bodies_are_400_with_a_reason(
    bot: InProcessLink, raw: bytes, reason: str
) -> None:
    from bot.webhook import signature_for

    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": signature_for("dev-app-secret", raw),
    }
    response = await bot.post_raw(raw, headers)
    assert response.status_code == 400
    assert reason in response.json()["error"]


async def test_unsigned_posts_only_with_the_dev_setting(bot_settings: object) -> None:
    from dataclasses import replace

    from bot.botlink import in_process_bot
    from bot.settings import Settings

    assert isinstance(bot_settings, Settings)
    async with in_process_bot(replace(bot_settings, allow_unsigned_webhooks=True)) as link:
        raw = orjson.dumps(SimCustomer("5491100000009").says("hola"))
        response = await link.post_raw(raw, {"content-type": "application/json"})
        assert response.status_code == 200


async def test_every_corpus_body_is_accepted_and_every_message_stored(bot: InProcessLink) -> None:
    expected: set[str] = set()
    for path in corpus_files():
        raw = path.read_bytes()
        expected |= {e.id for e in parse_body(raw) if isinstance(e, InboundMessage)}
        _, headers = signed("dev-app-secret", {})
        from bot.webhook import signature_for

        headers["x-hub-signature-256"] = signature_for("dev-app-secret", raw)
        response = await bot.post_raw(raw, headers)
        assert response.status_code == 200, (path.name, response.text)
    stored = {r["wamid"] for r in await bot.deps.pool.fetch("SELECT wamid FROM inbound_messages")}
    assert stored == expected
    failed = await bot.deps.pool.fetchval(
        "SELECT count(*) FROM inbound_messages WHERE state <> 'done'"
    )
    assert failed == 0


async def test_batched_bodies_yield_every_message(bot: InProcessLink) -> None:
    from bot.webhook import signature_for

    for name, count in (
        ("batch_two_messages_one_change.json", 2),
        ("batch_two_changes_one_entry.json", 2),
    ):
        raw = (CORPUS / name).read_bytes()
        headers = {"x-hub-signature-256": signature_for("dev-app-secret", raw)}
        response = await bot.post_raw(raw, headers)
        assert response.json()["new"] == count


async def test_triple_delivery_gets_one_answer(bot: InProcessLink) -> None:
    body = SimCustomer("5491100000002", "Ana").says("hola")
    statuses = [await bot.post(body) for _ in range(3)]
    assert statuses == [200, 200, 200]
    replies = await bot.replies()
    assert [r.get("type", "read") for r in replies] == ["read", "interactive"]
    assert await bot.deps.pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def test_one_customers_concurrent_messages_are_processed_in_order(bot: InProcessLink) -> None:
    customer = SimCustomer("5491100000003")
    bodies = [customer.says(f"mensaje {n}") for n in range(5)]
    raws = [signed("dev-app-secret", b) for b in bodies]
    responses = await asyncio.gather(
        *(bot.client.post("/webhook", content=r, headers=h) for r, h in raws)
    )
    assert [r.status_code for r in responses] == [200] * 5
    await bot.deps.workers.drain()
    arrival = [
        r["wamid"]
        for r in await bot.deps.pool.fetch("SELECT wamid FROM inbound_messages ORDER BY id")
    ]
    answered = [r["message_id"] for r in await bot.replies() if r.get("status") == "read"]
    assert answered == arrival


async def test_storage_down_answers_503_so_meta_redelivers(bot: InProcessLink) -> None:
    await bot.deps.pool.close()
    raw, headers = signed("dev-app-secret", SimCustomer("5491100000004").says("hola"))
    response = await bot.client.post("/webhook", content=raw, headers=headers)
    assert response.status_code == 503


async def test_statuses_update_the_outbound_log(bot: InProcessLink) -> None:
    await bot.post(SimCustomer("5491100000005").says("hola"))
    wamid = await bot.deps.pool.fetchval(
        "SELECT wamid FROM outbound_messages WHERE wamid IS NOT NULL"
    )
    for status in ("sent", "read", "delivered"):
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "1", "phone_number_id": "1"},
                                "statuses": [
                                    {
                                        "id": wamid,
                                        "status": status,
                                        "timestamp": "1700000000",
                                        "recipient_id": "5491100000005",
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        assert await bot.post(body) == 200
    assert (
        await bot.deps.pool.fetchval("SELECT status FROM outbound_log WHERE wamid = $1", wamid)
        == "read"
    )
