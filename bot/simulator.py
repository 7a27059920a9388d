"""A simulated customer: builds the webhook bodies Meta would send for what they type or tap."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SimCustomer", "webhook_body"]

PHONE_NUMBER_ID = "100000000000001"
DISPLAY_NUMBER = "15550000001"


def webhook_body(value: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a change ``value`` in the envelope Meta posts."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000000", "changes": [{"field": "messages", "value": value}]}],
    }


@dataclass(slots=True)
class SimCustomer:
    wa_id: str
    name: str = "Cliente"
    phone_number_id: str = PHONE_NUMBER_ID
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def _message(
        self, kind: str, content: Mapping[str, Any], context_id: str | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": self.wa_id,
            # Unique per run so a replay never collides with an earlier one in the same database.
            "id": f"wamid.SIM{uuid.uuid4().hex}{next(self._counter)}",
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: dict(content),
        }
        if context_id:
            message["context"] = {"from": DISPLAY_NUMBER, "id": context_id}
        return webhook_body(
            {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": DISPLAY_NUMBER,
                    "phone_number_id": self.phone_number_id,
                },
                "contacts": [{"profile": {"name": self.name}, "wa_id": self.wa_id}],
                "messages": [message],
            }
        )

    def says(self, text: str) -> dict[str, Any]:
        return self._message("text", {"body": text}, None)

    def taps(
        self, *, reply_id: str, title: str, on_list: bool, context_id: str | None
    ) -> dict[str, Any]:
        kind = "list_reply" if on_list else "button_reply"
        return self._message(
            "interactive", {"type": kind, kind: {"id": reply_id, "title": title}}, context_id
        )

    def sends(self, message: Mapping[str, Any], context_id: str | None = None) -> dict[str, Any]:
        """Any WhatsApp message object, e.g. ``{"type": "location", "location": {...}}``."""
        kind = str(message.get("type", "text"))
        return self._message(kind, message.get(kind, {}), context_id)
