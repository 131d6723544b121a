"""What the order page and `/api/orders/<id>` show: the order, its outcome in the business's
words, and the path it took through the workflow as one flow. Never a stack trace, a server
path or raw JSON: causes go through `public_cause`."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from lambda_src.history import WORKFLOW, steps_from_history

try:
    from lambda_src.history import order_outcome, public_cause  # type: ignore[attr-defined]
except ImportError:  # until the outcomes helper lands them
    from outcome_fallback import order_outcome, public_cause  # type: ignore[no-redef]

HAPPY_END = "OrderComplete"


def money(amount: Any, currency: str) -> str:
    """Two decimals and the currency: 49.9 -> "49.90 USD"."""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return ""
    return f"{value} {currency}"


def flow(events: list[dict[str, Any]], terminal: bool) -> list[dict[str, Any]]:
    """The states the execution entered, in order, then (while it runs) the rest of the happy
    path as pending. A failed order shows the branch it took, not the steps it skipped."""
    out: list[dict[str, Any]] = []
    for step in steps_from_history(events):
        out.append(
            {
                "name": step.name,
                "status": step.status,
                "duration_ms": step.to_json()["duration_ms"],
                "error": step.error,
                "message": public_cause(step.cause) if step.cause else None,
                "branch": step.name not in (*WORKFLOW, HAPPY_END),
            }
        )
    if not terminal:
        seen = {s["name"] for s in out}
        for name in (*WORKFLOW, HAPPY_END):
            if name not in seen:
                out.append(
                    {
                        "name": name,
                        "status": "pending",
                        "duration_ms": None,
                        "error": None,
                        "message": None,
                        "branch": False,
                    }
                )
    return out


def execution_view(
    order_id: str, described: dict[str, Any], events: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    status = described["status"]
    terminal = status != "RUNNING"
    order = (json.loads(described.get("input") or "{}") or {}).get("order") or {}
    outcome = order_outcome(described, events)
    return {
        "orderId": order_id,
        "status": status,
        "terminal": terminal,
        "outcome": outcome.message,
        "error": outcome.error,
        "customerTold": outcome.message if outcome.notified else None,
        "notified": outcome.notified,
        "order": {
            "customerName": order.get("customerName"),
            "product": order.get("product"),
            "amount": money(order.get("amount"), currency) or None,
        },
        "steps": flow(events, terminal),
    }


def queued_view(order_id: str) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "status": "QUEUED",
        "terminal": False,
        "outcome": "Your order is queued.",
        "error": None,
        "customerTold": None,
        "notified": False,
        "order": {"customerName": None, "product": None, "amount": None},
        "steps": flow([], terminal=False),
    }
