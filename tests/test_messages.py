"""Every builder yields bodies Meta's contract accepts, for normal and for over-limit input."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from bot.whatsapp import limits
from bot.whatsapp import messages as m
from bot.whatsapp.messages import Option, Section
from bot.whatsapp.view import body_kind, body_options, body_text
from tests.specval import assert_valid_outbound

TO = "5491155550000"  # an Argentine wa_id: the "9" must survive untouched
Body = dict[str, Any]


def valid(bodies: list[Body]) -> list[Body]:
    assert bodies
    for body in bodies:
        assert_valid_outbound(body)
        assert body["to"] == TO
    return bodies


def options(count: int, title: str = "Opción {i}") -> list[Option]:
    return [Option(f"opt-{i}", title.format(i=i)) for i in range(count)]


def all_options(bodies: list[Body]) -> list[Option]:
    return [option for body in bodies for option in body_options(body)]


def words(bodies: list[Body]) -> list[str]:
    return " ".join(body_text(body) for body in bodies).split()


def kinds(bodies: list[Body]) -> list[str]:
    return [body_kind(body) for body in bodies]


# --- text ---------------------------------------------------------------------------------


def test_text_short() -> None:
    [body] = valid(m.text(TO, "Hola 👋", preview_url=True, reply_to="wamid.A"))
    assert body["text"] == {"body": "Hola 👋", "preview_url": True}
    assert body["context"] == {"message_id": "wamid.A"}
    assert body_kind(body) == "text"
    assert body_text(body) == "Hola 👋"
    assert body_options(body) == []


def test_text_over_limit_splits_at_paragraphs() -> None:
    paragraphs = [f"Párrafo {i}. " + "palabra " * 120 for i in range(10)]  # ~1000 chars each
    source = "\n\n".join(paragraphs)
    bodies = valid(m.text(TO, source, reply_to="wamid.A"))
    assert len(bodies) == 3
    assert [("context" in body) for body in bodies] == [True, False, False]
    for body in bodies:  # every message starts with a paragraph
        assert body["text"]["body"].startswith("Párrafo")
    assert words(bodies) == source.split()


def test_text_5000_chars_without_spaces() -> None:
    bodies = valid(m.text(TO, "x" * 5000))
    assert [len(body["text"]["body"]) for body in bodies] == [4096, 904]


@pytest.mark.parametrize("body", ["", "  \n "])
def test_text_empty_is_a_bug(body: str) -> None:
    with pytest.raises(ValueError):
        m.text(TO, body)


# --- buttons ------------------------------------------------------------------------------


def test_three_options_are_reply_buttons() -> None:
    given = options(3)
    bodies = valid(m.buttons(TO, "¿Qué talla?", given, header="Tienda", footer="Gracias"))
    assert kinds(bodies) == ["button"]
    assert all_options(bodies) == given
    assert body_text(bodies[0]).splitlines() == [
        "Tienda",
        "¿Qué talla?",
        "Gracias",
        *(o.title for o in given),
    ]


def test_four_options_become_a_list() -> None:
    given = options(4)
    bodies = valid(m.buttons(TO, "Elige", given))
    assert kinds(bodies) == ["list"]
    assert bodies[0]["interactive"]["action"]["button"] == m.DEFAULT_LIST_BUTTON
    assert all_options(bodies) == given
    bodies = valid(m.buttons(TO, "Choose", given, list_button="See options"))
    assert bodies[0]["interactive"]["action"]["button"] == "See options"


def test_twelve_options_become_two_numbered_lists() -> None:
    given = options(12)
    bodies = valid(m.buttons(TO, "Elige", given, reply_to="wamid.A"))
    assert kinds(bodies) == ["list", "list"]
    assert [b["interactive"]["action"]["button"] for b in bodies] == [
        "Ver opciones 1/2",
        "Ver opciones 2/2",
    ]
    assert [len(body_options(b)) for b in bodies] == [10, 2]
    assert all_options(bodies) == given
    assert [("context" in b) for b in bodies] == [True, False]


def test_options_with_descriptions_become_a_list() -> None:
    given = [Option("a", "Envío", "Llega mañana"), Option("b", "Retiro", "En tienda")]
    bodies = valid(m.buttons(TO, "¿Cómo lo recibes?", given))
    assert kinds(bodies) == ["list"]
    assert all_options(bodies) == given


def test_long_titles_are_shortened_and_stay_unique() -> None:
    given = [Option(f"t{s}", f"Camiseta de algodón orgánico talla {s}") for s in "SML"]
    bodies = valid(m.buttons(TO, "¿Cuál?", given))
    titles = [option.title for option in all_options(bodies)]
    assert all(len(title) <= limits.BUTTON_TITLE and "…" in title for title in titles)
    assert len({title.casefold() for title in titles}) == 3


def test_equal_button_titles_are_made_unique() -> None:
    given = [Option("a", "Sí"), Option("b", "sí"), Option("c", "Sí")]
    titles = [o.title for o in all_options(valid(m.buttons(TO, "¿Seguro?", given)))]
    assert titles == ["Sí", "sí 2", "Sí 3"]


def test_accents_and_emoji_in_titles() -> None:
    given = [
        Option("a", "Piña colada 🍍🍹 grande con hielo"),
        Option("b", "Café ☕️ con leche de almendras"),
        Option("c", "👨‍👩‍👧‍👦 Combo familiar ñandú"),
    ]
    bodies = valid(m.buttons(TO, "¿Qué pides? 😋", given))
    for option in all_options(bodies):
        assert len(option.title) <= limits.BUTTON_TITLE
        assert "\u200d" not in option.title[-2:]  # no emoji cut at a joiner


def test_button_body_overflow_goes_to_a_preceding_text() -> None:
    intro = "Nuestra tienda ofrece muchas cosas. " * 40  # ~1440 chars
    source = intro + "\n\n¿Qué quieres hacer?"
    bodies = valid(m.buttons(TO, source, options(2), reply_to="wamid.A"))
    assert kinds(bodies) == ["text", "button"]
    assert "context" in bodies[0] and "context" not in bodies[1]
    assert bodies[1]["interactive"]["body"]["text"].endswith("¿Qué quieres hacer?")
    assert words(bodies)[: len(source.split())] == source.split()


def test_long_header_and_footer_are_shortened() -> None:
    bodies = valid(m.buttons(TO, "Hola", options(2), header="H" * 80, footer="F" * 80))
    interactive = bodies[0]["interactive"]
    assert interactive["header"]["text"] == "H" * 59 + "…"
    assert interactive["footer"]["text"] == "F" * 59 + "…"


@pytest.mark.parametrize(
    "given",
    [
        [],
        [Option("a", "Uno"), Option("a", "Dos")],
        [Option(" a", "Uno")],
        [Option("x" * 257, "Uno")],
        [Option("a", "  ")],
    ],
    ids=["none", "duplicate ids", "spaced id", "long id", "blank title"],
)
def test_buttons_programming_errors(given: list[Option]) -> None:
    with pytest.raises(ValueError):
        m.buttons(TO, "Hola", given)


# --- list_message -------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 10, 11, 17, 25])
def test_list_splits_rows_in_order(rows: int) -> None:
    sections = [
        Section("Camisetas", options(rows // 2, "Camiseta {i}")),
        Section("Pantalones", [Option(f"p{i}", f"Pantalón {i}") for i in range(rows - rows // 2)]),
    ]
    sections = [section for section in sections if section.rows]
    bodies = valid(m.list_message(TO, "Catálogo", "Ver", sections, header="Hola", footer="Pie"))
    assert len(bodies) == -(-rows // 10)
    assert all(len(body_options(body)) <= 10 for body in bodies)
    assert all_options(bodies) == [row for section in sections for row in section.rows]
    for body in bodies:  # sections keep their titles on every page they continue on
        for section in body["interactive"]["action"]["sections"]:
            assert section["title"] in {"Camisetas", "Pantalones"}


def test_list_keeps_equal_titles_in_different_sections() -> None:
    sections = [
        Section("Remera", [Option("r-s", "S"), Option("r-m", "M")]),
        Section("Buzo", [Option("b-s", "S"), Option("b-m", "M")]),
    ]
    bodies = valid(m.list_message(TO, "¿Talla?", "Tallas", sections))
    assert [o.title for o in all_options(bodies)] == ["S", "M", "S", "M"]


def test_list_shortening_keeps_titles_distinct_and_shows_them_in_full() -> None:
    long = "Zapatilla deportiva urbana {i}0 edición"
    given = options(3, long)
    bodies = valid(m.list_message(TO, "Elige", "Ver", [Section("Zapatillas", given)]))
    shown = all_options(bodies)
    assert len({o.title for o in shown}) == 3
    assert all(len(o.title) <= limits.ROW_TITLE for o in shown)
    assert [o.description for o in shown] == [o.title for o in given]


def test_list_long_description_is_shortened() -> None:
    given = [Option("a", "Uno", "d" * 100), Option("b", "Dos", "Descripción corta ✨")]
    [body] = valid(m.list_message(TO, "Elige", "Ver", [Section("", given)]))
    assert "title" not in body["interactive"]["action"]["sections"][0]
    assert [o.description for o in body_options(body)] == ["d" * 71 + "…", "Descripción corta ✨"]


def test_list_with_several_untitled_sections_is_a_bug() -> None:
    sections = [Section("", options(2)), Section("B", [Option("x", "Equis")])]
    with pytest.raises(ValueError):
        m.list_message(TO, "Elige", "Ver", sections)


def test_list_body_text_shows_rows_and_button() -> None:
    given = [Option("a", "Uno", "primero"), Option("b", "Dos")]
    [body] = valid(m.list_message(TO, "Elige", "Ver", [Section("Números", given)]))
    assert body_text(body).splitlines() == ["Elige", "[Ver]", "Uno — primero", "Dos"]


# --- products -----------------------------------------------------------------------------


def test_single_product() -> None:
    [body] = valid(m.product(TO, "cat-1", "sku-9", body="Nuestro favorito ⭐", footer="Oferta"))
    assert body_kind(body) == "product"
    assert body_text(body).splitlines() == ["Nuestro favorito ⭐", "Oferta", "sku-9"]
    [bare] = valid(m.product(TO, "cat-1", "sku-9"))
    assert "body" not in bare["interactive"]
    assert kinds(valid(m.product(TO, "cat-1", "sku-9", body="b " * 700))) == ["text", "product"]


@pytest.mark.parametrize(
    ("layout", "messages"),
    [((35,), 2), ((5, 5, 5), 1), ((2,) * 12, 2), ((30,), 1), ((29, 3), 2)],
)
def test_product_list_splits(layout: tuple[int, ...], messages: int) -> None:
    sections = [(f"Sección {s}", [f"sku-{s}-{i}" for i in range(n)]) for s, n in enumerate(layout)]
    bodies = valid(m.product_list(TO, "cat-1", "Catálogo", "Novedades", sections, footer="Pie"))
    assert len(bodies) == messages
    shown = [
        (section["title"], item["product_retailer_id"])
        for body in bodies
        for section in body["interactive"]["action"]["sections"]
        for item in section["product_items"]
    ]
    assert shown == [(title, id_) for title, ids in sections for id_ in ids]
    assert all(kinds([body]) == ["product_list"] for body in bodies)
    assert "sku-0-0" in body_text(bodies[0]).splitlines()


# --- other kinds --------------------------------------------------------------------------


def test_image_with_long_caption() -> None:
    caption = "Foto del producto. " * 100  # 1900 chars
    bodies = valid(m.image(TO, "https://example.com/a.jpg", caption=caption))
    assert kinds(bodies) == ["image", "text"]
    shown = bodies[0]["image"]["caption"]
    assert len(shown) <= limits.CAPTION and shown.endswith("producto.")
    assert (shown + " " + bodies[1]["text"]["body"]).split() == caption.split()
    [plain] = valid(m.image(TO, "https://example.com/a.jpg"))
    assert body_text(plain) == "https://example.com/a.jpg"


def test_location_request() -> None:
    [body] = valid(m.location_request(TO, "¿Dónde te lo llevamos? 📍"))
    assert body_kind(body) == "location_request"
    assert body_text(body) == "¿Dónde te lo llevamos? 📍"
    assert kinds(valid(m.location_request(TO, "x " * 600))) == ["text", "location_request"]


def test_template() -> None:
    [body] = valid(m.template(TO, "pedido_listo", "es_MX", body_params=["Ana\tPérez", "#1 0 2"]))
    params = body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["Ana Pérez", "#1 0 2"]
    assert body_text(body).splitlines() == ["pedido_listo", "Ana Pérez", "#1 0 2"]
    [bare] = valid(m.template(TO, "hola", "es"))
    assert "components" not in bare["template"]
    with pytest.raises(ValueError):
        m.template(TO, "pedido_listo", "es", body_params=[""])


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", ""])
def test_reaction(emoji: str) -> None:
    [body] = valid(m.reaction(TO, "wamid.A", emoji))
    assert body_kind(body) == "reaction"
    assert body_text(body) == emoji


@pytest.mark.parametrize("typing", [False, True])
def test_mark_read(typing: bool) -> None:
    body = m.mark_read("wamid.A", typing=typing)
    assert_valid_outbound(body)
    assert ("typing_indicator" in body) is typing
    assert body_kind(body) == "read"
    assert body_text(body) == ""
    assert body_options(body) == []


# --- property-style -----------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnñopqrstuvwxyzáéíóúü ÁÉÍÓÚÑ.,!?¿¡-🍕🎉👍🏽👨‍👩‍👧❤️\n"


def _random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length)).strip() or "x"


@pytest.mark.parametrize("seed", range(40))
def test_random_buttons_and_lists(seed: int) -> None:
    rng = random.Random(seed)
    given = [
        Option(f"id-{i}", _random_text(rng, rng.randint(1, 40))) for i in range(rng.randint(1, 40))
    ]
    body = _random_text(rng, rng.randint(1, 3000))
    bodies = valid(m.buttons(TO, body, given, header=_random_text(rng, rng.randint(1, 90))))
    shown = all_options(bodies)
    assert [o.id for o in shown] == [o.id for o in given]
    assert len({o.title.casefold() for o in shown}) == len(shown)
    limit = limits.BUTTON_TITLE if kinds(bodies)[-1] == "button" else limits.ROW_TITLE
    for original, option in zip(given, shown, strict=True):
        title = limits.one_line(original.title)
        assert 0 < len(option.title) <= limit
        # Unchanged, shortened with an ellipsis, and/or numbered to stay unique.
        if option.title != title:
            assert "…" in option.title or re.search(r" \d+$", option.title), (title, option)


@pytest.mark.parametrize("seed", range(40))
def test_random_text_splits_losslessly(seed: int) -> None:
    rng = random.Random(1000 + seed)
    source = _random_text(rng, rng.randint(1, 12000))
    limit = rng.choice([20, 72, 1024, 4096])
    chunks = limits.split_text(source, limit)
    assert all(0 < len(chunk) <= limit and chunk == chunk.strip() for chunk in chunks)
    position = 0
    for chunk in chunks:  # exact slices, in order
        position = source.index(chunk, position) + len(chunk)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", source)
    valid(m.text(TO, source))
