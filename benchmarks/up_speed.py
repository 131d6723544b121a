"""Cold `ordercli up --no-web` on a plain moto server against the original README's install
steps typed as `aws` CLI commands on another fresh server, same run; then a no-op `up`.
Bars: cold up <= 0.5x the aws CLI steps; no-op up <= 0.5x cold up.

Then, in process, against the stricter AWS double (tests/strict_aws.py: AWS's lifecycles with
its waits compressed by STRICT_SCALE on the real clock): `up` right after `teardown` (it must
wait out SQS's 60 s name hold, a Deleting trigger and a DELETING state machine) and a no-op
`up` (which must make no mutating call).

usage: python benchmarks/up_speed.py [--aws PATH]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ORDERCLI, fake_aws_env, moto_server, row
from cli_speed import find_aws

from ordercli.deploy.package import function_zip
from ordercli.deploy.specs import workflow_definition
from ordercli.names import Names

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def original_steps(aws: str, endpoint: str) -> float:
    """The original README's manual install, one `aws` command per step."""
    work = Path(tempfile.mkdtemp())
    names = Names("orig", "us-east-1", "123456789012")
    modules = {
        "ValidateOrder": "validate_order",
        "ProcessPayment": "process_payment",
        "SendNotification": "send_notification",
    }
    env = fake_aws_env(endpoint)
    role_arn = "arn:aws:iam::123456789012:role/OrderProcessingRole"
    steps = [
        [aws, "sqs", "create-queue", "--queue-name", "OrderQueue"],
        [
            aws,
            "iam",
            "create-role",
            "--role-name",
            "OrderProcessingRole",
            "--assume-role-policy-document",
            TRUST,
        ],
    ]
    for fn, module in modules.items():
        zip_path = work / f"{fn}.zip"
        zip_path.write_bytes(function_zip(module).data)
        steps.append(
            [
                aws,
                "lambda",
                "create-function",
                "--function-name",
                f"orig-{fn}",
                "--runtime",
                "python3.12",
                "--role",
                role_arn,
                "--handler",
                f"lambda_src.{module}.handler",
                "--zip-file",
                f"fileb://{zip_path}",
            ]
        )
    definition = workflow_definition(names)
    steps.append(
        [
            aws,
            "stepfunctions",
            "create-state-machine",
            "--name",
            "orig-OrderProcessingWorkflow",
            "--definition",
            definition,
            "--role-arn",
            role_arn,
        ]
    )
    for policy in ("AWSLambdaRole", "AmazonSQSFullAccess"):
        steps.append(
            [
                aws,
                "iam",
                "put-role-policy",
                "--role-name",
                "OrderProcessingRole",
                "--policy-name",
                policy,
                "--policy-document",
                json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
                        ],
                    }
                ),
            ]
        )
    t0 = time.perf_counter()
    for cmd in steps:  # awscli v1 ignores AWS_ENDPOINT_URL for some services: say it
        subprocess.run(
            [*cmd, "--endpoint-url", endpoint], env=env, check=True, stdout=subprocess.DEVNULL
        )
    return time.perf_counter() - t0


def timed_up(endpoint: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [ORDERCLI, "up", "--stack", "bench", "--no-web", "--json"],
        env=fake_aws_env(endpoint),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


STRICT_SCALE = 0.1  # AWS's documented waits, 10x shorter


def strict_cycle() -> dict[str, Any]:
    """up, teardown, then the timed `up` straight after it and a timed no-op `up`."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from moto import mock_aws

    from ordercli.aws import Aws, Target, is_mutating
    from ordercli.config import load_settings
    from ordercli.context import Context, Options
    from ordercli.deploy import stack as engine
    from tests.strict_aws import StrictAws

    os.environ.update(fake_aws_env())
    target = Target("aws", "us-east-1")
    double = StrictAws(time.monotonic, STRICT_SCALE)
    calls: list[str] = []

    def ctx() -> Context:
        aws = Aws(target)
        double.attach(aws)
        aws.on("before-call", lambda model, **_: calls.append(model.name))
        settings = load_settings(
            {"stack": "bench"}, environ={}, overrides={"webapp.enabled": False}
        )
        return Context(settings, Options(stack="bench"), target, aws)

    out: dict[str, Any] = {}
    with mock_aws():
        engine.up(ctx())
        engine.teardown(ctx())
        t0 = time.perf_counter()
        try:
            engine.up(ctx())
            out["after_teardown_ok"] = True
        except Exception as exc:  # a figure, not a test: say what failed
            out["after_teardown_ok"] = f"failed: {exc}"
        out["after_teardown"] = time.perf_counter() - t0
        calls.clear()
        t0 = time.perf_counter()
        engine.up(ctx())
        out["noop"] = time.perf_counter() - t0
        out["noop_mutating"] = len([c for c in calls if is_mutating(c)])
        out["seen"] = dict(double.seen)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aws")
    args = parser.parse_args()
    aws = find_aws(args.aws)
    with moto_server() as endpoint:
        manual = original_steps(aws, endpoint)
    with moto_server() as endpoint:
        cold = timed_up(endpoint)
        noop = min(timed_up(endpoint) for _ in range(3))
    row("original README steps as aws CLI commands", f"{manual:.2f} s")
    row("ordercli up --no-web, cold (builds more)", f"{cold:.2f} s")
    row("ordercli up --no-web, no-op (best of 3)", f"{noop:.2f} s")
    row("cold up / aws CLI steps (bar: <= 0.5)", f"{cold / manual:.2f}")
    row("no-op up / cold up (bar: <= 0.5)", f"{noop / cold:.2f}")
    strict = strict_cycle()
    row(
        f"strict double: up right after teardown (waits /{1 / STRICT_SCALE:.0f})",
        f"{strict['after_teardown']:.2f} s, "
        + ("succeeded" if strict["after_teardown_ok"] is True else strict["after_teardown_ok"]),
    )
    row(
        "strict double: no-op up (in process)",
        f"{strict['noop']:.2f} s, {strict['noop_mutating']} mutating calls",
    )


if __name__ == "__main__":
    main()
