"""`tail`: executions' state changes and the Lambdas' log lines, interleaved by time.

Cheap enough to keep up with the pipeline at full speed: one list of executions and one
filtered log read per function per poll, never an execution history per order."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ordercli.aws import error_code
from ordercli.errors import UsageError
from ordercli.names import FUNCTIONS
from ordercli.operate.status import list_executions

SINCE_RE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
REQUEST_LINE = re.compile(r"^(START|END|REPORT) RequestId")
MIN_WAIT, MAX_WAIT = 0.25, 1.0


@dataclass(frozen=True)
class Line:
    time: float  # epoch seconds
    order_id: str
    step: str
    message: str
    outcome: str  # ok | fail | info | running

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "orderId": self.order_id,
            "step": self.step,
            "message": self.message,
            "outcome": self.outcome,
        }


def parse_since(text: str) -> float:
    m = SINCE_RE.match(text.strip())
    if not m:
        raise UsageError(f"--since must look like 30s, 10m, 2h or 1d; got {text!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def log_line(
    fn: str, event: dict[str, Any], request_orders: dict[str, str] | None = None
) -> Line | None:
    """One log event as a tail line; Lambda's START/END/REPORT bookkeeping is skipped.
    `request_orders` maps request ids to the order a request's earlier lines named, so an
    error line without an orderId is still attributed."""
    message = event["message"].rstrip()
    if REQUEST_LINE.match(message):
        return None
    parts = message.split("\t", 3) if message.startswith("[") else []
    request_id = parts[2] if len(parts) == 4 else ""
    body = parts[3] if len(parts) == 4 else message
    known = request_orders if request_orders is not None else {}
    order_id, step, outcome = known.get(request_id, "-"), fn, "info"
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        order_id = str(data.get("orderId") or order_id)
        if request_id and data.get("orderId"):
            known[request_id] = order_id
        step = str(data.get("step") or fn)
        result = data.get("result") or data.get("error") or ""
        body = str(result)
        outcome = (
            "fail"
            if data.get("error")
            or result in ("declined",)
            or (isinstance(result, str) and ":" in result)
            else "ok"
        )
    elif message.startswith("[ERROR]") or "Task timed out" in message:
        outcome = "fail"
    return Line(event["timestamp"] / 1000, order_id, step, body, outcome)


class Follower:
    """Remembers what it has shown, so each poll prints only what is new."""

    def __init__(self, ctx: Any, since_seconds: float, order_id: str | None = None) -> None:
        self.ctx = ctx
        self.order_id = order_id
        self.start_ms = int((time.time() - since_seconds) * 1000)
        self.log_cursor = dict.fromkeys(FUNCTIONS, self.start_ms)
        self.seen_events: set[str] = set()
        self.execution_state: dict[str, str] = {}
        self.request_orders: dict[str, str] = {}

    def _executions(self) -> list[Line]:
        sfn = self.ctx.aws.client("stepfunctions")
        out: list[Line] = []
        cutoff = self.start_ms / 1000
        try:
            if self.order_id:
                try:
                    found = [
                        sfn.describe_execution(
                            executionArn=self.ctx.names.execution_arn(self.order_id)
                        )
                    ]
                except Exception as exc:
                    if error_code(exc) == "ExecutionDoesNotExist":
                        return []
                    raise
            else:
                # newest first, stopping at the first older than --since: a poll costs what
                # the window holds, not the stack's whole history
                found = list(list_executions(sfn, self.ctx.names, since=cutoff).values())
        except Exception as exc:
            if error_code(exc) == "StateMachineDoesNotExist":
                return []
            raise
        for e in found:
            name, status = e["name"], e["status"]
            if e["startDate"].timestamp() < cutoff or self.execution_state.get(name) == status:
                continue
            previous = self.execution_state.get(name)
            self.execution_state[name] = status
            if previous is None:
                out.append(
                    Line(e["startDate"].timestamp(), name, "execution", "started", "running")
                )
            if status != "RUNNING":
                stop = e.get("stopDate")
                t = stop.timestamp() if stop else time.time()
                detail = status
                if status != "SUCCEEDED":
                    d = sfn.describe_execution(executionArn=e["executionArn"])
                    detail = f"{status} {d.get('error') or ''}".strip()
                out.append(
                    Line(t, name, "execution", detail, "ok" if status == "SUCCEEDED" else "fail")
                )
        return out

    def _logs(self, fn: str) -> list[Line]:
        logs = self.ctx.aws.client("logs")
        kwargs: dict[str, Any] = {
            "logGroupName": self.ctx.names.log_group(fn),
            "startTime": self.log_cursor[fn],
        }
        if self.order_id:
            kwargs["filterPattern"] = f'"{self.order_id}"'
        out: list[Line] = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                for ev in page["events"]:
                    key = (
                        ev.get("eventId")
                        or f"{ev['logStreamName']}/{ev['timestamp']}/{ev['message']}"
                    )
                    if key in self.seen_events:
                        continue
                    self.seen_events.add(key)
                    self.log_cursor[fn] = max(self.log_cursor[fn], ev["timestamp"])
                    line = log_line(fn, ev, self.request_orders)
                    if line and (
                        not self.order_id
                        or line.order_id == self.order_id
                        or self.order_id in ev["message"]
                    ):
                        out.append(line)
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        return out

    def poll(self) -> list[Line]:
        if len(self.request_orders) > 50_000:  # a long follow must not grow without bound
            self.request_orders.clear()
            self.seen_events.clear()
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(self._executions)] + [
                pool.submit(self._logs, f) for f in FUNCTIONS
            ]
            lines = [line for f in futures for line in f.result()]
        return sorted(lines, key=lambda x: x.time)


def follow(
    ctx: Any,
    *,
    since: float,
    order_id: str | None,
    keep_following: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Line]:
    """Yield lines as they appear; back off while idle, never busy-loop."""
    follower = Follower(ctx, since, order_id)
    wait = MIN_WAIT
    while True:
        lines = follower.poll()
        yield from lines
        if not keep_following:
            return
        wait = MIN_WAIT if lines else min(wait * 1.5, MAX_WAIT)
        sleep(wait)
