"""The alarm on dead-lettered orders: any message in the DLQ notifies the topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws
from ordercli.deploy.resources._common import Change, changed, tag_list
from ordercli.deploy.specs import AlarmSpec

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


@dataclass(frozen=True)
class AlarmState:
    settings: dict[str, object]  # DescribeAlarms' fields, of which COMPARED are compared


def read(aws: Aws, spec: AlarmSpec) -> AlarmState | None:
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=[spec.name])["MetricAlarms"]
    return AlarmState(alarms[0]) if alarms else None


def diff(spec: AlarmSpec, current: AlarmState) -> list[Change]:
    changes: list[Change] = []
    for key in COMPARED:
        have = current.settings.get(key)
        if key == "Threshold" and isinstance(have, int | float):
            have = float(have)
        changes += changed(key, spec.alarm.get(key), have)
    return changes


def create(aws: Aws, spec: AlarmSpec) -> None:
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=spec.name, **spec.alarm, Tags=tag_list(spec.tags)
    )


def update(aws: Aws, spec: AlarmSpec, current: AlarmState, changes: Sequence[Change]) -> None:
    aws.client("cloudwatch").put_metric_alarm(AlarmName=spec.name, **spec.alarm)


def delete(aws: Aws, spec: AlarmSpec, current: AlarmState) -> None:
    aws.client("cloudwatch").delete_alarms(AlarmNames=[spec.name])
