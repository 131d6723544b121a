"""`ordercli cost`: the stack's monthly cost as configured, by service, with and without the
free tier. An estimate from list prices (ordercli/prices.py) and stated assumptions: it reads
the config and the workflow definition, and makes no AWS call unless durations are measured.

Step Functions and Lambda figures come from the definition itself: the states on the success
path (each entered once: one state transition each) and the functions its Task states call."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ordercli import prices
from ordercli.errors import UsageError

CONSUMER = "StartOrderWorkflow"
# Billed milliseconds per warm invocation at 128 MB when nothing was measured: the handlers
# are small; the payment makes one DynamoDB call, the notifier one SNS publish, the consumer
# one StartExecution per order.
ASSUMED_MS = {"ValidateOrder": 10, "ProcessPayment": 50, "SendNotification": 60, CONSUMER: 80}
SQS_REQUESTS_PER_ORDER = 3  # SendMessage, the trigger's ReceiveMessage and DeleteMessage
# The queue trigger long-polls even when the queue is empty: five pollers, one 20-second
# ReceiveMessage each at a time, all month.
IDLE_POLL_REQUESTS = 5 * (prices.HOURS_PER_MONTH * 3600 // 20)
# The payment's conditional put (an approved order's only request: a refused put returns the
# earlier charge). A declined order reads instead (strongly consistent: 1 RRU), off this path.
DYNAMODB_WRITES_PER_ORDER = 1
LOG_BYTES_PER_INVOCATION = 500  # START, END, REPORT and one JSON line, with per-event overhead
EBS_ROOT_GB = 8  # Elastic Beanstalk's default root volume
GB = 1024**3
TASK_RESOURCE = re.compile(r"^\$\{(\w+)Arn\}$")


@dataclass(frozen=True)
class CostLine:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float  # without the free tier
    usd_free_tier: float  # after this month's free tier
    free_kind: str | None
    source: str = prices.SOURCE  # the pricing page of the rate

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "usd": round(self.usd, 4),
            "usd_with_free_tier": round(self.usd_free_tier, 4),
            "free_tier": self.free_kind,
            "price_source": self.source,
        }


@dataclass(frozen=True)
class Estimate:
    stack: str
    orders_per_month: int
    lines: tuple[CostLine, ...]
    success_path: tuple[str, ...]
    durations_ms: Mapping[str, float]
    durations_source: str  # "assumed" or where they were measured
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def total_free_tier(self) -> float:
        return sum(line.usd_free_tier for line in self.lines)

    def by_service(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for line in self.lines:
            a, b = out.get(line.service, (0.0, 0.0))
            out[line.service] = (a + line.usd, b + line.usd_free_tier)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "estimate": True,
            "currency": "USD",
            "prices": {"region": prices.REGION, "as_of": prices.AS_OF, "source": prices.SOURCE},
            "orders_per_month": self.orders_per_month,
            "state_transitions_per_order": len(self.success_path),
            "success_path": list(self.success_path),
            "lambda_ms": dict(self.durations_ms),
            "lambda_ms_source": self.durations_source,
            "lines": [line.to_json() for line in self.lines],
            "by_service": {
                k: {"usd": round(a, 4), "usd_with_free_tier": round(b, 4)}
                for k, (a, b) in self.by_service().items()
            },
            "total_usd": round(self.total, 4),
            "total_usd_with_free_tier": round(self.total_free_tier, 4),
            "notes": list(self.notes),
        }


def success_path(definition: Mapping[str, Any]) -> list[str]:
    """The states an order that succeeds at once enters, in order: from StartAt along `Next`
    (a Choice along its Default) to a Succeed state or `End`. Catch branches and retries are
    the failure paths and are not on it."""
    states = definition["States"]
    path: list[str] = []
    name: str | None = definition["StartAt"]
    while name is not None:
        if name in path:
            raise ValueError(f"the workflow's success path loops at {name}")
        state = states[name]
        path.append(name)
        if state.get("Type") in ("Succeed", "Fail") or state.get("End"):
            break
        name = state.get("Default") if state.get("Type") == "Choice" else state.get("Next")
    return path


def path_functions(definition: Mapping[str, Any], path: list[str]) -> list[str]:
    """The functions the path's Task states invoke (their Resource is `${<Function>Arn}`)."""
    out = []
    for name in path:
        m = TASK_RESOURCE.match(str(definition["States"][name].get("Resource", "")))
        if m:
            out.append(m.group(1))
    return out


class _FreeTier:
    """Monthly allowances, drawn down as lines use them (a shared pool is used once)."""

    def __init__(self) -> None:
        self.left: dict[str, float] = {}

    def billable(self, key: str, rate: prices.Rate, quantity: float) -> float:
        pool = rate.pool or key
        left = self.left.setdefault(pool, rate.free)
        used = min(left, quantity)
        self.left[pool] = left - used
        return quantity - used


def estimate(
    settings: Any,
    definition: Mapping[str, Any],
    orders_per_month: int,
    *,
    durations_ms: Mapping[str, float] | None = None,
    durations_source: str = "assumed",
) -> Estimate:
    """The monthly bill at `orders_per_month`, line by line."""
    if orders_per_month < 0:
        raise UsageError(f"--orders-per-month must be 0 or more, got {orders_per_month}")
    orders = orders_per_month
    ms = {**ASSUMED_MS, **(durations_ms or {})}
    path = success_path(definition)
    calls = [CONSUMER, *path_functions(definition, path)]  # one order's invocations
    invocations: dict[str, int] = {}
    for fn in calls:
        invocations[fn] = invocations.get(fn, 0) + orders
    memory_gb = settings["lambda.memory"] / 1024
    free = _FreeTier()
    lines: list[CostLine] = []

    def add(
        service: str,
        item: str,
        key: str,
        quantity: float,
        unit_usd: float | None = None,
        free_ok: bool = True,
    ) -> None:
        rate = prices.RATES[key]
        price = rate.unit_price() if unit_usd is None else unit_usd
        covered = free_ok and rate.free_kind is not None
        billable = free.billable(key, rate, quantity) if covered else quantity
        lines.append(
            CostLine(
                service,
                item,
                quantity,
                rate.unit,
                quantity * price,
                billable * price,
                rate.free_kind if covered else None,
                rate.source,
            )
        )

    add(
        "SQS",
        f"requests ({SQS_REQUESTS_PER_ORDER}/order + idle polling)",
        "sqs.requests",
        orders * SQS_REQUESTS_PER_ORDER + IDLE_POLL_REQUESTS,
    )
    add(
        "Step Functions",
        f"state transitions ({len(path)}/order)",
        "states.transitions",
        orders * len(path),
    )
    total_invocations = sum(invocations.values())
    add("Lambda", f"requests ({len(calls)}/order)", "lambda.requests", total_invocations)
    gb_seconds = sum(n * math.ceil(ms[fn]) / 1000 * memory_gb for fn, n in invocations.items())
    add("Lambda", f"compute ({settings['lambda.memory']} MB)", "lambda.gb_seconds", gb_seconds)
    add("SNS", "publishes (1/order)", "sns.publishes", orders)
    if settings["notify.email"]:
        add("SNS", "emails to notify.email", "sns.email", orders)
    add(
        "DynamoDB",
        f"payments writes ({DYNAMODB_WRITES_PER_ORDER}/order)",
        "dynamodb.writes",
        orders * DYNAMODB_WRITES_PER_ORDER,
    )
    ingested = total_invocations * LOG_BYTES_PER_INVOCATION / GB
    retention = settings["log_retention_days"]
    add("CloudWatch", "Logs ingestion", "logs.ingestion", ingested)
    add(
        "CloudWatch",
        f"Logs storage ({retention}-day retention)",
        "logs.storage",
        ingested * retention / 30,
    )
    add("CloudWatch", "dashboard", "cloudwatch.dashboards", 1)
    add("CloudWatch", "DLQ alarm", "cloudwatch.alarms", 1)
    notes = [
        f"Step Functions: {len(path)} state transitions per order, counted on the success "
        f"path of the workflow definition ({' > '.join(path)}); retries and the failure "
        "branches add transitions.",
        f"Lambda: {memory_gb * 1024:.0f} MB per function; billed ms per invocation "
        f"({durations_source}): "
        + ", ".join(f"{fn} {ms[fn]:g}" for fn in invocations)
        + "; one order per consumer invocation (a busy queue batches up to 10).",
        f"SQS: SendMessage, ReceiveMessage and DeleteMessage per order, and the trigger's five "
        f"20-second long polls while idle ({IDLE_POLL_REQUESTS:,} requests a month). DynamoDB: "
        "on demand, one conditional write per paid order (a declined order reads once "
        "instead); no free tier for on-demand requests.",
        f"CloudWatch Logs: {LOG_BYTES_PER_INVOCATION} bytes per invocation; storage at steady "
        "state, uncompressed. The free tier is always-free allowances except where noted; an "
        "account gets it once, whatever else it runs.",
    ]
    region = settings["region"]
    if region and region != prices.REGION:
        notes.append(
            f"Prices are {prices.REGION}'s; the stack's region {region} may charge more "
            "(see each service's pricing page)."
        )
    if settings["webapp.enabled"]:
        notes += _webapp(settings, add)
    return Estimate(
        stack=settings["stack"],
        orders_per_month=orders,
        lines=tuple(lines),
        success_path=tuple(path),
        durations_ms={fn: ms[fn] for fn in invocations},
        durations_source=durations_source,
        notes=tuple(notes),
    )


def _webapp(settings: Any, add: Callable[..., None]) -> list[str]:
    """The web app's Elastic Beanstalk environment (single instance): the instance, its root
    volume and its public address. Elastic Beanstalk itself costs nothing."""
    kind = settings["webapp.instance_type"]
    hourly = prices.INSTANCE_HOURLY.get(kind)
    hours = prices.HOURS_PER_MONTH
    if hourly is None:
        return [
            f"Web app: no price for instance type {kind} in ordercli/prices.py; the "
            "instance is not counted."
        ]
    free_ok = kind in prices.FREE_TIER_INSTANCE_TYPES
    add("EC2 (web app)", f"{kind} instance", "ec2.hours", hours, hourly, free_ok=free_ok)
    add("EC2 (web app)", f"{EBS_ROOT_GB} GB gp3 volume", "ebs.gp3", EBS_ROOT_GB)
    add("EC2 (web app)", "public IPv4 address", "ec2.public_ipv4", hours)
    return [
        f"Web app: one {kind} instance all month ({hours} h), single-instance environment (no "
        "load balancer). EC2's free tier (750 h of "
        f"{' or '.join(prices.FREE_TIER_INSTANCE_TYPES)}, 30 GB of EBS, 750 h of public IPv4) "
        "lasts an account's first 12 months, for accounts created before 2025-07-15.",
    ]


REPORT_DURATION = re.compile(r"(?:Billed Duration|Duration): ([0-9.]+) ms")
MEASURE_HOURS = 24
MEASURE_SAMPLE = 500  # REPORT lines read per function, at most


def billed_ms(report_line: str) -> float | None:
    """The billed milliseconds of a Lambda REPORT line (AWS's `Billed Duration`, or the
    duration rounded up to the millisecond as Lambda bills it where only that is given)."""
    billed = re.search(r"Billed Duration: ([0-9.]+) ms", report_line)
    if billed:
        return float(billed.group(1))
    m = REPORT_DURATION.search(report_line)
    return float(math.ceil(float(m.group(1)))) if m else None


def measure_durations(ctx: Any, now_ms: int | None = None) -> dict[str, float]:
    """Mean billed ms per invocation of each function over the last day, from the REPORT lines
    in its log group (a sample of the first MEASURE_SAMPLE). Functions with none are left out."""
    import time

    from ordercli.aws import error_code
    from ordercli.names import FUNCTIONS

    logs = ctx.aws.client("logs")
    end = now_ms if now_ms is not None else int(time.time() * 1000)
    out: dict[str, float] = {}
    for fn in FUNCTIONS:
        values: list[float] = []
        try:
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=ctx.names.log_group(fn),
                startTime=end - MEASURE_HOURS * 3600 * 1000,
                endTime=end,
                filterPattern='"REPORT RequestId"',
            )
            for page in pages:
                values += [v for e in page["events"] if (v := billed_ms(e["message"])) is not None]
                if len(values) >= MEASURE_SAMPLE:
                    break
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        if values:
            out[fn] = round(sum(values[:MEASURE_SAMPLE]) / len(values[:MEASURE_SAMPLE]), 1)
    return out


def workflow_definition() -> dict[str, Any]:
    """The state machine as `up` deploys it (placeholders left in: only the shape counts)."""
    import json

    from ordercli.deploy.policies import definitions_dir

    text = (definitions_dir() / "workflow.asl.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def stack_cost(
    settings: Any,
    orders_per_month: int,
    *,
    durations_ms: Mapping[str, float] | None = None,
    durations_source: str = "assumed",
) -> Estimate:
    return estimate(
        settings,
        workflow_definition(),
        orders_per_month,
        durations_ms=durations_ms,
        durations_source=durations_source,
    )
