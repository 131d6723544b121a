"""The pipeline's figures for a window, read with one GetMetricData call from the metrics AWS
publishes (and the local emulator records the same way): orders per hour, payment success
rate, p50/p95 processing latency, errors by function, queue and DLQ depth, each as a total
and as a series for charts. Used by `ordercli status` and the web app's /dashboard.

Standard library only (plus a CloudWatch client handed in), so it ships in the web app's
bundle. Rates are computed here, not with metric math: the figures are the same everywhere.
Latency is the workflow's ExecutionTime (start of the execution to its close)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ordercli.names import FUNCTIONS, Names

MAX_POINTS = 60  # points per chart series


@dataclass(frozen=True)
class Series:
    times: tuple[str, ...]  # ISO 8601 UTC, the start of each period
    values: tuple[float | None, ...]  # None: no data in that period


@dataclass(frozen=True)
class PipelineMetrics:
    start: str
    end: str
    period_seconds: int
    orders: int  # messages sent to the orders queue in the window
    orders_per_hour: float
    succeeded: int
    failed: int
    payment_success_rate: float | None  # succeeded / (succeeded + failed); None if neither
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    errors_by_function: dict[str, int]  # logical name (ValidateOrder, ...) -> Errors
    queue_depth: int | None  # the latest sample in the window
    dlq_depth: int | None
    series: dict[str, Series]  # orders, success_rate, p50, p95, errors, queue, dlq

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def period_for(window: timedelta) -> int:
    """A multiple of 60 s giving at most MAX_POINTS points over the window."""
    seconds = max(60, int(window.total_seconds()))
    per_point = -(-seconds // MAX_POINTS)
    return max(60, -(-per_point // 60) * 60)


def _query(
    qid: str, namespace: str, metric: str, dims: dict[str, str], stat: str, period: int
) -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def queries(names: Names, period: int, whole: int) -> list[dict[str, Any]]:
    sm = {"StateMachineArn": names.state_machine_arn}
    queue, dlq = {"QueueName": names.queue}, {"QueueName": names.dlq}
    out = [
        _query("orders", "AWS/SQS", "NumberOfMessagesSent", queue, "Sum", period),
        _query("ok", "AWS/States", "ExecutionsSucceeded", sm, "Sum", period),
        _query("failed", "AWS/States", "ExecutionsFailed", sm, "Sum", period),
        _query("p50", "AWS/States", "ExecutionTime", sm, "p50", period),
        _query("p95", "AWS/States", "ExecutionTime", sm, "p95", period),
        _query("p50all", "AWS/States", "ExecutionTime", sm, "p50", whole),
        _query("p95all", "AWS/States", "ExecutionTime", sm, "p95", whole),
        _query("queue", "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum", period),
        _query("dlq", "AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, "Maximum", period),
    ]
    for i, logical in enumerate(FUNCTIONS):
        fn = {"FunctionName": names.function(logical)}
        out.append(_query(f"err{i}", "AWS/Lambda", "Errors", fn, "Sum", period))
    return out


def _fetch(
    cloudwatch: Any, qs: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, dict[datetime, float]]:
    got: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in qs}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": qs,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for r in page.get("MetricDataResults", []):
            for t, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False):
                got[r["Id"]][t.astimezone(UTC)] = float(v)
        token = page.get("NextToken")
        if not token:
            return got
        kwargs["NextToken"] = token


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read(
    cloudwatch: Any,
    names: Names,
    window: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> PipelineMetrics:
    """The figures for the window ending now (a GetMetricData call or a few pages of one)."""
    period = period_for(window)
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    # Align to the period (CloudWatch aligns points to it) and include the current period.
    end = end - timedelta(seconds=end.timestamp() % period) + timedelta(seconds=period)
    start = end - timedelta(seconds=period * -(-int(window.total_seconds()) // period))
    whole = int((end - start).total_seconds())
    got = _fetch(cloudwatch, queries(names, period, whole), start, end)
    times = [start + timedelta(seconds=period * i) for i in range(whole // period)]

    def series(qid: str) -> Series:
        return Series(tuple(_iso(t) for t in times), tuple(got[qid].get(t) for t in times))

    def total(qid: str) -> int:
        return int(sum(got[qid].values()))

    def latest(qid: str) -> int | None:
        points = got[qid]
        return int(points[max(points)]) if points else None

    ok, failed = total("ok"), total("failed")
    rate: list[float | None] = []
    for t in times:
        s, f = got["ok"].get(t, 0.0), got["failed"].get(t, 0.0)
        rate.append(round(100 * s / (s + f), 1) if s + f else None)
    errors = {logical: total(f"err{i}") for i, logical in enumerate(FUNCTIONS)}
    error_series = tuple(
        sum(got[f"err{i}"].get(t, 0.0) for i in range(len(FUNCTIONS))) for t in times
    )
    hours = window.total_seconds() / 3600
    orders = total("orders")
    return PipelineMetrics(
        start=_iso(start),
        end=_iso(end),
        period_seconds=period,
        orders=orders,
        orders_per_hour=round(orders / hours, 1) if hours else 0.0,
        succeeded=ok,
        failed=failed,
        payment_success_rate=round(100 * ok / (ok + failed), 1) if ok + failed else None,
        latency_p50_ms=next(iter(got["p50all"].values()), None),
        latency_p95_ms=next(iter(got["p95all"].values()), None),
        errors_by_function=errors,
        queue_depth=latest("queue"),
        dlq_depth=latest("dlq"),
        series={
            "orders": series("orders"),
            "success_rate": Series(tuple(_iso(t) for t in times), tuple(rate)),
            "p50": series("p50"),
            "p95": series("p95"),
            "errors": Series(tuple(_iso(t) for t in times), error_series),
            "queue": series("queue"),
            "dlq": series("dlq"),
        },
    )


def names_from_state_machine(arn: str) -> Names:
    """The stack's names from its state machine's ARN (what the web app is told)."""
    _, partition, _, region, account, _, name = arn.split(":", 6)
    return Names(name.removesuffix("-OrderProcessingWorkflow"), region, account, partition)
