"""What the order page and `/api/orders/<id>` show: the order, its outcome in the business's
words, and the path it took through the workflow as one flow. Never a stack trace, a server
path or raw JSON: causes go through `public_cause`."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from lambda_src.history import WORKFLOW, outcome_of, public_cause, steps_from_history

HAPPY_END = "OrderConfirmed"


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
    retried = _retries(events)
    for i, step in enumerate(steps_from_history(events)):
        failures, recovered = retried.get(i, (0, False))
        ok = step.status == "failed" and recovered  # failed, retried, then succeeded
        out.append(
            {
                "name": step.name,
                "status": "succeeded" if ok else step.status,
                "duration_ms": step.to_json()["duration_ms"],
                "error": None if ok else step.error,
                "message": (
                    f"succeeded after {failures} {'retry' if failures == 1 else 'retries'}"
                    if ok
                    else (public_cause(step.cause) if step.cause else None)
                ),
                "branch": step.name not in (*WORKFLOW, HAPPY_END),
            }
        )
    if not terminal:
        happy = (*WORKFLOW, HAPPY_END)
        reached = [happy.index(s["name"]) for s in out if s["name"] in happy]
        for name in happy[max(reached, default=-1) + 1 :]:
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


FAILED_EVENTS = ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut")
SUCCEEDED_EVENTS = ("LambdaFunctionSucceeded", "TaskSucceeded")


def _retries(events: list[dict[str, Any]]) -> dict[int, tuple[int, bool]]:
    """Per state (by its position in the history): attempts that failed, and whether a later
    attempt succeeded: a Task retried to success is a success, not a failure."""
    out: dict[int, tuple[int, bool]] = {}
    index = -1
    for e in events:
        kind = e["type"]
        if kind.endswith("StateEntered"):
            index += 1
        elif kind in FAILED_EVENTS:
            failures, _ = out.get(index, (0, False))
            out[index] = (failures + 1, False)
        elif kind in SUCCEEDED_EVENTS and index in out:
            out[index] = (out[index][0], True)
    return out


def execution_view(
    order_id: str, described: dict[str, Any], events: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    status = described["status"]
    terminal = status != "RUNNING"
    order = (json.loads(described.get("input") or "{}") or {}).get("order") or {}
    outcome = outcome_of(described)
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


def conflict_view(order_id: str) -> dict[str, Any]:
    return {
        **queued_view(order_id),
        "status": "DEAD_LETTERED",
        "terminal": True,
        "outcome": (
            f"This order was not placed: orderId {order_id} already belongs to another order. "
            "Nothing was charged; place it again with a new orderId."
        ),
        "error": "order-id-conflict",
        "steps": flow([], terminal=True),
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
