"""CloudWatch metrics on the local target, recorded as AWS publishes them, into moto's
CloudWatch backend: the stack's dashboard, `ordercli status` and the web app's /dashboard run
the same GetMetricData queries on both targets. moto records no service metrics and never
evaluates alarms; this module does both, inside the emulator process.

What is recorded (names, dimensions and units from the AWS docs of each service):
- AWS/Lambda Invocations, Errors (Sum) and Duration (ms) per FunctionName, for every
  invocation from any path (queue mapping, workflow Task, Invoke API).
- AWS/States ExecutionsStarted, ExecutionsSucceeded/Failed/TimedOut/Aborted and ExecutionTime
  (ms, start to close) per StateMachineArn.
- AWS/SQS NumberOfMessagesSent per QueueName (SendMessage and batches; AWS does not count a
  message moved to a DLQ by a redrive policy) and ApproximateNumberOfMessagesVisible, sampled.
- Metric alarms on a single metric are evaluated every tick; a change of state is recorded
  (DescribeAlarms, history) and notifies the alarm's SNS actions with the JSON message
  CloudWatch sends.

Counts are summed per tick before they are stored (AWS aggregates to one-minute points too);
Duration and ExecutionTime keep each value, so percentiles (p50, p95) can be read."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("ordercli.metrics")

TICK = 5.0  # seconds between flushes, queue-depth samples and alarm evaluations
RETENTION = timedelta(hours=24)  # older points are dropped so a long run stays flat
ACCOUNT = "123456789012"

Series = tuple[str, str, str, tuple[tuple[str, str], ...]]  # region, namespace, name, dims


class Recorder:
    """Buffers counts between ticks; values (durations) go straight to the backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Series, float] = defaultdict(float)

    def count(
        self, region: str, namespace: str, name: str, dims: dict[str, str], n: float = 1.0
    ) -> None:
        key = (region, namespace, name, tuple(sorted(dims.items())))
        with self._lock:
            self._counts[key] += n

    def value(
        self, region: str, namespace: str, name: str, dims: dict[str, str], v: float, unit: str
    ) -> None:
        store(region, namespace, name, dims, v, unit)

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(float)
        for (region, namespace, name, dims), n in counts.items():
            store(region, namespace, name, dict(dims), n, "Count")


def _backend(region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT][region]


def store(
    region: str, namespace: str, name: str, dims: dict[str, str], value: float, unit: str
) -> None:
    from moto.cloudwatch.models import MetricDatum

    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as moto's own points
    datum = MetricDatum(namespace, name, float(value), dimensions, now, unit)
    _backend(region).metric_data.append(datum)  # list.append: atomic under the GIL


RECORDER = Recorder()


# -- the events, as the moto hooks report them ----------------------------------------------
def lambda_invoked(fn: Any, errored: bool, duration_ms: float) -> None:
    dims = {"FunctionName": fn.function_name}
    RECORDER.count(fn.region, "AWS/Lambda", "Invocations", dims)
    RECORDER.count(fn.region, "AWS/Lambda", "Errors", dims, 1.0 if errored else 0.0)
    RECORDER.value(fn.region, "AWS/Lambda", "Duration", dims, duration_ms, "Milliseconds")


def message_sent(region: str, queue_name: str) -> None:
    RECORDER.count(region, "AWS/SQS", "NumberOfMessagesSent", {"QueueName": queue_name})


_running = [0]  # executions started and not yet closed: a cheap gauge for the poller


def running_estimate() -> int:
    return _running[0]


def correct_running(count: int) -> None:
    _running[0] = count


def execution_started(execution: Any) -> None:
    _running[0] += 1
    dims = {"StateMachineArn": execution.state_machine_arn}
    RECORDER.count(execution.region_name, "AWS/States", "ExecutionsStarted", dims)


TERMINAL_METRIC = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}


def execution_closed(execution: Any) -> None:
    status = getattr(execution.exec_status, "value", None)
    name = TERMINAL_METRIC.get(str(status))
    if name is None:
        return
    _running[0] = max(0, _running[0] - 1)
    region, dims = execution.region_name, {"StateMachineArn": execution.state_machine_arn}
    RECORDER.count(region, "AWS/States", name, dims)
    if execution.stop_date is not None:
        ms = (execution.stop_date - execution.start_date).total_seconds() * 1000
        RECORDER.value(region, "AWS/States", "ExecutionTime", dims, ms, "Milliseconds")


# -- each tick: queue depths, alarms, retention ----------------------------------------------
def sample_queues() -> None:
    from moto.sqs.models import sqs_backends

    for region, backend in list(sqs_backends[ACCOUNT].items()):
        for name, queue in list(backend.queues.items()):
            visible = queue.approximate_number_of_messages
            store(
                region,
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": name},
                visible,
                "Count",
            )


COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _alarm_value(backend: Any, alarm: Any, now: datetime) -> float | None:
    from ordercli.local.moto_hooks import metric_statistic

    stat = alarm.statistic or alarm.extended_statistic
    dims = {d.name: d.value for d in alarm.dimensions}
    window = timedelta(seconds=int(alarm.period) * int(alarm.evaluation_periods))
    return metric_statistic(
        backend, alarm.namespace, alarm.metric_name, dims, stat, now - window, now
    )


def evaluate_alarms(now: datetime | None = None) -> None:
    """Each metric alarm's state from its metric over its evaluation window, as CloudWatch
    does (missing data treated per TreatMissingData); a change notifies the alarm's actions."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = now or datetime.now(UTC)
    for region, backend in list(cloudwatch_backends[ACCOUNT].items()):
        for alarm in list(backend.alarms.values()):
            if not alarm.metric_name or alarm.metric_data_queries:
                continue  # metric-math alarms are not evaluated locally
            compare = COMPARE.get(alarm.comparison_operator)
            if compare is None:
                continue
            value = _alarm_value(backend, alarm, now)
            threshold = float(alarm.threshold)
            if value is None:
                missing = alarm.treat_missing_data or "missing"
                state = {"breaching": "ALARM", "notBreaching": "OK"}.get(missing)
                if state is None:
                    continue  # "ignore" and "missing": keep the current state
                reason = f"Threshold Crossed: no datapoints were received ({missing})."
            else:
                state = "ALARM" if compare(value, threshold) else "OK"
                reason = (
                    f"Threshold Crossed: 1 datapoint [{value:g}] was "
                    f"{'' if state == 'ALARM' else 'not '}{alarm.comparison_operator} "
                    f"the threshold ({threshold:g})."
                )
            if state != alarm.state_value:
                _change_state(region, backend, alarm, state, reason, now)


def _change_state(
    region: str, backend: Any, alarm: Any, state: str, reason: str, now: datetime
) -> None:
    old = alarm.state_value
    data = json.dumps({"version": "1.0", "evaluatedDatapoints": [], "queryDate": now.isoformat()})
    backend.set_alarm_state(alarm.name, reason, data, state)
    actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions}.get(state) or []
    if not alarm.actions_enabled:
        return
    # The notification CloudWatch publishes to an SNS action (its documented JSON fields).
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": ACCOUNT,
        "NewStateValue": state,
        "NewStateReason": reason,
        "StateChangeTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "Region": region,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old,
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "Statistic": str(alarm.statistic or "").upper(),
            "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
        },
    }
    from moto.sns.models import sns_backends

    for arn in actions:
        if not str(arn).startswith("arn:aws:sns:"):
            continue
        topic_region = str(arn).split(":")[3]
        subject = f'{state}: "{alarm.name}" in {region}'[:100]
        try:
            sns_backends[ACCOUNT][topic_region].publish(
                json.dumps(message), arn=arn, subject=subject
            )
        except Exception:  # a deleted topic: CloudWatch drops the notification too
            log.info("alarm %s: could not notify %s", alarm.name, arn, exc_info=True)


def drop_old(now: datetime | None = None) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    from ordercli.local.moto_hooks import utc_naive

    cutoff = utc_naive(now or datetime.now(UTC)) - RETENTION
    for backend in list(cloudwatch_backends[ACCOUNT].values()):
        data = backend.metric_data
        if data and utc_naive(data[0].timestamp) < cutoff:
            backend.metric_data = [d for d in data if utc_naive(d.timestamp) >= cutoff]


def tick() -> None:
    RECORDER.flush()
    sample_queues()
    evaluate_alarms()


class Ticker(threading.Thread):
    def __init__(self, every: float = TICK) -> None:
        super().__init__(name="metrics", daemon=True)
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        last_trim = time.monotonic()
        while not self.stopped.wait(self.every):
            try:
                tick()
                if time.monotonic() - last_trim > 60:
                    drop_old()
                    last_trim = time.monotonic()
            except Exception:  # a bad tick must not end the metrics for good
                log.warning("metrics tick failed", exc_info=True)


def install(every: float = TICK) -> Ticker:
    """Hook moto (before the first request is served) and start the ticker."""
    from ordercli.local import moto_hooks

    moto_hooks.record_metrics(lambda_invoked, message_sent, execution_started, execution_closed)
    moto_hooks.fast_metric_data()
    ticker = Ticker(every)
    ticker.start()
    return ticker
