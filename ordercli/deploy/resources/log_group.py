"""CloudWatch log groups of the functions, made by ordercli so their retention is set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none
from ordercli.deploy.resources._common import Change, changed, tag_diff, whats
from ordercli.deploy.specs import LogGroupSpec
from ordercli.errors import Conflict


@dataclass(frozen=True)
class LogGroupState:
    retention: int | None
    tags: dict[str, str]
    arn: str


def read(aws: Aws, spec: LogGroupSpec) -> LogGroupState | None:
    logs = aws.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=spec.name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == spec.name), None)
    if group is None:
        return None
    arn = group["arn"].removesuffix(":*")
    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
    return LogGroupState(group.get("retentionInDays"), tags, arn)


def diff(spec: LogGroupSpec, current: LogGroupState) -> list[Change]:
    return changed("retention days", spec.retention, current.retention) + tag_diff(
        spec.tags, current.tags
    )


def create(aws: Aws, spec: LogGroupSpec) -> None:
    logs = aws.client("logs")
    try:
        logs.create_log_group(logGroupName=spec.name, tags=spec.tags)
    except Conflict:  # a function invoked before `up` made it (Lambda does on its first line)
        pass
    logs.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.retention)


def update(aws: Aws, spec: LogGroupSpec, current: LogGroupState, changes: Sequence[Change]) -> None:
    logs = aws.client("logs")
    if "retention days" in whats(changes):
        logs.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.retention)
    if "tags" in whats(changes):
        logs.tag_resource(resourceArn=current.arn, tags=spec.tags)


def delete(aws: Aws, spec: LogGroupSpec, current: LogGroupState) -> None:
    absent_is_none(lambda: aws.client("logs").delete_log_group(logGroupName=spec.name))
