"""Keyword tables for the offline intent classifier, Spanish (all regions) and English, folded."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from bot.intent.model import Intent

__all__ = [
    "ABBREVIATIONS",
    "COMMON",
    "CUES",
    "POLITE",
    "RULES",
    "STOP",
    "WEIGHTS",
    "Concept",
    "tokenize",
    "words",
]

_TOKEN = re.compile(r"[a-z0-9]+")


def words(text: str) -> frozenset[str]:
    """A word set written as one space-separated string (keeps long tables compact)."""
    return frozenset(text.split())


def tokenize(folded: str) -> list[str]:
    """Words of already folded text; apostrophes join ("what's" -> "whats", "don't" -> "dont")."""
    return _TOKEN.findall(folded.replace("'", "").replace("\u2019", ""))


class Concept(StrEnum):
    """What a phrase means; WEIGHTS turns meanings into intent evidence."""

    GREET = "greet"
    BYE = "bye"
    THANKS = "thanks"
    DONE = "done"
    YES = "yes"
    YES_WEAK = "yes_weak"
    NO = "no"
    NO_WEAK = "no_weak"
    NEG_WANT = "neg_want"
    HELP = "help"
    HUMAN = "human"
    TALK = "talk"
    SOMEONE = "someone"
    BOT = "bot"
    ORDER = "order"
    MY_ORDER = "my_order"
    WHERE = "where"
    STATUS = "status"
    PAST_BUY = "past_buy"
    CHECKOUT = "checkout"
    CLOSE = "close"
    PAY = "pay"
    PAY_METHOD = "pay_method"
    SHIP = "ship"
    STORE = "store"
    BROWSE = "browse"
    BROWSE_WEAK = "browse_weak"
    SEARCH = "search"
    PRICE = "price"
    SHOW = "show"
    WANT = "want"
    PURCHASE = "purchase"
    ADD = "add"
    REMOVE = "remove"
    CART = "cart"
    CART_VIEW = "cart_view"
    DEMO = "demo"
    PRODUCT = "product"
    ATTRIBUTE = "attribute"
    SIZE = "size"
    CHATTER = "chatter"
    # Not words: set by the classifier from the whole message.
    COUNT = "count"  # an explicit quantity ("2", "dos", "x3")
    REFERENCE = "reference"  # a long number, most likely an order number
    CONTENT = "content"  # words no table knows, probably product names


# Evidence each concept gives, counted once per message. Words shared by several intents
# ("carrito" in add/view/remove) give a little to each; verbs decide.
WEIGHTS: dict[Concept, dict[Intent, float]] = {
    Concept.GREET: {Intent.GREETING: 1.0},
    Concept.BYE: {Intent.GOODBYE: 1.2},
    Concept.THANKS: {Intent.GOODBYE: 0.9},
    Concept.DONE: {Intent.GOODBYE: 0.8, Intent.CHECKOUT: 0.4},
    Concept.YES: {Intent.AFFIRM: 1.0},
    Concept.YES_WEAK: {Intent.AFFIRM: 0.6},
    Concept.NO: {Intent.DENY: 1.0},
    Concept.NO_WEAK: {Intent.DENY: 0.7},
    Concept.NEG_WANT: {Intent.DENY: 1.2},
    Concept.HELP: {Intent.HELP: 1.6},
    Concept.HUMAN: {Intent.HUMAN_AGENT: 1.5},
    Concept.TALK: {Intent.HUMAN_AGENT: 0.9},
    Concept.SOMEONE: {Intent.HUMAN_AGENT: 0.6},
    Concept.BOT: {Intent.HUMAN_AGENT: 0.5, Intent.HELP: 0.3},
    Concept.ORDER: {Intent.ORDER_STATUS: 0.8, Intent.CHECKOUT: 0.3},
    Concept.MY_ORDER: {Intent.ORDER_STATUS: 1.2, Intent.CHECKOUT: 0.2},
    Concept.WHERE: {Intent.ORDER_STATUS: 0.8, Intent.STORE_INFO: 0.4},
    Concept.STATUS: {Intent.ORDER_STATUS: 1.2},
    Concept.PAST_BUY: {Intent.ORDER_STATUS: 1.0},
    Concept.CHECKOUT: {Intent.CHECKOUT: 2.0},
    Concept.CLOSE: {Intent.CHECKOUT: 1.5},
    Concept.PAY: {Intent.CHECKOUT: 1.5},
    Concept.PAY_METHOD: {Intent.STORE_INFO: 1.5},
    Concept.SHIP: {Intent.STORE_INFO: 1.5},
    Concept.STORE: {Intent.STORE_INFO: 1.5},
    Concept.BROWSE: {Intent.BROWSE_CATEGORIES: 1.5},
    Concept.BROWSE_WEAK: {Intent.BROWSE_CATEGORIES: 0.6},
    Concept.SEARCH: {Intent.SEARCH_PRODUCT: 0.6},
    Concept.PRICE: {Intent.SEARCH_PRODUCT: 0.6, Intent.STORE_INFO: 0.3},
    Concept.SHOW: {
        Intent.SEARCH_PRODUCT: 0.4,
        Intent.VIEW_CART: 0.4,
        Intent.BROWSE_CATEGORIES: 0.4,
    },
    Concept.WANT: {Intent.SEARCH_PRODUCT: 0.3},
    Concept.PURCHASE: {Intent.CHECKOUT: 0.5, Intent.SEARCH_PRODUCT: 0.3},
    Concept.ADD: {Intent.ADD_TO_CART: 2.5},
    Concept.REMOVE: {Intent.REMOVE_FROM_CART: 2.5},
    Concept.CART: {Intent.VIEW_CART: 1.2, Intent.ADD_TO_CART: 0.5, Intent.REMOVE_FROM_CART: 0.5},
    Concept.CART_VIEW: {Intent.VIEW_CART: 1.5},
    Concept.DEMO: {},
    Concept.PRODUCT: {Intent.SEARCH_PRODUCT: 1.2},
    Concept.ATTRIBUTE: {Intent.SEARCH_PRODUCT: 0.5},
    Concept.SIZE: {Intent.SEARCH_PRODUCT: 0.5},
    Concept.CHATTER: {Intent.UNKNOWN: 0.8},
    Concept.COUNT: {},
    Concept.REFERENCE: {},
    Concept.CONTENT: {},
}

# A concept from the first set together with one from the second adds evidence for an intent.
RULES: tuple[tuple[frozenset[Concept], frozenset[Concept], Intent, float], ...] = (
    # "quiero 2 de esas", "I want two of those": wanting a counted or pointed-at item adds it.
    (
        frozenset({Concept.WANT, Concept.PURCHASE}),
        frozenset({Concept.DEMO, Concept.COUNT}),
        Intent.ADD_TO_CART,
        2.0,
    ),
    # "no quiero las botas": refusing an item takes it out.
    (
        frozenset({Concept.NEG_WANT}),
        frozenset({Concept.PRODUCT, Concept.DEMO}),
        Intent.REMOVE_FROM_CART,
        1.5,
    ),
    # "quiero comprar lo del carrito": buying the cart is paying.
    (frozenset({Concept.PURCHASE}), frozenset({Concept.CART}), Intent.CHECKOUT, 1.5),
    # "pedido 4521": an order number asks where it is.
    (
        frozenset({Concept.ORDER, Concept.MY_ORDER}),
        frozenset({Concept.REFERENCE}),
        Intent.ORDER_STATUS,
        1.0,
    ),
    # "tenés termos?": a search verb before words we do not know is still a search.
    (frozenset({Concept.SEARCH}), frozenset({Concept.CONTENT}), Intent.SEARCH_PRODUCT, 0.6),
)

_CLITICS = ("", "me", "lo", "la", "los", "las", "le", "les", "melo", "mela", "melos", "melas")


def _clitics(stems: list[str]) -> tuple[str, ...]:
    """Imperatives/infinitives with enclitic pronouns: 'agrega' -> agrega, agregame, agregalas..."""
    return tuple(s + c for s in stems for c in _CLITICS)


def _plurals(nouns: list[str]) -> tuple[str, ...]:
    """Singular nouns plus their plurals (both -s and -es after a consonant, for es and en)."""
    out: list[str] = []
    for w in nouns:
        out += [w, w + "s"] if w[-1] in "aeiou" else [w, w + "es", w + "s"]
    return tuple(out)


def _genders(adjectives: list[str]) -> tuple[str, ...]:
    """Adjectives in every gender and number: 'negro' -> negro, negra, negros, negras."""
    out: list[str] = []
    for w in adjectives:
        out += [w, w[:-1] + "a", w + "s", w[:-1] + "as"] if w.endswith("o") else [w]
        out += [w + "es"] if w[-1] not in "aeiou" else [w + "s"]
    return tuple(dict.fromkeys(out))


_FORMS: dict[str, Callable[[list[str]], tuple[str, ...]]] = {
    "clitics": _clitics,
    "plurals": _plurals,
    "genders": _genders,
}

# One entry per line: "concept language[ form]: phrases". Language "*" is shared. Phrases are
# comma-separated and already folded; with a form (clitics, plurals, genders) the entry is
# space-separated words that the form expands. Indented lines continue the entry above.
_TABLE = """
greet es: hola, holi, holis, ola, buenas, buenass, buenos dias, buen dia, buenas tardes,
    buenas noches, que tal, saludos, wenas, quiubo, que onda, alo, como estan, como va,
    como andan, como andas, que mas, epa
greet en: hi, hello, hey, hiya, howdy, good morning, good afternoon, good evening,
    hows it going, whats up, hey there, yo
bye es: chau, chao, chaito, adios, nos vemos, hasta luego, hasta manana, hasta pronto, cuidate,
    nos hablamos, me voy, hasta la proxima
bye en: bye, goodbye, see you, see ya, cya, have a good one, have a nice day, later, take care,
    bye bye
thanks es: gracias, muchas gracias, mil gracias, gracias por todo, grax
thanks en: thanks, thank you, thx, ty, thank u
done es: eso es todo, nada mas, es todo
done en: thats all, thats it, nothing else
yes es: si, sip, sii, dale, de una, claro, perfecto, obvio, okey, esta bien, correcto, simon,
    de acuerdo, vale, por supuesto, exacto, genial, joya, buenisimo, me parece bien, asi es,
    ta bien, orale, andale, arre, chevere, bacan, barbaro, excelente, de ley
yes *: ok, okay, oka, oki
yes en: yes, yeah, yep, yup, sure, sounds good, absolutely, thats right, of course, alright,
    great, perfect, yea, correct
yes_weak es: sale, va, listo, bueno, ya, ese mismo, ta
yes_weak en: right, fine, cool
no es: nop, nel, para nada, mejor no, ninguno, ninguna, tampoco, ni ahi, negativo, ahora no,
    no por ahora, no es eso, no gracias, bien asi, esta bien asi, naa, cancelar, cancela,
    cancelalo
no *: no, nah
no en: nope, not really, no thanks, not now, im good, no way, not that, cancel
no_weak es: nada
neg_want es: no quiero, no lo quiero, no la quiero, no me interesa
neg_want en: dont want, do not want
help es: ayuda, ayudame, ayudas, ayudar, no entiendo, como funciona, menu, opciones,
    instrucciones, comandos, que puedo hacer, como uso, como se usa, no se como, estoy perdido,
    estoy perdida, que hago, como es esto, como compro, no entendi, me ayudan
help en: help, options, what can i do, how does this work, how does it work, how do i,
    i dont understand, instructions, commands, im lost
human es: persona, humano, humana, asesor, asesora, agente, operador, operadora, vendedor,
    vendedora, encargado, encargada, ejecutivo, ejecutiva, atencion al cliente, alguien real,
    alguien de verdad, representante, persona real, atencion personalizada, atencion humana
human en: human, agent, operator, representative, customer service, real person, someone real,
    person, support team
talk es: hablar con, hablar, comunicarme, comunicas, comunicame, pasame con, pasame, atienda,
    atender, atiende, llamar, llamen, contactar
talk en: talk to, talk, speak, speak to, connect me, chat with, call me
someone es: alguien
someone en: someone, somebody, anyone
bot *: bot, robot
order es: pedido, orden, paquete, compra
order en: order, package, parcel, shipment
my_order es: mi pedido, mi orden, mi compra, mi paquete, mi envio, el pedido, mis pedidos
my_order en: my order, my package, my parcel, my purchase, my shipment
where es: donde esta, donde viene, donde anda
where en: where is, wheres
status es: cuando llega, cuando me llega, cuando llegara, llega, llego, no llega, no me llego,
    estado, seguimiento, rastrear, rastreo, enviaron, despacharon, salio, que paso con,
    en que va, numero de seguimiento, ya salio, todavia no llega, novedades de,
    novedades sobre, noticias de, entregan, entregaron, me entregan, entregado
status en: status, tracking, track, shipped, arrive, received, delivered, havent received,
    tracking number, when will, update on, any update, news on
past_buy es: compre, hice un pedido, lo que compre, pague
past_buy en: i ordered, i bought, i paid
checkout es: quiero pagar, pasar a pagar, ir a pagar, ir a la caja, finalizar compra,
    terminar la compra, terminar compra, hacer el pedido, realizar el pedido, confirmar pedido,
    confirmar compra, confirmar la compra, cerrar el pedido, cerrar la compra
checkout en: checkout, check out, ready to pay, proceed to checkout, place order,
    place my order, complete purchase, complete my order, finish my order
close es: finalizar, finalizo, terminar, confirmar, confirmo, cerrar, completar, procedamos,
    proceder, como sigo
close en: finish, complete, place, proceed, confirm
pay es: pagar, pago, pagarlo, cobrame, cobrar, cobra, caja, abonar, abono
pay en: pay, payment, pay now
pay_method es: medios de pago, formas de pago, metodos de pago, tarjeta, tarjetas, cuotas,
    efectivo, transferencia, mercado pago, mercadopago, debito, credito, aceptan, yape, nequi,
    puedo pagar, se puede pagar, paypal
pay_method en: credit card, credit cards, card, cards, cash, accept, payment methods,
    bank transfer
ship es: envio, envios, envian, hacen envios, delivery, costo de envio, envio gratis, tarda,
    domicilio, a domicilio, retiro, retirar, entregas, tiempo de entrega
ship en: shipping, ship, delivery, deliver, shipping cost
store es: horario, horarios, hora, abren, abierto, abiertos, cierran, direccion, ubicados,
    ubicacion, local, tienda, sucursal, donde quedan, donde queda, donde estan, cambios,
    devolucion, devoluciones, garantia, telefono
store en: hours, opening hours, open, located, location, address, store, shop, return policy,
    returns, refund, exchange, warranty
browse es: catalogo, categorias, categoria, productos, que venden, venden, vender, ofrecen,
    novedades, lista de productos, lista de precios, todo lo que tienen, que tienen, que cosas,
    secciones, articulos, que articulos, marcas, que marcas
browse en: catalog, catalogue, categories, category, products, what do you sell, sell, browse,
    stuff, what kind of, what do you have, collection, whats available, brands
browse_weak es: que hay
search es: busco, buscando, buscar, tenes, tienes, tienen, tendran, tendras, tiene, hay,
    necesito, quisiera ver, quiero ver, me interesa, me interesan, estoy buscando, manejan,
    trabajan
search en: looking for, do you have, got any, any, i need, need, search, find, have you got
price es: precio, precios, cuanto sale, cuanto salen, cuanto cuesta, cuanto cuestan, cuanto vale,
    cuanto valen, cuanto es, a cuanto, valor
price en: price, how much, cost, how much is, how much are
show es: ver, mostrame, muestrame, muestra, mostra, mostrar, ensename, revisar, mira
show en: show, show me, view, see, check, let me see
want es: quiero, quisiera, queria, quero, kiero, quiera, me gustaria
want en: want, wanna, id like, i would like, would like
purchase es: comprar, compro, comprarlo, comprarla, comprarlas, comprarlos
purchase en: buy, purchase
add es clitics: agrega agregue agreguen agregar anade anadi anada anadan anadir suma sume sumen
    sumar pone ponga pongan poner pon mete meta metan meter echa eche echen carga cargue
    carguen inclui incluye incluya incluir
add es: me llevo, me lo llevo, me la llevo, me los llevo, me las llevo, lo quiero, la quiero,
    los quiero, las quiero, dame, deme, denme, damelo, damela, damelos, damelas, llevo, llevar,
    llevarme, llevarlo, llevarla, me quedo con, me lo quedo, me la quedo, me los quedo,
    me las quedo, me das, me da, me dan, me podes dar, me puedes dar
add en: add, put, include, throw in, ill take, i will take, give me, gimme, add it
remove es clitics: saca saque saquen sacar quita quiten quitar borra borre borren borrar elimina
    elimine eliminen eliminar remueve remueva remover remove descarta descarte descartar vacia
    vacie vaciar
remove es: ya no quiero, no quiero mas, ya no lo quiero, ya no la quiero
remove en: remove, delete, take out, take off, drop, clear, empty, get rid of, anymore
cart es: carrito, carro, canasta, canastita, carrito de compras, bolsa de compras, changuito,
    cesta
cart en: cart, basket, shopping cart, shopping bag
cart_view es: que tengo, lo que tengo, que llevo, lo que llevo, cuanto llevo, gastado, total,
    hasta ahora, que agregue, mi compra actual, resumen, agregado, agregados, agregadas,
    agregada, anadido, anadidos, tengo agregado
cart_view en: what did i add, so far, my total, total, whats in my, added
demo es: esa, esas, ese, esos, este, estos, estas, esto, aquella, aquellas, aquel, aquellos,
    la misma, el mismo
demo en: those, that, this, these, them, that one, this one, it
product es plurals: zapatilla tenis champion zapato bota botin sandalia chancla ojota pantufla
    mocasin remera playera camiseta polera polo camisa blusa top musculosa buzo sudadera chompa
    sueter campera chaqueta chamarra casaca abrigo parka chaleco pantalon jean jogger calza
    legging short bermuda falda pollera vestido enterito media calcetin calceta soquete boxer
    calzon bombacha corpino brasier pijama gorra gorro sombrero bufanda guante cinturon mochila
    bolso cartera billetera lente gafa anteojo reloj collar aro arete pulsera anillo malla
    bikini traje uniforme celular funda cargador auricular perfume crema
product en plurals: shoe sneaker trainer boot sandal slipper loafer shirt tshirt tee blouse
    hoodie sweatshirt sweater jumper jacket coat vest pant trouser jogger legging skirt dress
    sock underwear pajama cap hat beanie scarf glove belt backpack wallet purse sunglasses
    glasses necklace earring bracelet ring swimsuit bikini charger headphone earbud bag
product en: flip flops, jeans, shorts, phone case, phone cases
product *: nike, adidas, puma, reebok, fila, converse, vans, topper, asics, new balance,
    under armour, levis, jordan, skechers, crocs, iphone, samsung, xiaomi
attribute es genders: negro blanco rojo azul verde gris rosa amarillo marron beige celeste
    violeta morado naranja dorado plateado bordo fucsia
attribute es: cuero, algodon, lana, seda, jean, cargo, oversize, regalo, regalos, hombre, mujer,
    nino, nina, ninos, ninas, bebe, unisex, deportivo, deportivas, impermeable
attribute en: black, white, red, blue, green, grey, gray, pink, yellow, brown, purple, orange,
    leather, cotton, wool, men, women, mens, womens, kids, running
size *: talla, talle, size, numero, xs, xl, xxl, s, m, l
chatter *: jaja, xd, lol, lmao, hmm, mmm, bla, jsjs, haha, ah, eh, uh
"""


def _parse(table: str) -> tuple[tuple[Concept, str, tuple[str, ...]], ...]:
    entries: list[tuple[Concept, str, tuple[str, ...]]] = []
    for block in re.split(r"\n(?=\S)", table.strip()):
        head, _, body = block.partition(":")
        concept, language, *form = head.split()
        if form:
            phrases = _FORMS[form[0]](body.split())
        else:
            phrases = tuple(" ".join(p.split()) for p in body.split(",") if p.strip())
        entries.append((Concept(concept), language, phrases))
    return tuple(entries)


# (concept, language or "*" when shared, folded phrases)
CUES = _parse(_TABLE)

POLITE = words(
    "por favor porfa porfis porfi plis xfa please pls plz pliss amigo amiga amigos senor "
    "senora senorita joven parce che wey guey mija mijo bro"
)

# Function words: never fuzzy-matched, never part of a query, count as explained text.
STOP = {
    "es": words(
        "a al ante con de del desde el en entre hacia hasta la las le les lo los me mi mis nos "
        "o para pero por que q se sin su sus te tu tus un una unas uno unos y ya yo vos usted "
        "ustedes ellos algo mas muy tambien otra otro otros otras ahi aca aqui alla como cual "
        "cuales donde cuando cuanto cuanta cuantos cuantas quien esta estan es son soy estoy "
        "fue era sea ser tengo tenemos puedo puede pueden podes podrias hacer hago hace hacen "
        "tal todo toda todos todas cosa cosas favor porque pq xq k acerca disponible "
        "disponibles stock voy vas va e u ni le mio mia"
    ),
    "en": words(
        "a an the to of in on for with my me i you your is are am be do does did it its this "
        "that some more and or but from at by can could would will im ive id ill us we our "
        "they there here what which who how when where so too just also one please get got "
        "have has had available"
    ),
}

# Frequent words near some keyword in spelling: known, so never bent into a keyword by the
# typo matcher ("cosas" is not "casas", "weather" is not "leather").
COMMON = words(
    "partido ayer hoy manana calor frio perro gato hermana hermano mama papa casa trabajo "
    "semana anoche gano llueve aburrido presidente dijo cualquier verano comiste comer idea "
    "cumple anos nombre llama llamo bien mal mucho poco siempre nunca entonces saber sabe digo "
    "dice gusta encanta mejor peor vez veces dia dias mes meses tiempo lugar mundo weather "
    "game night last watch sleeping cat dog like love time day week today tomorrow good bad "
    "know think said random pizza music movie caro cara barato barata mala malo calle pelo "
    "pala bala cama boca"
)

# Shorthand seen in chats, mapped to the word the tables use.
ABBREVIATIONS = dict(
    pair.split("=", 1)
    for pair in words(
        "q=que k=que xq=porque pq=porque tb=tambien tmb=tambien x=por d=de ntp=no np=no ur=your "
        "thnx=thx tks=thx oks=ok okk=ok sisi=si nono=no xfavor=porfa plz=pls"
    )
)
