"""The fast lane answers StartExecution, PutItem and Publish as moto's server does.

Two HTTP servers run in this process over the same moto backends: one is moto's WSGI app as
moto ships it, the other the emulator's (moto's apps out of Flask's debug mode, behind the
fast lane). The same
requests go to both; the answers must match, except for what is drawn anew each time
(request ids, message ids, dates)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from ordercli.local import fast_lane, moto_hooks
from ordercli.local.http_server import WSGIServer
from tests.conftest import REGION

PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DRAWN = re.compile(r"[A-Za-z0-9]{52}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VARYING_HEADERS = {"date", "x-amzn-requestid", "x-amz-crc32", "content-length"}


@dataclass(frozen=True)
class Seen:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(moto's server as it was, the same behind the fast lane), sharing one state."""
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # As in the emulator: executions run (and StartExecution uses the interpreter's backend).
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    moto_app = DomainDispatcherApplication(create_backend_app)
    ours = fast_lane.wrap(DomainDispatcherApplication(moto_hooks.backend_app))
    servers = [
        WSGIServer("127.0.0.1", 0, moto_app),
        WSGIServer("127.0.0.1", 0, ours),
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def new_machine(endpoint: str) -> str:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=REGION)
    arn: str = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:8]}",
        definition=PASS_MACHINE,
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    return arn


def new_table(endpoint: str, key: str, **extra: Any) -> str:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    table = f"t-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return table


def recording_client(service: str, endpoint: str, seen: list[Seen]) -> Any:
    client = boto3.client(service, endpoint_url=endpoint, region_name=REGION)

    def record(http_response: Any, **_: Any) -> None:
        seen.append(
            Seen(
                http_response.status_code,
                {k.lower(): v for k, v in http_response.headers.items()},
                http_response.content,
            )
        )

    client.meta.events.register("after-call", record)
    return client


def call(client: Any, operation: str, **params: Any) -> None:
    try:
        getattr(client, operation)(**params)
    except client.exceptions.ClientError:
        pass  # the error answer is what is compared


def wait_closed(sfn: Any, arns: list[str]) -> None:
    deadline = time.monotonic() + 10
    while any(sfn.describe_execution(executionArn=a)["status"] == "RUNNING" for a in arns):
        assert time.monotonic() < deadline  # polled over HTTP: no event to wait on


def same_answer(plain: Seen, fast: Seen) -> None:
    assert fast.status == plain.status
    assert {k: v for k, v in fast.headers.items() if k not in VARYING_HEADERS} == {
        k: v for k, v in plain.headers.items() if k not in VARYING_HEADERS
    }
    assert len(fast.headers["x-amzn-requestid"]) == 52
    if "x-amz-crc32" in plain.headers:
        assert fast.headers["x-amz-crc32"] == str(zlib.crc32(fast.body) & 0xFFFFFFFF)
    assert DRAWN.sub("*", fast.body.decode()) == DRAWN.sub("*", plain.body.decode())


def both(
    service: str, endpoints: tuple[str, str], operation: str, **params: Any
) -> tuple[Seen, Seen]:
    seen: list[Seen] = []
    for endpoint in endpoints:
        call(recording_client(service, endpoint, seen), operation, **params)
    assert len(seen) == 2
    return seen[0], seen[1]


def test_start_execution_answers_as_moto_does(endpoints: tuple[str, str]) -> None:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoints[0], region_name=REGION)
    machine = new_machine(endpoints[0])
    before = fast_lane.SERVED["start_execution"]
    seen: list[Seen] = []
    for i, endpoint in enumerate(endpoints):
        client = recording_client("stepfunctions", endpoint, seen)
        client.start_execution(stateMachineArn=machine, name=f"run{i}", input='{"a": 1}')
    plain, fast = seen
    assert fast_lane.SERVED["start_execution"] == before + 1
    assert json.loads(fast.body)["executionArn"].endswith(":run1")
    assert isinstance(json.loads(fast.body)["startDate"], float | int)
    strip = re.compile(rb'"startDate": [0-9.]+')
    same_answer(
        Seen(plain.status, plain.headers, strip.sub(b"", plain.body).replace(b"run0", b"run1")),
        Seen(fast.status, fast.headers, strip.sub(b"", fast.body)),
    )
    # the same name again, once that execution has closed: ExecutionAlreadyExists, both ways
    wait_closed(sfn, [json.loads(fast.body)["executionArn"]])
    again = both(
        "stepfunctions",
        endpoints,
        "start_execution",
        stateMachineArn=machine,
        name="run1",
        input='{"a": 1}',
    )
    same_answer(*again)
    assert again[1].status == 400 and b"ExecutionAlreadyExists" in again[1].body


def test_start_execution_errors_are_moto_s_own(endpoints: tuple[str, str]) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nothing-here"
    same_answer(
        *both("stepfunctions", endpoints, "start_execution", stateMachineArn=missing, name="x")
    )
    sfn = boto3.client("stepfunctions", endpoint_url=endpoints[0], region_name=REGION)
    machine = new_machine(endpoints[0])
    sfn.start_execution(stateMachineArn=machine, name="taken", input="{}")
    conflict = both(
        "stepfunctions",
        endpoints,
        "start_execution",
        stateMachineArn=machine,
        name="taken",
        input='{"other": 1}',
    )
    assert conflict[1].status == 400 and b"ExecutionAlreadyExists" in conflict[1].body
    same_answer(*conflict)


def test_put_item_answers_as_moto_does_on_success_and_refusal(endpoints: tuple[str, str]) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=endpoints[0], region_name=REGION)
    table = new_table(endpoints[0], "orderId")
    before = fast_lane.SERVED["put_item"]
    seen: list[Seen] = []
    for i, endpoint in enumerate(endpoints):
        recording_client("dynamodb", endpoint, seen).put_item(
            TableName=table,
            Item={"orderId": {"S": f"o{i}"}, "amount": {"N": "49.90"}},
            ConditionExpression="attribute_not_exists(orderId)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert fast_lane.SERVED["put_item"] == before + 1
    same_answer(*seen)
    assert seen[1].body == b"{}"
    stored = ddb.get_item(TableName=table, Key={"orderId": {"S": "o1"}})["Item"]
    assert stored == {"orderId": {"S": "o1"}, "amount": {"N": "49.90"}}
    refused = both(
        "dynamodb", endpoints, "put_item",
        TableName=table,
        Item={"orderId": {"S": "o1"}, "amount": {"N": "1"}},
        ConditionExpression="attribute_not_exists(orderId)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )  # fmt: skip
    assert refused[1].status == 400 and b"ConditionalCheckFailedException" in refused[1].body
    same_answer(*refused)
    assert ddb.get_item(TableName=table, Key={"orderId": {"S": "o1"}})["Item"] == stored


def test_put_item_shapes_it_was_not_written_for_go_to_moto(endpoints: tuple[str, str]) -> None:
    table = new_table(endpoints[0], "k")
    before = fast_lane.SERVED["put_item"]
    fast = boto3.client("dynamodb", endpoint_url=endpoints[1], region_name=REGION)
    fast.put_item(TableName=table, Item={"k": {"S": "a"}, "b": {"B": b"\x00"}})  # binary: base64
    old = fast.put_item(TableName=table, Item={"k": {"S": "a"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"] == {"k": {"S": "a"}, "b": {"B": b"\x00"}}
    assert fast_lane.SERVED["put_item"] == before


def test_publish_answers_as_moto_does(endpoints: tuple[str, str]) -> None:
    sns = boto3.client("sns", endpoint_url=endpoints[0], region_name=REGION)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    before = fast_lane.SERVED["publish"]
    sent = both(
        "sns",
        endpoints,
        "publish",
        TopicArn=topic,
        Subject="Order o1: Confirmed",
        Message='{"a": "é & <b>"}',
    )
    assert fast_lane.SERVED["publish"] == before + 1
    same_answer(*sent)
    same_answer(*both("sns", endpoints, "publish", TopicArn=topic + "-gone", Message="m"))
    with_attributes = both(
        "sns", endpoints, "publish", TopicArn=topic, Message="m",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )  # fmt: skip
    same_answer(*with_attributes)
    assert fast_lane.SERVED["publish"] == before + 1  # neither of the last two took the lane


def test_the_lane_steps_aside_while_moto_checks_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings

    assert not moto_hooks.iam_enforced()
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    assert moto_hooks.iam_enforced()


def test_requests_outside_the_lane_answer_as_moto_does_out_of_debug_mode(
    endpoints: tuple[str, str],
) -> None:
    sqs = boto3.client("sqs", endpoint_url=endpoints[0], region_name=REGION)
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": f"body {i}"} for i in range(3)]
    same_answer(*both("sqs", endpoints, "send_message_batch", QueueUrl=url, Entries=entries))
    same_answer(
        *both("sqs", endpoints, "send_message_batch", QueueUrl=url + "-gone", Entries=entries)
    )
    sfn = boto3.client("stepfunctions", endpoint_url=endpoints[0], region_name=REGION)
    machine = new_machine(endpoints[0])
    arn = sfn.start_execution(stateMachineArn=machine, name="listed", input="{}")["executionArn"]
    wait_closed(sfn, [arn])
    same_answer(*both("stepfunctions", endpoints, "list_executions", stateMachineArn=machine))


def test_list_executions_answers_as_moto_does_page_by_page(endpoints: tuple[str, str]) -> None:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoints[0], region_name=REGION)
    machine = new_machine(endpoints[0])
    arns = [
        sfn.start_execution(stateMachineArn=machine, name=f"e{i}", input="{}")["executionArn"]
        for i in range(3)
    ]
    wait_closed(sfn, arns)
    before = fast_lane.SERVED["list_executions"]
    first = both(
        "stepfunctions", endpoints, "list_executions", stateMachineArn=machine, maxResults=2
    )
    same_answer(*first)
    page = json.loads(first[1].body)
    assert len(page["executions"]) == 2 and "stopDate" in page["executions"][0]
    rest = both(
        "stepfunctions", endpoints, "list_executions",
        stateMachineArn=machine, maxResults=2, nextToken=page["nextToken"],
    )  # fmt: skip
    same_answer(*rest)
    assert [e["name"] for e in json.loads(rest[1].body)["executions"]] == ["e0"]
    filtered = both(
        "stepfunctions",
        endpoints,
        "list_executions",
        stateMachineArn=machine,
        statusFilter="FAILED",
    )
    same_answer(*filtered)
    gone = machine + "-gone"
    same_answer(*both("stepfunctions", endpoints, "list_executions", stateMachineArn=gone))
    assert fast_lane.SERVED["list_executions"] == before + 3  # the missing machine: moto's


def test_a_publish_moto_delivers_somewhere_goes_to_moto_and_is_delivered_once(
    endpoints: tuple[str, str],
) -> None:
    sns = boto3.client("sns", endpoint_url=endpoints[1], region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=endpoints[1], region_name=REGION)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    urls = [sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"] for _ in range(2)]
    for url in urls:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    sqs.delete_queue(QueueUrl=urls[1])  # its delivery fails after the first one's succeeded
    before = fast_lane.SERVED["publish"]
    with pytest.raises(sns.exceptions.ClientError):
        sns.publish(TopicArn=topic, Message="once")
    assert fast_lane.SERVED["publish"] == before  # moto's path, from the start
    got = sqs.receive_message(QueueUrl=urls[0], MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 1


def test_a_put_item_on_a_table_with_a_stream_goes_to_moto(endpoints: tuple[str, str]) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=endpoints[1], region_name=REGION)
    table = new_table(
        endpoints[0],
        "k",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    before = fast_lane.SERVED["put_item"]
    ddb.put_item(TableName=table, Item={"k": {"S": "a"}})
    assert fast_lane.SERVED["put_item"] == before
    assert ddb.get_item(TableName=table, Key={"k": {"S": "a"}})["Item"] == {"k": {"S": "a"}}
