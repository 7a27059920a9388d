"""``bot orders``: list orders, show one, change its status (which notifies the customer)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from bot.commerce.order_status import (
    OrderError,
    OrderSummary,
    check_status,
    get_order,
    list_orders,
    set_status,
)

__all__ = ["add_orders_parser"]

Job = Callable[[asyncpg.Pool, argparse.Namespace], Awaitable[None]]


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def _print_table(orders: list[OrderSummary]) -> None:
    if not orders:
        print("no orders")
        return
    header = ("ORDER", "CREATED", "CUSTOMER", "STATUS", "TOTAL", "PAYMENT")
    rows = [
        (
            o.order_number,
            o.created_at.strftime("%Y-%m-%d %H:%M"),
            o.customer,
            o.status,
            _money(o.total, o.currency),
            o.payment_method,
        )
        for o in orders
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _print_detail(order: OrderSummary) -> None:
    print(f"Order     {order.order_number}  ({order.status})")
    print(f"Customer  {order.customer}")
    print(f"Created   {order.created_at:%Y-%m-%d %H:%M %Z}")
    print(f"Payment   {order.payment_method}")
    if order.delivery_option:
        print(f"Delivery  {order.delivery_option}")
    if order.delivery_address:
        address = ", ".join(f"{k}: {v}" for k, v in order.delivery_address.items())
        print(f"Address   {address}")
    print()
    for item in order.items:
        line = f"{item.quantity} x {item.name} [{item.retailer_id}] @ {item.unit_price:.2f}"
        print(f"  {line}  = {_money(item.total, order.currency)}")
    print()
    print(f"Subtotal  {_money(order.subtotal, order.currency)}")
    print(f"Shipping  {_money(order.shipping_cost, order.currency)}")
    code = f" ({order.discount_code})" if order.discount_code else ""
    print(f"Discount  -{_money(order.discount, order.currency)}{code}")
    print(f"Total     {_money(order.total, order.currency)}")


async def _list(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    if args.status is not None:
        check_status(args.status)
    orders = await list_orders(pool, customer=args.customer, status=args.status, limit=args.limit)
    _print_table(orders)


async def _show(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    order = await get_order(pool, args.order_number)
    if order is None:
        raise OrderError(f"no order {args.order_number}")
    _print_detail(order)


async def _set_status(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    order = await set_status(pool, args.order_number, args.status, by=args.by)
    print(f"{order.order_number} is now {order.status}")


async def _run(job: Job, args: argparse.Namespace) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise OrderError("DATABASE_URL is not set")
    async with asyncpg.create_pool(url, min_size=1, max_size=1) as pool:
        await job(pool, args)


def _command(job: Job) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            asyncio.run(_run(job, args))
        except (OrderError, OSError, asyncpg.PostgresError) as exc:
            # One clear line for the operator, not a traceback.
            print(f"bot orders: {exc}", file=sys.stderr)
            return 1
        return 0

    return run


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return number


def add_orders_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``orders list|show|set-status`` on the ``bot`` command."""
    orders = subparsers.add_parser("orders", help="list, show and update orders")
    commands = orders.add_subparsers(dest="orders_command", required=True)

    listing = commands.add_parser("list", help="latest orders, newest first")
    listing.add_argument("--customer", metavar="WA_ID", help="only this customer's orders")
    listing.add_argument("--status", help="only orders in this status")
    listing.add_argument("--limit", type=_positive, default=20)
    listing.set_defaults(func=_command(_list))

    show = commands.add_parser("show", help="one order with its items and totals")
    show.add_argument("order_number")
    show.set_defaults(func=_command(_show))

    change = commands.add_parser(
        "set-status", help="change an order's status; notifies the customer"
    )
    change.add_argument("order_number")
    change.add_argument("status")
    change.add_argument("--by", default="cli", help="who made the change (kept in the history)")
    change.set_defaults(func=_command(_set_status))
