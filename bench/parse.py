"""Webhook parsing: µs per body, raw bytes to typed events, ours vs pywa on the shared corpus.

    python -m bench.parse [--rounds 7] [--passes 100]

Ours is ``bot.whatsapp.parse.parse_body(raw)``. pywa is driven the way its own webhook
handler does it, minus what ours does not do either (the body hash for de-duplication, the
log line, calling handlers): ``RawUpdate(raw)`` (stdlib json), ``_get_handler_type`` (routing
by field and message type) and the chosen update class's ``from_update``, with a client
built offline (no token check, no callback registration).

pywa reads only ``entry[0].changes[0]`` and, inside it, only the first message or status, so it
does less work on batched bodies; it also raises on bodies without the newer ``user_id``
contact field and on a few other shapes. The timing therefore uses only the bodies of field
``messages`` that pywa turns into an update without raising, both parsers on the same bytes;
how many bodies and messages each one reads is counted over the whole corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from pywa.client import WhatsApp
from pywa.types.base_update import RawUpdate

from bench.common import Row, print_table
from bot.whatsapp.events import Ignored, InboundMessage, StatusUpdate
from bot.whatsapp.parse import parse_body

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "whatsapp"
ROUNDS = 7
PASSES = 100


def corpus(folder: Path = CORPUS) -> list[tuple[str, bytes]]:
    return [(path.stem, path.read_bytes()) for path in sorted(folder.glob("*.json"))]


def _pywa_client() -> WhatsApp:
    # No phone id or WABA id: nothing is filtered out, every body is parsed.
    return WhatsApp(token="bench", server=None, filter_updates=False, validate_updates=False)


def pywa_parser(client: WhatsApp) -> Callable[[bytes], object | None]:
    """Raw bytes → pywa's typed update (None when no handler type matches); may raise."""
    constructors = client._handlers_to_updates

    def parse(raw: bytes) -> object | None:
        update = RawUpdate(raw, hmac_header=None, update_hash="")
        handler = client._get_handler_type(update)
        if handler is None:
            return None
        return constructors[handler].from_update(client=client, update=update)

    return parse


def _ours_reads(raw: bytes) -> int:
    return sum(isinstance(e, InboundMessage | StatusUpdate) for e in parse_body(raw))


def _only_messages_field(raw: bytes) -> bool:
    data = orjson.loads(raw)
    fields = {c.get("field") for e in data.get("entry", []) for c in e.get("changes", [])}
    return fields == {"messages"}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pywa warns (warnings and logging) on enum values it does not know; keep it off the run."""
    logger = logging.getLogger("pywa")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _survey(
    bodies: list[tuple[str, bytes]], pywa: Callable[[bytes], object | None]
) -> dict[str, Any]:
    """What each parser makes of every body, and which bodies both turn into messages."""
    outcomes: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    timed: list[str] = []
    for name, raw in bodies:
        for event in parse_body(raw):
            kind = "ignored" if isinstance(event, Ignored) else type(event).__name__
            ours[kind] += 1
        try:
            update = pywa(raw)
        except Exception as exc:  # pywa's own failure modes are what we count here
            outcomes[f"raised {type(exc).__name__}"] += 1
            continue
        outcomes["no handler" if update is None else "typed"] += 1
        if update is not None and _only_messages_field(raw):
            timed.append(name)
    return {"pywa": dict(outcomes), "ours": dict(ours), "timed": timed}


def _best_us(parse: Callable[[bytes], object], bodies: list[bytes], passes: int) -> float:
    started = time.perf_counter()
    for _ in range(passes):
        for raw in bodies:
            parse(raw)
    return (time.perf_counter() - started) / (passes * len(bodies)) * 1e6


def run(rounds: int = ROUNDS, passes: int = PASSES) -> dict[str, Any]:
    """Survey the corpus, then time both parsers in interleaved rounds; a few seconds."""
    bodies = corpus()
    with _quiet():
        pywa = pywa_parser(_pywa_client())
        survey = _survey(bodies, pywa)
        chosen = set(survey["timed"])
        same = [raw for name, raw in bodies if name in chosen]
        samples: dict[str, list[float]] = {"ours": [], "pywa": [], "ours_all": []}
        for _ in range(rounds):  # interleaved, so load from other processes hits both alike
            samples["pywa"].append(_best_us(pywa, same, passes))
            samples["ours"].append(_best_us(parse_body, same, passes))
            samples["ours_all"].append(_best_us(parse_body, [raw for _, raw in bodies], passes))
    return {
        "bodies": len(bodies),
        "timed_bodies": len(same),
        # Messages and statuses read from the whole corpus; pywa makes at most one per body.
        "reads": {"ours": sum(_ours_reads(raw) for _, raw in bodies), "pywa": len(same)},
        "survey": survey,
        # Best round: the least disturbed by the other processes on this shared machine.
        "us_per_body": {name: min(values) for name, values in samples.items()},
        "us_per_body_median": {
            name: sorted(values)[len(values) // 2] for name, values in samples.items()
        },
        "rounds": rounds,
        "passes": passes,
    }


def rows(figures: dict[str, Any]) -> list[Row]:
    us, survey, n = figures["us_per_body"], figures["survey"], figures["bodies"]
    ours_ok = n  # parse_body never raises; unreadable parts become Ignored events
    pywa_ok = n - sum(v for k, v in survey["pywa"].items() if k.startswith("raised"))
    reads = figures["reads"]
    return [
        Row(f"parse µs/body ({figures['timed_bodies']} bodies both read)", "µs", us["ours"],
            us["pywa"], "pywa 4.5 from_update", "", higher_is_better=False),
        Row("parse: messages+statuses read from corpus", "msgs", reads["ours"], reads["pywa"],
            "pywa: ≤ 1 per body"),
        Row("parse: corpus bodies read without raising", f"of {n}", ours_ok, pywa_ok,
            "pywa 4.5"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--passes", type=int, default=PASSES)
    args = parser.parse_args()
    figures = run(args.rounds, args.passes)
    survey = figures["survey"]
    print(f"corpus: {figures['bodies']} bodies")
    print(f"  ours: {survey['ours']} (never raises)")
    print(f"  pywa: {survey['pywa']}")
    print(
        f"timed on the {figures['timed_bodies']} bodies of field 'messages' that pywa reads; "
        f"messages+statuses read from the corpus: ours {figures['reads']['ours']}, "
        f"pywa {figures['reads']['pywa']} (at most the first of each body)"
    )
    us, median = figures["us_per_body"], figures["us_per_body_median"]
    for name in ("ours", "pywa", "ours_all"):
        print(f"  {name:<9} best {us[name]:7.2f} µs/body   median {median[name]:7.2f}")
    print()
    print_table(rows(figures))


if __name__ == "__main__":
    main()
