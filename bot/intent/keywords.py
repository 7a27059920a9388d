"""Offline intent classifier: keyword tables, typo tolerance and a few rules, no network."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache

from bot.intent.model import Intent, IntentResult
from bot.intent.normalize import fold
from bot.intent.quantity import QuantitySpan, find_quantity
from bot.intent.vocabulary import (
    ABBREVIATIONS,
    COMMON,
    CUES,
    POLITE,
    RULES,
    STOP,
    WEIGHTS,
    Concept,
    tokenize,
)

__all__ = ["classify", "detect_language"]

# Keyword evidence is in the first words; a pasted essay is cut to keep the cost bounded.
MAX_TOKENS = 120
_THRESHOLD = 0.5  # below this (after coverage) the message is unknown
_SQUEEZE_FACTOR = 0.9  # "holaaa", "carito": stretched or doubled letters
_FUZZY_FACTOR = {1: 0.7, 2: 0.55}  # evidence kept by a typo match at that distance
_LAUGH = re.compile(r"^(?:ja|je|ji|jo|js|sj|ha|he|hi)+[jhs]?$")
_REPEATS = re.compile(r"(.)\1+")
_REFERENCE = re.compile(r"(?:\D*\d){3}")  # three digits or more: an order number, not a count
_FUNCTION_WORDS = STOP["es"] | STOP["en"]
_NOT_CONTENT = _FUNCTION_WORDS | POLITE | COMMON  # never product words, never in a query
_KEEP_IN_QUERY = frozenset({Concept.PRODUCT, Concept.ATTRIBUTE, Concept.SIZE})
# Ties go to the intent that does the most for the customer; small talk last.
_TIE_ORDER = (
    Intent.UNKNOWN, Intent.GREETING, Intent.GOODBYE, Intent.DENY, Intent.AFFIRM,
    Intent.BROWSE_CATEGORIES, Intent.SEARCH_PRODUCT, Intent.HELP, Intent.STORE_INFO,
    Intent.HUMAN_AGENT, Intent.VIEW_CART, Intent.ORDER_STATUS, Intent.CHECKOUT,
    Intent.ADD_TO_CART, Intent.REMOVE_FROM_CART,
)  # fmt: skip
_PRIORITY = {intent: rank for rank, intent in enumerate(_TIE_ORDER)}
_ENTITY_INTENTS = frozenset({Intent.SEARCH_PRODUCT, Intent.ADD_TO_CART, Intent.REMOVE_FROM_CART})


@dataclass(frozen=True, slots=True)
class _Lexicon:
    phrases: dict[str, tuple[tuple[tuple[str, ...], Concept], ...]]  # by first word, longest first
    known: frozenset[str]
    squeezed: dict[str, str]
    deletions: dict[str, tuple[str, ...]]
    language: dict[str, str]
    # Beyond this length a token is more than two edits from every keyword: no fuzzy search
    # (its deletion neighbourhood grows with the square of its length).
    fuzzy_max_len: int


def _squeeze(word: str) -> str:
    return _REPEATS.sub(r"\1", word)


def _allowed_distance(length: int) -> int:
    return 2 if length >= 8 else 1


def _deletions(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w)) if len(w) > 2}
        found |= frontier
    return found


@cache
def _lexicon() -> _Lexicon:
    """Index the tables once: phrases by first word, squeezed forms, deletion neighbourhoods."""
    phrases: defaultdict[str, list[tuple[tuple[str, ...], Concept]]] = defaultdict(list)
    languages: defaultdict[str, set[str]] = defaultdict(set)
    for concept, lang, texts in CUES:
        for text in texts:
            phrase = tuple(text.split())
            phrases[phrase[0]].append((phrase, concept))
            for word in phrase:
                languages[word].add(lang)
    for lang, stop in STOP.items():
        for word in stop:
            languages[word].add(lang)
    cue_words = frozenset(w for ws in phrases.values() for p, _ in ws for w in p)
    longest = max(map(len, cue_words))
    known = cue_words | _FUNCTION_WORDS | POLITE | COMMON
    squeezed: dict[str, str] = {}
    for word in sorted(known, key=lambda w: (_squeeze(w) != w, w)):
        squeezed.setdefault(_squeeze(word), word)
    deletions: defaultdict[str, list[str]] = defaultdict(list)
    for word in sorted(cue_words):
        if len(word) >= 4:
            for variant in _deletions(word, _allowed_distance(len(word))):
                deletions[variant].append(word)
    return _Lexicon(
        phrases={k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in phrases.items()},
        known=known,
        squeezed=squeezed,
        deletions={k: tuple(v) for k, v in deletions.items()},
        language={
            w: next(iter(ls)) for w, ls in languages.items() if len(ls) == 1 and "*" not in ls
        },
        fuzzy_max_len=longest + _allowed_distance(longest),
    )


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _fuzzy(lexicon: _Lexicon, token: str) -> tuple[str, int] | None:
    """The closest keyword within the allowed distance, preferring a shared first letter."""
    candidates: set[str] = set()
    for variant in _deletions(token, _allowed_distance(len(token))):
        candidates.update(lexicon.deletions.get(variant, ()))
    best: tuple[int, bool, str] | None = None
    for word in candidates:
        distance = _distance(token, word)
        # Both words must be long enough: "regalo" is not two letters away from "agregalo".
        if distance <= _allowed_distance(min(len(token), len(word))):
            key = (distance, word[0] != token[0], word)
            best = key if best is None or key < best else best
    return (best[2], best[0]) if best else None


@lru_cache(maxsize=16384)
def _canonical(token: str) -> tuple[str, float]:
    """The keyword a typed word stands for, with how much of its evidence to keep."""
    lexicon = _lexicon()
    token = ABBREVIATIONS.get(token, token)
    if token in lexicon.known or not token.isalpha():
        return token, 1.0
    if len(token) >= 4 and _LAUGH.match(token):
        return "jaja", 1.0
    if (squeezed := lexicon.squeezed.get(_squeeze(token))) is not None:
        return squeezed, _SQUEEZE_FACTOR
    fuzzy = 4 <= len(token) <= lexicon.fuzzy_max_len
    if fuzzy and (found := _fuzzy(lexicon, token)) is not None:
        return found[0], _FUZZY_FACTOR[found[1]]
    return token, 0.0


@dataclass(frozen=True, slots=True)
class _Match:
    concept: Concept
    start: int
    end: int
    factor: float


def _match(words: list[str], factors: list[float], skip: range) -> list[_Match]:
    """Greedy left-to-right longest-phrase matching over canonical words."""
    phrases, matches, i = _lexicon().phrases, [], 0
    while i < len(words):
        for phrase, concept in () if i in skip else phrases.get(words[i], ()):
            end = i + len(phrase)
            if tuple(words[i:end]) == phrase and not any(j in skip for j in range(i, end)):
                matches.append(_Match(concept, i, end, min(factors[i:end])))
                i = end
                break
        else:
            i += 1
    return matches


def _evidence(
    words: list[str], matches: list[_Match], count: QuantitySpan | None
) -> dict[Concept, float]:
    """Each concept once, at its best factor, plus the message-level pseudo concepts."""
    present: dict[Concept, float] = {}
    for m in matches:
        present[m.concept] = max(present.get(m.concept, 0.0), m.factor)
    if count is not None:
        present[Concept.COUNT] = 1.0
    if any(not w.isalpha() and _REFERENCE.search(w) for w in words):
        present[Concept.REFERENCE] = 1.0
    matched = {i for m in matches for i in range(m.start, m.end)}
    if any(i not in matched and _is_content(w) for i, w in enumerate(words)):
        present[Concept.CONTENT] = 1.0
    return present


def _is_content(word: str) -> bool:
    return len(word) > 1 and word.isalpha() and word not in _NOT_CONTENT


def _scores(present: dict[Concept, float]) -> dict[Intent, float]:
    scores: defaultdict[Intent, float] = defaultdict(float)
    for concept, factor in present.items():
        for intent, weight in WEIGHTS[concept].items():
            scores[intent] += weight * factor
    for firsts, seconds, intent, weight in RULES:
        if firsts.isdisjoint(present) or seconds.isdisjoint(present):
            continue
        first = max(present[c] for c in firsts if c in present)
        second = max(present[c] for c in seconds if c in present)
        scores[intent] += weight * min(first, second)
    return scores


def _coverage(words: list[str], matches: list[_Match], count: QuantitySpan | None) -> float:
    """Share of the words the tables account for; chatter we cannot read lowers trust."""
    explained = {i for m in matches for i in range(m.start, m.end)}
    if count is not None:
        explained.update(range(count.start, count.end))
    for i, word in enumerate(words):
        if word in _FUNCTION_WORDS or word in POLITE or not word.isalpha():
            explained.add(i)
    return len(explained) / len(words)


def _query(
    tokens: list[str], words: list[str], matches: list[_Match], count: QuantitySpan | None
) -> str | None:
    """Product words: what is left once intent words, function words and counts are gone."""
    drop = {i for m in matches if m.concept not in _KEEP_IN_QUERY for i in range(m.start, m.end)}
    if count is not None:
        drop.update(range(count.start, count.end))
    kept = [tokens[i] for i, word in enumerate(words) if i not in drop and word not in _NOT_CONTENT]
    return " ".join(kept) or None


def _language(words: list[str]) -> str | None:
    language = _lexicon().language
    votes = [language.get(w) for w in words]
    es, en = votes.count("es"), votes.count("en")
    return "es" if es > en else "en" if en > es else None


def detect_language(text: str) -> str | None:
    """'es' or 'en' by which side's keywords and function words dominate; None when unclear."""
    return _language([_canonical(t)[0] for t in tokenize(fold(text))[:MAX_TOKENS]])


def classify(text: str) -> IntentResult:
    """Best keyword guess for one customer message; never raises."""
    tokens = tokenize(fold(text))[:MAX_TOKENS]
    if not tokens:
        return IntentResult(intent=Intent.UNKNOWN, confidence=0.1)
    canonical = [_canonical(t) for t in tokens]
    words, factors = [w for w, _ in canonical], [f for _, f in canonical]
    count = find_quantity(tokens, articles=False)
    matches = _match(words, factors, range(count.start, count.end) if count else range(0))
    scores = _scores(_evidence(words, matches, count))
    coverage = _coverage(words, matches, count)
    ranked = sorted(scores.items(), key=lambda s: (s[1], _PRIORITY[s[0]]), reverse=True)
    language = _language(words)
    if not ranked or ranked[0][1] * (0.4 + 0.6 * coverage) < _THRESHOLD:
        confidence = 0.2 if ranked and ranked[0][1] > 0 else 0.1
        return IntentResult(intent=Intent.UNKNOWN, confidence=confidence, language=language)
    intent, best = ranked[0]
    if intent is Intent.UNKNOWN:
        return IntentResult(intent=Intent.UNKNOWN, confidence=0.3, language=language)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = (
        (1 - math.exp(-1.5 * best)) * (0.6 + 0.4 * (best - second) / best) * (0.7 + 0.3 * coverage)
    )
    if intent not in _ENTITY_INTENTS:
        return IntentResult(intent=intent, confidence=confidence, language=language)
    articles = intent is not Intent.SEARCH_PRODUCT
    count = find_quantity(tokens, articles=articles) if articles else count
    return IntentResult(
        intent=intent,
        confidence=confidence,
        quantity=count.value if count else None,
        query=_query(tokens, words, matches, count),
        language=language,
    )
