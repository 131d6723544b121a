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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.deploy.deployer_policy import deployer_policy
from ordercli.names import TAG_KEY, Names
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
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(ADMIN_SETUP_CALLS),
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # the web app's roles attach AWS's policies
    }
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
    ("status", "--json"),
    ("submit", "--customer", "Ada", "--product", "book", "--amount", "12.50", "--order-id", "o-1"),
    ("status", "o-1"),
    ("tail", "--no-follow"),
    ("dlq",),
    ("dlq", "--redrive"),  # (the server adds SQS's move task, which moto lacks)
    ("teardown", "--yes"),
)


def _dead_letter(server: dict[str, Any], stack: str) -> None:
    """One dead letter in the stack's DLQ, put there by the admin (moto runs no consumer)."""
    sqs = server["admin"].client("sqs", endpoint_url=server["endpoint"])
    dlq = sqs.get_queue_url(QueueName=f"{stack}-orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"orderId": "o-dead"}')


def _run_cycle(
    server: dict[str, Any], stack: str, creds: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int, str] | None:
    """The commands in order as that user, a dead letter made after `up`; the first failure
    (command, exit code, output). `status` must show no web app (the config leaves the web
    app on, but `up --no-web` made none, so Elastic Beanstalk is never asked: the --no-web
    policy allows none of it) and `dlq --redrive` must move that dead letter."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server["endpoint"])
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    for command in CYCLE:
        got = runner.invoke(app, [command[0], "--stack", stack, *command[1:]])
        if got.exit_code != 0 and not (command == ("status", "o-1") and NOT_STARTED in got.output):
            return " ".join(command), got.exit_code, got.output
        if command[0] == "up":
            _dead_letter(server, stack)
        if command == ("status", "--json"):  # the config says web, but the stack has none
            web = {r["kind"]: r["state"] for r in json.loads(got.stdout)["resources"]}
            web = {k: v for k, v in web.items() if k.startswith("eb_")}
            assert web == {"eb_application": "missing", "eb_environment": "missing"}, web
        if command == ("dlq", "--redrive"):
            assert "Moved 1 message(s) back to the queue (StartMessageMoveTask" in got.output
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
        if sid == "RedriveDeadLetters":  # everything else passed; the redrive alone is refused
            assert command == "dlq --redrive" and "sqs:StartMessageMoveTask" in text, output


# -- Elastic Beanstalk ------------------------------------------------------------------------
# moto serves only part of Elastic Beanstalk, so a web-enabled `up` cannot run against it; but
# its server checks IAM before it looks for the action, so every call ordercli makes can be
# authorized (or refused) there, served or not. These are those calls, in an order moto can
# serve, with the parameters ordercli sends (ordercli/deploy/resources/eb_*.py).
EB_LABEL = "ordercli-0123456789abcdef"
MOTO_LACKS = {  # answered NotImplemented by moto 5.x after IAM allowed them
    "CreateStorageLocation",
    "CreateApplicationVersion",
    "DescribeApplicationVersions",
    "DescribeConfigurationSettings",
    "UpdateEnvironment",
    "DescribeEvents",
    "DescribeEnvironmentHealth",
    "TerminateEnvironment",
}


def _eb_calls(stack: str) -> list[tuple[str, dict[str, Any]]]:
    n = Names(stack, "us-east-1", ACCOUNT)
    app, env = n.webapp_application, n.webapp_environment
    bucket = f"elasticbeanstalk-us-east-1-{ACCOUNT}"
    tags = [{"Key": TAG_KEY, "Value": stack}]
    both = {"ApplicationName": app, "EnvironmentName": env}
    return [
        ("CreateApplication", {"ApplicationName": app, "Description": "web", "Tags": tags}),
        ("DescribeApplications", {"ApplicationNames": [app]}),
        ("CreateStorageLocation", {}),
        (
            "CreateApplicationVersion",
            {
                "ApplicationName": app,
                "VersionLabel": EB_LABEL,
                "SourceBundle": {"S3Bucket": bucket, "S3Key": f"{app}/{EB_LABEL}.zip"},
                "Process": True,
            },
        ),
        ("DescribeApplicationVersions", {"ApplicationName": app, "VersionLabels": [EB_LABEL]}),
        ("ListAvailableSolutionStacks", {}),
        (
            "CreateEnvironment",
            {
                **both,
                "SolutionStackName": "64bit Amazon Linux 2023 v4.3.2 running Python 3.12",
                "VersionLabel": EB_LABEL,
                "Tags": tags,
            },
        ),
        (
            "DescribeEnvironments",
            {"ApplicationName": app, "EnvironmentNames": [env], "IncludeDeleted": False},
        ),
        ("DescribeConfigurationSettings", both),
        ("UpdateEnvironment", {**both, "VersionLabel": EB_LABEL}),
        ("DescribeEvents", {**both, "StartTime": datetime.now(UTC)}),
        ("DescribeEnvironmentHealth", {"EnvironmentName": env, "AttributeNames": ["Causes"]}),
        ("TerminateEnvironment", {"EnvironmentName": env, "ForceTerminate": True}),
        ("DeleteApplication", {"ApplicationName": app, "TerminateEnvByForce": True}),
    ]


def _eb_outcomes(
    server: dict[str, Any], creds: dict[str, str], stack: str
) -> dict[str, tuple[str, str]]:
    """Each call's (error code or "ok", message) as the user holding `creds`."""
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError

    eb = boto3.client(
        "elasticbeanstalk",
        endpoint_url=server["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    out: dict[str, tuple[str, str]] = {}
    for op, params in _eb_calls(stack):
        try:
            getattr(eb, xform_name(op))(**params)
            out[op] = ("ok", "")
        except ClientError as exc:
            out[op] = (exc.response["Error"]["Code"], exc.response["Error"].get("Message", ""))
    return out


def test_the_listed_elastic_beanstalk_calls_are_every_one_ordercli_makes() -> None:
    import botocore.session
    from botocore import xform_name

    source = "".join(
        (ROOT / "ordercli" / "deploy" / "resources" / f).read_text()
        for f in ("eb_application.py", "eb_environment.py")
    )
    model = botocore.session.get_session().get_service_model("elasticbeanstalk")
    made = {op for op in model.operation_names if f".{xform_name(op)}(" in source}
    assert made == {op for op, _ in _eb_calls("x")}


def test_the_web_policy_authorizes_every_elastic_beanstalk_call_and_only_it_does(
    iam_server: dict[str, Any],
) -> None:
    web = deployer_policy(Names("webs", "us-east-1", ACCOUNT), web=True).document()
    got = _eb_outcomes(iam_server, _user_with(iam_server, "web-deployer", web), "webs")
    assert {op: o for op, o in got.items() if o[0] not in ("ok", "NotImplemented")} == {}
    assert {op for op, o in got.items() if o[0] == "NotImplemented"} == MOTO_LACKS
    # Without the web app's Elastic Beanstalk statements, each call is refused by name.
    cut = deployer_policy(Names("webs2", "us-east-1", ACCOUNT), web=True).document()
    cut["Statement"] = [s for s in cut["Statement"] if s["Sid"] not in ("WebApp", "WebAppLookups")]
    refused = _eb_outcomes(iam_server, _user_with(iam_server, "web-cut", cut), "webs2")
    for op, (code, message) in refused.items():
        assert code == "AccessDenied" and f"elasticbeanstalk:{op}" in message, (op, message)
    # The --no-web policy allows none of them.
    bare = _user_with(iam_server, "no-web", _policy("nw"))
    assert {o[0] for o in _eb_outcomes(iam_server, bare, "nw").values()} == {"AccessDenied"}


def _web_resources(
    server: dict[str, Any], stack: str, policy: dict[str, Any], user: str
) -> dict[str, str]:
    """Make the web app's specs one by one, in order, as a user holding `policy`, on the
    moto server: each kind's outcome ("ok", or the error's first line)."""
    import botocore.session

    from ordercli.aws import Aws, Target
    from ordercli.config import load_settings
    from ordercli.deploy.resources import kind
    from ordercli.deploy.specs import build_specs

    creds = _user_with(server, user, policy)
    session = botocore.session.Session()
    session.set_credentials(creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"])
    target = Target("aws", "us-east-1", endpoint_url=server["endpoint"], session=session)
    aws = Aws(target, sleep=lambda s: None)
    settings = load_settings({"stack": stack}, environ={})
    names = Names(stack, "us-east-1", ACCOUNT)
    web = [
        s
        for s in build_specs(settings, names, webapp=True)
        if s.kind in ("instance_profile", "eb_application")
        or (s.kind == "role" and s.name in (names.webapp_instance_role, names.webapp_service_role))
    ]
    out: dict[str, str] = {}
    for spec in web:
        try:
            kind(spec.kind).create(aws, spec)
            out[f"{spec.kind}:{spec.name}"] = "ok"
        except Exception as exc:
            out[f"{spec.kind}:{spec.name}"] = str(exc).splitlines()[0]
    return out


def test_the_web_policy_makes_the_web_apps_roles_profile_and_application(
    iam_server: dict[str, Any],
) -> None:
    """As far as moto serves a web-enabled `up`: the web app's roles (with AWS's managed
    policies), its instance profile (its role passed to EC2) and the application; the
    application's next call, CreateStorageLocation, is one moto lacks (after IAM allowed it).
    Without each of their statements, the same step is refused naming the action."""
    stack = "webr"
    names = Names(stack, "us-east-1", ACCOUNT)
    role, service, profile = (
        f"role:{names.webapp_instance_role}",
        f"role:{names.webapp_service_role}",
        f"instance_profile:{names.webapp_instance_role}",
    )
    app = f"eb_application:{names.webapp_application}"
    web = deployer_policy(names, web=True).document()
    got = _web_resources(iam_server, stack, web, "web-maker")
    assert got[role] == got[service] == got[profile] == "ok", got
    assert "(NotImplemented)" in got[app] and "CreateStorageLocation" in got[app], got
    for sid, step, action in (
        ("Roles", role, "iam:CreateRole"),
        ("WebAppInstanceProfile", profile, "iam:CreateInstanceProfile"),
        ("PassWebAppRoles", profile, "iam:PassRole"),
        ("WebApp", app, "elasticbeanstalk:CreateApplication"),
    ):
        cut_stack = f"webr-{sid.lower()}"
        cut = deployer_policy(Names(cut_stack, "us-east-1", ACCOUNT), web=True).document()
        cut["Statement"] = [s for s in cut["Statement"] if s["Sid"] != sid]
        refused = _web_resources(iam_server, cut_stack, cut, f"u-{sid}")
        outcome = refused[step.replace(stack, cut_stack, 1)]
        assert "not authorized" in outcome and action in outcome, (sid, refused)
