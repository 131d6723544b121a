"""An execution's history as steps (name, status, duration, error), and its terminal outcome
as the customer is told it: read by `status`, `submit --wait`, the web page and the API, so all
four say the same thing. Standard library only, so it ships in the web app's bundle."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WORKFLOW = ("ValidateOrder", "ProcessPayment", "SendNotification")
# Which function runs each Task state of definitions/workflow.asl.json (whose logs go under it).
STEP_FUNCTIONS = {
    "ValidateOrder": "ValidateOrder",
    "ProcessPayment": "ProcessPayment",
    "SendNotification": "SendNotification",
    "NotifyOrderInvalid": "SendNotification",
    "NotifyPaymentDeclined": "SendNotification",
    "NotifyPaymentError": "SendNotification",
    "NotifyValidationError": "SendNotification",
}


@dataclass
class Step:
    name: str
    started: datetime
    ended: datetime | None = None
    status: str = "running"  # running | succeeded | failed
    error: str | None = None
    cause: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "started": self.started.isoformat(),
            "duration_ms": None
            if self.ended is None
            else round((self.ended - self.started).total_seconds() * 1000, 1),
            "error": self.error,
            "cause": self.cause,
            "logs": self.logs,
        }


def steps_from_history(events: list[dict[str, Any]]) -> list[Step]:
    """Task and Fail/Succeed states from an execution history, in order."""
    steps: list[Step] = []
    current: Step | None = None
    for e in events:
        kind = e["type"]
        if kind.endswith("StateEntered"):
            current = Step(e["stateEnteredEventDetails"]["name"], e["timestamp"])
            steps.append(current)
            if kind in ("FailStateEntered", "SucceedStateEntered"):
                current.ended = e["timestamp"]
                current.status = "failed" if kind.startswith("Fail") else "succeeded"
        elif kind.endswith("StateExited") and current is not None:
            current.ended = e["timestamp"]
            if current.status == "running":
                current.status = "succeeded"
        elif kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed") and current:
            details: dict[str, Any] = next(
                (v for k, v in e.items() if k.endswith("EventDetails")), {}
            )
            current.error, current.cause = details.get("error"), details.get("cause")
            current.status = "failed"
        elif kind == "ExecutionFailed" and current is not None and current.error is None:
            details = e.get("executionFailedEventDetails", {})
            current.error, current.cause = details.get("error"), details.get("cause")
    return steps


# -- outcomes -------------------------------------------------------------------------------
NOT_NOTIFIED = "confirmed; notification not sent"
# The causes of the workflow's Fail states reached when the customer could not be told
# (definitions/workflow.asl.json): a Fail state's Cause is the execution's cause.
UNNOTIFIED_CAUSE_MARK = "the customer could not be notified"

MESSAGES = {
    "SUCCEEDED": "Your order is confirmed.",
    "RUNNING": "Your order is being processed.",
    "PENDING_REDRIVE": "Your order is being processed.",
    "OrderInvalid": "Your order was rejected: it did not pass validation.",
    "PaymentDeclined": "Your payment was declined, so the order was not placed.",
    "PaymentError": "Your payment could not be completed, so the order was not placed; "
    "please try again later.",
    "ValidationError": "Your order could not be checked, so it was not placed; "
    "please try again later.",
}
FALLBACK = "Your order could not be completed."


@dataclass(frozen=True)
class OrderOutcome:
    """What an order came to: the execution's status, its error name (FAILED only), the line
    the customer is shown, and whether the customer was notified (False while running)."""

    status: str
    error: str | None
    message: str
    notified: bool

    @property
    def confirmed(self) -> bool:
        return self.status == "SUCCEEDED"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "message": self.message,
            "notified": self.notified,
        }


def order_outcome(
    status: str,
    error: str | None = None,
    cause: str | None = None,
    output: str | Mapping[str, Any] | None = None,
) -> OrderOutcome:
    """The outcome of one execution from what DescribeExecution returns (status, error, cause,
    output). SUCCEEDED with `notificationError` in its output is still confirmed: the payment
    stands; only the notification is missing."""
    if status == "SUCCEEDED":
        data = _json_object(output)
        if data.get("notificationError"):
            return OrderOutcome(status, None, f"Your order is {NOT_NOTIFIED}.", False)
        return OrderOutcome(status, None, MESSAGES["SUCCEEDED"], True)
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return OrderOutcome(status, None, MESSAGES[status], False)
    message = MESSAGES.get(error or "", FALLBACK)
    if error == "OrderInvalid" and cause and not _is_fixed_cause(cause):
        message = f"{message} {public_cause(cause)}"
    notified = (
        status == "FAILED"
        and error in MESSAGES
        and UNNOTIFIED_CAUSE_MARK not in (cause or "").lower()
    )
    return OrderOutcome(status, error, message, notified)


def outcome_of(description: Mapping[str, Any]) -> OrderOutcome:
    """`order_outcome` of a DescribeExecution response."""
    return order_outcome(
        description.get("status", "RUNNING"),
        description.get("error"),
        description.get("cause"),
        description.get("output"),
    )


def _is_fixed_cause(cause: str) -> bool:
    """A Fail state's own Cause (a sentence of ours), not a Lambda's error."""
    return not cause.lstrip().startswith("{")


MAX_CAUSE = 200
_PATH = re.compile(r"""(?:[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/]?""")
_TRACE_MARKS = ("Traceback (most recent call last)", 'File "', "stackTrace", "\n  at ")


def public_cause(cause: Any) -> str:
    """The business message of an error's cause, fit for a customer's page: a Lambda error's
    JSON (`{"errorMessage", "errorType", "stackTrace"}`) gives its errorMessage; a stack trace,
    a file path or raw JSON never comes through. Empty if nothing readable is left."""
    if cause is None:
        return ""
    text = cause if isinstance(cause, str) else json.dumps(cause, default=str)
    data = _json_object(text)
    if data:
        message = data.get("errorMessage", data.get("Cause", data.get("cause")))
        if isinstance(message, str):
            return public_cause(message)
        return ""
    text = text.strip()
    if text.startswith(("{", "[")) or any(mark in text for mark in _TRACE_MARKS):
        return ""
    line = text.splitlines()[0].strip() if text else ""
    line = _PATH.sub("(path)", line)
    line = "".join(c for c in line if c.isprintable())
    return line if len(line) <= MAX_CAUSE else line[: MAX_CAUSE - 1] + "\u2026"


def _json_object(value: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return {}
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, Mapping) else {}
