"""End to end against the real emulator process: queue -> consumer -> workflow -> 3 Lambdas."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from lambda_src.order import payment_approved
from ordercli.cli import app
from ordercli.local import control
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
SEED, RATE = 7, 0.7


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.stderr
    return result


def client(emulator: dict[str, str], service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator["endpoint"], region_name="us-east-1")


def wait_for_execution(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            d = sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                return dict(d)
        except sfn.exceptions.ExecutionDoesNotExist:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{arn} did not finish in {timeout}s")


@pytest.fixture(scope="module")
def deployed(emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    cfg = tmp_path_factory.mktemp("cfg") / "ordercli.yaml"
    cfg.write_text(f"payment:\n  seed: {SEED}\n  success_rate: {RATE}\n")
    os.environ.update({k: emulator[k] for k in ("ORDERCLI_HOME", "ORDERCLI_LOCAL_PORT")})
    result = cli("up", "--local", "--stack", "e2e", "--no-web", "--config", str(cfg), "--json")
    assert result.exit_code == 0, result.stderr
    target = json.loads(result.stdout)["target"]
    assert (target["kind"], target["endpoint"]) == ("local", emulator["endpoint"])
    return str(cfg)


def test_fifty_orders_end_to_end_with_exactly_the_predicted_declines(
    local: dict[str, str], deployed: str
) -> None:
    result = cli(
        "submit",
        "--local",
        "--stack",
        "e2e",
        "--count",
        "50",
        "--wait",
        "--timeout",
        "120",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    orders = json.loads(result.stdout)["orders"]
    assert len(orders) == 50
    declined = {o["orderId"] for o in orders if o["status"] == "FAILED"}
    predicted = {o["orderId"] for o in orders if not payment_approved(o["orderId"], RATE, SEED)}
    assert declined == predicted and declined, "the seed must decide exactly which orders fail"
    assert {o["error"] for o in orders if o["status"] == "FAILED"} == {"PaymentDeclined"}
    assert {o["status"] for o in orders} <= {"SUCCEEDED", "FAILED"}
    sfn = client(local, "stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:e2e-OrderProcessingWorkflow"
    names = {
        e["name"]
        for e in sfn.get_paginator("list_executions")
        .paginate(stateMachineArn=arn)
        .build_full_result()["executions"]
    }
    assert {o["orderId"] for o in orders} <= names


def test_invalid_order_put_straight_on_the_queue_fails_as_order_invalid(
    local: dict[str, str], deployed: str
) -> None:
    sqs, sfn = client(local, "sqs"), client(local, "stepfunctions")
    q = sqs.get_queue_url(QueueName="e2e-orders")["QueueUrl"]
    sqs.send_message(
        QueueUrl=q, MessageBody=json.dumps({"order": {"orderId": "bad-amount-1", "amount": 20000}})
    )
    d = wait_for_execution(
        sfn,
        "arn:aws:states:us-east-1:123456789012:execution:e2e-OrderProcessingWorkflow:bad-amount-1",
    )
    assert d["status"] == "FAILED" and d["error"] == "OrderInvalid"


def test_original_readme_workflow_check_works_with_plain_start_execution(
    local: dict[str, str], deployed: str
) -> None:
    sfn = client(local, "stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:e2e-OrderProcessingWorkflow"
    run = sfn.start_execution(
        stateMachineArn=arn, name="test-123", input='{"order":{"orderId":"test-123","amount":100}}'
    )
    d = wait_for_execution(sfn, run["executionArn"])
    assert d["status"] == "SUCCEEDED" or d.get("error") == "PaymentDeclined"


def test_unnamed_executions_get_distinct_uuid_names_as_on_aws(
    local: dict[str, str], deployed: str
) -> None:
    import uuid

    sfn = client(local, "stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:e2e-OrderProcessingWorkflow"
    order = '{"order":{"orderId":"unnamed-1","amount":100}}'
    arns = [sfn.start_execution(stateMachineArn=arn, input=order)["executionArn"] for _ in "ab"]
    names = [a.rsplit(":", 1)[1] for a in arns]
    assert names[0] != names[1]
    assert all(str(uuid.UUID(n)) == n for n in names)


def test_lambda_log_lines_reach_the_log_group(local: dict[str, str], deployed: str) -> None:
    logs = client(local, "logs")
    events = logs.filter_log_events(logGroupName="/aws/lambda/e2e-ValidateOrder")["events"]
    assert any('"step": "ValidateOrder"' in e["message"] for e in events)
    assert any(e["message"].startswith("START RequestId") for e in events)


def test_status_and_tail_show_an_order(local: dict[str, str], deployed: str) -> None:
    one = cli(
        "submit",
        "--local",
        "--stack",
        "e2e",
        "--customer",
        "Ann",
        "--product",
        "Pen",
        "--amount",
        "3",
        "--order-id",
        "shown-1",
        "--wait",
        "--json",
    )
    assert one.exit_code == 0, one.stderr
    st = cli("status", "--local", "--stack", "e2e", "shown-1", "--json")
    assert st.exit_code == 0, st.stderr
    data = json.loads(st.stdout)
    assert [s["name"] for s in data["steps"]][:2] == ["ValidateOrder", "ProcessPayment"]
    assert any("shown-1" in line["message"] for line in data["steps"][0]["logs"])
    t = cli("tail", "--local", "--stack", "e2e", "--order", "shown-1", "--no-follow", "--json")
    lines = [json.loads(x) for x in t.stdout.splitlines()]
    assert {x["orderId"] for x in lines} == {"shown-1"}
    assert {"execution", "ValidateOrder", "ProcessPayment"} <= {x["step"] for x in lines}
    unknown = cli("status", "--local", "--stack", "e2e", "no-such-order")
    assert unknown.exit_code == 1 and "No order no-such-order" in unknown.stderr


def test_poison_message_lands_in_the_dlq_at_once_with_its_reason(
    local: dict[str, str], tmp_path: Path
) -> None:
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(
        "queue:\n  visibility_timeout: 1\n  max_receive_count: 2\nlambda:\n  timeout: 1\n"
    )
    assert (
        cli("up", "--local", "--stack", "poison", "--no-web", "--config", str(cfg)).exit_code == 0
    )
    sqs = client(local, "sqs")
    q = sqs.get_queue_url(QueueName="poison-orders")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="poison-orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=q, MessageBody="this is not json")
    deadline = time.time() + 20
    while time.time() < deadline:
        a = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        if a["Attributes"]["ApproximateNumberOfMessages"] == "1":
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the poison message never reached the DLQ")
    listed = cli("dlq", "--local", "--stack", "poison", "--json")
    msgs = json.loads(listed.stdout)["messages"]
    assert len(msgs) == 1 and msgs[0]["body"] == "this is not json" and msgs[0]["orderId"] is None
    assert msgs[0]["reason"] == "not-json" and "not JSON" in msgs[0]["error"]
    again = json.loads(cli("dlq", "--local", "--stack", "poison", "--json").stdout)["messages"]
    assert len(again) == 1, "listing must not consume"
    moved = json.loads(cli("dlq", "--local", "--stack", "poison", "--redrive", "--json").stdout)
    assert moved["moved"] == 1
    assert cli("teardown", "--local", "--stack", "poison", "--yes").exit_code == 0


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("probe.py", source)
    return buf.getvalue()


PROBE = """
import os, time
def env(event, context):
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return {"pid": os.getpid(), "env": aws, "remaining": context.get_remaining_time_in_millis()}
def sleepy(event, context):
    time.sleep(5)
    return "never"
"""


def _probe(local: dict[str, str], name: str, handler: str, timeout: int) -> str:
    lam, iam = client(local, "lambda"), client(local, "iam")
    try:
        iam.create_role(RoleName="probe", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    try:
        lam.delete_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        pass
    return str(
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/probe",
            Handler=handler,
            Code={"ZipFile": _zip(PROBE)},
            Timeout=timeout,
        )["FunctionArn"]
    )


def test_workers_are_warm_and_never_see_the_users_aws_settings(local: dict[str, str]) -> None:
    _probe(local, "probe-env", "probe.env", 5)
    lam = client(local, "lambda")
    first = json.loads(lam.invoke(FunctionName="probe-env")["Payload"].read())
    second = json.loads(lam.invoke(FunctionName="probe-env")["Payload"].read())
    assert first["pid"] == second["pid"], "a warm worker is reused"
    env = first["env"]
    assert env["AWS_ENDPOINT_URL"] == local["endpoint"]
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in env
    assert "AKIAUSERREALKEY" not in json.dumps(env) and "example.invalid" not in json.dumps(env)
    assert 0 < first["remaining"] <= 5000


def test_a_handler_past_its_timeout_fails_the_task_as_a_timeout(local: dict[str, str]) -> None:
    arn = _probe(local, "probe-sleepy", "probe.sleepy", 1)
    lam = client(local, "lambda")
    t0 = time.time()
    answer = lam.invoke(FunctionName="probe-sleepy")
    assert time.time() - t0 < 4
    payload = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") and payload["errorType"] == "Sandbox.Timedout"
    sfn = client(local, "stepfunctions")
    sm = sfn.create_state_machine(
        name="probe-timeout",
        roleArn="arn:aws:iam::123456789012:role/probe",
        definition=json.dumps(
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}
        ),
    )
    run = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], name="t1", input="{}")
    d = wait_for_execution(sfn, run["executionArn"])
    assert d["status"] == "FAILED" and d["error"] == "Sandbox.Timedout"


def test_a_task_timeout_shorter_than_its_function_s_still_cuts_it_short(
    local: dict[str, str],
) -> None:
    arn = _probe(local, "probe-sleepy-long", "probe.sleepy", 10)  # the handler sleeps 5 s
    sfn = client(local, "stepfunctions")
    sm = sfn.create_state_machine(
        name="probe-task-timeout",
        roleArn="arn:aws:iam::123456789012:role/probe",
        definition=json.dumps(
            {
                "StartAt": "T",
                "States": {
                    "T": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 1, "End": True}
                },
            }
        ),
    )
    run = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], name="t1", input="{}")
    d = wait_for_execution(sfn, run["executionArn"])
    assert d["status"] == "FAILED" and d["error"] == "States.Timeout"
    assert (d["stopDate"] - d["startDate"]).total_seconds() < 4  # not the handler's 5 s


def test_second_start_is_a_no_op(local: dict[str, str]) -> None:
    before = control.status()
    result = cli("local", "start", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["event"] == "already running" and data["pid"] == before["pid"]


def test_teardown_local_empties_the_stack(local: dict[str, str], deployed: str) -> None:
    result = cli("teardown", "--local", "--stack", "e2e", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    lam = client(local, "lambda")
    assert not [
        f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith("e2e-")
    ]
    assert not client(local, "sqs").list_queues(QueueNamePrefix="e2e-").get("QueueUrls")
    assert not [
        g
        for g in client(local, "logs").describe_log_groups()["logGroups"]
        if g["logGroupName"].startswith("/aws/lambda/e2e-")
    ]


def test_stop_stops_the_process_and_a_stale_pid_file_is_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERCLI_HOME", str(tmp_path))
    monkeypatch.setenv("ORDERCLI_LOCAL_PORT", str(free_port()))
    state, started = control.start()
    assert started and control.port_open(state.port)
    stopped = cli("local", "stop", "--json")
    assert json.loads(stopped.stdout)["stopped"] is True
    assert not control.pid_alive(state.pid)
    control.write_state(state)  # a pid file whose process is gone
    assert control.status()["running"] is False
    assert not list(tmp_path.glob("emulator-*.json"))
