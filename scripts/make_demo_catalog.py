"""Generate the Spanish demo catalogue (Meta Commerce CSV) deterministically.

    python scripts/make_demo_catalog.py                 # rewrites data/catalog_demo.csv
    python scripts/make_demo_catalog.py --count 100000 /tmp/big.csv

The same seed and count always give the same bytes, so the committed CSV can be rebuilt and
checked. bench/search.py imports `write_csv` to build its 100,000-product catalogue.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import TextIO

__all__ = ["COLUMNS", "DEFAULT_COUNT", "DEFAULT_SEED", "generate", "write_csv"]

DEFAULT_COUNT = 336
DEFAULT_SEED = 162  # chosen so the demo holds the examples the tests and docs use
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "catalog_demo.csv"
COLUMNS = (
    "id", "title", "description", "availability", "condition", "price", "sale_price", "link",
    "image_link", "brand", "product_type", "quantity_to_sell_on_facebook", "featured",
    "popularity_score",
)  # fmt: skip
CURRENCY = "USD"
SHOP = "https://tienda.example"

# Colour forms by gender and number: masculine/feminine singular, masculine/feminine plural.
COLORS = (
    ("negro", "negra", "negros", "negras"), ("blanco", "blanca", "blancos", "blancas"),
    ("azul", "azul", "azules", "azules"), ("rojo", "roja", "rojos", "rojas"),
    ("gris", "gris", "grises", "grises"), ("verde", "verde", "verdes", "verdes"),
    ("marrón", "marrón", "marrones", "marrones"), ("beige", "beige", "beige", "beige"),
    ("rosa", "rosa", "rosa", "rosa"),
)  # fmt: skip
FORMS = ("ms", "fs", "mp", "fp")
VARIANT_SETS = {
    "shoe": tuple(f"talla {n}" for n in range(35, 46)),
    "wear": ("talla S", "talla M", "talla L", "talla XL", "talla XXL"),
}
CLOSING = (
    "Envíos a todo el país en 24 a 72 horas.",
    "Cambios sin costo dentro de los 30 días.",
    "Producto original con garantía oficial.",
    "Pagá en efectivo al recibir o con transferencia.",
    "Consultanos por WhatsApp y te asesoramos.",
)

# "@ path | SKU prefix | brands", then one line per product noun:
# "<ms|fs|mp|fp> noun | min-max price | variants (a VARIANT_SETS name or a comma list) | color",
# then "- " description sentences shared by the nouns of that kind.
KINDS_TEXT = """
@ Calzado > Zapatillas | CAL | Andes, Pampa, Cóndor, Ñandú, Tierra Sur
fp Zapatillas urbanas | 35-95 | shoe | color
fp Zapatillas running | 45-120 | shoe | color
fp Zapatillas de lona | 25-55 | shoe | color
fp Zapatillas de básquet | 60-130 | shoe | color
- Suela de goma antideslizante y plantilla acolchada.
- Capellada de malla transpirable que mantiene el pie fresco.
- Cordones reforzados y horma cómoda para todo el día.
- Amortiguación liviana pensada para caminar o entrenar.
@ Calzado > Botas y zapatos | CAL | Andes, Pampa, Cóndor, Ñandú
fp Botas de cuero | 80-160 | shoe | color
fp Botas de lluvia | 25-50 | shoe | color
mp Zapatos de vestir | 60-130 | shoe | color
mp Mocasines | 50-110 | shoe | color
- Cuero vacuno curtido a mano, con costuras reforzadas.
- Forro térmico para los días de invierno.
- Suela de caucho resistente al agua y a la abrasión.
@ Calzado > Sandalias | CAL | Andes, Ñandú, Playa Brava
fp Sandalias de playa | 12-35 | shoe | color
fp Ojotas de goma | 6-18 | shoe | color
fp Sandalias con plataforma | 25-55 | shoe | color
- Tiras regulables con hebilla metálica.
- Plantilla anatómica que no se deforma.
- Livianas y de secado rápido, ideales para el verano.
@ Ropa > Remeras | ROP | Algodonera, Colibrí, Urbana, Pehuén
fs Remera básica de algodón | 9-18 | wear | color
fs Remera estampada | 12-25 | wear | color
fs Remera manga larga | 14-28 | wear | color
fs Camiseta deportiva | 15-35 | wear | color
- Algodón peinado 24/1, suave y fresco.
- Cuello reforzado que no se estira con los lavados.
- Estampa con tintas al agua que no se cuartea.
@ Ropa > Camisas | ROP | Algodonera, Colibrí, Maíz Azul
fs Camisa de lino | 30-60 | wear | color
fs Camisa a cuadros | 25-45 | wear | color
fs Camisa de jean | 28-50 | wear | color
- Corte entallado y botones de nácar.
- Tela liviana, perfecta para los días de calor.
- Fácil de planchar y de secado rápido.
@ Ropa > Pantalones | ROP | Algodonera, Urbana, Maíz Azul
ms Pantalón jean | 30-65 | wear | color
ms Pantalón cargo | 28-55 | wear | color
ms Pantalón de gabardina | 25-50 | wear | color
ms Jogging de algodón | 18-35 | wear | color
- Tiro medio y calce cómodo.
- Bolsillos profundos con costuras dobles.
- Tela elastizada que acompaña el movimiento.
@ Ropa > Buzos y camperas | ROP | Pehuén, Urbana, Colibrí
ms Buzo con capucha | 28-60 | wear | color
ms Buzo de frisa | 25-50 | wear | color
ms Sweater de lana | 35-70 | wear | color
fs Campera impermeable | 55-120 | wear | color
fs Campera inflable | 70-140 | wear | color
- Frisa invisible por dentro: abriga sin pesar.
- Puños y cintura con elástico.
- Protege del viento y la llovizna.
@ Accesorios > Mochilas y bolsos | ACC | Viajera, Cóndor, Tucán
fs Mochila urbana | 25-70 | 20 litros, 30 litros | color
fs Mochila escolar | 18-45 | 20 litros, 30 litros | color
fs Riñonera deportiva | 10-25 | | color
ms Bolso de viaje | 35-90 | | color
- Compartimento acolchado para notebook de 15 pulgadas.
- Tela impermeable y cierres reforzados.
- Espalda acolchada con malla respirable.
@ Accesorios > Gorras y sombreros | ACC | Viajera, Colibrí, Urbana
fs Gorra trucker | 8-20 | | color
ms Gorro de lana | 9-22 | | color
ms Sombrero de paja | 12-30 | |
- Ajuste regulable en la parte trasera.
- Tejido suave que no pica.
- Protege del sol en los días de playa.
@ Accesorios > Relojes y marroquinería | ACC | Tiempo Sur, Cóndor, Pehuén
ms Reloj analógico | 35-150 | | color
ms Reloj digital sumergible | 25-90 | | color
fs Billetera de cuero | 15-45 | | color
ms Cinturón de cuero | 12-35 | | color
mp Lentes de sol polarizados | 20-80 | | color
- Terminación prolija y materiales de primera calidad.
- Resistente al agua hasta 50 metros.
- Incluye estuche y garantía de un año.
@ Hogar > Cocina | HOG | Casa Criolla, Barro y Fuego, Mesa Linda
fs Sartén antiadherente | 15-45 | 20 cm, 24 cm, 28 cm |
fs Olla de acero inoxidable | 25-75 | 3 litros, 5 litros |
fs Taza de cerámica artesanal | 6-14 | | color
ms Termo de acero | 18-45 | 1 litro, 1,2 litros | color
ms Juego de cuchillos | 20-60 | x 6, x 8 |
- Apto para todo tipo de cocinas, incluso inducción.
- Hecho a mano por artesanos locales.
- Fácil de limpiar, apto lavavajillas.
@ Hogar > Dormitorio y baño | HOG | Casa Criolla, Descanso, Mesa Linda
ms Juego de sábanas de algodón | 25-85 | 1 plaza, 2 plazas, queen | color
ms Toallón de algodón | 12-30 | | color
fs Almohada viscoelástica | 20-55 | |
fs Manta polar | 15-40 | 1 plaza, 2 plazas | color
- Algodón de 180 hilos, suave al tacto.
- No pierde la forma con los lavados.
- Abrigo liviano para las noches frías.
@ Hogar > Decoración | HOG | Barro y Fuego, Casa Criolla
fs Lámpara de mesa nórdica | 30-95 | | color
fs Maceta de barro | 9-30 | pequeña, mediana, grande |
ms Espejo redondo | 35-90 | 40 cm, 60 cm |
fs Vela aromática | 6-18 | vainilla, lavanda, coco |
- Diseño minimalista que combina con cualquier ambiente.
- Terminación artesanal: cada pieza es única.
- Ideal para regalar.
@ Electrónica > Audio | ELE | Sonido Sur, Volta, Quetzal
mp Auriculares inalámbricos Bluetooth | 20-150 | | color
mp Auriculares con cable | 8-30 | | color
ms Parlante portátil Bluetooth | 25-120 | | color
- Batería de hasta 20 horas de reproducción.
- Micrófono incorporado para llamadas manos libres.
- Sonido potente con graves profundos.
@ Electrónica > Celulares | ELE | Volta, Quetzal
fs Funda para celular | 5-15 | Galaxy A54, iPhone 13, Moto G84 | color
ms Cargador rápido USB-C 20 W | 12-30 | |
ms Cable USB-C | 5-12 | 1 metro, 2 metros |
ms Power bank 10000 mAh | 20-45 | | color
ms Protector de pantalla de vidrio templado | 5-12 | Galaxy A54, iPhone 13, Moto G84 |
- Compatible con la mayoría de los celulares actuales.
- Protección contra sobrecalentamiento.
- Incluye garantía de 6 meses.
@ Electrónica > Computación | ELE | Volta, Byte Andino
ms Mouse inalámbrico | 10-40 | | color
ms Teclado mecánico | 40-120 | | color
fs Webcam Full HD | 25-70 | |
ms Pendrive | 8-30 | 32 GB, 64 GB, 128 GB |
- Conexión USB plug and play, sin instalar nada.
- Ideal para teletrabajo y clases en línea.
- Diseño ergonómico para largas jornadas.
@ Belleza > Cuidado facial | BEL | Flor de Ceibo, Aloe Vivo, Pura Piel
fs Crema hidratante facial con ácido hialurónico | 12-35 | 50 ml |
ms Sérum de vitamina C | 15-40 | 30 ml |
ms Protector solar FPS 50 | 10-25 | 120 ml, 200 ml |
fs Agua micelar | 7-15 | 250 ml, 400 ml |
- Apto para todo tipo de piel, incluso sensible.
- Dermatológicamente testeado, libre de crueldad animal.
- Absorción rápida, sin sensación grasa.
@ Belleza > Perfumes y maquillaje | BEL | Flor de Ceibo, Pura Piel
ms Perfume floral | 25-90 | 50 ml, 100 ml |
fs Colonia cítrica | 12-35 | 100 ml, 200 ml |
ms Labial mate | 6-18 | rojo pasión, nude, coral |
fs Máscara de pestañas | 8-20 | |
- Notas de jazmín, naranja y vainilla.
- Larga duración, no se corre.
@ Belleza > Cabello | BEL | Aloe Vivo, Pura Piel
ms Shampoo de argán | 6-15 | 400 ml, 1 litro |
ms Acondicionador de coco | 6-15 | 400 ml, 1 litro |
fs Plancha de pelo | 30-70 | | color
ms Secador de pelo 2000 W | 35-80 | | color
- Nutre y da brillo sin apelmazar.
- Sin sulfatos ni parabenos.
- Control de temperatura para cuidar el cabello.
@ Deportes > Fútbol | DEP | Gol de Oro, Jaguar
fs Pelota de fútbol | 15-55 | número 4, número 5 | color
mp Guantes de arquero | 15-45 | talla 8, talla 9, talla 10 | color
fp Canilleras | 8-20 | talla S, talla M, talla L | color
- Costura termosellada, ideal para césped sintético.
- Agarre firme incluso con lluvia.
@ Deportes > Fitness | DEP | Jaguar, Puma Andina
fp Mancuernas | 15-60 | par de 2 kg, par de 5 kg |
fs Colchoneta de yoga | 12-35 | | color
fs Banda elástica de resistencia | 7-18 | | color
fs Soga para saltar | 5-12 | | color
- Ideal para entrenar en casa.
- Material antideslizante y fácil de limpiar.
@ Deportes > Camping y ciclismo | DEP | Jaguar, Montaña Azul
fs Carpa | 60-180 | para 2 personas, para 4 personas | color
fs Bolsa de dormir | 30-80 | | color
fs Botella térmica | 12-30 | 500 ml, 750 ml | color
ms Casco de ciclismo | 25-70 | talla M, talla L | color
- Resistente al agua y fácil de armar.
- Mantiene la bebida fría 24 horas o caliente 12.
- Liviano para llevar en la mochila.
@ Juguetes > Didácticos | JUG | Ronda, Pequeño Mundo
ms Rompecabezas | 9-30 | 500 piezas, 1000 piezas |
mp Bloques de construcción | 15-45 | 100 piezas, 250 piezas |
ms Juego de encastre de madera | 10-25 | |
- Estimula la creatividad y la motricidad fina.
- Piezas grandes, aptas para mayores de 3 años.
- Madera de pino con pinturas no tóxicas.
@ Juguetes > Peluches y muñecas | JUG | Ronda, Pequeño Mundo
ms Peluche oso | 10-35 | 30 cm, 40 cm |
fs Peluche llama | 10-30 | 30 cm, 40 cm |
ms Peluche yaguareté | 12-35 | 30 cm, 40 cm |
fs Muñeca de trapo | 8-25 | |
- Relleno hipoalergénico y costuras reforzadas.
- Suave y lavable a mano.
@ Juguetes > Juegos de mesa | JUG | Ronda, Tablero Feliz
ms Juego de mesa Lotería | 8-20 | |
ms Ajedrez de madera | 15-60 | |
mp Naipes españoles | 3-8 | |
ms Auto a control remoto | 20-60 | | color
- Para jugar en familia, de 2 a 6 jugadores.
- Incluye instrucciones en español.
@ Almacén > Café | ALM | Cafetal, Grano de Oro
ms Café de Colombia molido | 6-18 | 250 g, 500 g |
ms Café en grano tostado | 9-28 | 500 g, 1 kg |
ms Café de Veracruz de especialidad | 10-25 | 250 g, 500 g |
- Tostado medio con notas de chocolate y caramelo.
- Cosechado a mano en fincas de altura.
- Ideal para cafetera italiana o de filtro.
@ Almacén > Infusiones | ALM | Tierra Colorada, Cafetal
fs Yerba mate con palo | 3-9 | 500 g, 1 kg |
ms Té verde en hebras | 4-10 | 100 g |
ms Té de manzanilla | 2-5 | x 25 saquitos |
- Estacionamiento natural de 12 meses.
- Hebras seleccionadas de sabor suave.
@ Almacén > Dulces | ALM | La Abuela, Dulce Campo
ms Dulce de leche repostero | 3-9 | 400 g, 1 kg |
mp Alfajores de chocolate | 4-12 | x 6, x 12 |
fs Mermelada de frutilla | 3-7 | 450 g |
fs Miel pura de abeja | 5-14 | 500 g, 1 kg |
- Receta casera, sin conservantes.
- Elaborado con leche de campo.
- Frutas de estación cosechadas en el valle.
@ Almacén > Despensa | ALM | Dulce Campo, Tierra Colorada
ms Aceite de oliva extra virgen | 8-22 | 500 ml, 1 litro |
ms Arroz integral | 2-5 | 1 kg |
fp Lentejas | 2-4 | 500 g |
fs Salsa picante de chile habanero | 3-8 | 150 ml |
- Producto de origen nacional.
- Sin TACC, apto celíacos.
- Ideal para guisos y ensaladas.
"""


@dataclass(frozen=True, slots=True)
class Noun:
    text: str
    form: int  # index into a COLORS entry
    price: tuple[int, int]
    variants: tuple[str, ...]
    colored: bool


@dataclass(frozen=True, slots=True)
class Kind:
    path: str  # Meta's product_type: "Category > Subcategory"
    code: str
    brands: tuple[str, ...]
    nouns: tuple[Noun, ...]
    details: tuple[str, ...]


def _noun(line: str) -> Noun:
    form, _, rest = line.partition(" ")
    text, price, variants, color = (part.strip() for part in rest.split("|"))
    lo, hi = price.split("-")
    choices = VARIANT_SETS.get(variants) or tuple(v.strip() for v in variants.split(",") if v)
    return Noun(text, FORMS.index(form), (int(lo), int(hi)), choices, color == "color")


def _kinds(text: str) -> tuple[Kind, ...]:
    kinds: list[Kind] = []
    for block in text.split("\n@ ")[1:]:
        header, *lines = block.strip().splitlines()
        path, code, brands = (part.strip() for part in header.split("|"))
        nouns = tuple(_noun(line) for line in lines if not line.startswith("- "))
        details = tuple(line[2:] for line in lines if line.startswith("- "))
        kinds.append(Kind(path, code, tuple(b.strip() for b in brands.split(",")), nouns, details))
    return tuple(kinds)


KINDS = _kinds(KINDS_TEXT)


def _money(value: Decimal) -> str:
    return f"{value:.2f} {CURRENCY}"


def generate(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    """Yield `count` catalogue rows with Meta's column names."""
    rng = random.Random(seed)
    categories = sorted({k.path.split(" > ")[0] for k in KINDS})
    by_category = {c: [k for k in KINDS if k.path.startswith(c + " >")] for c in categories}
    for i in range(count):
        # Round-robin over categories keeps every category about the same size at any scale.
        kind = rng.choice(by_category[categories[i % len(categories)]])
        noun = rng.choice(kind.nouns)
        brand = rng.choice(kind.brands)
        color = rng.choice(COLORS) if noun.colored else None
        variant = rng.choice(noun.variants) if noun.variants else ""
        title = " ".join(
            w for w in (noun.text, brand, color[noun.form] if color else "", variant) if w
        )
        details = rng.sample(kind.details, k=2)
        description = " ".join(
            [*details, f"Color {color[0]}." if color else "", rng.choice(CLOSING)]
        )
        price = Decimal(rng.randint(*noun.price)) + Decimal("0.99")
        roll = rng.random()
        availability = "in stock" if roll < 0.85 else "out of stock" if roll < 0.97 else "preorder"
        stock = rng.randint(1, 60) if availability == "in stock" else 0
        # Rounding down keeps the sale price strictly under the list price.
        factor = Decimal(rng.choice(("0.70", "0.80", "0.85", "0.90")))
        sale = (price * factor).quantize(Decimal("1"), ROUND_DOWN) - Decimal("0.01")
        on_sale = rng.random() < 0.15
        sku = f"{kind.code}-{i + 1:06d}"
        yield {
            "id": sku,
            "title": title,
            "description": " ".join(description.split()),
            "availability": availability,
            "condition": "refurbished" if kind.code == "ELE" and rng.random() < 0.05 else "new",
            "price": _money(price),
            "sale_price": _money(sale) if on_sale else "",
            "link": f"{SHOP}/p/{sku.lower()}",
            "image_link": f"{SHOP}/img/{sku.lower()}.jpg",
            "brand": brand,
            "product_type": kind.path,
            "quantity_to_sell_on_facebook": str(stock),
            "featured": "true" if rng.random() < 0.08 else "false",
            "popularity_score": f"{(rng.random() ** 2) * 100:.1f}",
        }


def write_csv(out: TextIO, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> int:
    """Write the catalogue to an open text stream; return the number of rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = 0
    for row in generate(count, seed):
        writer.writerow(row)
        rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    with args.out.open("w", encoding="utf-8", newline="") as out:
        rows = write_csv(out, args.count, args.seed)
    print(f"{rows} products written to {args.out}")


if __name__ == "__main__":
    main()
