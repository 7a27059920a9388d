"""Typo correction against the catalogue's own words, in plain Python (no pg_trgm needed).

Candidates come from shared trigrams (an inverted index built once per catalogue revision);
the winner is the candidate with the smallest edit distance, then the most products.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Vocabulary", "edit_distance", "max_edits"]

_CANDIDATES = 40  # best trigram overlaps whose edit distance is computed


def max_edits(word: str) -> int:
    """Typos tolerated in a word: none in short words, where one edit makes another word."""
    if len(word) <= 3 or not word.isalpha():
        return 0
    return 1 if len(word) <= 7 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap counts once); anything over `limit` is limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@dataclass(frozen=True, slots=True)
class Vocabulary:
    counts: dict[str, int]  # word -> number of products using it
    grams: dict[str, list[str]]  # trigram -> words containing it

    @classmethod
    def build(cls, terms: Iterable[tuple[str, int]]) -> Vocabulary:
        counts = dict(terms)
        grams: defaultdict[str, list[str]] = defaultdict(list)
        for word in counts:
            # Only words a typo may be corrected into; numbers and codes are never guessed.
            if len(word) >= 3 and word.isalpha():
                for gram in _trigrams(word):
                    grams[gram].append(word)
        return cls(counts, dict(grams))

    def __contains__(self, word: object) -> bool:
        return word in self.counts

    def __len__(self) -> int:
        return len(self.counts)

    def correct(self, word: str) -> str | None:
        """The catalogue word closest to `word` within its typo budget, or None."""
        if word in self.counts:
            return word
        budget = max_edits(word)
        if budget == 0:
            return None
        shared: Counter[str] = Counter()
        for gram in _trigrams(word):
            shared.update(self.grams.get(gram, ()))
        best: tuple[int, int, str] | None = None
        for candidate, _ in shared.most_common(_CANDIDATES):
            distance = edit_distance(word, candidate, budget)
            if distance > budget:
                continue
            key = (distance, -self.counts[candidate], candidate)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]
