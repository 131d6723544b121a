"""Emulated AWS quotas: the setting's grammar, the token bucket and concurrency count, and
StartExecution / Invoke answering as AWS does when over them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ordercli.local import moto_hooks, quotas
from ordercli.local.quotas import AWS, OFF, Limiter, Quotas, parse

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("off", OFF),
        ("", OFF),
        ("aws", AWS),
        ("aws,start_rate=5", Quotas(1300, 5.0, 1000)),
        ("start_burst=20, start_rate=10, lambda_concurrency=4", Quotas(20, 10.0, 4)),
        ("lambda_concurrency=2", Quotas(lambda_concurrency=2)),
    ],
)
def test_quota_settings_parse(text: str, expected: Quotas) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, named",
    [
        ("fast", "'fast' is not a quota"),
        ("start_rate=x,start_burst=1", "start_rate must be a number"),
        ("lambda_concurrency=0", "lambda_concurrency must be greater than 0"),
        ("start_burst=5", "start_burst and start_rate go together"),
    ],
)
def test_a_bad_quota_setting_names_the_part(text: str, named: str) -> None:
    assert named in (quotas.problem(text) or "")


def test_the_config_key_refuses_a_bad_value(tmp_path: object) -> None:
    from pathlib import Path

    from ordercli.config import load_settings
    from ordercli.errors import ConfigError

    cfg = Path(str(tmp_path)) / "c.yaml"
    cfg.write_text("local:\n  quotas: lots\n")
    with pytest.raises(ConfigError, match=r"local\.quotas"):
        load_settings({}, str(cfg))
    cfg.write_text("local:\n  quotas: aws\n")
    assert load_settings({}, str(cfg))["local.quotas"] == "aws"
    cfg.write_text("local:\n  quotas: off\n")  # YAML's boolean: no quotas
    assert load_settings({}, str(cfg))["local.quotas"] is False
    cfg.write_text("local:\n  quotas: true\n")
    with pytest.raises(ConfigError, match="got true"):
        load_settings({}, str(cfg))


def test_the_bucket_holds_its_burst_then_throttles() -> None:
    limiter = Limiter()
    limiter.set(Quotas(start_burst=3, start_rate=0.001))
    assert [limiter.take_start() for _ in range(4)] == [True, True, True, False]
    limiter.set(OFF)
    assert all(limiter.take_start() for _ in range(100))


def test_concurrency_refuses_or_waits_past_the_cap() -> None:
    import threading

    limiter = Limiter()
    limiter.set(Quotas(lambda_concurrency=1))
    assert limiter.enter_lambda(wait=False)
    assert not limiter.enter_lambda(wait=False)
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: limiter.enter_lambda(wait=True) and entered.set())
    waiter.start()
    assert not entered.wait(0.05)  # still held: the waiter waits
    limiter.exit_lambda()
    waiter.join(5)
    assert entered.is_set()


@pytest.fixture
def limited(mocked: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    monkeypatch.setattr(
        StepFunctionsParserBackend, "start_execution", StepFunctionsParserBackend.start_execution
    )
    moto_hooks.enforce_start_execution_quota()
    yield
    quotas.LIMITS.set(OFF)


def test_start_execution_past_the_bucket_is_throttled_as_aws_answers(limited: None) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1", config=NO_RETRY)
    arn = sfn.create_state_machine(
        name="m",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    quotas.LIMITS.set(Quotas(start_burst=2, start_rate=0.001))
    sfn.start_execution(stateMachineArn=arn, name="a")
    sfn.start_execution(stateMachineArn=arn, name="b")
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=arn, name="c")
    error = caught.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    names = {e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
    assert names == {"a", "b"}  # the throttled one started nothing


def test_an_execution_listed_before_it_starts_reads_as_running(
    limited: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.backend.execution import Execution

    monkeypatch.setattr(Execution, "__init__", Execution.__init__)
    moto_hooks.running_from_creation()
    monkeypatch.setattr(Execution, "start", lambda self: None)  # hold it in moto's window
    sfn = boto3.client("stepfunctions", region_name="us-east-1", config=NO_RETRY)
    arn = sfn.create_state_machine(
        name="m",
        roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="a")
    (listed,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert listed["status"] == "RUNNING"
    assert sfn.describe_execution(executionArn=run["executionArn"])["status"] == "RUNNING"
