"""CloudWatch log groups of the functions, made by ordercli so their retention is set."""

from __future__ import annotations

from typing import Any

from ordercli.deploy.resources._common import changed, missing, tag_diff


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    logs = aws.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=spec.name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == spec.name), None)
    if group is None:
        return None
    arn = group["arn"].removesuffix(":*")
    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
    return {"retention": group.get("retentionInDays"), "tags": tags, "arn": arn}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    return changed("retention days", spec.props["retention"], current["retention"]) + tag_diff(
        spec.props["tags"], current["tags"]
    )


def create(aws: Any, spec: Any) -> None:
    logs = aws.client("logs")
    try:
        logs.create_log_group(logGroupName=spec.name, tags=spec.props["tags"])
    except Exception as exc:
        # A function invoked before `up` made the group (Lambda creates it on first log line).
        if not missing(exc, "ResourceAlreadyExistsException"):
            raise
    logs.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.props["retention"])


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    logs = aws.client("logs")
    if current["retention"] != spec.props["retention"]:
        logs.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.props["retention"])
    if tag_diff(spec.props["tags"], current["tags"]):
        logs.tag_resource(resourceArn=current["arn"], tags=spec.props["tags"])


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("logs").delete_log_group(logGroupName=spec.name)
    except Exception as exc:
        if not missing(exc, "ResourceNotFoundException"):
            raise
