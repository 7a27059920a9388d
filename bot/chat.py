"""``bot chat``: be a customer of the local bot in the terminal."""

from __future__ import annotations

import asyncio
import sys

import httpx

from bot.botlink import remote_bot
from bot.simulator import SimCustomer
from bot.whatsapp.messages import Option
from bot.whatsapp.view import body_kind, body_options, body_text

__all__ = ["chat"]


def _show(bodies: list[dict[str, object]]) -> tuple[list[Option], bool]:
    """Print replies; return the options of the last interactive one (numbered for tapping)."""
    options: list[Option] = []
    on_list = False
    for body in bodies:
        kind = body_kind(body)
        if kind == "read":
            continue
        shown = body_options(body)
        text = body_text(body)
        if shown:
            # The options are printed numbered below; drop their plain rendering from the text.
            titles = tuple(o.title for o in shown)
            text = "\n".join(line for line in text.splitlines() if not line.startswith(titles))
            options, on_list = shown, kind == "list"
        print(f"\n🤖 {text}")
        for number, option in enumerate(shown, start=1):
            detail = f" — {option.description}" if option.description else ""
            print(f"   {number}. {option.title}{detail}")
    return options, on_list


async def chat(*, url: str, sink_url: str, wa_id: str, name: str) -> int:
    customer = SimCustomer(wa_id, name)
    print(
        f"Chatting with {url} as {name} (+{wa_id}). Type a message, a number to tap, Ctrl-D to quit."
    )
    options: list[Option] = []
    on_list = False
    try:
        async with remote_bot(url, sink_url) as link:
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return 0
                text = line.strip()
                if not text:
                    continue
                if text.isdigit() and 1 <= int(text) <= len(options):
                    option = options[int(text) - 1]
                    body = customer.taps(
                        reply_id=option.id, title=option.title, on_list=on_list, context_id=None
                    )
                else:
                    body = customer.says(text)
                status = await link.post(body)
                if status != 200:
                    print(f"(the webhook answered {status})")
                    continue
                shown, listed = _show(await link.replies())
                if shown:
                    options, on_list = shown, listed
    except httpx.ConnectError:
        print(
            f"bot chat: nothing answers at {url} or {sink_url}; start it with `make run`",
            file=sys.stderr,
        )
        return 1
