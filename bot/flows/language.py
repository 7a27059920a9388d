"""Language: "english", "inglés", "español", "spanish" (alone or with a few filler words) switch it.

The first language is detected from the customer's first messages (``pipeline.stages``); this
is the explicit switch, also offered as the last row of the main menu.
"""

from __future__ import annotations

from bot.customers import set_language
from bot.flows.ids import Tap
from bot.flows.ui import main_menu
from bot.intent.normalize import fold
from bot.intent.vocabulary import tokenize, words
from bot.pipeline.core import Context

__all__ = ["on_tap", "requested", "switch"]

_NAMES = {"english": "en", "ingles": "en", "espanol": "es", "spanish": "es", "castellano": "es"}
# Words that may surround a language's name in a request to switch ("in english please").
_FILLER = words(
    "in en please por favor pls plz speak habla hablame hablemos hablar language idioma switch "
    "to a al cambiar cambia change lets let us el the de i want quiero prefiero prefer"
)


def requested(text: str) -> str | None:
    """The language a message asks to switch to, when that is all it asks."""
    words = tokenize(fold(text))
    named = {_NAMES[w] for w in words if w in _NAMES}
    if len(named) != 1 or not all(w in _NAMES or w in _FILLER for w in words):
        return None
    return named.pop()


async def switch(ctx: Context, language: str) -> None:
    await set_language(ctx.deps.pool, ctx.customer, language)
    ctx.language = language
    main_menu(ctx, ctx.texts.language_set)


async def on_tap(ctx: Context, tap: Tap) -> None:
    await switch(ctx, tap.arg)
