"""`status`: bad ids are exit 2, a missing stack is exit 1, hints repeat the flags, `status ID`
tells the order's outcome (never a raw cause), and the monitoring figures over --since."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.context import Context, Options
from ordercli.deploy import stack as deploy
from ordercli.errors import NotFound
from ordercli.operate import status
from tests.conftest import REGION, MakeCtx

LAMBDA_ERROR = json.dumps(
    {
        "errorType": "PaymentError",
        "errorMessage": "the payment service did not answer",
        "stackTrace": ['  File "/var/task/process_payment.py", line 40, in handler\n'],
    }
)
FIGURES = status.Monitoring(
    window_seconds=3600,
    orders_per_hour=120.0,
    payment_success_rate=0.9,
    latency_p50_ms=210.0,
    latency_p95_ms=480.4,
    errors_by_function={"ValidateOrder": 0, "ProcessPayment": 3},
)


@pytest.fixture(autouse=True)
def figures(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The metrics reader's figures, fixed (the reader has its own tests)."""
    windows: list[float] = []

    def read(ctx: Any, since: float) -> status.Monitoring:
        windows.append(since)
        return FIGURES

    monkeypatch.setattr(status, "monitoring", read)
    return windows


def cli(*args: str, width: int = 100) -> Any:
    return CliRunner(env={"ORDERCLI_WIDTH": str(width), "NO_COLOR": "1"}).invoke(app, list(args))


# -- input and hints -------------------------------------------------------------------------
def test_a_malformed_order_id_is_exit_2_before_any_call() -> None:
    result = cli("status", "--local", "bad id!")  # no emulator runs: a call would fail otherwise
    assert result.exit_code == 2 and "orderId 'bad id!'" in result.stderr


def test_a_bad_since_is_exit_2() -> None:
    result = cli("status", "--local", "--since", "99999d")
    assert result.exit_code == 2 and "--since" in result.stderr


def test_hints_repeat_the_flags_that_chose_target_and_stack(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("fresh")
    assert status.command_hint(ctx, "ordercli up") == "ordercli up --stack fresh"
    aws = Context(
        ctx.settings, Options(stack="fresh", region="eu-west-1", profile="ops"), ctx.target
    )
    assert (
        status.command_hint(aws, "ordercli dlq")
        == "ordercli dlq --stack fresh --region eu-west-1 --profile ops"
    )
    from ordercli.aws import Target

    local = Context(
        ctx.settings, Options(config="my conf.yaml"), Target("local", REGION, "http://x")
    )
    assert (
        status.command_hint(local, "ordercli up")
        == "ordercli up --local --stack fresh --config 'my conf.yaml'"
    )


def test_a_stack_that_is_not_deployed_says_so(make_ctx: MakeCtx) -> None:
    make_ctx("fresh")
    result = cli("status", "--stack", "fresh", "--region", REGION)
    assert result.exit_code == 1
    assert "Stack 'fresh' is not deployed" in result.stderr
    assert f"ordercli up --stack fresh --region {REGION}" in result.stderr
    one = cli("status", "--stack", "fresh", "o-1")
    assert one.exit_code == 1 and "Stack 'fresh' is not deployed" in one.stderr


# -- the stack -----------------------------------------------------------------------------
def test_stack_status_shows_the_dlq_alarm_state(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("al")
    deploy.up(ctx)
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName=ctx.names.dlq_alarm, StateValue="ALARM", StateReason="test"
    )
    data = json.loads(cli("status", "--stack", "al", "--json").stdout)
    assert data["alarm"]["name"] == "al-orders-dlq-not-empty"
    assert data["alarm"]["state"] == "ALARM" and data["alarm"]["since"].endswith("Z")
    human = cli("status", "--stack", "al").stdout
    assert "alarm  al-orders-dlq-not-empty: ALARM (the DLQ is not empty)" in human


def test_stack_status_shows_the_figures_of_the_window(
    make_ctx: MakeCtx, figures: list[float]
) -> None:
    deploy.up(make_ctx("st"))
    result = cli("status", "--stack", "st", "--since", "2h")
    assert result.exit_code == 0, result.stderr
    assert figures == [7200]
    text = result.stdout
    start = text.index("last 1 h:")
    assert text[start:].splitlines()[:5] == [
        "last 1 h:",
        "  orders per hour        120.0",
        "  payment success rate   90.0%  (succeeded / finished executions)",
        "  end-to-end latency     p50 210 ms, p95 480 ms",
        "  errors by function     ProcessPayment 3",
    ]
    data = json.loads(cli("status", "--stack", "st", "--json").stdout)
    assert data["monitoring"] == {
        "window_seconds": 3600,
        "orders_per_hour": 120.0,
        "payment_success_rate": 0.9,
        "latency_ms": {"p50": 210.0, "p95": 480.4},
        "errors_by_function": {"ValidateOrder": 0, "ProcessPayment": 3},
    }
    assert data["queue"]["exists"] and "succeeded" in data["executions"]


# -- one order -----------------------------------------------------------------------------
def started(ctx: Context, order_id: str) -> None:
    boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=ctx.names.state_machine_arn,
        name=order_id,
        input=json.dumps({"order": {"orderId": order_id, "amount": "12.50"}}),
    )


def described_as(monkeypatch: pytest.MonkeyPatch, ctx: Context, **fields: Any) -> None:
    """moto runs no workflow in-process: the execution's end state is given here."""
    sfn = ctx.aws.client("stepfunctions")
    real = sfn.describe_execution

    def describe(**kwargs: Any) -> dict[str, Any]:
        return {**real(**kwargs), **fields}

    monkeypatch.setattr(sfn, "describe_execution", describe)


@pytest.mark.parametrize(
    "fields, label, message",
    [
        (
            {"status": "SUCCEEDED", "output": json.dumps({"payment": {"status": "APPROVED"}})},
            "confirmed",
            "Your order is confirmed.",
        ),
        (
            {
                "status": "SUCCEEDED",
                "output": json.dumps(
                    {"notificationError": {"Error": "SNS.Down", "Cause": LAMBDA_ERROR}}
                ),
            },
            "confirmed; notification not sent",
            "Your order is confirmed; notification not sent.",
        ),
        ({"status": "FAILED", "error": "PaymentDeclined"}, "declined", "payment was declined"),
        ({"status": "FAILED", "error": "OrderInvalid"}, "invalid", "did not pass validation"),
        (
            {"status": "FAILED", "error": "PaymentError", "cause": LAMBDA_ERROR},
            "payment error",
            "could not be completed",
        ),
        ({"status": "RUNNING"}, "still processing", "being processed"),
    ],
)
def test_status_id_tells_the_outcome(
    make_ctx: MakeCtx,
    monkeypatch: pytest.MonkeyPatch,
    fields: dict[str, Any],
    label: str,
    message: str,
) -> None:
    ctx = make_ctx("st")
    deploy.up(ctx)
    started(ctx, "o-1")
    described_as(monkeypatch, ctx, **fields)
    data = status.order_status(ctx, "o-1")
    assert data["outcome"]["label"] == label and message in data["outcome"]["message"]
    text = json.dumps(data, default=str)
    assert "stackTrace" not in text and "/var/task" not in text
    if fields.get("cause"):
        assert data["cause"] == "the payment service did not answer"


def test_status_id_human_output(make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx("st")
    deploy.up(ctx)
    started(ctx, "o-2")
    described_as(
        monkeypatch,
        ctx,
        status="SUCCEEDED",
        output=json.dumps(
            {
                "order": {"orderId": "o-2"},
                "payment": {"status": "APPROVED", "transactionId": "txn-1", "amount": "12.50"},
                "notificationError": {"Error": "SNS.Down", "Cause": LAMBDA_ERROR},
            }
        ),
    )
    monkeypatch.setattr(status, "order_status", lambda c, o: real_status(ctx, o))
    result = cli("status", "--stack", "st", "o-2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:3] == [
        "order o-2: confirmed; notification not sent",
        "  Your order is confirmed; notification not sent.",
    ]
    assert lines[-1] == "payment: APPROVED 12.50 (transaction txn-1)"
    assert "{" not in result.stdout and "stackTrace" not in result.stdout


real_status = status.order_status


def test_a_dead_lettered_order_shows_its_reason(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("dq")
    deploy.up(ctx)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="dq-orders-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"order": {"orderId": "dup-1", "amount": 9999}}),
        MessageAttributes={
            "ordercli.reason": {"DataType": "String", "StringValue": "order-id-conflict"},
            "ordercli.error": {
                "DataType": "String",
                "StringValue": "orderId dup-1 already names a different order",
            },
            "ordercli.orderId": {"DataType": "String", "StringValue": "dup-1"},
        },
    )
    data = status.order_status(ctx, "dup-1")
    assert data["status"] == "DEAD_LETTERED"
    assert data["outcome"]["label"] == "dead-lettered (order-id-conflict)"
    assert data["dead_letter"]["error"] == "orderId dup-1 already names a different order"
    result = cli("status", "--stack", "dq", "dup-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:4] == [
        "order dup-1: dead-lettered (order-id-conflict)",
        "  Your order could not be processed.",
        "  reason: order-id-conflict",
    ]
    assert "`ordercli dlq --redrive --stack dq` sends it back." in result.stdout


def test_an_unknown_order_mentions_what_is_still_queued(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("st")
    deploy.up(ctx)
    with pytest.raises(NotFound) as err:
        status.order_status(ctx, "nope")
    assert err.value.hint is not None and "never accepted" in err.value.hint
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="st-orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    with pytest.raises(NotFound) as err:
        status.order_status(ctx, "nope")
    assert err.value.hint is not None and "1 message(s) are still in the queue" in err.value.hint
    assert "`ordercli status --stack st`" in err.value.hint


def test_figures_that_cannot_be_read_leave_the_rest_of_status(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def denied(ctx: Any, since: float) -> status.Monitoring:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "no cloudwatch:GetMetricData"}},
            "GetMetricData",
        )

    monkeypatch.setattr(status, "monitoring", denied)
    deploy.up(make_ctx("st"))
    result = cli("status", "--stack", "st")
    assert result.exit_code == 0, result.stderr
    assert "last 1 h: figures unavailable: Access denied for GetMetricData" in result.stdout
    assert "executions:" in result.stdout
