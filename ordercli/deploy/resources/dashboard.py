"""The CloudWatch dashboard: the metrics the original design said to watch."""

from __future__ import annotations

import json
from typing import Any

from ordercli.deploy.resources._common import missing

NOT_FOUND = ("ResourceNotFound", "DashboardNotFoundError", "ResourceNotFoundException")


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    try:
        got = aws.client("cloudwatch").get_dashboard(DashboardName=spec.name)
    except Exception as exc:
        if missing(exc, *NOT_FOUND):
            return None
        raise
    return {"body": got.get("DashboardBody", "{}")}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    try:
        same = json.loads(current["body"]) == json.loads(spec.props["body"])
    except ValueError:
        same = False
    return [] if same else ["widgets changed"]


def create(aws: Any, spec: Any) -> None:
    aws.client("cloudwatch").put_dashboard(
        DashboardName=spec.name, DashboardBody=spec.props["body"]
    )


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    create(aws, spec)


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("cloudwatch").delete_dashboards(DashboardNames=[spec.name])
    except Exception as exc:
        if not missing(exc, *NOT_FOUND):
            raise
