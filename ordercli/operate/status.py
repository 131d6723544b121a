"""`status`: the stack at a glance, or one order's steps and the Lambda logs it wrote."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lambda_src.history import STEP_FUNCTIONS, steps_from_history
from ordercli.aws import error_code
from ordercli.deploy.resources.queue import find_url
from ordercli.errors import NotFound, UsageError
from ordercli.names import FUNCTIONS, Names

DEFAULT_STACK = "orders"
EXECUTION_STATES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
FAILURE_SAMPLE = 50  # failed executions described to rank failure reasons


def command_hint(ctx: Any, command: str) -> str:
    """`command` with the flags that chose this target and stack, so a hint can be pasted
    as it is: `ordercli up --local --stack fresh`, not `ordercli up`."""
    options = ctx.options
    flags: list[str] = []
    if ctx.target.is_local:
        flags.append("--local")
    if ctx.settings.stack != DEFAULT_STACK:
        flags += ["--stack", ctx.settings.stack]
    if not ctx.target.is_local and options.region:
        flags += ["--region", options.region]
    if options.profile:
        flags += ["--profile", options.profile]
    if options.config:
        flags += ["--config", options.config]
    return " ".join([command, *(shlex.quote(f) for f in flags)])


def check_order_id(order_id: str) -> str:
    """An orderId given on the command line, checked by the order model's own rule before any
    call: a malformed one is bad input (exit 2), not an order that was never seen."""
    from lambda_src.order import OrderInvalid, parse_order_id

    try:
        return parse_order_id(order_id)
    except OrderInvalid as exc:
        raise UsageError(f"orderId {order_id!r} {exc.message}") from None


# -- the stack ---------------------------------------------------------------------------------
def queue_depth(sqs: Any, name: str) -> dict[str, Any]:
    url = find_url(sqs, name)
    if url is None:
        return {"name": name, "exists": False, "visible": None, "in_flight": None}
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "name": name,
        "exists": True,
        "url": url,
        "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def count_executions(sfn: Any, arn: str, status: str) -> int:
    """Count by listing (names only), never by fetching histories."""
    total = 0
    try:
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=arn, statusFilter=status, PaginationConfig={"PageSize": 1000}
        ):
            total += len(page["executions"])
    except Exception as exc:
        if error_code(exc) == "StateMachineDoesNotExist":
            return 0
        raise
    return total


def list_executions(
    sfn: Any, names: Names, since: float | None = None, page_size: int = 1000
) -> dict[str, dict[str, Any]]:
    """Executions of the stack's state machine by name (= orderId). Lists come newest first,
    so with `since` (epoch seconds) paging stops at the first older one: following a run
    costs what the run started, not the stack's whole history."""
    found: dict[str, dict[str, Any]] = {}
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=names.state_machine_arn, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        for e in page["executions"]:
            found.setdefault(e["name"], e)
        oldest = page["executions"][-1]["startDate"].timestamp() if page["executions"] else None
        if since is not None and oldest is not None and oldest < since:
            break
    return found


def failure_reasons(sfn: Any, arn: str, sample: int = FAILURE_SAMPLE) -> dict[str, int]:
    """Errors of the most recent failed executions (a sample: describing all would not scale)."""
    try:
        recent = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED", maxResults=sample)[
            "executions"
        ]
    except Exception as exc:
        if error_code(exc) == "StateMachineDoesNotExist":
            return {}
        raise
    reasons: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for d in pool.map(lambda e: sfn.describe_execution(executionArn=e["executionArn"]), recent):
            key = d.get("error") or "unknown"
            reasons[key] = reasons.get(key, 0) + 1
    return dict(sorted(reasons.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Monitoring:
    """The dashboard's figures over the window, as `status` shows them (None: no data)."""

    window_seconds: float
    orders_per_hour: float | None
    payment_success_rate: float | None  # succeeded / finished executions, 0-1
    latency_p50_ms: float | None  # execution start to stop
    latency_p95_ms: float | None
    errors_by_function: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window_seconds,
            "orders_per_hour": self.orders_per_hour,
            "payment_success_rate": self.payment_success_rate,
            "latency_ms": {"p50": self.latency_p50_ms, "p95": self.latency_p95_ms},
            "errors_by_function": dict(self.errors_by_function),
        }


def monitoring(ctx: Any, since: float) -> Monitoring:
    """The figures read with GetMetricData (the same queries on both targets; the reader is
    shared with the web app's /dashboard)."""
    from datetime import timedelta

    from ordercli.operate import metrics

    m = metrics.read(ctx.aws.client("cloudwatch"), ctx.names, timedelta(seconds=since))
    rate = m.payment_success_rate  # a percentage there
    return Monitoring(
        window_seconds=since,
        orders_per_hour=m.orders_per_hour,
        payment_success_rate=None if rate is None else rate / 100,
        latency_p50_ms=m.latency_p50_ms,
        latency_p95_ms=m.latency_p95_ms,
        errors_by_function=m.errors_by_function,
    )


def stack_status(ctx: Any, since: float | None = None) -> dict[str, Any]:
    """The stack's resources, queues, executions and web app; with `since` (seconds), the
    monitoring figures over that window too."""
    from ordercli.deploy import stack as deploy

    names = ctx.names
    sqs, sfn = ctx.aws.client("sqs"), ctx.aws.client("stepfunctions")
    arn = names.state_machine_arn
    with ThreadPoolExecutor(max_workers=8) as pool:
        plan_f = pool.submit(deploy.plan, ctx)
        q_f = pool.submit(queue_depth, sqs, names.queue)
        d_f = pool.submit(queue_depth, sqs, names.dlq)
        counts_f = {s: pool.submit(count_executions, sfn, arn, s) for s in EXECUTION_STATES}
        errors_f = pool.submit(failure_reasons, sfn, arn)
        figures_f = pool.submit(monitoring, ctx, since) if since is not None else None
        alarm_f = pool.submit(alarm_state, ctx.aws.client("cloudwatch"), names.dlq_alarm)
        plan = plan_f.result()
        counts = {s.lower(): f.result() for s, f in counts_f.items()}
        by_error = errors_f.result()
    resources = [
        {
            "kind": a.spec.kind,
            "name": a.spec.name,
            "state": {"create": "missing", "update": "drifted", "noop": "present"}[a.action],
            "detail": "" if a.action == "noop" else a.reason,
        }
        for a in plan.actions
    ]
    out: dict[str, Any] = {
        "target": ctx.target.label,
        "stack": ctx.settings.stack,
        "deployed": any(r["state"] != "missing" for r in resources),
        "resources": resources,
        "queue": q_f.result(),
        "dlq": d_f.result(),
        "executions": {
            **counts,
            "by_error": by_error,
            "by_error_sample": min(FAILURE_SAMPLE, counts["failed"]),
        },
        "alarm": alarm_f.result(),
        "webapp": webapp_status(ctx),
        "monitoring": _figures(figures_f, since) if figures_f is not None else None,
    }
    if not ctx.target.is_local and not ctx.target.endpoint_url:
        out["dashboard_url"] = (
            f"https://{names.region}.console.aws.amazon.com/cloudwatch/home?"
            f"region={names.region}#dashboards:name={names.dashboard}"
        )
    return out


def alarm_state(cloudwatch: Any, name: str) -> dict[str, Any] | None:
    """The DLQ alarm's state (OK, ALARM, INSUFFICIENT_DATA) and since when; None when it
    does not exist or cannot be read (the rest of `status` stands)."""
    try:
        found = cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    except Exception:
        return None
    if not found:
        return None
    alarm = found[0]
    return {
        "name": name,
        "state": alarm.get("StateValue"),
        "since": alarm.get("StateUpdatedTimestamp"),
    }


def _figures(future: Any, since: float | None) -> dict[str, Any]:
    """The figures, or why they could not be read: the rest of `status` still stands when
    CloudWatch is denied or unreachable."""
    from ordercli.aws import translate_error

    try:
        return dict(future.result().to_json())
    except Exception as exc:
        err = translate_error(exc)
        if err is None:
            raise
        return {"window_seconds": since, "unavailable": err.message}


def deployed_stack_status(ctx: Any, since: float | None = None) -> dict[str, Any]:
    """`stack_status`, but a stack with nothing deployed is NotFound (exit 1)."""
    st = stack_status(ctx, since)
    if not st["deployed"]:
        raise not_deployed(ctx)
    return st


def webapp_status(ctx: Any) -> dict[str, Any] | None:
    if ctx.target.is_local:
        from ordercli.local import control

        url = control.status().get("webapp")
        if not url:
            return None
        return {"url": url, "health": _health(url)}
    return None


def _health(url: str) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=2) as r:
            return "ok" if r.status == 200 else f"HTTP {r.status}"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


# -- one order ---------------------------------------------------------------------------------
def order_logs(
    logs: Any, names: Any, order_id: str, start: datetime, end: datetime | None
) -> dict[str, list[dict[str, Any]]]:
    """Each function's log lines that mention the order, by function."""
    t0 = int((start - timedelta(minutes=1)).timestamp() * 1000)
    t1 = int(((end or datetime.now(start.tzinfo)) + timedelta(minutes=1)).timestamp() * 1000)

    def one(fn: str) -> tuple[str, list[dict[str, Any]]]:
        lines: list[dict[str, Any]] = []
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=names.log_group(fn),
                startTime=t0,
                endTime=t1,
                filterPattern=f'"{order_id}"',
            )
            for page in pages:
                lines += [
                    {"time": ev["timestamp"], "function": fn, "message": ev["message"].rstrip()}
                    for ev in page["events"]
                    if order_id in ev["message"]
                ]
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        return fn, sorted(lines, key=lambda x: x["time"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, FUNCTIONS))


# The outcome of an order in a word or two (status, error name -> label), as `status ID` heads it.
OUTCOME_LABEL = {
    "OrderInvalid": "invalid",
    "PaymentDeclined": "declined",
    "PaymentError": "payment error",
    "ValidationError": "could not be validated",
}


def outcome_label(outcome: Any) -> str:
    """confirmed / confirmed; notification not sent / invalid / declined / payment error /
    still processing / ...: from lambda_src.history's OrderOutcome."""
    if outcome.status == "SUCCEEDED":
        return "confirmed" if outcome.notified else "confirmed; notification not sent"
    if outcome.status in ("RUNNING", "PENDING_REDRIVE"):
        return "still processing"
    if outcome.status == "FAILED":
        return OUTCOME_LABEL.get(outcome.error or "", f"failed ({outcome.error or 'unknown'})")
    return outcome.status.lower().replace("_", " ")


def order_status(ctx: Any, order_id: str) -> dict[str, Any]:
    """One order: its outcome, its steps with durations and the log lines each wrote; or, if
    it never started, the dead letter that says why."""
    from lambda_src.history import outcome_of, public_cause

    check_order_id(order_id)
    sfn = ctx.aws.client("stepfunctions")
    arn = ctx.names.execution_arn(order_id)
    try:
        d = sfn.describe_execution(executionArn=arn)
    except Exception as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn", "StateMachineDoesNotExist"):
            return never_started(ctx, order_id)
        raise
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    steps = steps_from_history(events)
    logs = order_logs(
        ctx.aws.client("logs"), ctx.names, order_id, d["startDate"], d.get("stopDate")
    )
    for step in steps:
        step.cause = public_cause(step.cause) or None
        fn = STEP_FUNCTIONS.get(step.name)
        if fn:
            lo = step.started.timestamp() * 1000 - 50
            hi = (step.ended.timestamp() * 1000 + 50) if step.ended else float("inf")
            step.logs = [x for x in logs.get(fn, []) if lo <= x["time"] <= hi]
    consumer = logs.get("StartOrderWorkflow", [])
    running = [s.name for s in steps if s.status == "running"]
    outcome = outcome_of(d)
    return {
        "target": ctx.target.label,
        "stack": ctx.settings.stack,
        "orderId": order_id,
        "status": d["status"],
        "outcome": {**outcome.to_json(), "label": outcome_label(outcome)},
        "started": d["startDate"],
        "stopped": d.get("stopDate"),
        "current_step": running[-1] if running else None,
        "input": _loads(d.get("input")),
        "output": _public_output(_loads(d.get("output"))),
        "error": d.get("error"),
        "cause": public_cause(d.get("cause")) or None,
        "steps": [s.to_json() for s in steps],
        "consumer_logs": consumer,
        "dead_letter": None,
    }


def never_started(ctx: Any, order_id: str) -> dict[str, Any]:
    """An order with no execution: dead-lettered (with its reason), or not known here, which
    may mean still queued. A stack that is not deployed says so."""
    from ordercli.operate.dlq import dead_letters

    require_deployed(ctx)
    letter = next((x for x in dead_letters(ctx) if x.order_id == order_id), None)
    if letter is None:
        queue = queue_depth(ctx.aws.client("sqs"), ctx.names.queue)
        waiting = (queue["visible"] or 0) + (queue["in_flight"] or 0)
        raise NotFound(
            f"No order {order_id} in stack '{ctx.settings.stack}' on {ctx.target.label}.",
            hint=(
                f"{waiting} message(s) are still in the queue; it may be one of them "
                f"(`{command_hint(ctx, 'ordercli status')}` shows the depth)."
                if waiting
                else "It was never accepted, or its execution has expired "
                "(Step Functions keeps them 90 days)."
            ),
        )
    return {
        "target": ctx.target.label,
        "stack": ctx.settings.stack,
        "orderId": order_id,
        "status": "DEAD_LETTERED",
        "outcome": {
            "status": "DEAD_LETTERED",
            "error": letter.reason,
            "message": "Your order could not be processed.",
            "notified": False,
            "label": f"dead-lettered ({letter.reason})",
        },
        "started": None,
        "stopped": None,
        "current_step": None,
        "input": None,
        "output": None,
        "error": letter.reason,
        "cause": letter.error or None,
        "steps": [],
        "consumer_logs": [],
        "dead_letter": {
            "messageId": letter.message_id,
            "reason": letter.reason,
            "error": letter.error or None,
            "sent_at": letter.sent_at,
            "hint": f"`{command_hint(ctx, 'ordercli dlq')}` lists it; "
            f"`{command_hint(ctx, 'ordercli dlq --redrive')}` sends it back.",
        },
    }


def require_deployed(ctx: Any) -> None:
    """NotFound (exit 1) when the stack's state machine does not exist."""
    try:
        ctx.aws.client("stepfunctions").describe_state_machine(
            stateMachineArn=ctx.names.state_machine_arn
        )
    except Exception as exc:
        if error_code(exc) == "StateMachineDoesNotExist":
            raise not_deployed(ctx) from None
        raise


def not_deployed(ctx: Any) -> NotFound:
    return NotFound(
        f"Stack '{ctx.settings.stack}' is not deployed on {ctx.target.label}.",
        hint=f"`{command_hint(ctx, 'ordercli up')}` deploys it.",
    )


def _public_output(output: Any) -> Any:
    """The execution's output with a failed notification's cause reduced to its message."""
    from lambda_src.history import public_cause

    if isinstance(output, dict) and isinstance(output.get("notificationError"), dict):
        err = output["notificationError"]
        output = {
            **output,
            "notificationError": {**err, "Cause": public_cause(err.get("Cause")) or None},
        }
    return output


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
