"""Webhook fuzzing (a short run of ``python -m fuzz``) and the inputs it found that broke things."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
import random
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from jsonschema import Draft202012Validator

from bot.botlink import InProcessLink, in_process_bot
from bot.inbox import InboxWriter
from bot.settings import Settings
from bot.simulator import SimCustomer
from bot.webhook import signature_for
from bot.whatsapp.events import InboundMessage, StoredMessage
from bot.whatsapp.parse import index_body, parse_body
from fuzz.generate import SchemaGenerator, spec_schemas
from fuzz.run import fuzz, generate_bodies

SECRET = "dev-app-secret"


async def post(link: InProcessLink, body: dict[str, Any] | bytes) -> dict[str, Any]:
    """Post signed, wait for the workers, return the webhook's JSON answer (asserting 200)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await link.post_raw(raw, {"x-hub-signature-256": signature_for(SECRET, raw)})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def message_of(body: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = body["entry"][0]["changes"][0]["value"]
    return value


async def states(link: InProcessLink) -> dict[str, str]:
    rows = await link.deps.pool.fetch("SELECT wamid, state FROM inbound_messages")
    return {r["wamid"]: r["state"] for r in rows}


@pytest.mark.slow
async def test_a_short_fuzz_run_finds_nothing(shop_bot: InProcessLink) -> None:
    report = await fuzz(shop_bot, count=1000, seed=20250611)
    assert report.ok, "\n".join(report.lines())
    assert report.bodies == 1000
    # The run exercised both sources and both sides of the parser.
    assert report.valid_messages > 300
    assert report.done == report.valid_messages
    assert report.statuses[400] > 0
    assert {"schema", "corpus", "corpus:deep", "corpus:odd_unicode"} <= {
        s for s, _ in report.by_source
    }


def test_bodies_are_reproducible_from_the_seed() -> None:
    first = list(generate_bodies(7, 20))
    assert first == list(generate_bodies(7, 20))
    assert first != list(generate_bodies(8, 20))


def relaxed(node: Any) -> Any:
    """The spec's schemas without ``additionalProperties: false`` on ``allOf`` branches, which
    make every message unsatisfiable for a strict validator (see the spec README)."""
    if isinstance(node, list):
        return [relaxed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: relaxed(value) for key, value in node.items()}
    for part in out.get("allOf", []):
        if isinstance(part, dict):
            part.pop("additionalProperties", None)
    return out


def test_schema_bodies_are_valid_by_metas_schema() -> None:
    schemas = relaxed(spec_schemas())
    root = {"components": {"schemas": schemas}, "$ref": "#/components/schemas/WebhookPayload"}
    validator = Draft202012Validator(root)
    generator = SchemaGenerator(random.Random(3))
    for _ in range(60):
        body = generator.payload()
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (errors[:3], body)


def test_schema_bodies_often_hold_valid_messages() -> None:
    schema = [raw for source, raw in generate_bodies(11, 400) if source == "schema"]
    valid = [raw for raw in schema if any(isinstance(e, InboundMessage) for e in parse_body(raw))]
    assert len(valid) > len(schema) // 10


# --- what the fuzzer found ----------------------------------------------------------------------


async def test_nul_in_ids_is_stored_as_replacement_character(bot: InProcessLink) -> None:
    # Was a 503 forever: PostgreSQL text cannot hold U+0000, so Meta would redeliver for days.
    body = SimCustomer("5491100000101").says("ho\x00la")
    message = message_of(body)["messages"][0]
    message["id"] = "wamid.NUL\x00ID"
    message_of(body)["metadata"]["phone_number_id"] = "1\x002"
    assert (await post(bot, body))["new"] == 1
    assert await states(bot) == {"wamid.NUL\ufffdID": "done"}


async def test_ids_too_long_for_an_index_are_ignored(bot: InProcessLink) -> None:
    # Was a 503 forever: a btree entry holds at most 2704 bytes.
    body = SimCustomer("5491100000102").says("hola")
    message_of(body)["messages"][0]["id"] = "wamid." + "x" * 3000
    assert (await post(bot, body))["messages"] == 0
    # An over-long sender reads as absent: the contact's wa_id still identifies the customer.
    body = SimCustomer("5491100000102").says("hola")
    message_of(body)["messages"][0]["from"] = "5" * 3000
    assert (await post(bot, body))["new"] == 1
    assert list((await states(bot)).values()) == ["done"]


async def test_blank_ids_are_ignored(bot: InProcessLink) -> None:
    # Was a message failing every attempt: a blank wamid cannot be marked as read.
    for blank in (" ", "\u2028", "\x85", "\x1e"):
        body = SimCustomer("5491100000109").says("hola")
        message_of(body)["messages"][0]["id"] = blank
        assert (await post(bot, body))["messages"] == 0
    assert await states(bot) == {}


async def test_messages_nested_past_what_can_be_stored_are_ignored(bot: InProcessLink) -> None:
    # Was a 500: orjson reads 1024 levels but writes only 254, and the envelope is written back.
    for levels, stored in ((600, 0), (150, 1)):
        body = SimCustomer("5491100000103").says("hola")
        message_of(body)["messages"][0]["extra"] = orjson.Fragment(b"[" * levels + b"]" * levels)
        assert (await post(bot, body))["new"] == stored


async def test_status_error_codes_beyond_32_bits_are_dropped(bot: InProcessLink) -> None:
    # Was a 503 forever: the error_code column is an integer.
    body = SimCustomer("5491100000104").says("hola")
    value = message_of(body)
    del value["messages"], value["contacts"]
    error = {"code": 2**40, "title": "x\x00y"}
    value["statuses"] = [
        {
            "id": "wamid.S",
            "status": "failed",
            "timestamp": "1",
            "recipient_id": "1",
            "errors": [error],
        }
    ]
    assert (await post(bot, body))["statuses"] == 1


async def test_a_user_id_seen_with_two_numbers_is_answered_on_both(
    bot: InProcessLink, caplog: pytest.LogCaptureFixture
) -> None:
    # Was an apology on every message: customers.user_id is unique, and a user who changed
    # number (or was first seen by user id only) arrives with the same user id again.
    for number in ("5491100000105", "5491100000106"):
        body = SimCustomer(number).says("hola")
        message_of(body)["contacts"][0]["user_id"] = "US.1234567890"
        await post(bot, body)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert list((await states(bot)).values()) == ["done", "done"]


async def test_a_body_too_deep_to_record_is_still_accepted(
    bot_settings: Settings, tmp_path: Path
) -> None:
    # Was a 500 with BOT_RECORD_FILE set: the recorder writes the decoded body back.
    record = tmp_path / "recorded.jsonl"
    settings = dataclasses.replace(bot_settings, record_file=str(record))
    raw = b'{"object":"whatsapp_business_account","entry":[' + b"[" * 600 + b"]" * 600 + b"]}"
    async with in_process_bot(settings) as link:
        await post(link, raw)
        await post(link, SimCustomer("5491100000107").says("hola"))
    assert len(record.read_bytes().splitlines()) >= 2  # the second body and its replies


async def test_one_bad_request_does_not_fail_the_batch_it_shares(pg_pool: asyncpg.Pool) -> None:
    # Group commit: a request whose data PostgreSQL refuses used to fail every request stored
    # in the same round trip (503s for bodies that were fine).
    writer = InboxWriter(pg_pool)
    body = SimCustomer("5491100000108").says("hola")
    good = [e for e in index_body(body) if isinstance(e, StoredMessage)]
    # Random, so PostgreSQL cannot compress it under the index entry limit.
    bad = dataclasses.replace(good[0], id="wamid." + base64.b64encode(os.urandom(3000)).decode())
    try:
        results = await asyncio.gather(
            writer.store([bad]), writer.store(good), return_exceptions=True
        )
    finally:
        await writer.aclose()
    assert isinstance(results[0], asyncpg.ProgramLimitExceededError)
    assert results[1] == good
