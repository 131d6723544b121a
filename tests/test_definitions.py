"""The ASL, the policy templates and the zips: data that must stay right."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from lambda_src.history import order_outcome
from ordercli.config import load_settings
from ordercli.deploy import policies
from ordercli.deploy.functions import row
from ordercli.deploy.package import function_zip
from ordercli.deploy.specs import (
    HANDLER_MODULES,
    RoleSpec,
    build_specs,
    with_task_timeout,
    workflow_definition,
)
from ordercli.names import Names

NAMES = Names("shop", "us-east-1", "123456789012")


def test_every_task_resource_placeholder_is_filled_with_a_function_arn() -> None:
    asl = json.loads(workflow_definition(NAMES))
    tasks = {n: s for n, s in asl["States"].items() if s["Type"] == "Task"}
    assert tasks
    for state in tasks.values():
        assert state["Resource"].startswith("arn:aws:lambda:us-east-1:123456789012:function:shop-")
    assert "${" not in json.dumps(asl)


TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
    "States.Timeout",
}


def test_workflow_catches_business_errors_and_fails_with_their_names() -> None:
    asl = json.loads(workflow_definition(NAMES))
    s = asl["States"]
    assert s["ValidateOrder"]["Catch"][0]["ErrorEquals"] == ["OrderInvalid"]
    assert s["ProcessPayment"]["Catch"][0]["ErrorEquals"] == ["PaymentDeclined"]
    # whatever else fails after the retries is caught and named
    assert s["ValidateOrder"]["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert s["ProcessPayment"]["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    fails = {n: st for n, st in asl["States"].items() if st["Type"] == "Fail"}
    assert {st["Error"] for st in fails.values()} == {
        "OrderInvalid",
        "PaymentDeclined",
        "PaymentError",
        "ValidationError",
    }
    for error in ("OrderInvalid", "PaymentDeclined", "PaymentError", "ValidationError"):
        notify = s[f"Notify{error}"]
        assert s[notify["Next"]] == {**s[error], "Type": "Fail"} and s[error]["Error"] == error
        unnotified = s[notify["Catch"][0]["Next"]]
        assert unnotified["Error"] == error
        assert "the customer could not be notified" in unnotified["Cause"]


def test_every_task_has_a_timeout_and_retries_crashes_with_bounded_backoff() -> None:
    asl = json.loads(with_task_timeout(workflow_definition(NAMES), 10))
    tasks = {n: s for n, s in asl["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == 7
    for name, state in tasks.items():
        assert state["TimeoutSeconds"] == 15, name
        (retry,) = state["Retry"]
        assert set(retry["ErrorEquals"]) >= TRANSIENT, name
        assert "States.ALL" not in retry["ErrorEquals"], "business errors must not be retried"
        assert retry["MaxAttempts"] <= 3 and retry["MaxDelaySeconds"] <= 10
        assert retry["JitterStrategy"] == "FULL"
    assert "PaymentUnavailable" in tasks["ProcessPayment"]["Retry"][0]["ErrorEquals"]


def test_a_failed_notification_after_payment_still_ends_confirmed() -> None:
    s = json.loads(workflow_definition(NAMES))["States"]
    (catch,) = s["SendNotification"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    assert catch["ResultPath"] == "$.notificationError"
    assert s[s[catch["Next"]]["Next"]] == {"Type": "Succeed"}


def test_no_policy_ordercli_writes_has_a_wildcard() -> None:
    specs = build_specs(load_settings(environ={}), NAMES)
    docs = [s.policy for s in specs if isinstance(s, RoleSpec) and s.policy is not None]
    assert len(docs) == 5
    for doc in docs:
        assert policies.wildcards(doc) == [], doc


def test_wildcard_check_catches_wildcards() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": ["sqs:*", "s3:GetObject"], "Resource": "*"}]}
    assert policies.wildcards(doc) == ["action sqs:*", "resource *"]


def test_each_role_grants_exactly_what_design_says() -> None:
    specs = {
        s.name: s for s in build_specs(load_settings(environ={}), NAMES) if isinstance(s, RoleSpec)
    }

    def actions(role: str) -> set[str]:
        out: set[str] = set()
        for st in policies.statements_of(specs[role].policy or {}):
            out |= {st["Action"]} if isinstance(st["Action"], str) else set(st["Action"])
        return out

    logs = {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions("shop-ValidateOrder-role") == logs
    assert actions("shop-SendNotification-role") == logs | {"sns:Publish"}
    assert actions("shop-ProcessPayment-role") == logs | {"dynamodb:GetItem", "dynamodb:PutItem"}
    assert actions("shop-StartOrderWorkflow-role") == logs | {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
        "states:StartExecution",
        "states:DescribeExecution",
    }
    assert actions("shop-OrderProcessingWorkflow-role") == {"lambda:InvokeFunction"}


def test_zips_are_byte_identical_when_built_twice_and_hold_the_shared_model() -> None:
    for module in HANDLER_MODULES.values():
        a, b = function_zip(module), function_zip(module)
        assert a.data == b.data and a.sha256_b64 == b.sha256_b64
        names = zipfile.ZipFile(io.BytesIO(a.data)).namelist()
        assert names == sorted(
            ["lambda_src/__init__.py", "lambda_src/order.py", f"lambda_src/{module}.py"]
        )


def test_placeholder_without_value_is_an_error() -> None:
    import pytest

    with pytest.raises(KeyError):
        policies.fill("${Missing} and $.path", {})
    assert policies.fill("${A} $.b", {"A": "x"}) == "x $.b"


# -- each path, run by moto's Step Functions interpreter ------------------------------------
# The real handlers run in-process (the payments table and the topic are moto's); a script
# per function injects the faults Lambda reports as errorType (Sandbox.Timedout,
# Runtime.ExitError), and the retrier's sleeps are recorded instead of slept.
class LambdaFault(Exception):
    def __init__(self, error_type: str) -> None:
        super().__init__(f"injected {error_type}")
        self.error_type = error_type


Script = dict[str, list[str]]  # function -> faults for its next calls ("ok" runs it)


@dataclass
class Harness:
    ctx: Any
    script: Script
    calls: dict[str, int]
    slept: list[float]

    def run(self, order_id: str, amount: Any = 100, *, raw: str | None = None) -> dict[str, Any]:
        import boto3

        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        body = raw or json.dumps({"order": {"orderId": order_id, "amount": amount}})
        arn = sfn.start_execution(
            stateMachineArn=self.ctx.names.state_machine_arn, name=order_id, input=body
        )["executionArn"]
        deadline = time.monotonic() + 30
        while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution never ended"
            time.sleep(0.02)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        d["states"] = [
            e["stateEnteredEventDetails"]["name"]
            for e in events
            if e["type"].endswith("StateEntered")
        ]
        return d

    def charges(self, order_id: str) -> list[dict[str, Any]]:
        import boto3

        ddb = boto3.client("dynamodb", region_name="us-east-1")
        items = ddb.scan(TableName=self.ctx.names.payments_table)["Items"]
        return [i for i in items if i["orderId"]["S"] == order_id]

    sent: list[dict[str, Any]]

    def notifications(self) -> list[dict[str, Any]]:
        return self.sent


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    from moto import mock_aws
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from lambda_src import process_payment, send_notification, validate_order
    from ordercli.aws import Aws, Target
    from ordercli.context import Context, Options
    from ordercli.deploy import stack as deploy

    handlers = {
        "ValidateOrder": validate_order.handler,
        "ProcessPayment": process_payment.handler,
        "SendNotification": send_notification.handler,
    }
    script: Script = {}
    calls: dict[str, int] = {}
    slept: list[float] = []

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        logical = self.function_name.split("-", 1)[1]
        calls[logical] = calls.get(logical, 0) + 1
        plan = script.get(logical) or []
        fault = plan.pop(0) if plan else "ok"
        data = json.loads(event) if isinstance(event, str) else event
        try:
            if fault == "charge-then-crash":
                handlers[logical](data, None)
                raise LambdaFault("Runtime.ExitError")
            if fault != "ok":
                raise LambdaFault(fault)
            return json.dumps(handlers[logical](data, None)), False, ""
        except LambdaFault as exc:
            error = {"errorType": exc.error_type, "errorMessage": str(exc)}
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return json.dumps(error), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=slept.append))
    sent: list[dict[str, Any]] = []
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        process_payment._dynamodb.cache_clear()
        send_notification._sns.cache_clear()
        settings = load_settings(
            {"stack": "wf"},
            environ={},
            overrides={"webapp.enabled": False, "payment.success_rate": 1.0},
        )
        target = Target("aws", "us-east-1")
        ctx = Context(settings, Options(stack="wf"), target, Aws(target, sleep=lambda s: None))
        deploy.up(ctx)
        for logical in handlers:
            for k, v in row(logical).environment(settings, ctx.names).items():
                monkeypatch.setenv(k, v)
        from moto.sns.models import SNSBackend

        original = SNSBackend.publish

        def publish(self: Any, message: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(json.loads(message))
            return original(self, message, *args, **kwargs)

        monkeypatch.setattr(SNSBackend, "publish", publish)
        yield Harness(ctx, script, calls, slept, sent)


def test_path_confirmed_and_notified(harness: Harness) -> None:
    d = harness.run("ok-1")
    assert d["status"] == "SUCCEEDED"
    out = json.loads(d["output"])
    assert out["payment"]["transactionId"] == harness.charges("ok-1")[0]["transactionId"]["S"]
    assert order_outcome("SUCCEEDED", output=d["output"]).notified
    assert [n["outcome"] for n in harness.notifications()] == ["Confirmed"]


def test_path_payment_crash_after_charging_is_retried_without_a_second_charge(
    harness: Harness,
) -> None:
    harness.script["ProcessPayment"] = ["charge-then-crash", "Sandbox.Timedout"]
    d = harness.run("crash-1")
    assert d["status"] == "SUCCEEDED" and harness.calls["ProcessPayment"] == 3
    (charge,) = harness.charges("crash-1")
    assert json.loads(d["output"])["payment"]["transactionId"] == charge["transactionId"]["S"]
    assert harness.slept and all(0 <= s <= 8 for s in harness.slept)


def test_path_payment_never_completing_fails_as_payment_error_after_notifying(
    harness: Harness,
) -> None:
    harness.script["ProcessPayment"] = ["Runtime.ExitError"] * 10
    d = harness.run("pay-err-1")
    assert (d["status"], d["error"]) == ("FAILED", "PaymentError")
    assert "NotifyPaymentError" in d["states"] and harness.charges("pay-err-1") == []
    assert [n["outcome"] for n in harness.notifications()] == ["PaymentError"]
    assert order_outcome("FAILED", d["error"], d["cause"]).notified


def test_path_validator_failing_fails_as_validation_error_after_notifying(
    harness: Harness,
) -> None:
    harness.script["ValidateOrder"] = ["Lambda.Unknown"] * 10
    d = harness.run("val-err-1")
    assert (d["status"], d["error"]) == ("FAILED", "ValidationError")
    assert "ProcessPayment" not in d["states"]
    assert [n["outcome"] for n in harness.notifications()] == ["ValidationError"]


def test_path_notification_failing_after_payment_ends_confirmed_unnotified(
    harness: Harness,
) -> None:
    harness.script["SendNotification"] = ["NotificationUnavailable"] * 10
    d = harness.run("sns-1")
    assert d["status"] == "SUCCEEDED"
    out = json.loads(d["output"])
    assert out["notificationError"]["Error"] == "NotificationUnavailable"
    assert len(harness.charges("sns-1")) == 1
    outcome = order_outcome(d["status"], output=d["output"])
    assert outcome.confirmed and not outcome.notified
    assert "NotificationNotSent" in d["states"]


def test_path_declined_and_unnotified_says_so(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.script["SendNotification"] = ["NotificationUnavailable"] * 10
    monkeypatch.setenv("PAYMENT_SUCCESS_RATE", "0")
    d = harness.run("decl-1")
    assert (d["status"], d["error"]) == ("FAILED", "PaymentDeclined")
    assert not order_outcome("FAILED", d["error"], d["cause"]).notified
    assert harness.charges("decl-1") == []


@pytest.mark.parametrize("amount", [20000, "1e3"])
def test_path_invalid_order_fails_as_order_invalid(harness: Harness, amount: Any) -> None:
    d = harness.run("bad-1", amount=amount)
    assert (d["status"], d["error"]) == ("FAILED", "OrderInvalid")
    assert [n["outcome"] for n in harness.notifications()] == ["OrderInvalid"]


def test_path_the_original_readme_check_ends_in_success_or_declined(harness: Harness) -> None:
    d = harness.run("test-123", raw='{"order":{"orderId":"test-123","amount":100}}')
    assert d["status"] == "SUCCEEDED" or d.get("error") == "PaymentDeclined"
