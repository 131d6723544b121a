"""Executions as they close, for a follower such as `submit --wait --local`.

`submit --wait` used to learn of finished orders by listing the run's executions every
0.25-1 s: the listing grew with the run (ListExecutions pages were 10% of the emulator's
GIL time in a warm 500-order run, and parsing them was the follower's own main cost), and
the end of an order was seen up to a poll interval late. Here the emulator keeps the last
KEEP closings in order, numbered; a follower asks for those after the number it last saw,
and the request waits (up to MAX_WAIT s) until there is one. What it asks costs the number
of closings since, not the size of the run.

GET CLOSED_PATH?after=N&wait=S answers JSON:
  {"epoch": str, "seq": int, "reset": bool,
   "closed": [{"executionArn", "name", "status", "stopDate" (epoch s), "error", "cause"}]}
`epoch` names this emulator run (a restart starts a new one); `reset` is true when closings
after N are no longer all kept (N older than the oldest kept, or from another epoch): the
follower then learns the rest by describing its orders. `after=-1` answers at once with the
current number and nothing else (a follower asks it before sending)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

CLOSED_PATH = "/_ordercli-closed"
KEEP = 100_000  # about 30 MB at most; a follower further behind describes its orders
MAX_WAIT = 5.0


@dataclass(frozen=True)
class Closed:
    executionArn: str  # the API's own field names
    name: str
    status: str
    stopDate: float | None
    error: str | None
    cause: str | None


class Closings:
    def __init__(self, keep: int = KEEP) -> None:
        self.epoch = uuid.uuid4().hex
        self._changed = threading.Condition()
        self._seq = 0
        self._kept: deque[tuple[int, Closed]] = deque(maxlen=keep)

    def add(self, closed: Closed) -> None:
        with self._changed:
            self._seq += 1
            self._kept.append((self._seq, closed))
            self._changed.notify_all()

    def since(self, after: int, wait: float, epoch: str | None = None) -> dict[str, Any]:
        """The closings numbered after `after`, waiting up to `wait` s for a first one."""
        with self._changed:
            if after < 0:
                return self._answer(self._seq, [], reset=False)
            if epoch not in (None, self.epoch) or after > self._seq:
                return self._answer(self._seq, [], reset=True)
            if after == self._seq and wait > 0:
                self._changed.wait_for(lambda: self._seq > after, min(wait, MAX_WAIT))
            oldest = self._kept[0][0] if self._kept else self._seq + 1
            if after + 1 < oldest:
                return self._answer(self._seq, [], reset=True)
            start = len(self._kept) - (self._seq - after)
            closed = [c for _, c in list(self._kept)[start:]] if start < len(self._kept) else []
            return self._answer(self._seq, closed, reset=False)

    def _answer(self, seq: int, closed: list[Closed], reset: bool) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "seq": seq,
            "reset": reset,
            "closed": [asdict(c) for c in closed],
        }


CLOSINGS = Closings()


def record(arn: str, name: str, status: str, stopped: Any, error: Any, cause: Any) -> None:
    """The moto hook's callback (moto_hooks.report_closed_executions)."""
    CLOSINGS.add(
        Closed(
            arn,
            name,
            status,
            stopped.timestamp() if stopped is not None else None,
            None if error is None else str(error),
            None if cause is None else str(cause),
        )
    )


def wrap(app: Any, closings: Closings = CLOSINGS) -> Any:
    """`app` plus GET CLOSED_PATH. Placed outside the lifecycle's gate: a follower waiting
    here must never hold up a drain or a checkpoint."""

    def with_closings(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CLOSED_PATH:
            result: Iterable[bytes] = app(environ, start_response)
            return result
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            after = int(query.get("after", ["-1"])[0])
            wait = max(0.0, float(query.get("wait", ["0"])[0]))
        except ValueError:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"error": "after must be an integer and wait a number of seconds"}']
        epoch = query.get("epoch", [None])[0]
        body = json.dumps(closings.since(after, wait, epoch)).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return with_closings
