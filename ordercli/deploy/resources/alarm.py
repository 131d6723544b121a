"""The alarm on dead-lettered orders: any message in the DLQ notifies the topic."""

from __future__ import annotations

from typing import Any

from ordercli.deploy.resources._common import changed

COMPARED = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "AlarmActions",
    "Dimensions",
    "TreatMissingData",
)


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=[spec.name])["MetricAlarms"]
    return alarms[0] if alarms else None


def _args(spec: Any) -> dict[str, Any]:
    return {"AlarmName": spec.name, **spec.props["alarm"]}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    want = spec.props["alarm"]
    reasons: list[str] = []
    for key in COMPARED:
        have = current.get(key)
        if key == "Threshold" and have is not None:
            have = float(have)
        reasons += changed(key, want.get(key), have)
    return reasons


def create(aws: Any, spec: Any) -> None:
    tags = [{"Key": k, "Value": v} for k, v in spec.props["tags"].items()]
    aws.client("cloudwatch").put_metric_alarm(**_args(spec), Tags=tags)


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    aws.client("cloudwatch").put_metric_alarm(**_args(spec))


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    aws.client("cloudwatch").delete_alarms(AlarmNames=[spec.name])
