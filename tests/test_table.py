"""The payments table as a deployed resource: made ACTIVE and tagged by `up`, gone after
`teardown`; CREATING is waited for and DELETING counts as gone."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ordercli.deploy import stack as engine
from ordercli.deploy.resources import table
from ordercli.deploy.specs import TableSpec
from ordercli.errors import AwsError
from tests.conftest import MakeCtx


def _ddb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def test_up_makes_the_payments_table_and_teardown_deletes_it(make_ctx: MakeCtx) -> None:
    result = engine.up(make_ctx("pay"))
    assert any(a.spec.kind == "table" and a.action == "create" for a in result.plan.actions)
    t = _ddb().describe_table(TableName="pay-payments")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["KeySchema"] == [{"AttributeName": "orderId", "KeyType": "HASH"}]
    tags = _ddb().list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"]
    assert {"Key": "ordercli:stack", "Value": "pay"} in tags
    again = engine.up(make_ctx("pay"))
    assert [a.action for a in again.plan.actions if a.spec.kind == "table"] == ["noop"]
    engine.teardown(make_ctx("pay"))
    assert "pay-payments" not in _ddb().list_tables()["TableNames"]


def test_lost_tags_are_put_back(make_ctx: MakeCtx) -> None:
    engine.up(make_ctx("tg"))
    arn = _ddb().describe_table(TableName="tg-payments")["Table"]["TableArn"]
    _ddb().untag_resource(ResourceArn=arn, TagKeys=["ordercli:stack"])
    result = engine.up(make_ctx("tg"))
    assert [a.action for a in result.plan.actions if a.spec.kind == "table"] == ["update"]
    assert _ddb().list_tags_of_resource(ResourceArn=arn)["Tags"]


class Statuses:
    """describe_table answering a scripted series of statuses (moto is always ACTIVE)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)
        self.exceptions = _ddb().exceptions

    def describe_table(self, TableName: str) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Table": {"TableName": TableName, "TableStatus": status, "TableArn": "arn:x"}}

    def list_tags_of_resource(self, ResourceArn: str) -> dict[str, Any]:
        return {"Tags": []}


class FakeAws:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.slept: list[float] = []

    def client(self, service: str) -> Any:
        return self._client

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def now(self) -> float:  # time passes only by sleeping
        return sum(self.slept)

    def say(self, line: str) -> None:
        pass

    def countdown(self, what: str, left: float) -> None:
        pass


def test_create_waits_until_active() -> None:
    aws = FakeAws(Statuses("CREATING", "CREATING", "ACTIVE"))
    table.wait_active(aws, "x-payments")  # type: ignore[arg-type]
    assert len(aws.slept) == 2


def test_a_table_that_never_becomes_active_is_an_error_naming_it() -> None:
    aws = FakeAws(Statuses("CREATING"))
    with pytest.raises(AwsError, match="x-payments is CREATING"):
        table.wait_active(aws, "x-payments", timeout=0)  # type: ignore[arg-type]


def test_a_deleting_table_counts_as_gone() -> None:
    spec = TableSpec("x-payments", arn="arn:x", tags={})
    assert table.read(FakeAws(Statuses("DELETING")), spec) is None  # type: ignore[arg-type]
    assert table.read(FakeAws(Statuses("ACTIVE")), spec) is not None  # type: ignore[arg-type]
