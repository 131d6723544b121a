"""The DynamoDB payments table: one item per orderId, ProcessPayment's idempotency record.

On-demand billing: nothing to size, and an idle stack costs nothing. CreateTable returns
while the table is CREATING and DeleteTable while it is DELETING (AWS documents both as
asynchronous); a create waits until ACTIVE (and, after a teardown, for the old one to go),
and a DELETING table counts as gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none, wait_for
from ordercli.deploy.resources._common import Change, tag_diff, tag_list
from ordercli.deploy.specs import TableSpec
from ordercli.errors import AwsError, Conflict

KEY = "orderId"
POLL = 1.0
TIMEOUT = 300.0
DELETING = "DELETING"


@dataclass(frozen=True)
class TableState:
    arn: str
    status: str
    tags: dict[str, str]


def _status(aws: Aws, name: str) -> str | None:
    got = absent_is_none(lambda: aws.client("dynamodb").describe_table(TableName=name))
    return None if got is None else str(got["Table"].get("TableStatus"))


def read(aws: Aws, spec: TableSpec) -> TableState | None:
    ddb = aws.client("dynamodb")
    got = absent_is_none(lambda: ddb.describe_table(TableName=spec.name))
    if got is None or got["Table"].get("TableStatus") == DELETING:
        return None
    table = got["Table"]
    listed = ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
    return TableState(
        table["TableArn"], table.get("TableStatus", ""), {t["Key"]: t["Value"] for t in listed}
    )


def diff(spec: TableSpec, current: TableState) -> list[Change]:
    # Only the tags can drift: the key never changes (a new table would lose every charge).
    return tag_diff(spec.tags, current.tags)


def create(aws: Aws, spec: TableSpec) -> None:
    if _status(aws, spec.name) == DELETING:  # from a teardown a moment ago
        wait_for(
            aws,
            lambda: True if _status(aws, spec.name) is None else None,
            what=f"the previous table {spec.name} to finish DELETING",
            timeout=TIMEOUT,
            every=POLL,
            why=f"table {spec.name} is still DELETING from a teardown; waiting for AWS.",
        )
    aws.client("dynamodb").create_table(
        TableName=spec.name,
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tag_list(spec.tags),
    )
    wait_active(aws, spec.name)


def wait_active(aws: Aws, name: str, timeout: float = TIMEOUT) -> None:
    seen: list[str | None] = []

    def look() -> bool | None:
        seen.append(_status(aws, name))
        return True if seen[-1] == "ACTIVE" else None

    try:
        wait_for(aws, look, what=f"DynamoDB table {name} to be ACTIVE", timeout=timeout, every=POLL)
    except AwsError:
        raise AwsError(
            f"DynamoDB table {name} is {seen[-1] or 'missing'} after {timeout:.0f} s."
        ) from None


def update(aws: Aws, spec: TableSpec, current: TableState, changes: Sequence[Change]) -> None:
    aws.client("dynamodb").tag_resource(ResourceArn=current.arn, Tags=tag_list(spec.tags))


def delete(aws: Aws, spec: TableSpec, current: TableState) -> str | None:
    try:
        if absent_is_none(lambda: aws.client("dynamodb").delete_table(TableName=spec.name)):
            return "DELETING; AWS finishes this by itself" if _status(aws, spec.name) else None
    except Conflict:  # already DELETING (ResourceInUse): AWS finishes it
        return "DELETING; AWS finishes this by itself"
    return None
