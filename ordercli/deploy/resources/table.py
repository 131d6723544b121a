"""The DynamoDB payments table: one item per orderId, ProcessPayment's idempotency record.

On-demand billing: nothing to size, and an idle stack costs nothing. CreateTable returns
while the table is CREATING and DeleteTable while it is DELETING (AWS documents both as
asynchronous); a create waits until ACTIVE, and a DELETING table counts as gone."""

from __future__ import annotations

import time
from typing import Any

from ordercli.deploy.resources._common import missing, tag_diff
from ordercli.errors import AwsError

NOT_FOUND = ("ResourceNotFoundException",)
KEY = "orderId"
POLL = 1.0
CREATE_TIMEOUT = 300.0


def _describe(ddb: Any, name: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = ddb.describe_table(TableName=name)["Table"]
    except Exception as exc:
        if missing(exc, *NOT_FOUND):
            return None
        raise
    return table


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    ddb = aws.client("dynamodb")
    table = _describe(ddb, spec.name)
    if table is None or table.get("TableStatus") == "DELETING":
        return None
    tags = {
        t["Key"]: t["Value"]
        for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
    }
    return {"arn": table["TableArn"], "status": table.get("TableStatus"), "tags": tags}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    # Only the tags can drift: the key never changes (a new table would lose every charge).
    return tag_diff(spec.props["tags"], current["tags"])


def create(aws: Any, spec: Any) -> None:
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=spec.name,
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )
    wait_active(aws, spec.name)


def wait_active(aws: Any, name: str, timeout: float = CREATE_TIMEOUT) -> None:
    ddb = aws.client("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        table = _describe(ddb, name)
        status = None if table is None else table.get("TableStatus")
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise AwsError(f"DynamoDB table {name} is {status or 'missing'} after {timeout:.0f} s.")
        aws.sleep(POLL)


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    aws.client("dynamodb").tag_resource(
        ResourceArn=current["arn"],
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("dynamodb").delete_table(TableName=spec.name)
    except Exception as exc:
        # gone, or already DELETING (ResourceInUse): either way AWS finishes it
        if not missing(exc, *NOT_FOUND, "ResourceInUseException"):
            raise
