"""The ASL, the policy templates and the zips: data that must stay right."""

from __future__ import annotations

import io
import json
import zipfile

from ordercli.config import load_settings
from ordercli.deploy import policies
from ordercli.deploy.package import function_zip
from ordercli.deploy.specs import HANDLER_MODULES, RoleSpec, build_specs, workflow_definition
from ordercli.names import Names

NAMES = Names("shop", "us-east-1", "123456789012")


def test_every_task_resource_placeholder_is_filled_with_a_function_arn() -> None:
    asl = json.loads(workflow_definition(NAMES))
    tasks = {n: s for n, s in asl["States"].items() if s["Type"] == "Task"}
    assert tasks
    for state in tasks.values():
        assert state["Resource"].startswith("arn:aws:lambda:us-east-1:123456789012:function:shop-")
    assert "${" not in json.dumps(asl)


def test_workflow_catches_business_errors_and_fails_with_their_names() -> None:
    asl = json.loads(workflow_definition(NAMES))
    s = asl["States"]
    assert s["ValidateOrder"]["Catch"][0]["ErrorEquals"] == ["OrderInvalid"]
    assert s["ProcessPayment"]["Catch"][0]["ErrorEquals"] == ["PaymentDeclined"]
    assert s[s["NotifyOrderInvalid"]["Next"]] == {**s["OrderInvalid"], "Type": "Fail"}
    assert (
        s["OrderInvalid"]["Error"] == "OrderInvalid"
        and s["PaymentDeclined"]["Error"] == "PaymentDeclined"
    )
    transient = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
    for name in ("ValidateOrder", "ProcessPayment", "SendNotification"):
        assert set(s[name]["Retry"][0]["ErrorEquals"]) == transient


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
    assert actions("shop-StartOrderWorkflow-role") == logs | {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "states:StartExecution",
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
