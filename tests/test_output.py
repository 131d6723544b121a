"""Every command's human output, at a fixed width with colour off, against snapshots in
tests/snapshots/ (UPDATE_SNAPSHOTS=1 rewrites them; review the diff). Volatile parts
(timings, generated ids, dates) are normalised first."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app

SNAPSHOTS = Path(__file__).parent / "snapshots"
WIDTH = "100"
VOLATILE = [
    (re.compile(r"\(\d+\.\d+s\)"), "(N.Ns)"),
    (re.compile(r"\d+:\d\d:\d\d(\.\d{3})?"), "H:MM:SS"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "YYYY-MM-DDTHH:MM:SSZ"),
    (re.compile(r"\b\d\d:\d\d:\d\d\.\d{3}\b"), "HH:MM:SS.mmm"),
    (re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "<ULID>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<UUID>"),
    (re.compile(r"\d+ ms\b"), "N ms"),
    (re.compile(r"/tmp/\S+"), "/tmp/..."),
]


APPLIED = re.compile(r"^  [✓✗-] (create|update|delete) ")


def normalise(text: str) -> str:
    """Volatile parts replaced; the lines of resources applied concurrently sorted."""
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    lines = [line.rstrip() for line in text.splitlines()]

    def result(line: str) -> bool:  # a result line of a resource applied
        return APPLIED.match(line) is not None

    out: list[str] = []
    run: list[str] = []  # result lines of resources applied at once, with their notes
    for line in [*lines, ""]:
        if result(line) or (run and line.startswith("  ") and "│" not in line):
            run.append(line)
            continue
        out.extend(sorted(run))
        run = []
        out.append(line)
    return "\n".join(out[:-1]) + "\n"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    got = normalise(text)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert got == path.read_text(encoding="utf-8")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ORDERCLI_WIDTH", WIDTH)
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, list(args), input=input)
        return result.exit_code, result.stdout + result.stderr

    return invoke


def test_init_and_local_commands(cli) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("init")
    check("init", f"exit {code}\n{out}")
    code, out = cli("local", "status", "--port", "4697")
    check("local_status_stopped", f"exit {code}\n{out}")
    code, out = cli("local", "stop", "--port", "4697")
    check("local_stop_none", f"exit {code}\n{out}")


def test_the_life_of_a_stack(cli, mocked: None) -> None:  # type: ignore[no-untyped-def]
    s = ("--stack", "snap", "--no-web")
    code, out = cli("status", "--stack", "snap")
    check("status_not_deployed", f"exit {code}\n{out}")
    code, out = cli("up", *s, "--dry-run")
    check("up_dry_run_fresh", f"exit {code}\n{out}")
    code, out = cli("up", *s)
    check("up_apply", f"exit {code}\n{out}")
    code, out = cli("up", *s, "--dry-run")
    check("up_no_change", f"exit {code}\n{out}")
    code, out = cli("up", *s, "--dry-run", "--verbose")
    check("up_no_change_verbose", f"exit {code}\n{out}")
    # moto in-process would run the consumer in Docker on every send: trigger disabled
    lam = boto3.client("lambda", region_name="us-east-1")
    for m in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)

    code, out = cli(
        "submit",
        "--stack",
        "snap",
        "--order-id",
        "snap-1",
        "--customer",
        "Ada Lovelace",
        "--product",
        "Analytical Engine",
        "--amount",
        "12.50",
    )
    check("submit_one", f"exit {code}\n{out}")
    code, out = cli(
        "submit",
        "--stack",
        "snap",
        "--file",
        "-",
        input="customerName,product,amount\nAda,Book,12.50\nBob,Pen,1e3\n,Mug,8\n",
    )
    check("submit_file_invalid", f"exit {code}\n{out}")
    code, out = cli("submit", "--stack", "snap", "--count", "25")
    check("submit_count", f"exit {code}\n{out}")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="snap-1", input="{}")
    code, out = cli(
        "submit",
        "--stack",
        "snap",
        "--order-id",
        "snap-1",
        "--customer",
        "Eve",
        "--product",
        "Yacht",
        "--amount",
        "9999",
    )
    check("submit_taken_id", f"exit {code}\n{out}")

    code, out = cli("status", "--stack", "snap")
    check("status_stack", f"exit {code}\n{out}")
    code, out = cli("status", "--stack", "snap", "snap-404")
    check("status_order_unknown", f"exit {code}\n{out}")

    code, out = cli("dlq", "--stack", "snap")
    check("dlq_empty", f"exit {code}\n{out}")
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.get_queue_url(QueueName="snap-orders-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=json.dumps({"order": {"orderId": "snap-9", "amount": "x"}}),
        MessageAttributes={
            "ordercli.reason": {"DataType": "String", "StringValue": "invalid-order"},
            "ordercli.error": {"DataType": "String", "StringValue": "amount: must be a number"},
            "ordercli.orderId": {"DataType": "String", "StringValue": "snap-9"},
        },
    )
    code, out = cli("dlq", "--stack", "snap")
    check("dlq_one", f"exit {code}\n{out}")
    code, out = cli("dlq", "--stack", "snap", "--redrive")
    check("dlq_redrive", f"exit {code}\n{out}")

    code, out = cli("tail", "--stack", "snap", "--no-follow")
    check("tail_no_follow", f"exit {code}\n{out}")

    code, out = cli("teardown", "--stack", "snap", "--yes")
    check("teardown", f"exit {code}\n{out}")


def test_output_that_is_not_a_terminal_is_never_wrapped(mocked: None) -> None:
    result = CliRunner().invoke(
        app, ["up", "--stack", "a-rather-long-stack-name-for-arns", "--no-web"]
    )
    arn = (
        "arn:aws:states:us-east-1:123456789012:stateMachine:"
        "a-rather-long-stack-name-for-arns-OrderProcessingWorkflow"
    )
    assert f"  state_machine_arn: {arn}\n" in result.stdout


def test_tables_fold_names_in_a_narrow_terminal(
    mocked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERCLI_WIDTH", "60")
    result = CliRunner().invoke(
        app, ["up", "--stack", "a-rather-long-stack-name-for-arns", "--no-web", "--dry-run"]
    )
    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert "a-rather-long-s" in result.stdout and "tack-name-for-a" in result.stdout


def test_teardown_question_names_where_and_what_waits(make_ctx) -> None:  # type: ignore[no-untyped-def]
    from ordercli.render import Renderer

    ctx = make_ctx("tq")
    q = {"exists": True, "visible": 3, "in_flight": 1}
    d = {"exists": True, "visible": 2, "in_flight": 0}
    text = Renderer().teardown_question(ctx, 20, {"queue": q, "DLQ": d})
    assert text == (
        "Delete 20 resource(s) of stack 'tq' (aws target, account 123456789012, "
        "region us-east-1)?\n"
        "Orders still waiting are deleted with the queues: 4 in the queue, 2 in the DLQ."
    )


def test_the_emulator_commands_while_it_runs(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`local start`, `status`, `stop` and `reset` with an emulator running: the process
    control is replaced by what it reports, so the text is exact."""
    from ordercli.local import control

    state = control.EmulatorState(
        pid=4242, port=4697, started_at=1_795_000_000.0, log_file="/home/u/.ordercli/e.log"
    )
    info = {
        "running": True,
        "pid": 4242,
        "port": 4697,
        "endpoint": "http://127.0.0.1:4697",
        "webapp": "http://127.0.0.1:8097",
        "started_at": "2026-11-18T11:06:40Z",
        "uptime_seconds": 1.5,
        "log_file": "/home/u/.ordercli/emulator-4697.log",
        "home": "/home/u/.ordercli",
        "state_dir": "/home/u/.ordercli/state-4697",
        "state_bytes": 2_400_000,
        "last_start": {
            "restored": True,
            "messages": 12,
            "executions": 340,
            "restarted": 2,
            "replayed": 5,
            "seconds": 0.31,
            "set_aside": None,
            "reason": None,
        },
    }
    saved = {"drain_seconds": 1.25, "bytes": 2_500_000, "save_seconds": 0.4, "unfinished": 1}
    monkeypatch.setattr(control, "start", lambda port=None: (state, True))
    monkeypatch.setattr(control, "status", lambda port=None: info)
    monkeypatch.setattr(control, "stop_saving", lambda p, t: control.Stopped(state, saved))
    monkeypatch.setattr(control, "reset", lambda port=None: 2_400_000)
    code, out = cli("local", "start", "--port", "4697")
    check("local_start", f"exit {code}\n{out}")
    code, out = cli("local", "status", "--port", "4697")
    check("local_status_running", f"exit {code}\n{out}")
    code, out = cli("local", "stop", "--port", "4697")
    check("local_stop_saved", f"exit {code}\n{out}")
    code, out = cli("local", "reset", "--port", "4697", "--yes")
    check("local_reset", f"exit {code}\n{out}")


def test_status_of_a_declined_order(cli, mocked: None, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`status ID` of an order that took the failure branch: its steps, what the customer was
    told and the lines each function logged (read as a person would, not as JSON)."""
    from ordercli.operate import status as engine

    order = "01JD6ZQ7R8XK3V5Y2N4M6P8Q0S"

    def log(fn: str, level: str, body: str) -> dict[str, str]:
        line = f"[{level}]\t2026-11-28T07:36:58.859Z\t7e260e88-8771-4259-9646-41d9826c8ca2\t{body}"
        return {"time": "2026-11-28T07:36:58.861Z", "function": fn, "message": line}

    def step(name: str, status: str, ms: float, *logs: dict[str, str], **err: str) -> dict:  # type: ignore[type-arg]
        return {
            "name": name,
            "status": status,
            "duration_ms": ms,
            "error": err.get("error"),
            "cause": err.get("cause"),
            "logs": list(logs),
        }

    declined = {
        "orderId": order,
        "status": "FAILED",
        "outcome": {
            "status": "FAILED",
            "error": "PaymentDeclined",
            "message": "Your payment was declined, so the order was not placed.",
            "notified": True,
            "label": "declined",
        },
        "current_step": None,
        "output": None,
        "dead_letter": None,
        "steps": [
            step(
                "ValidateOrder",
                "succeeded",
                13,
                log("ValidateOrder", "INFO", json.dumps({"orderId": order, "result": "valid"})),
            ),
            step(
                "ProcessPayment",
                "failed",
                54,
                log("ProcessPayment", "INFO", json.dumps({"orderId": order, "result": "declined"})),
                error="PaymentDeclined",
                cause="payment of 12.50 was declined",
            ),
            step(
                "NotifyPaymentDeclined",
                "succeeded",
                61,
                log(
                    "SendNotification",
                    "INFO",
                    json.dumps({"orderId": order, "result": "PaymentDeclined"}),
                ),
            ),
            step(
                "PaymentDeclined",
                "failed",
                0,
                error="PaymentDeclined",
                cause="The payment was declined.",
            ),
        ],
    }
    monkeypatch.setattr(engine, "order_status", lambda ctx, order_id: declined)
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="snap-orders")
    code, out = cli("status", "--stack", "snap", order)
    check("status_order_declined", f"exit {code}\n{out}")


def test_submit_names_the_web_page_when_the_local_app_runs(make_ctx) -> None:  # type: ignore[no-untyped-def]
    import io

    from ordercli.operate.submit import OrderResult, SubmitReport
    from ordercli.render import Renderer

    ctx = make_ctx("w")
    for results, expected in (
        (
            [OrderResult("o-1", "QUEUED")],
            "Next: ordercli status o-1 --stack w  or open http://127.0.0.1:8097/orders/o-1",
        ),
        (
            [OrderResult("o-1", "QUEUED"), OrderResult("o-2", "QUEUED")],
            "Next: ordercli status --stack w  or open http://127.0.0.1:8097/dashboard",
        ),
    ):
        render = Renderer(width=100, color=False)
        render.out.file = io.StringIO()
        render.submit_report(SubmitReport(results), ctx, web="http://127.0.0.1:8097/")
        assert render.out.file.getvalue().splitlines()[-1] == expected
