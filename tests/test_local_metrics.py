"""The emulator's CloudWatch metrics and DLQ alarm, against the real emulator process: the
figures `status` and /dashboard show come from the same GetMetricData queries as on AWS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import pytest
from typer.testing import CliRunner

from lambda_src.order import payment_approved
from ordercli.cli import app
from ordercli.names import FUNCTIONS, Names
from ordercli.operate import metrics

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def client(local: dict[str, str], service: str) -> Any:
    return boto3.client(service, endpoint_url=local["endpoint"], region_name="us-east-1")


def eventually(get: Callable[[], T], ok: Callable[[T], bool], timeout: float = 40) -> T:
    """The first value `get` returns that satisfies `ok` (metrics land on the next tick)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s: {value}")
        time.sleep(0.5)


def up(stack: str, tmp_path: Any) -> Names:
    cfg = tmp_path / "ordercli.yaml"
    cfg.write_text("payment:\n  seed: 7\n  success_rate: 0.5\n")
    result = CliRunner().invoke(
        app, ["up", "--local", "--stack", stack, "--no-web", "--config", str(cfg)]
    )
    assert result.exit_code == 0, result.stderr
    return Names(stack, "us-east-1", "123456789012")


def test_pipeline_figures_come_from_the_metrics_aws_publishes(
    local: dict[str, str], tmp_path: Any
) -> None:
    names = up("met", tmp_path)
    sent = CliRunner().invoke(
        app, ["submit", "--local", "--stack", "met", "--count", "8", "--wait", "--json"]
    )
    assert sent.exit_code in (0, 1), sent.stderr
    orders = json.loads(sent.stdout)["orders"]
    confirmed = sum(o["status"] == "SUCCEEDED" for o in orders)
    failed = sum(o["status"] == "FAILED" for o in orders)
    assert confirmed + failed == 8 and failed  # the seed declines some of them
    cw = client(local, "cloudwatch")
    got = eventually(
        lambda: metrics.read(cw, names),
        lambda m: m.orders == 8 and m.succeeded + m.failed == 8,
    )
    assert (got.succeeded, got.failed) == (confirmed, failed)
    assert got.payment_success_rate == round(100 * confirmed / 8, 1)
    assert got.orders_per_hour == 8.0
    assert got.latency_p50_ms is not None and got.latency_p95_ms is not None
    assert 0 < got.latency_p50_ms <= got.latency_p95_ms
    # A declined payment is an error of ProcessPayment's function, as Lambda counts it (under
    # heavy load a timed-out invocation may add an error elsewhere).
    declined = sum(not payment_approved(o["orderId"], 0.5, 7) for o in orders)
    assert set(got.errors_by_function) == set(FUNCTIONS)
    assert got.errors_by_function["ProcessPayment"] >= declined > 0
    assert sum(got.errors_by_function.values()) >= failed
    assert sum(v or 0 for v in got.series["orders"].values) == 8
    # The raw service metrics, by the dimensions the stack's dashboard uses.
    now = datetime.now(UTC)
    raw = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"inv{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": names.function(f)}],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
            for i, f in enumerate(("ValidateOrder", "ProcessPayment"))
        ]
        + [
            {
                "Id": "started",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/States",
                        "MetricName": "ExecutionsStarted",
                        "Dimensions": [
                            {"Name": "StateMachineArn", "Value": names.state_machine_arn}
                        ],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
    )
    sums = {r["Id"]: sum(r["Values"]) for r in raw["MetricDataResults"]}
    assert sums["started"] == 8.0
    assert sums["inv0"] >= 8.0 and sums["inv1"] >= 8.0  # the workflow retries a timed-out task


def test_dlq_alarm_fires_and_notifies_the_topic(local: dict[str, str], tmp_path: Any) -> None:
    names = up("alm", tmp_path)
    sqs, sns, cw = client(local, "sqs"), client(local, "sns"), client(local, "cloudwatch")
    inbox = sqs.create_queue(QueueName="alm-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=names.topic_arn,
        Protocol="sqs",
        Endpoint=inbox_arn["Attributes"]["QueueArn"],
    )

    def state() -> str:
        alarms = cw.describe_alarms(AlarmNames=[names.dlq_alarm])["MetricAlarms"]
        return str(alarms[0]["StateValue"])

    dlq = sqs.get_queue_url(QueueName=names.dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="a dead letter")
    eventually(state, lambda s: s == "ALARM")

    def notifications() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in got]

    note = eventually(notifications, bool)[0]
    assert note["AlarmName"] == names.dlq_alarm and note["NewStateValue"] == "ALARM"
    assert note["Trigger"]["Dimensions"] == [{"name": "QueueName", "value": names.dlq}]
