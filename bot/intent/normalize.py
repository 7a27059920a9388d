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


class _Dropped(dict[int, int | None]):
    """str.translate table deciding each code point once: itself if kept, None if dropped."""

    # Bounded so that text full of rare code points cannot grow it without end.
    LIMIT = 8192

    def __missing__(self, code: int) -> int | None:
        kept = code if _keep(chr(code)) else None
        if len(self) < self.LIMIT:
            self[code] = kept
        return kept


_DROPPED = _Dropped()


def fold(text: str) -> str:
    """Lower-case, strip accents and emoji, collapse whitespace: 'Hólá 👋  Tenís' -> 'hola tenis'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # translate() consults the table in C; Python runs only for code points not seen before.
    kept = decomposed.translate(_DROPPED)
    # ñ decomposes to n + tilde; that loss is accepted (búsqueda de "pina" = "piña" is a feature).
    return _SPACES.sub(" ", kept).strip()
