"""`dlq`: every dead letter says why it is there, read without consuming it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.deploy import stack as deploy
from ordercli.operate import dlq
from tests.conftest import MakeCtx


def _attrs(reason: str, error: str, order_id: str | None) -> dict[str, dict[str, str]]:
    out = {
        "ordercli.reason": {"DataType": "String", "StringValue": reason},
        "ordercli.error": {"DataType": "String", "StringValue": error},
    }
    if order_id:
        out["ordercli.orderId"] = {"DataType": "String", "StringValue": order_id}
    return out


def test_dead_letters_carry_reason_error_and_order_id(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("dl")
    deploy.up(ctx)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="dl-orders-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="{not json",
        MessageAttributes=_attrs("not-json", "body is not JSON: line 1 column 2", None),
    )
    conflict = json.dumps({"order": {"orderId": "dup-1", "amount": 9999}})
    sqs.send_message(
        QueueUrl=url,
        MessageBody=conflict,
        MessageAttributes=_attrs("order-id-conflict", "dup-1 already has an execution", "dup-1"),
    )
    # moved by SQS's own redrive: no attributes at all
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": {"orderId": "r-1"}}))

    letters = {d.reason: d for d in dlq.dead_letters(ctx)}
    assert set(letters) == {"not-json", "order-id-conflict", "retries-exhausted"}
    assert letters["not-json"].order_id is None and "JSON" in letters["not-json"].error
    assert letters["order-id-conflict"].order_id == "dup-1"
    assert letters["order-id-conflict"].body == conflict
    assert letters["retries-exhausted"].order_id == "r-1"
    assert "maxReceiveCount" in letters["retries-exhausted"].error
    assert all(d.message_id and d.sent_at for d in letters.values())
    assert len(dlq.dead_letters(ctx)) == 3, "reading must not consume"


def test_dead_letters_of_a_stack_never_deployed_is_empty(make_ctx: MakeCtx) -> None:
    assert dlq.dead_letters(make_ctx("none")) == []


def test_dlq_command_shows_message_id_reason_and_error(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("dc")
    deploy.up(ctx)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="dc-orders-dlq")["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"order": {"orderId": "x"}}),
        MessageAttributes=_attrs("invalid-order", "order.amount: is required", "x"),
    )
    runner = CliRunner()
    out = runner.invoke(app, ["dlq", "--stack", "dc", "--json"])
    assert out.exit_code == 0, out.output
    (m,) = json.loads(out.stdout)["messages"]
    assert m["messageId"] == sent["MessageId"]
    assert (m["orderId"], m["reason"], m["error"]) == (
        "x",
        "invalid-order",
        "order.amount: is required",
    )
    table = runner.invoke(app, ["dlq", "--stack", "dc"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for word in (sent["MessageId"], "invalid-order", "order.amount: is required"):
        assert word in table.stdout


def test_redrive_moves_what_was_there_and_not_what_comes_back_meanwhile(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poison sent back to the DLQ during a redrive (the consumer does it at once) is left
    for the next look instead of moving in a loop."""
    ctx = make_ctx("rd")
    deploy.up(ctx)
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq_url = sqs.get_queue_url(QueueName="rd-orders-dlq")["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName="rd-orders")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody="old poison")
    began = dlq.now_ms()
    monkeypatch.setattr(dlq, "now_ms", lambda: began)

    class Consumer:
        """The SQS client, with the consumer dead-lettering each moved message at once."""

        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message_batch(self, **kwargs: Any) -> Any:
            while time.time() * 1000 < began + 2:
                pass  # the echo is sent strictly after the move began (ms resolution)
            for e in kwargs["Entries"]:
                sqs.send_message(QueueUrl=dlq_url, MessageBody=e["MessageBody"])
            return sqs.send_message_batch(**kwargs)

    moved = dlq._move_by_copy(Consumer(), dlq_url, queue_url, None)
    assert moved["moved"] == 1
    letters = dlq.dead_letters(ctx)
    assert [d.body for d in letters] == ["old poison"], "the echo waits for the next look"
