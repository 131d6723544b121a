"""`ordercli policy` proved against a moto server that enforces IAM (tests/iam_moto_server.py):
a user holding only the printed policy runs up, status, submit, tail, dlq and teardown; with
any one statement removed, some command fails with an AccessDenied naming the action."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.deploy.deployer_policy import deployer_policy
from ordercli.names import Names
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
ADMIN_SETUP_CALLS = 3  # create the admin user, its key and its policy: then IAM is enforced


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the IAM-enforcing moto server did not start")


@pytest.fixture(scope="module")
def iam_server() -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(ADMIN_SETUP_CALLS)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.iam_moto_server", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="admin")
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything)
        )
        admin = boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name="us-east-1",
        )
        yield {"endpoint": endpoint, "admin": admin}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _user_with(server: dict[str, Any], user: str, policy: dict[str, Any]) -> dict[str, str]:
    iam = server["admin"].client("iam", endpoint_url=server["endpoint"])
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(UserName=user, PolicyName="ordercli", PolicyDocument=json.dumps(policy))
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


# (moto runs no Lambda, so the order never starts: `status o-1` answers "No order o-1",
# which it can only say after DescribeExecution was allowed.)
NOT_STARTED = "No order o-1"
CYCLE = (
    ("up", "--no-web"),
    ("status",),
    ("submit", "--customer", "Ada", "--product", "book", "--amount", "12.50", "--order-id", "o-1"),
    ("status", "o-1"),
    ("tail", "--no-follow"),
    ("dlq",),  # (--redrive: moto's server fails StartMessageMoveTask with a 500 in this mode)
    ("teardown", "--yes"),
)


def _run_cycle(
    server: dict[str, Any], stack: str, creds: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int, str] | None:
    """The commands in order as that user; the first failure (command, exit code, output)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server["endpoint"])
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    for command in CYCLE:
        got = runner.invoke(app, [command[0], "--stack", stack, *command[1:]])
        if got.exit_code != 0 and not (command == ("status", "o-1") and NOT_STARTED in got.output):
            return " ".join(command), got.exit_code, got.output
    return None


def _policy(stack: str) -> dict[str, Any]:
    return deployer_policy(Names(stack, "us-east-1", ACCOUNT), web=False).document()


def test_the_printed_policy_is_scoped_and_has_no_web_app_permission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import mock_aws

    with mock_aws():
        got = CliRunner().invoke(app, ["policy", "--stack", "shop", "--no-web", "--json"])
    assert got.exit_code == 0, got.output
    out = json.loads(got.output)
    statements = out["policy"]["Statement"]
    actions = [a for s in statements for a in s["Action"]]
    assert not [a for a in actions if a.startswith(("elasticbeanstalk:", "s3:", "ec2:"))]
    unscoped = {u["sid"] for u in out["unscoped"]}
    for s in statements:
        if s["Resource"] == ["*"]:
            assert s["Sid"] in unscoped  # every `*` is explained
        else:
            assert all(":shop" in r or "/shop" in r or s["Sid"] in unscoped for r in s["Resource"])
    with_web = deployer_policy(Names("shop", "us-east-1", ACCOUNT), web=True).document()
    assert any(
        a.startswith("elasticbeanstalk:") for s in with_web["Statement"] for a in s["Action"]
    )


def test_a_user_holding_only_the_policy_runs_the_whole_cycle(
    iam_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = _user_with(iam_server, "deployer", _policy("pol"))
    assert _run_cycle(iam_server, "pol", creds, monkeypatch) is None
    sqs = iam_server["admin"].client("sqs", endpoint_url=iam_server["endpoint"])
    assert sqs.list_queues(QueueNamePrefix="pol-").get("QueueUrls", []) == []


def test_without_any_one_statement_a_command_fails_naming_the_action(
    iam_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sids = [s["Sid"] for s in _policy("x")["Statement"]]
    for i, sid in enumerate(sids):
        stack = f"cut{i}"
        policy = _policy(stack)
        removed = next(s for s in policy["Statement"] if s["Sid"] == sid)
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != sid]
        failure = _run_cycle(
            iam_server, stack, _user_with(iam_server, f"u{i}", policy), monkeypatch
        )
        assert failure is not None, f"nothing failed without statement {sid}"
        command, code, output = failure
        text = " ".join(output.split())
        assert code == 1 and "Traceback" not in output, (sid, command, output)
        assert "not authorized" in text or "AccessDenied" in text, (sid, command, output)
        assert any(a in text for a in removed["Action"]), (sid, command, output)
