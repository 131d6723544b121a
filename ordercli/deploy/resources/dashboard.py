"""The CloudWatch dashboard: the metrics the original design said to watch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none
from ordercli.deploy.resources._common import Change
from ordercli.deploy.specs import DashboardSpec


@dataclass(frozen=True)
class DashboardState:
    body: str


def read(aws: Aws, spec: DashboardSpec) -> DashboardState | None:
    cw = aws.client("cloudwatch")
    got = absent_is_none(lambda: cw.get_dashboard(DashboardName=spec.name))
    return None if got is None else DashboardState(got.get("DashboardBody", "{}"))


def diff(spec: DashboardSpec, current: DashboardState) -> list[Change]:
    try:
        same = json.loads(current.body) == json.loads(spec.body)
    except ValueError:
        same = False
    return [] if same else [Change("widgets", note="widgets changed")]


def create(aws: Aws, spec: DashboardSpec) -> None:
    aws.client("cloudwatch").put_dashboard(DashboardName=spec.name, DashboardBody=spec.body)


def update(
    aws: Aws, spec: DashboardSpec, current: DashboardState, changes: Sequence[Change]
) -> None:
    create(aws, spec)


def delete(aws: Aws, spec: DashboardSpec, current: DashboardState) -> None:
    absent_is_none(lambda: aws.client("cloudwatch").delete_dashboards(DashboardNames=[spec.name]))
