"""Replay conversations (JSONL) against an in-process bot or a running one.

Recorded form: ``{"in": <webhook body>}`` and ``{"out": <Graph request body>}`` lines.
Scripted form: ``{"say": ...}``, ``{"tap": ...}``, ``{"send": {...}}``, ``{"expect": "<regex>"}``,
and ``{"pay": "last"}``: the payment provider confirms the last payment link the bot sent this
customer, and its signed notification is posted to the bot (and redelivered, like webhooks).
``pay`` needs a stand-in for the provider (``PaymentProvider``); ``bot replay`` has none and
refuses such a conversation before its first step.
Either form may start with ``{"customer": {"wa_id": ..., "name": ...}}``.
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from bot.botlink import BotLink, Notification, in_process_bot, remote_bot
from bot.simulator import SimCustomer
from bot.whatsapp.view import body_kind, body_options, body_text

__all__ = [
    "Conversation",
    "PaymentProvider",
    "ReplayMismatch",
    "load_conversation",
    "replay",
    "replay_files",
]

Body = dict[str, Any]
OutboundCheck = Callable[[Body], None]


class ReplayMismatch(AssertionError):
    """The bot answered something else than the conversation says; ``str()`` is a readable diff."""


class PaymentProvider(Protocol):
    """Plays the payment provider for ``pay`` steps: a local server the bot's links point at."""

    def checkout_link(self, text: str) -> str | None:
        """The last checkout link this provider issued that ``text`` contains, if any."""
        ...

    def confirm(self, link: str) -> Notification:
        """Mark the checkout behind ``link`` paid; the signed notification the provider sends."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    line: int
    kind: str  # in, out, say, tap, send, expect, pay
    value: Any


@dataclass(frozen=True, slots=True)
class Conversation:
    path: Path
    wa_id: str
    name: str
    steps: tuple[Step, ...]

    @property
    def pays(self) -> bool:
        """Whether a payment provider stand-in is needed to replay it."""
        return any(step.kind == "pay" for step in self.steps)


_KINDS = ("in", "out", "say", "tap", "send", "expect", "pay")


def load_conversation(path: Path) -> Conversation:
    wa_id, name, steps = "5491100000000", "Cliente", []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(line, dict) or len(line) != 1:
            raise ValueError(f"{path}:{number}: each line must be an object with one key")
        ((kind, value),) = line.items()
        if kind == "customer" and isinstance(value, dict):
            wa_id = str(value.get("wa_id", wa_id))
            name = str(value.get("name", name))
        elif kind == "pay" and value != "last":
            raise ValueError(f'{path}:{number}: pay takes "last", not {value!r}')
        elif kind in _KINDS:
            steps.append(Step(number, kind, value))
        else:
            raise ValueError(f"{path}:{number}: unknown step {kind!r}; use one of {_KINDS}")
    return Conversation(path, wa_id, name, tuple(steps))


def _pretty(bodies: Sequence[Body]) -> list[str]:
    return (
        orjson.dumps(list(bodies), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        .decode()
        .splitlines()
    )


def _mismatch(
    conv: Conversation, step: Step, what: str, expected: list[str], actual: list[str]
) -> ReplayMismatch:
    diff = "\n".join(difflib.unified_diff(expected, actual, "expected", "actual", lineterm=""))
    return ReplayMismatch(f"{conv.path}:{step.line}: {what}\n{diff}")


def _visible(bodies: Sequence[Body]) -> list[Body]:
    return [b for b in bodies if body_kind(b) != "read"]


def _resolve_tap(conv: Conversation, step: Step, shown: Sequence[Body]) -> tuple[str, str, bool]:
    interactive = [b for b in shown if body_options(b)]
    if not interactive:
        raise ReplayMismatch(
            f"{conv.path}:{step.line}: tap {step.value!r} but no options were shown"
        )
    last = interactive[-1]
    options = body_options(last)
    wanted = str(step.value)
    for option in options:
        if wanted in (option.id, option.title) or wanted.casefold() == option.title.casefold():
            return option.id, option.title, body_kind(last) == "list"
    if wanted.isdigit() and 1 <= int(wanted) <= len(options):
        option = options[int(wanted) - 1]
        return option.id, option.title, body_kind(last) == "list"
    titles = ", ".join(f"{n}. {o.title}" for n, o in enumerate(options, start=1))
    raise ReplayMismatch(f"{conv.path}:{step.line}: no option {wanted!r} among: {titles}")


def _last_payment_link(
    conv: Conversation, step: Step, payments: PaymentProvider, shown: Sequence[Body]
) -> str:
    for body in reversed(shown):
        link = payments.checkout_link(body_text(body))
        if link is not None:
            return link
    raise ReplayMismatch(f"{conv.path}:{step.line}: pay, but no payment link was sent")


async def replay(
    conv: Conversation,
    link: BotLink,
    *,
    check_outbound: OutboundCheck | None = None,
    redeliveries: int = 0,
    progress: Callable[[int, int], None] | None = None,
    payments: PaymentProvider | None = None,
) -> list[Body]:
    """Run one conversation; raise ReplayMismatch at the first difference. Returns every reply.

    ValueError, before any step, when the conversation pays and ``payments`` is None.
    """
    if payments is None and conv.pays:
        line = next(step.line for step in conv.steps if step.kind == "pay")
        raise ValueError(
            f"{conv.path}:{line}: the pay step needs a payment provider stand-in, and none is "
            "configured (tests/test_conversations.py replays it with a local Stripe)"
        )
    customer = SimCustomer(conv.wa_id, conv.name)
    every: list[Body] = []
    since_action: list[Body] = []
    expected_out: list[Body] = []
    last_in: Step | None = None

    async def deliver(post: Callable[[], Awaitable[int]], what: str = "webhook") -> None:
        nonlocal since_action
        status = await post()
        if status != 200:
            raise ReplayMismatch(f"{conv.path}: {what} answered {status}")
        since_action = await link.replies()
        for _ in range(redeliveries):  # Meta and payment providers redeliver: nothing may change
            if await post() != 200 or await link.replies():
                raise ReplayMismatch(f"{conv.path}: a redelivered {what} changed the outcome")
        for reply in since_action:
            if check_outbound is not None:
                check_outbound(reply)
        every.extend(since_action)

    def compare_recorded() -> None:
        if last_in is not None and expected_out != since_action:
            raise _mismatch(
                conv, last_in, "replies differ", _pretty(expected_out), _pretty(since_action)
            )

    for index, step in enumerate(conv.steps, start=1):
        if step.kind == "in":
            compare_recorded()
            expected_out, last_in = [], step
            await deliver(functools.partial(link.post, step.value))
        elif step.kind == "out":
            expected_out.append(step.value)
        elif step.kind == "say":
            await deliver(functools.partial(link.post, customer.says(str(step.value))))
        elif step.kind == "send":
            await deliver(functools.partial(link.post, customer.sends(step.value)))
        elif step.kind == "tap":
            reply_id, title, on_list = _resolve_tap(conv, step, _visible(every))
            tapped = customer.taps(reply_id=reply_id, title=title, on_list=on_list, context_id=None)
            await deliver(functools.partial(link.post, tapped))
        elif step.kind == "pay" and payments is not None:  # None refused above
            paid = payments.confirm(_last_payment_link(conv, step, payments, _visible(every)))
            await deliver(functools.partial(link.post_notification, paid), "payment notification")
        elif step.kind == "expect":
            text = "\n".join(body_text(b) for b in _visible(since_action))
            if re.search(str(step.value), text, re.IGNORECASE | re.DOTALL) is None:
                raise _mismatch(
                    conv, step, f"expected /{step.value}/", [str(step.value)], text.splitlines()
                )
        if progress is not None:
            progress(index, len(conv.steps))
    compare_recorded()
    return every


async def replay_files(paths: Sequence[Path], *, url: str | None, sink_url: str) -> int:
    """The ``bot replay`` command: progress on stderr, exit 1 with a diff on the first mismatch."""
    link_context = remote_bot(url, sink_url) if url else in_process_bot()
    async with link_context as link:
        for path in paths:
            try:
                conv = load_conversation(path)
                await replay(conv, link, progress=_progress_printer(path.name))
            except (ReplayMismatch, ValueError) as exc:
                print(f"\n✗ {exc}", file=sys.stderr)
                return 1
            print(f"\r{path.name}: ok{' ' * 10}", file=sys.stderr)
    return 0


def _progress_printer(name: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        print(f"\r{name}: {done}/{total}", end="", file=sys.stderr)

    return show
