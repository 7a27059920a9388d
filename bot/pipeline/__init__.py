"""The stage order, written once."""

from __future__ import annotations

from bot.brain import route
from bot.flows.handoff import check_handoff
from bot.pipeline.core import Context, Handler, compose
from bot.pipeline.guards import check_maintenance, check_rate_limit, load_session
from bot.pipeline.intent import detect_intent
from bot.pipeline.stages import guard_errors, load_customer, show_typing

__all__ = ["Context", "build_pipeline"]


def build_pipeline() -> Handler:
    return compose(
        [
            # Outermost: whatever fails below is logged once and answered with one apology.
            guard_errors,
            # Tier and language, which every later stage reads.
            load_customer,
            # Per-tier limits before any costly work; a refused message is still stored.
            check_rate_limit,
            # Operators can pause the shop; it still answers, politely.
            check_maintenance,
            # Loaded only now: the worker holds the customer's lock, and the rest needs state.
            load_session,
            # While a person answers (human handoff) the bot stays silent: checked here, after
            # the session it lives in is loaded and before any classifier (AI included) runs.
            check_handoff,
            # From here on the bot answers: the customer sees the ticks and "typing…" at once.
            show_typing,
            # Taps on our own buttons map straight to intents; text goes to the detectors.
            detect_intent,
        ],
        route,
    )
