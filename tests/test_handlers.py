"""The Lambda handlers, run in-process against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambda_src import process_payment, send_notification, start_order_workflow, validate_order
from lambda_src.order import OrderInvalid, PaymentDeclined, payment_approved
from ordercli.deploy.specs import workflow_definition
from ordercli.names import Names


def test_validate_passes_a_valid_order_through() -> None:
    event = {"order": {"orderId": "o1", "customerName": "A", "product": "B", "amount": "12.5"}}
    out = validate_order.handler(event, None)
    assert out["order"]["amount"] == 12.5


@pytest.mark.parametrize("order", [{"orderId": "o1", "amount": 20000}, {"amount": 5}, None])
def test_validate_raises_order_invalid(order: Any) -> None:
    with pytest.raises(OrderInvalid):
        validate_order.handler({"order": order} if order is not None else {}, None)


def test_payment_follows_the_seeded_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0.5")
    monkeypatch.setenv("PAYMENT_SEED", "42")
    for i in range(40):
        event = {"order": {"orderId": f"o{i}", "amount": 10}}
        if payment_approved(f"o{i}", 0.5, 42):
            assert process_payment.handler(event, None)["payment"]["status"] == "APPROVED"
        else:
            with pytest.raises(PaymentDeclined):
                process_payment.handler(event, None)


@pytest.fixture
def topic(mocked: None) -> str:
    send_notification._sns.cache_clear()
    arn = boto3.client("sns", region_name="us-east-1").create_topic(Name="t-notifications")[
        "TopicArn"
    ]
    return str(arn)


def test_notification_publishes_success_and_failure(
    monkeypatch: pytest.MonkeyPatch, topic: str
) -> None:
    monkeypatch.setenv("TOPIC_ARN", topic)
    sqs = boto3.client("sqs", region_name="us-east-1")
    q = sqs.create_queue(QueueName="probe")["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=q_arn
    )
    ok = send_notification.handler(
        {"order": {"orderId": "o1", "product": "Pen", "amount": 3}}, None
    )
    bad = send_notification.handler(
        {"order": {"orderId": "o2"}, "error": {"Error": "PaymentDeclined"}}, None
    )
    assert ok["outcome"] == "Confirmed" and bad["outcome"] == "PaymentDeclined"
    bodies = [
        json.loads(json.loads(m["Body"])["Message"])
        for m in sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10)["Messages"]
    ]
    assert {(b["orderId"], b["outcome"]) for b in bodies} == {
        ("o1", "Confirmed"),
        ("o2", "PaymentDeclined"),
    }


def test_consumer_starts_one_execution_per_order_and_reports_bad_records(
    monkeypatch: pytest.MonkeyPatch, mocked: None
) -> None:
    start_order_workflow._sfn.cache_clear()
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    names = Names("t", "us-east-1", "123456789012")
    sm = boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
        name=names.state_machine, definition=workflow_definition(names), roleArn=role
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", sm)
    body = json.dumps({"order": {"orderId": "dup-1", "amount": 5}})
    records = [
        {"messageId": "m1", "body": body},
        {"messageId": "m2", "body": body},  # the same order delivered twice
        {"messageId": "m3", "body": "not json"},
        {"messageId": "m4", "body": json.dumps({"order": {"orderId": "bad id!", "amount": 5}})},
        {"messageId": "m5", "body": json.dumps({"order": {"orderId": "ok-2", "amount": 20000}})},
    ]
    out = start_order_workflow.handler({"Records": records}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m3"}, {"itemIdentifier": "m4"}]}
    names_started = {
        e["name"]
        for e in boto3.client("stepfunctions", region_name="us-east-1").list_executions(
            stateMachineArn=sm
        )["executions"]
    }
    assert names_started == {"dup-1", "ok-2"}
