"""Following a run on the local emulator by its closings feed (ordercli.local.closings):
what `submit --wait --local` asks instead of listing the run's executions every poll."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

CLOSED_PATH = "/_ordercli-closed"  # ordercli.local.closings.CLOSED_PATH (not imported: no moto)


class ClosingsFeed:
    """Executions of one state machine as they close, from a numbered point on. `start()`
    before the orders are sent, so no closing of theirs can come before it."""

    def __init__(self, endpoint: str, state_machine_arn: str, timeout: float = 10.0) -> None:
        self._url = endpoint.rstrip("/") + CLOSED_PATH
        self._prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
        self._timeout = timeout
        self._after = -1
        self._epoch: str | None = None

    def _ask(self, wait: float) -> dict[str, Any]:
        query = {"after": str(self._after), "wait": f"{wait:.3f}"}
        if self._epoch is not None:
            query["epoch"] = self._epoch
        url = f"{self._url}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=self._timeout + wait) as answer:
            data: dict[str, Any] = json.loads(answer.read())
        return data

    def start(self) -> bool:
        """Whether the emulator offers the feed (an older one does not: poll instead)."""
        try:
            data = self._ask(0.0)
        except (OSError, ValueError):
            return False
        self._after, self._epoch = int(data["seq"]), str(data["epoch"])
        return True

    def next(self, wait: float) -> dict[str, dict[str, Any]] | None:
        """The executions closed since the last call, by name, as DescribeExecution gives
        them (status, stopDate, error, cause), waiting up to `wait` s for a first one; None
        when the feed cannot say (the emulator restarted, or the follower fell too far
        behind): the caller then describes its orders instead."""
        try:
            data = self._ask(wait)
        except (OSError, ValueError):
            return None
        if data.get("reset") or data.get("epoch") != self._epoch:
            return None
        self._after = int(data["seq"])
        found: dict[str, dict[str, Any]] = {}
        for c in data["closed"]:
            if not str(c["executionArn"]).startswith(self._prefix):
                continue  # another state machine's
            stopped = c.get("stopDate")
            found[c["name"]] = {
                "status": c["status"],
                "stopDate": None if stopped is None else datetime.fromtimestamp(stopped, UTC),
                "error": c.get("error"),
                "cause": c.get("cause"),
            }
        return found
