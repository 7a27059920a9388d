"""Text folding shared by every detector and by the intent cache key."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold"]

_SPACES = re.compile(r"\s+")


def _keep(ch: str) -> bool:
    # Drop combining accents and symbols (emoji, pictographs); keep letters, digits, punctuation.
    category = unicodedata.category(ch)
    return not (category == "Mn" or category.startswith("S") or category in ("Cf", "Co", "Cs"))


def fold(text: str) -> str:
    """Lower-case, strip accents and emoji, collapse whitespace: 'Hólá 👋  Tenís' -> 'hola tenis'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if _keep(ch))
    # ñ decomposes to n + tilde; that loss is accepted (búsqueda de "pina" = "piña" is a feature).
    return _SPACES.sub(" ", kept).strip()
