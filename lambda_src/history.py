"""An execution's history as steps (name, status, duration, error): read by the CLI's
`status ORDER_ID` and by the web app's order page. Standard library only, so it ships in the
web app's bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WORKFLOW = ("ValidateOrder", "ProcessPayment", "SendNotification")


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
