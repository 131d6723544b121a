"""The queue consumer against raw queue messages: each ends where it should, with its reason.

Started (or a duplicate of the same order), dead-lettered at once with a reason, re-sent when
StartExecution stays throttled, or retried by SQS when the failure may pass."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambda_src import start_order_workflow as consumer
from ordercli.deploy.specs import workflow_definition
from ordercli.names import Names

NAMES = Names("c", "us-east-1", "123456789012")


@dataclass
class Queues:
    sqs: Any
    sfn: Any
    queue: str
    dlq: str
    machine: str

    def dead(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return [
            {
                "body": m["Body"],
                **{k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
            }
            for m in got
        ]

    def executions(self) -> dict[str, str]:
        runs = self.sfn.list_executions(stateMachineArn=self.machine)["executions"]
        return {
            e["name"]: self.sfn.describe_execution(executionArn=e["executionArn"])["input"]
            for e in runs
        }


@pytest.fixture
def queues(mocked: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    consumer._client.cache_clear()
    monkeypatch.setattr(consumer, "sleep", lambda s: None)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(
        name=NAMES.state_machine, definition=workflow_definition(NAMES), roleArn=role
    )["stateMachineArn"]
    queue = sqs.create_queue(QueueName=NAMES.queue)["QueueUrl"]
    dlq = sqs.create_queue(QueueName=NAMES.dlq)["QueueUrl"]
    for key, value in {
        "STATE_MACHINE_ARN": machine,
        "QUEUE_URL": queue,
        "DLQ_URL": dlq,
        "MAX_RECEIVE_COUNT": "5",
    }.items():
        monkeypatch.setenv(key, value)
    yield Queues(sqs, sfn, queue, dlq, machine)
    consumer._client.cache_clear()


def record(body: str, message_id: str = "m1", receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives)},
    }


def order(order_id: str = "o-1", amount: Any = 5, **more: Any) -> str:
    return json.dumps({"order": {"orderId": order_id, "amount": amount, **more}})


DEEP = "[" * 100_000 + "]" * 100_000
NEVER = [  # can never be an order: the DLQ at once
    ("not json", "not-json", "not JSON"),
    ("", "not-json", "not JSON"),
    (DEEP, "not-json", "nested too deeply"),
    ('{"order": {"orderId": "n-1", "amount": NaN}}', "not-json", "NaN"),
    ("[1, 2]", "invalid-order", "JSON object"),
    ("null", "invalid-order", "JSON object"),
    ("true", "invalid-order", "JSON object"),
    ("42", "invalid-order", "JSON object"),
    ("{}", "invalid-order", "order: must be an object"),
    ('{"order": null}', "invalid-order", "order: must be an object"),
    ('{"order": [1]}', "invalid-order", "order: must be an object"),
    ('{"order": {"amount": 5}}', "invalid-order", "order.orderId"),
    (order("x\n"), "invalid-order", "order.orderId"),
    (order("bad id!"), "invalid-order", "order.orderId"),
    (order("a" * 81), "invalid-order", "order.orderId"),
    ('{"order": {"orderId": 7, "amount": 5}}', "invalid-order", "order.orderId"),
    ('{"order": {"orderId": null, "amount": 5}}', "invalid-order", "order.orderId"),
    ('{"order": {"orderId": true, "amount": 5}}', "invalid-order", "order.orderId"),
    (
        '{"order": {"orderId": "d-1", "orderId": "d-2", "amount": 5}}',
        "invalid-order",
        "duplicate key 'orderId'",
    ),
]


@pytest.mark.parametrize(("body", "reason", "words"), NEVER)
def test_a_message_that_can_never_be_an_order_is_dead_lettered_at_once(
    queues: Queues, body: str, reason: str, words: str
) -> None:
    out = consumer.handler({"Records": [record(body)]}, None)
    assert out == {"batchItemFailures": []}, "done: SQS deletes it from the queue"
    (dead,) = queues.dead()
    assert dead["body"] == body and dead["ordercli.reason"] == reason
    assert words in dead["ordercli.error"], dead
    assert "\n" not in dead["ordercli.error"] and "Traceback" not in dead["ordercli.error"]
    assert queues.executions() == {}


@pytest.mark.parametrize(
    ("order_id", "shown"), [("bad id!", "bad id!"), ("x\n", "x\\u000a"), ("\x01", "\\u0001")]
)
def test_the_dead_letter_names_a_readable_order_id(
    queues: Queues, order_id: str, shown: str
) -> None:
    consumer.handler({"Records": [record(order(order_id))]}, None)
    (dead,) = queues.dead()
    assert dead["ordercli.orderId"] == shown


# An order with a valid id but a field the rules refuse is the workflow's: ValidateOrder
# fails it as OrderInvalid and tells the customer (tests/test_definitions.py runs that path).
# An amount ValidateOrder would see rounded is passed on as the text it was.
TO_THE_WORKFLOW = [
    ('{"order": {"orderId": "e-1", "amount": 1e3}}', "1e3"),
    ('{"order": {"orderId": "e-2", "amount": 1E3}}', "1E3"),
    ('{"order": {"orderId": "p-1", "amount": 12.30000000000000001}}', "12.30000000000000001"),
    ('{"order": {"orderId": "z-1", "amount": -0.0}}', "-0.0"),
    ('{"order": {"orderId": "z-2", "amount": -0}}', 0),
    ('{"order": {"orderId": "b-1", "amount": true}}', True),
    ('{"order": {"orderId": "b-2", "amount": null}}', None),
    ('{"order": {"orderId": "b-3", "amount": [5]}}', [5]),
    (order("big-1", 20000), 20000),
    (order("c-1", customerName="\u202eevil"), 5),
]


@pytest.mark.parametrize(("body", "amount"), TO_THE_WORKFLOW)
def test_an_order_with_a_valid_id_goes_to_the_workflow_with_its_amount_as_written(
    queues: Queues, body: str, amount: Any
) -> None:
    assert consumer.handler({"Records": [record(body)]}, None) == {"batchItemFailures": []}
    ((name, started),) = queues.executions().items()
    assert json.loads(started)["order"]["amount"] == amount
    assert name == json.loads(body)["order"]["orderId"] and queues.dead() == []


@pytest.mark.parametrize(
    "body",
    [
        order("ok-1"),
        order("ok-2", "12.50"),
        order("ok-4", 12.5),
        order(
            "ok-3",
            12.5,
            # Persian and Sinhala names, written with joiners
            customerName="\u0645\u06cc\u200c\u0631\u0632\u0627",
            product="\u0dc1\u0dca\u200d\u0dbb\u0dd3",
        ),
        '{"order":{"orderId":"test-123","amount":100}}',
    ],
)
def test_a_valid_order_starts_one_execution_with_the_body_as_sent(
    queues: Queues, body: str
) -> None:
    assert consumer.handler({"Records": [record(body)]}, None) == {"batchItemFailures": []}
    assert list(queues.executions().values()) == [body] and queues.dead() == []


@pytest.mark.parametrize("amount", [5, "5.00", 1e3, 20000])
def test_the_same_order_delivered_twice_makes_one_execution(queues: Queues, amount: Any) -> None:
    body = order("dup-1", amount, createdAt="2026-01-01T00:00:00.000Z")
    again = json.dumps(json.loads(body), indent=1)  # same content, other spelling
    for batch in ([record(body, "m1"), record(body, "m2")], [record(again, "m3")]):
        assert consumer.handler({"Records": batch}, None) == {"batchItemFailures": []}
    assert list(queues.executions()) == ["dup-1"] and queues.dead() == []


def test_a_different_order_with_a_used_id_is_dead_lettered_as_a_conflict(
    queues: Queues,
) -> None:
    first = order("dup-2", 5, customerName="Ann", product="Pen")
    consumer.handler({"Records": [record(first, "m1")]}, None)
    second = order("dup-2", 9999, customerName="Eve", product="Yacht")
    out = consumer.handler({"Records": [record(second, "m2")]}, None)
    assert out == {"batchItemFailures": []}
    (dead,) = queues.dead()
    assert (dead["ordercli.reason"], dead["ordercli.orderId"]) == ("order-id-conflict", "dup-2")
    assert "different order" in dead["ordercli.error"] and dead["body"] == second
    assert queues.executions() == {"dup-2": first}, "the first order is untouched"


def test_two_different_orders_with_one_id_in_one_batch_start_one_and_dead_letter_the_other(
    queues: Queues,
) -> None:
    a, b = order("race-1", 5), order("race-1", 6)
    out = consumer.handler({"Records": [record(a, "m1"), record(b, "m2")]}, None)
    assert out == {"batchItemFailures": []}
    started = queues.executions()["race-1"]
    (dead,) = queues.dead()
    assert {started, dead["body"]} == {a, b} and dead["ordercli.reason"] == "order-id-conflict"


class Flaky:
    """The Step Functions client, failing its first `times` StartExecution calls."""

    def __init__(self, real: Any, times: int, code: str, message: str = "boom") -> None:
        self.real, self.times, self.code, self.message = real, times, code, message
        self.exceptions = real.exceptions
        self.calls = 0

    def start_execution(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            error = {"Error": {"Code": self.code, "Message": self.message}}
            raise ClientError(error, "StartExecution")  # type: ignore[arg-type]
        return self.real.start_execution(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _flaky(
    monkeypatch: pytest.MonkeyPatch, queues: Queues, times: int, code: str, **kw: Any
) -> Flaky:
    flaky = Flaky(queues.sfn, times, code, **kw)
    monkeypatch.setattr(consumer, "_sfn", lambda: flaky)
    return flaky


def test_a_transient_failure_is_retried_by_sqs(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flaky(monkeypatch, queues, 1, "ServiceUnavailable")
    out = consumer.handler({"Records": [record(order("t-1"), receives=4)]}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert queues.dead() == []


def test_a_transient_failure_on_the_last_receive_is_dead_lettered_with_the_error(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flaky(monkeypatch, queues, 1, "ServiceUnavailable", message="try later")
    out = consumer.handler({"Records": [record(order("t-2"), receives=5)]}, None)
    assert out == {"batchItemFailures": []}
    (dead,) = queues.dead()
    assert dead["ordercli.reason"] == "retries-exhausted" and dead["ordercli.orderId"] == "t-2"
    assert "try later" in dead["ordercli.error"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ThrottlingException", "Rate exceeded"),
        ("TooManyRequestsException", "slow down"),
        ("SomethingElse", "Rate exceeded"),
    ],
)
def test_throttling_is_retried_inside_the_invocation(
    queues: Queues, monkeypatch: pytest.MonkeyPatch, code: str, message: str
) -> None:
    flaky = _flaky(monkeypatch, queues, 4, code, message=message)
    out = consumer.handler({"Records": [record(order("th-1"), receives=5)]}, None)
    assert out == {"batchItemFailures": []} and flaky.calls == 5
    assert list(queues.executions()) == ["th-1"] and queues.dead() == []


class Clock:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_record_still_throttled_is_resent_and_never_dead_lettered(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flaky(monkeypatch, queues, 10**6, "ThrottlingException", message="Rate exceeded")
    body = order("th-2")
    # its last allowed receive, and no time left for another try
    out = consumer.handler({"Records": [record(body, receives=5)]}, Clock(1000))
    assert out == {"batchItemFailures": []}, "done: a fresh copy replaces it"
    assert queues.dead() == []
    attrs = queues.sqs.get_queue_attributes(QueueUrl=queues.queue, AttributeNames=["All"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_dlq_that_cannot_be_reached_leaves_the_record_to_sqs(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLQ_URL", queues.dlq + "-gone")
    out = consumer.handler({"Records": [record("not json")]}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_the_fault_knob_fails_records_transiently_only_when_set(
    queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(consumer.FAULT_ENV, "1")
    out = consumer.handler({"Records": [record(order("f-1"))]}, None)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    monkeypatch.delenv(consumer.FAULT_ENV)
    assert consumer.handler({"Records": [record(order("f-1"))]}, None)["batchItemFailures"] == []


def test_every_log_line_names_the_message_and_the_order(
    queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    records = [record(order("log-1"), "m1"), record("nope", "m2"), record(order("bad id"), "m3")]
    consumer.handler({"Records": records}, None)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "root"]
    by_message = {line["messageId"]: line for line in lines}
    assert set(by_message) == {"m1", "m2", "m3"}
    assert by_message["m1"]["orderId"] == "log-1" and by_message["m1"]["result"] == "started"
    assert by_message["m2"]["orderId"] is None and by_message["m2"]["reason"] == "not-json"
    assert by_message["m3"]["orderId"] == "bad id"
