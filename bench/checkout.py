"""Checkout rush: 200 customers confirm orders of the same two products at once.

    python -m bench.checkout [--buyers 200] [--rounds 3] [--distance-ms 0.5]

``place_order`` reads and prices first and locks the products last, for a few round trips and
the commit; the reference is the same code holding the locks from the start
(``lock_first=True``, what its retry after a concurrent change does), measured in the same run.
On loopback both are bound by CPU and land close together; with PostgreSQL a little away, as
across a network, every round trip spent holding the hot rows' locks makes all the other
buyers wait. Each round trip then goes through a local TCP relay that holds every chunk for
``distance-ms`` each way (on loopback they connect directly). Own database, a pool of 20
connections, stock for every order.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg

from bench.common import Row, fresh_database, percentile, print_table
from bot.commerce.orders import CheckoutRequest, Placed, place_order
from bot.sessions import CartLine

DATABASE = "wbot_bench_checkout"
_PRODUCTS = """
INSERT INTO products (retailer_id, name, price, currency, stock)
VALUES ('RUSH-1', 'Zapatillas', 59.90, 'USD', 1000000), ('RUSH-2', 'Medias', 4.50, 'USD', 1000000)
RETURNING id, retailer_id, name, price
"""


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Forward bytes, each chunk ``delay_s`` after it arrived (chunks keep flowing meanwhile)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def deliver() -> None:
        while (item := await queue.get())[1]:
            await asyncio.sleep(max(0.0, item[0] - loop.time()))
            writer.write(item[1])
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((loop.time() + delay_s, chunk))
    finally:
        queue.put_nowait((0.0, b""))
        await sender


@asynccontextmanager
async def _distant(host: str, port: int, delay_s: float) -> AsyncIterator[int]:
    """A local port that reaches ``host:port`` with ``delay_s`` added each way."""

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        await asyncio.gather(
            _pipe(client_r, server_w, delay_s), _pipe(server_r, client_w, delay_s),
            return_exceptions=True,
        )  # fmt: skip

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def _rush(
    dsn: str, lines: tuple[CartLine, ...], rule: int, buyers: int, first: int, *, lock_first: bool
) -> list[float]:
    """``buyers`` checkouts at once; each one's seconds."""
    pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
    assert pool is not None
    seconds: list[float] = []

    async def buy(n: int) -> None:
        request = CheckoutRequest(f"54911{n:08d}", lines, {"street": f"Calle {n}"}, rule, None,
                                  "cash_on_delivery", f"wamid.RUSH{n}")  # fmt: skip
        started = time.perf_counter()
        placed = await place_order(pool, request, lock_first=lock_first)
        seconds.append(time.perf_counter() - started)
        assert isinstance(placed, Placed) and placed.created

    try:
        await asyncio.gather(*(buy(n) for n in range(first, first + buyers)))
    finally:
        await pool.close()
    return sorted(seconds)


async def _measure(dsn: str, buyers: int, rounds: int, distance_ms: float) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_PRODUCTS)
        rule = await conn.fetchval("SELECT id FROM shipping_rules WHERE kind = 'flat'")
    finally:
        await conn.close()
    lines = tuple(CartLine(r["id"], r["retailer_id"], r["name"], 1, Decimal(r["price"]), "USD")
                  for r in rows)  # fmt: skip
    host, _, rest = dsn.partition("@")[2].partition(":")
    port = int(rest.partition("/")[0])
    results: dict[str, Any] = {}
    for where, delay_ms in (("loopback", 0.0), ("distant", distance_ms)):
        async with _distant(host, port, delay_ms / 1000) as local:
            target = dsn
            if delay_ms:
                target = f"{dsn.partition('@')[0]}@127.0.0.1:{local}/{dsn.rpartition('/')[2]}"
            runs: dict[str, list[float]] = {"ours": [], "lock_first": []}
            for round_ in range(rounds):  # alternating, so drift on the host hits both alike
                for mode in runs:
                    first = (2 * round_ + (mode == "lock_first")) * buyers + len(results) * 10**6
                    started = time.perf_counter()
                    each = await _rush(target, lines, rule, buyers, first,
                                       lock_first=mode == "lock_first")  # fmt: skip
                    runs[mode].append(time.perf_counter() - started)
                    results.setdefault(f"{where}_{mode}_p95_ms", []).append(
                        1000 * percentile(each, 95)
                    )
        for mode, walls in runs.items():
            results[f"{where}_{mode}_ms"] = 1000 * sorted(walls)[len(walls) // 2]
    return results


def run(buyers: int = 200, rounds: int = 3, distance_ms: float = 0.5) -> dict[str, Any]:
    with fresh_database(DATABASE) as dsn:
        figures = asyncio.run(_measure(dsn, buyers, rounds, distance_ms))
    p95 = {k: sorted(v)[len(v) // 2] for k, v in figures.items() if k.endswith("_p95_ms")}
    return {**figures, **p95, "buyers": buyers, "distance_ms": distance_ms}


def rows(figures: dict[str, Any]) -> list[Row]:
    buyers, distance = figures["buyers"], figures["distance_ms"]
    found = []
    for where, label in (("loopback", "loopback"), ("distant", f"PostgreSQL {distance:g} ms away")):
        found += [
            Row(f"checkout rush: {buyers} orders at once, same products, {label}", "ms",
                figures[f"{where}_ours_ms"], figures[f"{where}_lock_first_ms"],
                "locks held from the start", "", higher_is_better=False),
            Row(f"checkout rush p95 per order, {label}", "ms", figures[f"{where}_ours_p95_ms"],
                figures[f"{where}_lock_first_p95_ms"], "locks held from the start", "",
                higher_is_better=False),
        ]  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--distance-ms", type=float, default=0.5, help="added each way")
    args = parser.parse_args()
    print_table(rows(run(args.buyers, args.rounds, args.distance_ms)))


if __name__ == "__main__":
    main()
