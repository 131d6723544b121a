"""The Lambda handlers, run in-process against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambda_src import process_payment, send_notification, validate_order
from lambda_src.order import OrderInvalid, PaymentDeclined, order_from_message, payment_approved


def test_validate_passes_a_valid_order_through() -> None:
    event = {"order": {"orderId": "o1", "customerName": "A", "product": "B", "amount": "12.5"}}
    out = validate_order.handler(event, None)
    assert out["order"]["amount"] == 12.5


@pytest.mark.parametrize("order", [{"orderId": "o1", "amount": 20000}, {"amount": 5}, None])
def test_validate_raises_order_invalid(order: Any) -> None:
    with pytest.raises(OrderInvalid):
        validate_order.handler({"order": order} if order is not None else {}, None)


@pytest.fixture
def payments(mocked: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    process_payment._dynamodb.cache_clear()
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t-payments",
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("PAYMENTS_TABLE", "t-payments")
    yield ddb
    process_payment._dynamodb.cache_clear()


def test_payment_follows_the_seeded_decision(
    monkeypatch: pytest.MonkeyPatch, payments: Any
) -> None:
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0.5")
    monkeypatch.setenv("PAYMENT_SEED", "42")
    for i in range(40):
        event = {"order": {"orderId": f"o{i}", "amount": 10}}
        if payment_approved(f"o{i}", 0.5, 42):
            assert process_payment.handler(event, None)["payment"]["status"] == "APPROVED"
        else:
            with pytest.raises(PaymentDeclined):
                process_payment.handler(event, None)
    approved = sum(payment_approved(f"o{i}", 0.5, 42) for i in range(40))
    assert payments.scan(TableName="t-payments")["Count"] == approved


def test_a_retried_payment_returns_the_same_transaction_and_charges_once(
    monkeypatch: pytest.MonkeyPatch, payments: Any
) -> None:
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "1")
    event = {"order": {"orderId": "once-1", "amount": "12.50"}}
    first = process_payment.handler(event, None)["payment"]
    # a retry that would now be declined (random mode) still returns the charge made
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0")
    again = process_payment.handler(event, None)["payment"]
    assert first == again and first["amount"] == "12.50"
    (item,) = payments.scan(TableName="t-payments")["Items"]
    assert item["transactionId"]["S"] == first["transactionId"]


def test_two_attempts_racing_charge_once(monkeypatch: pytest.MonkeyPatch, payments: Any) -> None:
    """The conditional put decides: the loser of the race returns the winner's charge."""
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "1")
    monkeypatch.setattr(process_payment, "_recorded", _first_call_misses(process_payment._recorded))
    event = {"order": {"orderId": "race-1", "amount": 3}}
    winner = process_payment._charge("t-payments", order_from_message(event))[0]
    loser = process_payment.handler(event, None)["payment"]
    assert loser == winner and payments.scan(TableName="t-payments")["Count"] == 1


def test_an_approved_retry_finds_the_charge_in_the_refused_put_alone(
    monkeypatch: pytest.MonkeyPatch, payments: Any
) -> None:
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "1")
    event = {"order": {"orderId": "one-call-1", "amount": 4}}
    first = process_payment.handler(event, None)["payment"]

    def no_read(table: str, order_id: str) -> Any:
        raise AssertionError("an approved attempt needs no separate read")

    monkeypatch.setattr(process_payment, "_recorded", no_read)
    assert process_payment.handler(event, None)["payment"] == first
    assert payments.scan(TableName="t-payments")["Count"] == 1


def _first_call_misses(real: Any) -> Any:
    calls = []

    def recorded(table: str, order_id: str) -> Any:
        calls.append(order_id)
        return None if len(calls) == 1 else real(table, order_id)

    return recorded


def test_a_payments_table_error_is_a_transient_payment_unavailable(
    monkeypatch: pytest.MonkeyPatch, payments: Any
) -> None:
    monkeypatch.setenv("PAYMENTS_TABLE", "no-such-table")
    with pytest.raises(process_payment.PaymentUnavailable) as err:
        process_payment.handler({"order": {"orderId": "u-1", "amount": 3}}, None)
    assert "ResourceNotFoundException" in str(err.value)


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


def test_a_notification_that_cannot_be_published_is_notification_unavailable(
    monkeypatch: pytest.MonkeyPatch, topic: str
) -> None:
    monkeypatch.setenv("TOPIC_ARN", topic + "-gone")
    with pytest.raises(send_notification.NotificationUnavailable) as err:
        send_notification.handler({"order": {"orderId": "o1"}}, None)
    assert "NotFound" in str(err.value)


def test_handlers_keep_the_sdks_own_lines_out_of_their_logs() -> None:
    import logging

    from lambda_src.order import handler_log

    logging.getLogger("botocore").setLevel(logging.DEBUG)
    log = handler_log()
    assert log.level == logging.INFO
    for sdk in ("boto3", "botocore", "urllib3"):
        assert not logging.getLogger(sdk).isEnabledFor(logging.INFO), sdk


def test_a_declined_payment_names_its_amount_with_two_decimals(
    monkeypatch: pytest.MonkeyPatch, payments: Any
) -> None:
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0")
    event = {"order": {"orderId": "o-1", "customerName": "Ann", "product": "Lamp", "amount": 49.9}}
    with pytest.raises(PaymentDeclined, match=r"payment of 49\.90 for order o-1"):
        process_payment.handler(event, None)
