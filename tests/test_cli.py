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
    for command in ("init", "up", "teardown", "submit", "status", "tail", "dlq"):
        code, out, _ = invoke(command, "--help")
        assert code == 0
        assert "Global options go before or after the command" in out, command
        assert "Examples:" in out and f"ordercli {command}" in out, command
    for command in ("start", "stop", "status"):
        code, out, _ = invoke("local", command, "--help")
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


def test_local_commands_without_an_emulator() -> None:
    code, out, _ = invoke("local", "status", "--json")
    assert code == 3 and json.loads(out)["running"] is False
    code, out, _ = invoke("local", "stop", "--json")
    assert code == 0 and json.loads(out)["stopped"] is False
    code, _, err = invoke("status", "--local")
    assert code == 1 and "not running" in err
