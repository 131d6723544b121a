"""Emulated AWS quotas on the real emulator: a synchronous Invoke past the account's
concurrency answers as Lambda does, and a burst of 5,000 orders against a tight
StartExecution bucket loses nothing and dead-letters nothing (the consumer retries
throttling inside its time budget and re-sends what stays throttled; the emulator holds
deliveries while 300 executions run)."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
import zipfile
from collections import Counter
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
BURST = 5000
# A bucket of 5 StartExecution tokens refilled at 80/s: a full batch of 10 (the consumer starts
# its records at once) finds fewer tokens than records, so throttling goes on all through the
# burst (2,431 throttled calls in one run), while the refill stays above the rate this
# emulator finishes orders at on two cores (50-70/s), so the quota does not slow the run: it
# takes 90 s on a quiet machine, 125-133 s under load (sends 22 s, all settled at 116 s).
START_BURST, START_RATE = 5, 80.0
TIGHT = f"aws,start_burst={START_BURST},start_rate={START_RATE:g}"


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


def _executions(local: dict[str, str], stack: str) -> list[dict[str, Any]]:
    sfn = client(local, "stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{stack}-OrderProcessingWorkflow"
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, PaginationConfig={"PageSize": 1000}
    )
    return [e for page in pages for e in page["executions"]]


def _depth(local: dict[str, str], queue: str) -> int:
    """Every message the queue holds: visible, in flight or delayed."""
    sqs = client(local, "sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(got[k])
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def _settled(local: dict[str, str], stack: str, within: float) -> bool:
    """Whether, within `within` seconds, the queue holds nothing (visible, in flight or
    delayed: a re-sent copy counts) and no execution runs: every order has gone through.
    (Read cheaply, once a second: following 5,000 orders one by one would load the emulator
    this test measures.)"""
    sfn = client(local, "stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{stack}-OrderProcessingWorkflow"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _depth(local, f"{stack}-orders") == 0:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)
            if not running["executions"] and _depth(local, f"{stack}-orders") == 0:
                return True
        time.sleep(1)
    return False


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
    assert (limits["start_burst"], limits["start_rate"]) == (START_BURST, START_RATE)
    throttled_before = limits["throttled"]["start_execution"]
    burst = ["--stack", "burst", "--config", str(cfg), "--count", str(BURST), "--json"]
    sent = runner.invoke(app, ["submit", "--local", *burst])
    assert sent.exit_code == 0, sent.stderr
    order_ids = [o["orderId"] for o in json.loads(sent.stdout)["orders"] if o["accepted"]]
    assert len(set(order_ids)) == BURST
    assert _settled(local, "burst", within=600)
    throttled = in_force(local)["throttled"]["start_execution"] - throttled_before
    assert throttled > 0  # the quota was tight: StartExecution really was refused
    # None lost, none twice: every orderId sent has exactly one execution, and it has ended.
    executions = _executions(local, "burst")
    names = Counter(e["name"] for e in executions)
    assert set(names) == set(order_ids) and max(names.values()) == 1
    assert {e["status"] for e in executions} <= {"SUCCEEDED", "FAILED"}
    assert _depth(local, "burst-orders-dlq") == 0  # nothing dead-lettered, for any reason
    assert runner.invoke(app, ["teardown", "--local", "--stack", "burst", "--yes"]).exit_code == 0
