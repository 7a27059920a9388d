"""Keyword classifier accuracy and speed on tests/data/intents.jsonl, next to a naive baseline.

    python bench/intent_accuracy.py

The baseline, measured in the same run on the same texts, is what an MVP would ship: one
keyword per intent, exact substring match on the raw text (no folding, no typos), first hit
wins. Accuracy is shown for the whole set and for the dev/holdout splits separately.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import Row
from bot.intent.keywords import classify, detect_language
from bot.intent.model import Intent

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "intents.jsonl"
CART_INTENTS = {Intent.SEARCH_PRODUCT, Intent.ADD_TO_CART, Intent.REMOVE_FROM_CART}
PASSES = 20  # steady-state timing repeats the whole set this many times

# Checked in this order; the more specific cart verbs come before "carrito".
BASELINE_KEYWORDS: tuple[tuple[str, Intent], ...] = (
    ("agrega", Intent.ADD_TO_CART),
    ("saca", Intent.REMOVE_FROM_CART),
    ("carrito", Intent.VIEW_CART),
    ("pagar", Intent.CHECKOUT),
    ("pedido", Intent.ORDER_STATUS),
    ("envío", Intent.STORE_INFO),
    ("persona", Intent.HUMAN_AGENT),
    ("ayuda", Intent.HELP),
    ("catálogo", Intent.BROWSE_CATEGORIES),
    ("busco", Intent.SEARCH_PRODUCT),
    ("hola", Intent.GREETING),
    ("chau", Intent.GOODBYE),
    ("sí", Intent.AFFIRM),
    ("no", Intent.DENY),
)


def baseline(text: str) -> Intent:
    """One keyword per intent, exact substring of the raw text."""
    return next((intent for word, intent in BASELINE_KEYWORDS if word in text), Intent.UNKNOWN)


def load(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _per_intent(rows: Sequence[dict[str, Any]], got: Sequence[Intent]) -> dict[str, Any]:
    expected = [Intent(r["intent"]) for r in rows]
    hits = Counter(e for e, g in zip(expected, got, strict=True) if e == g)
    wanted, predicted = Counter(expected), Counter(got)
    return {
        intent.value: {
            "precision": hits[intent] / predicted[intent] if predicted[intent] else 0.0,
            "recall": hits[intent] / wanted[intent] if wanted[intent] else 0.0,
        }
        for intent in Intent
    }


def _accuracy(rows: Sequence[dict[str, Any]], got: Sequence[Intent]) -> dict[str, float]:
    def share(split: str | None) -> float:
        pairs = [
            (r, g)
            for r, g in zip(rows, got, strict=True)
            if split is None or r.get("split", "dev") == split
        ]
        return sum(r["intent"] == g.value for r, g in pairs) / len(pairs) if pairs else 0.0

    return {"all": share(None), "dev": share("dev"), "holdout": share("holdout")}


def _mean_us(classifier: Callable[[str], object], texts: Sequence[str], passes: int) -> float:
    start = time.perf_counter()
    for _ in range(passes):
        for text in texts:
            classifier(text)
    return (time.perf_counter() - start) / (passes * len(texts)) * 1e6


def _entities(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Quantity and query exact-match rates where our cart intent was right."""
    pairs = [(r, classify(r["text"])) for r in rows]
    judged = [(r, res) for r, res in pairs if res.intent in CART_INTENTS]
    judged = [(r, res) for r, res in judged if res.intent.value == r["intent"]]
    decided = [(r, detect_language(r["text"])) for r in rows]
    decided_langs = [(r["lang"], lang) for r, lang in decided if lang is not None]
    return {
        "judged": len(judged),
        "quantity": sum(res.quantity == r["quantity"] for r, res in judged) / len(judged),
        "query": sum(res.query == r["query"] for r, res in judged) / len(judged),
        "language_decided": len(decided_langs) / len(rows),
        "language_correct": sum(a == b for a, b in decided_langs) / len(decided_langs),
    }


def run(path: Path = DATA) -> dict[str, Any]:
    """Every figure the table shows, as plain data."""
    rows = load(path)
    texts = [r["text"] for r in rows]
    first_pass_us = _mean_us(classify, texts, 1)  # builds the tables and fills the word cache
    ours = [classify(t).intent for t in texts]
    base = [baseline(t) for t in texts]
    return {
        "count": len(rows),
        "split_counts": dict(Counter(r.get("split", "dev") for r in rows)),
        "intent_counts": dict(Counter(r["intent"] for r in rows)),
        "ours": {"per_intent": _per_intent(rows, ours), "accuracy": _accuracy(rows, ours)},
        "baseline": {"per_intent": _per_intent(rows, base), "accuracy": _accuracy(rows, base)},
        "entities": _entities(rows),
        "us_per_call": {
            "ours_first_pass": first_pass_us,
            "ours": _mean_us(classify, texts, PASSES),
            "baseline": _mean_us(baseline, texts, PASSES),
        },
    }


def report(figures: dict[str, Any]) -> str:
    ours, base = figures["ours"], figures["baseline"]
    lines = [
        f"{'intent':<18} {'n':>4}  {'ours P':>7} {'ours R':>7}  {'base P':>7} {'base R':>7}",
    ]
    for intent in Intent:
        o, b = ours["per_intent"][intent.value], base["per_intent"][intent.value]
        lines.append(
            f"{intent.value:<18} {figures['intent_counts'].get(intent.value, 0):>4}  "
            f"{o['precision']:>7.3f} {o['recall']:>7.3f}  {b['precision']:>7.3f} {b['recall']:>7.3f}"
        )
    lines.append("")
    for split in ("all", "dev", "holdout"):
        n = figures["count"] if split == "all" else figures["split_counts"].get(split, 0)
        lines.append(
            f"accuracy {split:<8} (n={n:>3}): ours {ours['accuracy'][split]:.3f}   "
            f"baseline {base['accuracy'][split]:.3f}"
        )
    e, us = figures["entities"], figures["us_per_call"]
    lines += [
        f"entities on {e['judged']} correct cart intents: quantity {e['quantity']:.3f}, "
        f"query {e['query']:.3f}",
        f"language: decided {e['language_decided']:.3f}, correct when decided "
        f"{e['language_correct']:.3f}",
        f"mean µs per classification: ours {us['ours']:.1f} (first pass {us['ours_first_pass']:.1f},"
        f" tables built on first use)   baseline {us['baseline']:.2f}",
    ]
    return "\n".join(lines)


def rows(figures: dict[str, Any]) -> list[Row]:
    ours, base, us = (
        figures["ours"]["accuracy"],
        figures["baseline"]["accuracy"],
        figures["us_per_call"],
    )
    reference = "one keyword per intent"
    return [
        Row(f"keyword intent accuracy ({figures['count']} texts)", "", ours["all"], base["all"],
            reference, "> 0.70 (charter MVP)"),
        Row("keyword intent accuracy, holdout", "", ours["holdout"], base["holdout"], reference),
        Row("keyword intent µs/classification", "µs", us["ours"], us["baseline"], reference,
            "< 10 ms (charter)", higher_is_better=False),
    ]  # fmt: skip


def main() -> int:
    print(report(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
