"""Emulated AWS quotas on the real emulator: a synchronous Invoke past the account's
concurrency answers as Lambda does, and a burst far above the StartExecution rate loses
nothing and dead-letters nothing (the consumer retries throttling, the poller waits).

The burst is 1,000 orders, not the 5,000 of issue 11: this emulator finishes fewer
executions per second than the bucket's 50/s refill when the machine is loaded (measured at
load 20+: threads of started executions grew by ~35/s past 3,000), so 5,000 piled up."""

from __future__ import annotations

import io
import json
import os
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.local import quotas

pytestmark = pytest.mark.e2e
BURST = 1000  # see the docstring
TIGHT = "aws,start_burst=20,start_rate=50"  # a burst far above it; under the quiet pipeline rate


def client(local: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=local["endpoint"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def in_force(local: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(local["endpoint"] + quotas.CONTROL_PATH) as answer:
        found: dict[str, Any] = json.loads(answer.read())
    return found


@pytest.fixture
def quotas_reset(local: dict[str, str]) -> Iterator[dict[str, str]]:
    """The session's emulator is shared: every test leaves it without quotas."""
    yield local
    quotas.apply(local["endpoint"], "off")


def test_an_invoke_past_the_concurrency_quota_is_throttled_as_lambda_answers(
    quotas_reset: dict[str, str],
) -> None:
    local = quotas_reset
    lam, iam = client(local, "lambda"), client(local, "iam")
    role = iam.create_role(
        RoleName="quota-probe", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "p.py",
            "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n"
            "    return 'ok'\n",
        )
    lam.create_function(
        FunctionName="quota-probe",
        Runtime="python3.12",
        Role=role,
        Handler="p.handler",
        Code={"ZipFile": buf.getvalue()},
        Timeout=10,
    )
    quotas.apply(local["endpoint"], "lambda_concurrency=1")

    def invoke(sleep: float) -> str:
        try:
            answer = lam.invoke(FunctionName="quota-probe", Payload=json.dumps({"sleep": sleep}))
            return str(json.loads(answer["Payload"].read()))
        except ClientError as exc:
            error = exc.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
            return str(error["Error"]["Code"])

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(invoke, [5, 5, 5, 5]))
    assert sorted(results) == ["TooManyRequestsException"] * 3 + ["ok"]
    quotas.apply(local["endpoint"], "off")
    assert invoke(0) == "ok"


def test_a_burst_far_above_the_start_rate_loses_and_dead_letters_nothing(
    quotas_reset: dict[str, str], tmp_path: Any
) -> None:
    local = quotas_reset
    os.environ.update({k: local[k] for k in ("ORDERCLI_HOME", "ORDERCLI_LOCAL_PORT")})
    cfg = tmp_path / "ordercli.yaml"
    cfg.write_text(f"payment:\n  seed: 3\nlocal:\n  quotas: {TIGHT}\n")
    runner = CliRunner()
    up = runner.invoke(app, ["up", "--local", "--stack", "burst", "--no-web", "--config", str(cfg)])
    assert up.exit_code == 0, up.stderr
    limits = in_force(local)
    assert limits["start_burst"] == 20 and limits["start_rate"] == 50.0
    throttled_before = limits["throttled"]["start_execution"]
    sent = runner.invoke(
        app,
        [
            "submit", "--local", "--stack", "burst", "--config", str(cfg),
            "--count", str(BURST), "--wait", "--timeout", "900", "--json",
        ],
    )  # fmt: skip
    summary = json.loads(sent.stdout)["summary"]
    assert summary["sent"] == BURST and summary["pending"] == 0, summary
    assert summary["succeeded"] + summary["failed"] == BURST, summary  # none lost
    assert not set(summary["failed_by_error"]) - {"PaymentDeclined"}, summary  # none throttled
    sqs = client(local, "sqs")
    dlq = sqs.get_queue_url(QueueName="burst-orders-dlq")["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert depth["ApproximateNumberOfMessages"] == "0"
    assert depth["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert in_force(local)["throttled"]["start_execution"] > throttled_before  # it was tight
    assert runner.invoke(app, ["teardown", "--local", "--stack", "burst", "--yes"]).exit_code == 0
