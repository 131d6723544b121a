"""`tail`: executions' state changes and the Lambdas' log lines, interleaved by time.

Works like `aws logs tail`: prints what the window holds and exits, or with `--follow` keeps
going. Cheap enough to keep up with the pipeline at full speed: one list of executions and one
filtered log read per function per poll, never an execution history per order."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ordercli.aws import error_code
from ordercli.errors import AwsError, NotFound, UsageError
from ordercli.names import FUNCTIONS
from ordercli.operate.status import (
    check_order_id,
    command_hint,
    list_executions,
    not_deployed,
)

__all__ = ["Line", "check_order_id", "follow", "log_line", "parse_since"]

SINCE_RE = re.compile(r"^(\d{1,9})([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# CloudWatch Logs keeps events at most ten years (its longest retention, 3653 days): a window
# reaching further back holds nothing more and only risks a start time before 1970.
MAX_SINCE = 3653 * 86400
SINCE_HELP = "30s, 10m, 2h, 3d, 1w or an ISO 8601 time such as 2026-01-31T09:00:00Z"
REQUEST_LINE = re.compile(r"^(START|END|REPORT) RequestId")
CONSUMER = "StartOrderWorkflow"
MIN_WAIT, MAX_WAIT = 0.25, 1.0
# After the followed order ends, how long to keep reading logs that may still be on their way
# (CloudWatch Logs ingests with a delay of seconds; the emulator writes them synchronously).
LOG_GRACE = {"aws": 5.0, "local": 0.0}


@dataclass(frozen=True)
class Line:
    time: float  # epoch seconds
    order_id: str | None
    step: str
    message: str
    outcome: str  # ok | fail | info | running
    message_id: str | None = None  # the SQS message a consumer line is about

    def to_json(self) -> dict[str, Any]:
        return {
            "time": iso(self.time),
            "orderId": self.order_id,
            "messageId": self.message_id,
            "step": self.step,
            "message": self.message,
            "outcome": self.outcome,
        }


def iso(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds, the JSON convention for times."""
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_since(text: str, now: float | None = None) -> float:
    """How many seconds back `--since` reaches: a duration (`30s` ... `1w`) or an ISO 8601
    time (UTC unless it names an offset). Checked before any AWS call."""
    now = time.time() if now is None else now
    raw = text.strip()
    m = SINCE_RE.match(raw)
    if m:
        seconds = float(int(m.group(1)) * UNITS[m.group(2)])
    else:
        try:
            when = datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError:
            raise UsageError(f"--since must be {SINCE_HELP}; got {text!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = now - when.timestamp()
        if seconds < 0:
            raise UsageError(f"--since {text!r} is in the future")
    if seconds > MAX_SINCE:
        raise UsageError(
            f"--since {text!r} reaches back further than CloudWatch Logs keeps anything "
            "(3653 days, its longest retention); use a shorter window"
        )
    return seconds


def _fields(message: str) -> tuple[str, str, str]:
    """(level, request id, body) of a line in Lambda's `[LEVEL]\\ttime\\trequest\\tbody` form."""
    parts = message.split("\t", 3) if message.startswith("[") else []
    if len(parts) == 4:
        return parts[0].strip("[]"), parts[2], parts[3]
    return "", "", message


def log_line(
    fn: str, event: dict[str, Any], request_orders: dict[str, str] | None = None
) -> Line | None:
    """One log event as a tail line; Lambda's START/END/REPORT bookkeeping is skipped.
    `request_orders` maps request ids to the order a request's earlier lines named, so an
    error line without an orderId is still attributed. Not for the consumer: one of its
    requests carries a batch of up to ten orders, so its request id names none of them."""
    message = event["message"].rstrip()
    if REQUEST_LINE.match(message):
        return None
    level, request_id, body = _fields(message)
    known = request_orders if request_orders is not None and fn != CONSUMER else {}
    order_id: str | None = known.get(request_id)
    step, outcome, message_id = fn, "info", None
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("orderId"), str) and data["orderId"]:
            order_id = data["orderId"]
            if request_id:
                known[request_id] = order_id
        if isinstance(data.get("messageId"), str):
            message_id = data["messageId"]
        step = str(data.get("step") or fn)
        result = data.get("result") or data.get("error") or ""
        body = str(result)
        if data.get("reason"):  # a dead letter's reason and error, as `dlq` shows them
            body += f" ({data['reason']})"
        if data.get("result") and data.get("error"):
            body += f": {data['error']}"
        outcome = (
            "fail"
            if data.get("error")
            or level in ("WARNING", "ERROR", "CRITICAL")
            or result in ("declined",)
            or (isinstance(result, str) and ":" in result)
            else "ok"
        )
    elif level in ("ERROR", "CRITICAL") or "Task timed out" in message:
        outcome = "fail"
    return Line(event["timestamp"] / 1000, order_id, step, body, outcome, message_id)


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
        self.order_ended = False  # the followed order was seen terminal

    def _not_deployed(self, gone: bool) -> NotFound:
        if not gone:
            return not_deployed(self.ctx)
        return NotFound(
            f"The state machine {self.ctx.names.state_machine} is gone: stack "
            f"'{self.ctx.settings.stack}' on {self.ctx.target.label} was deleted.",
            hint=f"`{command_hint(self.ctx, 'ordercli up')}` deploys it again.",
        )

    def check_deployed(self, gone: bool = False) -> None:
        """A stack that is not there is an error, not an empty tail (`gone`: it was there
        when tail started)."""
        sfn = self.ctx.aws.client("stepfunctions")
        try:
            sfn.describe_state_machine(stateMachineArn=self.ctx.names.state_machine_arn)
        except Exception as exc:
            if error_code(exc) == "StateMachineDoesNotExist":
                raise self._not_deployed(gone) from None
            raise

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
                        # the order may still be queued, unless the whole stack went away
                        self.check_deployed(gone=True)
                        return []
                    raise
            else:
                # newest first, stopping at the first older than --since: a poll costs what
                # the window holds, not the stack's whole history
                found = list(list_executions(sfn, self.ctx.names, since=cutoff).values())
        except Exception as exc:
            if error_code(exc) == "StateMachineDoesNotExist":
                raise self._not_deployed(gone=True) from None
            raise
        for e in found:
            name, status = e["name"], e["status"]
            if self.order_id and status != "RUNNING":
                self.order_ended = True
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


def emulator_alive(endpoint: str, timeout: float = 0.5) -> bool:
    """Whether the local emulator still accepts connections: checked between polls, so a
    stopped emulator ends `--follow` at once instead of after the SDK's retries."""
    parts = urlsplit(endpoint)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout):
            return True
    except OSError:
        return False


def _emulator_stopped(ctx: Any) -> AwsError:
    return AwsError(
        f"The local emulator at {ctx.target.endpoint_url} stopped; stopped following.",
        hint=f"`{command_hint(ctx, 'ordercli up')}` starts it again and redeploys the stack.",
    )


def follow(
    ctx: Any,
    *,
    since: float,
    order_id: str | None,
    keep_following: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Line]:
    """Yield lines as they appear; back off while idle, never busy-loop. With `order_id`,
    following ends once that order is terminal and its last log lines are shown."""
    follower = Follower(ctx, since, order_id)
    local = ctx.target.is_local
    follower.check_deployed()
    grace = LOG_GRACE["local" if local else "aws"]
    wait, after_end = MIN_WAIT, 0.0
    while True:
        try:
            lines = follower.poll()
        except Exception as exc:
            if local and keep_following and not emulator_alive(ctx.target.endpoint_url):
                raise _emulator_stopped(ctx) from exc
            raise
        yield from lines
        if not keep_following:
            return
        if follower.order_ended and not lines and after_end >= grace:
            return
        wait = MIN_WAIT if lines else min(wait * 1.5, MAX_WAIT)
        sleep(wait)
        if follower.order_ended:
            after_end += wait
        if local and not emulator_alive(ctx.target.endpoint_url):
            raise _emulator_stopped(ctx)
