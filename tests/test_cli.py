"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ordercli.cli import app

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_help_does_not_import_boto3_rich_or_moto() -> None:
    code = (
        "import sys, runpy; sys.argv = ['ordercli', '--help']\n"
        "try:\n    runpy.run_module('ordercli', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'moto', 'flask') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "up" in out.stdout and "teardown" in out.stdout


def test_global_options_are_declared_once_and_named_in_every_help() -> None:
    code, out, _ = invoke("--help")
    for option in ("--stack", "--region", "--profile", "--json", "--local", "--endpoint-url"):
        assert option in out
    assert "--debug" in out and "--version" in out and "--install-completion" in out
    commands = ("init", "up", "teardown", "submit", "status", "tail", "dlq", "policy", "cost")
    for command in commands:
        code, out, _ = invoke(command, "--help")
        assert code == 0
        assert "Global options go before or after the command" in out, command
        assert "Examples:" in out and f"ordercli {command}" in out, command
    for command in ("start", "stop", "status", "reset", "--help"):
        code, out, _ = invoke("local", command, *(() if command == "--help" else ("--help",)))
        assert code == 0 and "Examples:" in out, command


def test_config_error_exits_2_naming_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "ordercli.yaml").write_text("queue:\n  max_receive_count: -1\n")
    code, out, err = invoke("up", "--dry-run")
    assert code == 2
    assert "queue.max_receive_count" in err and "ordercli.yaml" in err
    assert "Traceback" not in err + out


def test_bad_stack_name_exits_2_before_any_aws_call() -> None:
    code, _, err = invoke("up", "--stack", "no spaces")
    assert code == 2 and "stack" in err


def test_no_credentials_is_one_clear_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached
    code, _, err = invoke("up", "--dry-run")
    assert code == 1
    assert "No AWS credentials" in err and "--local" in err
    assert "Traceback" not in err
    # --json names target and stack even though no call got that far
    code, out, _ = invoke("policy", "--json", "--stack", "shop")
    data = json.loads(out)
    assert code == 1 and data["stack"] == "shop" and data["error"]["exit_code"] == 1
    assert data["target"] == {
        "kind": "aws",
        "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1",
        "account": None,
    }


def test_json_errors_are_json_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "ordercli.yaml").write_text("nope: 1\n")
    code, out, _ = invoke("up", "--json")
    assert code == 2
    assert json.loads(out)["error"]["exit_code"] == 2


def test_teardown_refuses_without_yes_when_not_a_terminal(mocked: None) -> None:
    from ordercli.aws import Aws, Target
    from ordercli.config import load_settings
    from ordercli.context import Context, Options
    from ordercli.deploy import stack as engine
    from tests.conftest import REGION  # noqa: F401

    target = Target("aws", "us-east-1")
    settings = load_settings({"stack": "cli"}, environ={}, overrides={"webapp.enabled": False})
    ctx = Context(settings, Options(), target, Aws(target))
    engine.up(ctx)
    code, out, err = invoke("teardown", "--stack", "cli", input="")
    assert code == 2 and "--yes" in err
    import boto3

    assert (
        boto3.client("sqs", region_name="us-east-1")
        .list_queues(QueueNamePrefix="cli-")
        .get("QueueUrls")
    )
    code, out, err = invoke("teardown", "--stack", "cli", "--yes", "--json")
    assert code == 0, err
    acted = {
        a["action"]
        for a in json.loads(out)["actions"]
        if not a["kind"].startswith("eb_")
        and a["kind"] != "instance_profile"
        and "webapp" not in a["resource"]
    }
    assert acted == {"delete"}
    code, out, _ = invoke("cleanup", "--stack", "cli", "--yes", "--json")
    assert code == 0 and {a["action"] for a in json.loads(out)["actions"]} == {"noop"}


def test_up_json_lists_actions_and_outputs(mocked: None) -> None:
    code, out, err = invoke("up", "--stack", "j", "--no-web", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["stack"] == "j"
    assert data["target"] == {
        "kind": "aws",
        "endpoint": None,
        "region": "us-east-1",
        "account": "123456789012",
    }
    assert {a["action"] for a in data["actions"]} == {"create"}
    assert data["outputs"]["state_machine_arn"].endswith(":stateMachine:j-OrderProcessingWorkflow")
    code, out, _ = invoke("up", "--stack", "j", "--no-web", "--json")
    assert {a["action"] for a in json.loads(out)["actions"]} == {"noop"}


def test_human_output_names_target_and_stack(mocked: None) -> None:
    code, out, _ = invoke("up", "--stack", "h", "--dry-run")
    assert code == 0
    assert "target aws (us-east-1)" in out and "stack h" in out and "Dry run" in out


def test_init_writes_a_file_and_will_not_overwrite(tmp_path: Path) -> None:
    assert invoke("init")[0] == 0
    assert (tmp_path / "ordercli.yaml").read_text().startswith("# ordercli configuration")
    code, _, err = invoke("init")
    assert code == 2 and "--force" in err
    code, out, _ = invoke("init", "--json", "--force", "--stack", "shop")
    data = json.loads(out)
    assert code == 0 and data["stack"] == "shop" and data["target"]["kind"] == "aws"
    assert data["written"] == "ordercli.yaml"


def test_local_commands_without_an_emulator() -> None:
    code, out, _ = invoke("local", "status", "--json")
    assert code == 3 and json.loads(out)["running"] is False
    code, out, _ = invoke("local", "stop", "--json")
    assert code == 0 and json.loads(out)["stopped"] is False
    code, _, err = invoke("status", "--local")
    assert code == 1 and "not running" in err


# -- conventions (issue 13) -------------------------------------------------------------------
def test_global_options_work_before_and_after_the_command(mocked: None) -> None:
    for args in (
        ("--json", "--stack", "g", "up", "--dry-run", "--no-web"),
        ("up", "--dry-run", "--json", "--stack", "g", "--no-web"),
        ("up", "--stack=g", "--dry-run", "--no-web", "--json"),
    ):
        code, out, err = invoke(*args)
        assert code == 0, (args, err)
        assert json.loads(out)["stack"] == "g", args


def test_a_command_option_value_that_looks_like_a_global_flag_stays_a_value() -> None:
    from ordercli.cli import app as cli_app
    from ordercli.cli import hoist_globals

    group = __import__("typer").main.get_command(cli_app)
    ctx = group.make_context("ordercli", ["--help"], resilient_parsing=True)
    args = ["submit", "--customer", "--local", "--amount", "1", "--stack", "s"]
    assert hoist_globals(group, ctx, args) == [
        "--stack",
        "s",
        "submit",
        "--customer",
        "--local",
        "--amount",
        "1",
    ]
    assert hoist_globals(group, ctx, ["local", "status", "--port", "4599", "--json"]) == [
        "--port",
        "4599",
        "--json",
        "local",
        "status",
    ]


def test_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.startswith("ordercli ")


@pytest.mark.parametrize("value", ["bogus", "LOCALX", "gcp"])
def test_an_unknown_target_is_exit_2_with_the_allowed_values(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERCLI_TARGET", value)
    code, out, err = invoke("status")
    assert code == 2 and "ORDERCLI_TARGET must be one of local, aws" in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    "args, words",
    [
        (("--endpoint-url", "ftp://x", "status"), "--endpoint-url must be an http"),
        (("--local", "--endpoint-url", "http://x:1", "status"), "--port"),
        (("--port", "0", "status"), "--port"),
        (("--port", "70000", "local", "status"), "--port"),
        (("submit", "--count", "1000000"), "--count"),
        (("submit", "--rate", "0"), "--rate"),
        (("tail", "--bogus"), "--bogus"),
        (("status", "bad id!"), "orderId"),
        (("status", "x\n"), "orderId"),
        (("nosuchcommand",), "nosuchcommand"),
    ],
)
def test_bad_input_is_exit_2_everywhere(args: tuple[str, ...], words: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2, (args, out, err)
    assert words in out + err
    assert "Traceback" not in out + err and "unexpected" not in out + err


def test_bad_width_setting_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERCLI_WIDTH", "wide")
    code, _, err = invoke("status")
    assert code == 2 and "ORDERCLI_WIDTH" in err


def test_endpoint_url_reaches_the_aws_target(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = invoke("--endpoint-url", "http://127.0.0.1:9", "dlq", "--stack", "e")
    assert code == 1
    assert "http://127.0.0.1:9" in err and "Traceback" not in err


def test_hints_repeat_the_flags_that_matter() -> None:
    code, _, err = invoke("status", "--local", "--stack", "fresh", "--port", "4699")
    assert code == 1 and "not running (port 4699)" in err
    assert "ordercli up --local --port 4699 --stack fresh" in err


@pytest.mark.parametrize("command", [("dlq",), ("status",), ("tail", "--no-follow")])
def test_a_stack_that_does_not_exist_says_so(mocked: None, command: tuple[str, ...]) -> None:
    code, out, err = invoke(*command, "--stack", "fresh", "--region", "us-east-1")
    assert code == 1, (command, out, err)
    assert "Stack 'fresh' is not deployed" in err
    assert "ordercli up --stack fresh --region us-east-1" in err


def test_submit_to_a_stack_that_does_not_exist_sends_nothing(mocked: None) -> None:
    code, _, err = invoke(
        "submit", "--stack", "fresh", "--customer", "A", "--product", "B", "--amount", "1"
    )
    assert code == 1 and "Stack 'fresh' is not deployed" in err


def test_a_stopped_emulator_is_reported_fast_with_up_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The local target's calls reach translate_error with the target; a refused connection
    is not retried (the SDK would take ~30 s)."""
    import time

    from ordercli.aws import Target
    from ordercli.config import load_settings
    from ordercli.context import Context, Options, _refused_is_final

    port = __import__("tests.conftest", fromlist=["free_port"]).free_port()
    target = Target("local", "us-east-1", f"http://127.0.0.1:{port}")
    ctx = Context(load_settings({"stack": "s"}, environ={}), Options(local=True), target)
    ctx.aws.on("needs-retry", _refused_is_final)
    import botocore.exceptions

    from ordercli.aws import translate_error

    t0 = time.monotonic()
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as exc:
        ctx.aws.client("sqs").list_queues()
    took = time.monotonic() - t0
    err = translate_error(exc.value, target)
    assert err is not None and "ordercli up --local" in (err.hint or "")
    print(f"refused connection reported after {took:.2f} s")  # a figure, not an assertion


def test_local_status_exits_3_when_not_running() -> None:
    code, out, _ = invoke("local", "status")
    assert code == 3 and "not running" in out


def test_json_has_target_and_stack_objects_everywhere(mocked: None) -> None:
    code, out, _ = invoke("local", "status", "--json", "--port", "4698")
    data = json.loads(out)
    assert data["target"]["kind"] == "local" and data["target"]["endpoint"].endswith(":4698")
    assert data["stack"] is None and data["started_at"] is None
    code, out, _ = invoke("dlq", "--stack", "nope", "--json")
    data = json.loads(out)
    assert code == 1 and data["stack"] == "nope" and data["target"]["kind"] == "aws"
    assert data["error"]["exit_code"] == 1
    # a command that makes no AWS call names its target from the flags and settings
    code, out, _ = invoke("cost", "--json", "--stack", "c1", "--region", "eu-west-1")
    data = json.loads(out)
    assert code == 0 and list(data)[:2] == ["target", "stack"] and data["stack"] == "c1"
    assert data["target"] == {
        "kind": "aws",
        "endpoint": None,
        "region": "eu-west-1",
        "account": None,
    }
    code, out, _ = invoke("cost", "--json", "--local", "--port", "4698")
    target = json.loads(out)["target"]
    assert target["kind"] == "local" and target["endpoint"] == "http://127.0.0.1:4698"


def test_invalid_file_rows_are_objects_in_json(tmp_path: Path) -> None:
    p = tmp_path / "o.csv"
    p.write_text("customerName,product,amount\nAda,Book,1e3\nBob,,5\n")
    code, out, _err = invoke("submit", "--file", str(p), "--json")
    assert code == 2
    details = json.loads(out)["error"]["details"]
    assert details == [
        {"line": 2, "field": "amount", "message": details[0]["message"]},
        {"line": 3, "field": "product", "message": "is required"},
    ]


def test_submit_reads_standard_input(mocked: None) -> None:
    code, _out, err = invoke(
        "submit",
        "--stack",
        "fresh",
        "--file",
        "-",
        input='{"customerName":"A","product":"B","amount":"x"}\n',
    )
    assert code == 2 and "standard input" in err and "line 1: amount" in err


def test_up_plan_lists_changes_and_counts_unchanged(mocked: None) -> None:
    assert invoke("up", "--stack", "p", "--no-web")[0] == 0
    code, out, _ = invoke("up", "--stack", "p", "--no-web", "--dry-run")
    assert code == 0
    assert "Plan: nothing to change" in out and "unchanged (--verbose lists them)" in out
    assert "no change" not in out
    code, out, _ = invoke("up", "--stack", "p", "--no-web", "--dry-run", "--verbose")
    assert "no change" in out and "p-orders" in out


def test_drift_says_live_and_config(mocked: None) -> None:
    import boto3

    assert invoke("up", "--stack", "d", "--no-web")[0] == 0
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="d-orders")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    boto3.client("lambda", region_name="us-east-1").update_function_configuration(
        FunctionName="d-ProcessPayment",
        Environment={"Variables": {"PAYMENT_SUCCESS_RATE": "0.1", "API_TOKEN": "s3cret"}},
    )
    _code, out, _ = invoke("up", "--stack", "d", "--no-web", "--dry-run")
    assert "VisibilityTimeout: live 30, config 60" in out
    assert "environment PAYMENT_SUCCESS_RATE: live '0.1', config '0.9'" in out
    assert "environment API_TOKEN changed (value hidden)" in out and "s3cret" not in out


def test_json_times_are_iso_utc_and_absent_values_null() -> None:
    from datetime import UTC, datetime

    from ordercli.render import jsonable

    data = {
        "time": 1_795_000_000.25,  # epoch seconds (tail)
        "logs": [{"time": 1_795_000_000_250, "orderId": "-"}],  # epoch ms (status)
        "startDate": datetime(2026, 11, 28, 5, 9, 12, 345000, tzinfo=UTC),
        "count": 3,
        "orderId": "o-1",
        # ISO strings in other forms (status ID's step times, local status's start)
        "started": "2026-11-28T07:36:58.856000+00:00",
        "started_at": "2026-11-28T07:36:46Z",
        "stopped": None,
    }
    assert jsonable(data) == {
        "time": "2026-11-18T11:06:40.250Z",
        "logs": [{"time": "2026-11-18T11:06:40.250Z", "orderId": None}],
        "startDate": "2026-11-28T05:09:12.345Z",
        "count": 3,
        "orderId": "o-1",
        "started": "2026-11-28T07:36:58.856Z",
        "started_at": "2026-11-28T07:36:46.000Z",
        "stopped": None,
    }


# -- hostile input at the command line (issue 10, item 6) -------------------------------------
ONE = ("submit", "--customer", "Ada", "--product", "Book", "--amount", "5")


@pytest.mark.parametrize(
    "args, words",
    [
        (("submit", "--customer", "a\x00b", "--product", "p", "--amount", "1"), "--customer"),
        (("submit", "--customer", "a\u202eb", "--product", "p", "--amount", "1"), "U+202E"),
        (("submit", "--customer", "=1+1", "--product", "p", "--amount", "1"), "formula"),
        (("submit", "--customer", "a", "--product", "p\u2028", "--amount", "1"), "--product"),
        (("submit", "--customer", "a", "--product", "p", "--amount", "1e3"), "--amount"),
        (("submit", "--customer", "a", "--product", "p", "--amount", "-0"), "--amount"),
        (("submit", "--customer", "a", "--product", "p", "--amount", "NaN"), "--amount"),
        (("submit", "--customer", "a", "--product", "p", "--amount", "9" * 5000), "--amount"),
        ((*ONE, "--order-id", "x\n"), "--order-id"),
        ((*ONE, "--order-id", "x" * 81), "--order-id"),
        ((*ONE, "--count", "5"), "exactly one of"),
        (("submit", "--order-id", "x"), "--order-id goes with"),
        (("submit", "--count", "99999999999999999999999"), "--count"),
        (("submit", "--file", "/nonexistent.csv"), "cannot read"),
        (("submit", "--file", "/tmp"), "is a directory"),
        ((*ONE, "--stack", "ünïcode"), "stack"),
        ((*ONE, "--stack", "x" * 500), "stack"),
        (("--region", "mars-1", "status"), "region name"),
        (("--region", "us-east-1\n", "cost"), "region name"),
        ((*ONE, "--concurrency", "0"), "--concurrency"),
        ((*ONE, "--timeout", "-1"), "--timeout"),
        (("--config", "/nonexistent.yaml", "status"), "--config"),
    ],
)
def test_hostile_flags_are_exit_2_naming_the_field(args: tuple[str, ...], words: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2, (args, out, err)
    assert words in out + err, (args, out, err)
    assert "Traceback" not in out + err and "unexpected" not in out + err


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("c.yaml", b"\xff\xfe\x00q", "not UTF-8"),
        ("c.yaml", b"lambda:\n  timeout: " + b"9" * 5000 + b"\n", "cannot be read"),
        ("c.yaml", b"lambda:\n  timeout: 99999999999999999999999\n", "lambda.timeout"),
        ("c.yaml", b"queue:\n  max_recieve_count: 3\n", "did you mean 'queue.max_receive_count'"),
        ("c.yaml", b"webapp:\n  enabeld: false\n", "did you mean 'webapp.enabled'"),
        ("c.yaml", b"[" * 100_000 + b"]" * 100_000, "c.yaml"),
    ],
)
def test_hostile_config_files_are_exit_2_naming_key_and_file(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    (tmp_path / name).write_bytes(content)
    code, out, err = invoke("--config", str(tmp_path / name), "up", "--dry-run")
    assert code == 2, (out, err)
    assert words in err and "Traceback" not in err and "unexpected" not in err


def test_hostile_order_files_through_the_cli_send_nothing(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    big = tmp_path / "big.csv"
    big.write_bytes(b"customerName,product,amount\n" + b"Ada,Book,1\n" * 1_600_000)
    for path, words in ((deep, "nested too deeply"), (big, "larger than 16 MiB")):
        code, _, err = invoke("submit", "--file", str(path))
        assert code == 2 and words in err and "unexpected" not in err


@pytest.mark.parametrize(
    "hint, expected",
    [
        ("run `ordercli up` again", "run `ordercli up --local --stack s` again"),
        (
            "It may be queued (`ordercli status` shows it), or in (`ordercli dlq`).",
            "It may be queued (`ordercli status --local --stack s` shows it), or in "
            "(`ordercli dlq --local --stack s`).",
        ),
        ("ordercli up --local", "ordercli up --local --stack s"),
        (
            "Deploy: ordercli up --stack s. Then wait.",
            "Deploy: ordercli up --stack s --local. Then wait.",
        ),
        (
            "Set webapp.solution_stack in ordercli.yaml.",
            "Set webapp.solution_stack in ordercli.yaml.",
        ),
    ],
)
def test_every_hint_repeats_the_flags_given(hint: str, expected: str) -> None:
    from ordercli.aws import Target
    from ordercli.config import load_settings
    from ordercli.context import Context, Options

    ctx = Context(
        load_settings({"stack": "s"}, environ={}),
        Options(stack="s", local=True),
        Target("local", "us-east-1", "http://127.0.0.1:1"),
    )
    assert ctx.with_flags(hint) == expected
