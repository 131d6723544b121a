"""`tail` as `aws logs tail`: prints and exits unless --follow; --since checked before any
call; --order --follow ends with the order; a missing or vanished stack, or a stopped
emulator, is an error with exit 1."""

from __future__ import annotations

import io
import json
import socket
import time
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.aws import Aws, Target
from ordercli.cli import app
from ordercli.config import load_settings
from ordercli.context import Context, Options
from ordercli.deploy import stack as deploy
from ordercli.errors import AwsError, NotFound, UsageError
from ordercli.operate import tail
from ordercli.render import Renderer
from tests.conftest import REGION, MakeCtx

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


# -- --since -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("3d", 3 * 86400),
        ("1w", 7 * 86400),
        ("2026-03-01T11:00:00Z", 3600),
        ("2026-03-01T11:30:00", 1800),  # no offset: UTC, as the JSON times are
        ("2026-03-01T12:00:00+01:00", 3600),
        ("2026-03-01", 12 * 3600),
    ],
)
def test_since_takes_durations_and_iso_times(text: str, seconds: int) -> None:
    assert tail.parse_since(text, now=NOW) == seconds


@pytest.mark.parametrize(
    "text, words",
    [
        ("99999d", "3653 days"),
        ("999999999w", "3653 days"),
        ("1900-01-01T00:00:00Z", "3653 days"),
        ("2026-03-02T00:00:00Z", "in the future"),
        ("ten minutes", "1w or an ISO 8601 time"),
        ("10 m", "1w or an ISO 8601 time"),
        ("-5m", "1w or an ISO 8601 time"),
    ],
)
def test_since_rejects_what_no_log_read_could_use(text: str, words: str) -> None:
    with pytest.raises(UsageError) as err:
        tail.parse_since(text, now=NOW)
    assert words in err.value.message and "--since" in err.value.message


def test_absurd_since_is_exit_2_before_any_call() -> None:
    # no emulator, no moto: a call would fail differently (and slowly)
    result = CliRunner().invoke(app, ["tail", "--local", "--since", "99999d"])
    assert result.exit_code == 2, result.output
    assert "--since '99999d'" in result.stderr and "Traceback" not in result.stderr


def test_malformed_order_id_is_exit_2_before_any_call() -> None:
    result = CliRunner().invoke(app, ["tail", "--local", "--order", "bad id!"])
    assert result.exit_code == 2 and "orderId 'bad id!'" in result.stderr


# -- log lines -----------------------------------------------------------------------------
def lambda_line(request: str, body: str, level: str = "INFO") -> str:
    return f"[{level}]\t2026-01-01T00:00:00.000Z\t{request}\t{body}"


def test_consumer_lines_name_message_and_order_never_by_request() -> None:
    known: dict[str, str] = {}
    started = tail.log_line(
        "StartOrderWorkflow",
        {
            "timestamp": 1000,
            "message": lambda_line(
                "req-1",
                json.dumps(
                    {
                        "messageId": "m-1",
                        "orderId": "o-1",
                        "step": "StartOrderWorkflow",
                        "result": "started",
                    }
                ),
            ),
        },
        known,
    )
    assert started is not None
    assert (started.order_id, started.message_id, started.outcome) == ("o-1", "m-1", "ok")
    # the next record of the same batch (same request) failed before its orderId was read
    failed = tail.log_line(
        "StartOrderWorkflow",
        {
            "timestamp": 1001,
            "message": lambda_line(
                "req-1",
                json.dumps({"messageId": "m-2", "step": "StartOrderWorkflow", "error": "not JSON"}),
                "WARNING",
            ),
        },
        known,
    )
    assert failed is not None
    assert (failed.order_id, failed.message_id, failed.outcome) == (None, "m-2", "fail")
    assert failed.to_json()["orderId"] is None
    assert failed.to_json()["time"] == "1970-01-01T00:00:01.001Z"
    # a dead letter's line says why, as `dlq` does
    letter = {
        "messageId": "m-3",
        "orderId": None,
        "step": "StartOrderWorkflow",
        "result": "dead-lettered",
        "reason": "not-json",
        "error": "body is not JSON",
    }
    dead = tail.log_line(
        "StartOrderWorkflow",
        {"timestamp": 1002, "message": lambda_line("req-1", json.dumps(letter), "WARNING")},
        known,
    )
    assert dead is not None and dead.message == "dead-lettered (not-json): body is not JSON"


def test_a_workflow_error_line_is_attributed_through_its_request() -> None:
    known: dict[str, str] = {}
    tail.log_line(
        "ProcessPayment",
        {
            "timestamp": 1,
            "message": lambda_line("r9", '{"orderId": "o9", "step": "ProcessPayment"}'),
        },
        known,
    )
    err = tail.log_line(
        "ProcessPayment", {"timestamp": 2, "message": lambda_line("r9", "boom", "ERROR")}, known
    )
    assert err is not None and (err.order_id, err.outcome) == ("o9", "fail")


def test_human_tail_line_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    out = io.StringIO()
    with redirect_stdout(out):
        r = Renderer(width=100, color=False)
        r.out.file = out
        r.tail_line(tail.Line(NOW, "o-1", "execution", "started", "running"))
        r.tail_line(tail.Line(NOW + 0.25, None, "StartOrderWorkflow", "not JSON", "fail", "m-2"))
    assert out.getvalue() == (
        "12:00:00.000 o-1                        execution          started\n"
        "12:00:00.250 -                          StartOrderWorkflow not JSON  (message m-2)\n"
    )


# -- following -----------------------------------------------------------------------------
def start(ctx: Context, order_id: str) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn: str = sfn.start_execution(
        stateMachineArn=ctx.names.state_machine_arn,
        name=order_id,
        input=json.dumps({"order": {"orderId": order_id, "amount": 1}}),
    )["executionArn"]
    return arn


def test_without_follow_prints_the_window_and_exits(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("tl")
    deploy.up(ctx)
    start(ctx, "o-1")
    result = CliRunner().invoke(app, ["tail", "--stack", "tl", "--json"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(x["orderId"], x["step"], x["message"]) for x in lines] == [
        ("o-1", "execution", "started")
    ]
    assert lines[0]["time"].endswith("Z")
    # every record carries the target and stack first, as every command's JSON does
    assert list(lines[0])[:2] == ["target", "stack"]
    assert lines[0]["stack"] == "tl"
    assert lines[0]["target"] == {
        "kind": "aws",
        "endpoint": None,
        "region": REGION,
        "account": "123456789012",  # known once a call asked for it
    }


def test_json_lines_end_with_an_error_record_on_one_line(make_ctx: MakeCtx) -> None:
    make_ctx("fresh")
    result = CliRunner().invoke(app, ["tail", "--stack", "fresh", "--json"])
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    record = json.loads(line)
    assert record["stack"] == "fresh" and record["target"]["kind"] == "aws"
    assert record["error"]["exit_code"] == 1
    assert "not deployed" in record["error"]["message"]


def test_follow_of_an_order_stops_when_it_is_terminal(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("tl")
    deploy.up(ctx)
    arn = start(ctx, "o-2")
    start(ctx, "other")
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 2:
            boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arn)
        if len(sleeps) > 10:
            raise AssertionError("still following an order that ended")

    lines = list(tail.follow(ctx, since=600, order_id="o-2", keep_following=True, sleep=sleep))
    assert [(x.order_id, x.message) for x in lines] == [("o-2", "started"), ("o-2", "ABORTED")]


def test_not_deployed_stack_is_an_error_naming_the_flags(make_ctx: MakeCtx) -> None:
    make_ctx("fresh")
    result = CliRunner().invoke(app, ["tail", "--stack", "fresh", "--region", REGION])
    assert result.exit_code == 1
    assert "Stack 'fresh' is not deployed" in result.stderr
    assert f"ordercli up --stack fresh --region {REGION}" in result.stderr


def test_a_stack_deleted_while_following_ends_it(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("gone")
    deploy.up(ctx)

    def sleep(s: float) -> None:
        boto3.client("stepfunctions", region_name=REGION).delete_state_machine(
            stateMachineArn=ctx.names.state_machine_arn
        )

    with pytest.raises(NotFound) as err:
        list(tail.follow(ctx, since=60, order_id=None, keep_following=True, sleep=sleep))
    assert "was deleted" in err.value.message and err.value.exit_code == 1


def local_ctx(stack: str) -> Context:
    """The local target's code paths, with its calls served by moto in-process."""
    settings = load_settings({"stack": stack}, environ={}, overrides={"webapp.enabled": False})
    target = Target("local", REGION, None)
    return Context(settings, Options(stack=stack), target, Aws(target, sleep=lambda s: None))


def test_a_stopped_emulator_ends_follow(mocked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = local_ctx("em")
    deploy.up(ctx)
    alive = iter([True, False])
    monkeypatch.setattr(tail, "emulator_alive", lambda endpoint, timeout=0.5: next(alive))
    with pytest.raises(AwsError) as err:
        list(tail.follow(ctx, since=60, order_id=None, keep_following=True, sleep=lambda s: None))
    assert "emulator" in err.value.message and "stopped" in err.value.message
    assert err.value.hint is not None and "ordercli up --local --stack em" in err.value.hint


def test_emulator_alive_sees_a_listener_and_a_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert tail.emulator_alive(f"http://127.0.0.1:{port}")
    assert not tail.emulator_alive(f"http://127.0.0.1:{port}")


def test_follow_keeps_going_while_the_emulator_answers(
    mocked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = local_ctx("em2")
    deploy.up(ctx)
    monkeypatch.setattr(tail, "emulator_alive", lambda endpoint, timeout=0.5: True)
    polls: list[Any] = []

    def sleep(s: float) -> None:
        polls.append(s)
        if len(polls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(tail.follow(ctx, since=60, order_id=None, keep_following=True, sleep=sleep))
    assert len(polls) == 4
