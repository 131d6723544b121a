"""Stand-ins for `lambda_src.history.order_outcome` / `public_cause` until they land."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MESSAGES = {
    "OrderInvalid": "Your order could not be accepted: it is invalid.",
    "PaymentDeclined": "Your payment was declined.",
    "PaymentError": "Your payment could not be completed.",
}


@dataclass(frozen=True)
class OrderOutcome:
    status: str
    error: str | None
    message: str
    notified: bool


def public_cause(cause: Any) -> str:
    text = str(cause or "")
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            text = str(data.get("errorMessage") or data.get("errorType") or "")
    except ValueError:
        pass
    line = text.strip().splitlines()[0] if text.strip() else ""
    if "Traceback" in line or re.search(r"(/[\w.-]+){2,}|\.py\b", line):
        return ""
    return line[:200]


def order_outcome(described: dict[str, Any], events: list[dict[str, Any]]) -> OrderOutcome:
    status, error = described["status"], described.get("error")
    notified = any(
        e["type"] == "TaskStateExited"
        and "Notif" in e.get("stateExitedEventDetails", {}).get("name", "")
        for e in events
    )
    if status == "SUCCEEDED":
        return OrderOutcome(status, None, "Your order is confirmed.", notified)
    if status == "RUNNING":
        return OrderOutcome(status, None, "Your order is being processed.", False)
    return OrderOutcome(
        status, error, MESSAGES.get(error or "", "Your order could not be completed."), notified
    )
