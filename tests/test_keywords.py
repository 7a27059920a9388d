"""The offline keyword classifier against the labelled data set, plus entity and edge cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.intent import keywords
from bot.intent.keywords import classify, detect_language
from bot.intent.model import Intent
from bot.intent.normalize import fold
from bot.intent.quantity import extract_quantity

DATA = Path(__file__).parent / "data" / "intents.jsonl"
CART_INTENTS = {"search_product", "add_to_cart", "remove_from_cart"}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    with DATA.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _breakdown(rows: list[dict[str, Any]], got: list[str]) -> str:
    """Per-intent recall and the first misses, for the failure message."""
    total, hits = Counter[str](), Counter[str]()
    misses: list[str] = []
    for row, intent in zip(rows, got, strict=True):
        total[row["intent"]] += 1
        hits[row["intent"]] += intent == row["intent"]
        if intent != row["intent"]:
            misses.append(f"  {row['text']!r}: expected {row['intent']}, got {intent}")
    lines = [f"  {name:<18} {hits[name]:>3}/{total[name]:<3}" for name in sorted(total)]
    return "\n".join(["per intent:", *lines, "misses:", *misses[:40]])


def test_data_set_shape(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 330
    per_intent = Counter(r["intent"] for r in rows)
    assert set(per_intent) == {i.value for i in Intent}
    assert min(per_intent.values()) >= 15
    spanish = sum(r["lang"] == "es" for r in rows) / len(rows)
    assert 0.70 <= spanish <= 0.80
    holdout = sum(r.get("split") == "holdout" for r in rows) / len(rows)
    assert 0.29 <= holdout <= 0.40
    assert len({fold(r["text"]) for r in rows}) == len(rows), "duplicate utterances"
    for r in rows:
        assert set(r) <= {"text", "intent", "quantity", "query", "lang", "split"}
        assert r["lang"] in ("es", "en")
        if r["intent"] not in CART_INTENTS:
            assert r["quantity"] is None and r["query"] is None, r["text"]


def test_accuracy_on_whole_data_set(rows: list[dict[str, Any]]) -> None:
    got = [classify(r["text"]).intent.value for r in rows]
    accuracy = sum(g == r["intent"] for g, r in zip(got, rows, strict=True)) / len(rows)
    assert accuracy >= 0.90, f"accuracy {accuracy:.3f}\n{_breakdown(rows, got)}"


def test_entities_on_data_set(rows: list[dict[str, Any]]) -> None:
    """Where the intent is right, quantity and query match the labels almost always."""
    checked = [(r, classify(r["text"])) for r in rows if r["intent"] in CART_INTENTS]
    checked = [(r, res) for r, res in checked if res.intent.value == r["intent"]]
    wrong = [
        f"{r['text']!r}: {res.quantity}, {res.query!r}"
        for r, res in checked
        if (res.quantity, res.query) != (r["quantity"], r["query"])
    ]
    assert len(wrong) <= 0.1 * len(checked), "\n".join(wrong)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agregame 2 al carrito", 2),
        ("dos", 2),
        ("tres remeras", 3),
        ("una docena", 12),
        ("dos docenas de medias", 24),
        ("media docena de gorras", 6),
        ("un par", 2),
        ("un par de remeras", 2),
        ("un par de medias", 1),
        ("dos pares de zapatillas", 2),
        ("sumale dos pares mas", 2),
        ("three", 3),
        ("a dozen", 12),
        ("half a dozen", 6),
        ("a couple of shirts", 2),
        ("x3", 3),
        ("3x", 3),
        ("remeras x 4", 4),
        ("agregame una", 1),
        ("add a hat", 1),
        ("add one more", 1),
        ("I want two of those", 2),
        ("agregame 2 remeras talle 40", 2),
        ("talla 42", None),
        ("size 42", None),
        ("42 cm", None),
        ("zapatillas nike 42", None),
        ("la de 42", None),
        ("la negra de 20", None),
        ("cuesta 5000", None),
        ("5000 pesos", None),
        ("20 dolares", None),
        ("pedido 1234", None),
        ("quiero 1000", None),
        ("that one", None),
        ("agregalo a mi carrito", None),
        ("hola", None),
        ("", None),
    ],
)
def test_extract_quantity(text: str, expected: int | None) -> None:
    assert extract_quantity(fold(text)) == expected


def test_articles_count_only_when_asked() -> None:
    assert extract_quantity("busco una campera", articles=False) is None
    assert extract_quantity("busco una campera") == 1
    assert extract_quantity("busco 2 camperas", articles=False) == 2


@pytest.mark.parametrize(
    ("text", "intent", "query", "quantity"),
    [
        ("busco zapatillas talla 42 por favor", "search_product", "zapatillas talla 42", None),
        ("Tenés remeras?", "search_product", "remeras", None),
        ("zapatillas nike 42", "search_product", "zapatillas nike 42", None),
        ("hola, quiero saber si tienen zapatillas nike", "search_product", "zapatillas nike", None),
        ("looking for a black hoodie size M", "search_product", "black hoodie size m", None),
        ("sacá las medias del carro", "remove_from_cart", "medias", None),
        ("agregame 2 al carrito", "add_to_cart", None, 2),
        ("quiero comprar 2 de esas zapatillas", "add_to_cart", "zapatillas", 2),
        ("me das 3 camperas x favor?", "add_to_cart", "camperas", 3),
        ("I want two of those", "add_to_cart", None, 2),
        ("hola", "greeting", None, None),
    ],
)
def test_query_and_quantity(
    text: str, intent: str, query: str | None, quantity: int | None
) -> None:
    result = classify(text)
    assert (result.intent.value, result.query, result.quantity) == (intent, query, quantity)


@pytest.mark.parametrize(
    ("typo", "intent"),
    [
        ("hloa", "greeting"),  # transposition
        ("holaaa", "greeting"),  # stretched letters
        ("carito", "view_cart"),  # missing double letter
        ("zapatilas", "search_product"),
        ("chekout", "checkout"),  # deletion in a long word
        ("pedio 4521", "order_status"),
        ("catalgo", "browse_categories"),
        ("agrgame 1 al carito", "add_to_cart"),
        ("ayudaaa", "help"),
    ],
)
def test_typos(typo: str, intent: str) -> None:
    assert classify(typo).intent.value == intent


def test_typo_evidence_is_trusted_less_than_exact_words() -> None:
    assert classify("hloa").confidence < classify("hola").confidence
    assert classify("chekout").confidence < classify("checkout").confidence


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("busco un regalo para mi novia", "search_product"),  # "regalo" is not "agregalo"
        ("what's the weather like", "unknown"),  # "weather" is not "leather"
        ("es muy caro", "unknown"),  # "caro" is not a squeezed "carro"
        ("tengo un perro", "unknown"),
    ],
)
def test_typo_matching_does_not_bend_ordinary_words(text: str, intent: str) -> None:
    assert classify(text).intent.value == intent


def test_a_long_word_is_not_searched_for_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 4,000-letter word once took its worker minutes: its two-edit deletion neighbourhood
    # has some 16 million strings of 4,000 letters. No keyword is within two edits of it.
    searched: list[int] = []

    def deletions(word: str, depth: int) -> set[str]:
        searched.append(len(word))
        return set()

    monkeypatch.setattr(keywords, "_deletions", deletions)
    word = "".join(chr(ord("a") + (n * 7) % 26) for n in range(4000))
    assert detect_language(f"hola {word}") == "es"
    assert classify(f"quiero pagar {word}").intent.value == "checkout"
    assert max(searched, default=0) < 30  # short typo candidates only, if any


@pytest.mark.parametrize(
    ("plain", "decorated"),
    [
        ("donde esta mi pedido", "¿DÓNDE ESTÁ MI PEDIDO? 😡😡"),
        ("hola", "¡Hólá! 👋"),
        ("quiero pagar", "QUIERO PAGAR 💳💳"),
        ("tenes remeras", "Tenés remeras?? 👕"),
    ],
)
def test_accents_case_and_emoji_do_not_matter(plain: str, decorated: str) -> None:
    assert classify(plain) == classify(decorated)


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t", "👍", "🤔🔥😂", "???", "...", "\u200b", "\ud800"]
)
def test_empty_or_symbol_only_text_is_unknown(text: str) -> None:
    result = classify(text)
    assert result.intent is Intent.UNKNOWN
    assert result.confidence <= 0.3
    assert result.source == "keywords"


def test_very_long_text() -> None:
    assert classify("hola " * 2000).intent is Intent.GREETING
    assert classify("x" * 10_000).intent is Intent.UNKNOWN
    noise = "".join(chr(0x61 + (i * 7) % 26) + (" " if i % 9 == 0 else "") for i in range(10_000))
    assert classify(noise).confidence <= 1.0


def test_confidence_is_a_probability_and_unknown_is_low(rows: list[dict[str, Any]]) -> None:
    results = [classify(r["text"]) for r in rows]
    assert all(0.0 <= r.confidence <= 1.0 for r in results)
    assert all(r.confidence <= 0.3 for r in results if r.intent is Intent.UNKNOWN)
    assert all(r.source == "keywords" for r in results)
    assert classify("quiero pagar").confidence >= 0.7


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hola, tenés remeras?", "es"),
        ("quiero hablar con una persona", "es"),
        ("show me the cart", "en"),
        ("I want two of those", "en"),
        ("ok", None),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language
    assert classify(text).language == language


def test_language_matches_labels(rows: list[dict[str, Any]]) -> None:
    detected = [(detect_language(r["text"]), r["lang"]) for r in rows]
    decided = [(d, lang) for d, lang in detected if d is not None]
    assert sum(d == lang for d, lang in decided) >= 0.95 * len(decided)
