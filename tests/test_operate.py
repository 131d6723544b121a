"""submit / status / tail / dlq against moto in-process, and the edge cases of order input."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ordercli.deploy import stack as deploy
from ordercli.errors import UsageError
from ordercli.operate import dlq, orders_input, status, submit, tail
from tests.conftest import MakeCtx


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


# -- input ----------------------------------------------------------------------------------
def test_csv_rows_validated_with_line_numbers(tmp_path: Path) -> None:
    p = write(
        tmp_path, "o.csv", "customerName,product,amount\nAda,Book,12.50\nBob,Pen,abc\nCy,Mug,8\n"
    )
    batch = orders_input.from_file(p)
    assert len(batch.orders) == 2
    assert [(r.line, r.field) for r in batch.rejected] == [(3, "amount")]


def test_csv_with_bom_and_blank_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "o.csv", b"\xef\xbb\xbfcustomerName,product,amount\r\nAda,Book,1\r\n\r\n")
    assert [o.customer_name for o in orders_input.from_file(p).orders] == ["Ada"]


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("o.csv", "customerName,amount\nA,1\n", "lacks column"),
        ("o.csv", "", "empty"),
        ("o.json", '{"not": "a list"}', "expected a JSON array"),
        ("o.json", "[1,", "not valid JSON"),
        ("o.txt", "x", "unknown file type"),
        ("missing.csv", None, "cannot read"),
    ],
)
def test_unusable_files_are_usage_errors(
    tmp_path: Path, name: str, text: str | None, words: str
) -> None:
    p = write(tmp_path, name, text) if text is not None else tmp_path / name
    with pytest.raises(UsageError, match=words):
        orders_input.from_file(p)


def test_json_and_jsonl_rows(tmp_path: Path) -> None:
    good = {"customerName": "A", "product": "B", "amount": 5}
    p = write(tmp_path, "o.json", json.dumps({"orders": [good, {**good, "amount": True}, "x"]}))
    batch = orders_input.from_file(p)
    assert len(batch.orders) == 1
    assert [(r.line, r.field) for r in batch.rejected] == [(2, "amount"), (3, "order")]
    p = write(
        tmp_path,
        "o.jsonl",
        json.dumps(good) + "\n\n{broken\n" + json.dumps({**good, "extra": 1}) + "\n",
    )
    batch = orders_input.from_file(p)
    assert len(batch.orders) == 1
    assert [(r.line, r.field) for r in batch.rejected] == [(3, "row"), (4, "extra")]


def test_duplicate_order_ids_in_a_file_are_rejected(tmp_path: Path) -> None:
    p = write(tmp_path, "o.csv", "orderId,customerName,product,amount\nx1,A,B,1\nx1,C,D,2\n")
    batch = orders_input.from_file(p)
    assert [(r.line, r.message[:9]) for r in batch.rejected] == [(3, "duplicate")]


def test_a_hundred_thousand_rows(tmp_path: Path) -> None:
    rows = "\n".join(f"C{i},P,{i % 9000 + 1}.25" for i in range(100_000))
    p = write(tmp_path, "big.csv", "customerName,product,amount\n" + rows + "\n")
    batch = orders_input.from_file(p)
    assert len(batch.orders) == 100_000 and not batch.rejected
    assert len({o.order_id for o in batch.orders}) == 100_000


def test_flags_missing_or_invalid() -> None:
    with pytest.raises(UsageError, match="--product"):
        orders_input.from_flags("A", None, "1", None)
    with pytest.raises(UsageError, match="amount"):
        orders_input.from_flags("A", "B", "-5", None)


# -- sending ---------------------------------------------------------------------------------
def test_partial_batch_failures_are_retried_and_unsent_orders_listed() -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    orders = orders_input.generate(3)
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
                "Failed": [
                    {"Id": "1", "SenderFault": False, "Code": "InternalError"},
                    {"Id": "2", "SenderFault": True, "Code": "InvalidMessageContents"},
                ],
            },
        )
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "1", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []},
        )
        results = submit.send_orders(sqs, "https://q", orders, sleep=lambda s: None).results
        stub.assert_no_pending_responses()
    assert [r.status for r in results] == ["QUEUED", "QUEUED", "NOT_SENT"]
    assert "InvalidMessageContents" in (results[2].cause or "")


def test_rate_paces_sends() -> None:
    slept: list[float] = []
    pacer = submit.Pacer(100.0, slept.append)
    for _ in range(5):
        pacer.take(10)
    # the sleep is fake, so each wait is measured from (nearly) the same instant:
    # batch k of 10 at 100 orders/s may start 0.1 * k s after the first
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.02)


def test_submit_and_wait_in_process(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("op")
    deploy.up(ctx)
    orders = orders_input.generate(12)
    report = submit.submit(ctx, orders, ctx.require_stack())
    assert {r.status for r in report.results} == {"QUEUED"}
    assert report.summary()["sent"] == 12
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="op-orders")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(got[0]["Body"])["order"]["orderId"] in {o.order_id for o in orders}


def test_submit_to_a_missing_stack_says_so(make_ctx: MakeCtx) -> None:
    from ordercli.errors import NotFound

    with pytest.raises(NotFound, match=r"is not deployed .*no queue nostack-orders") as err:
        make_ctx("nostack").require_stack()
    assert err.value.hint == "Deploy it first: ordercli up --stack nostack"


def test_wait_follows_executions_by_name(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("op")
    deploy.up(ctx)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    r = submit.OrderResult("o-1", "QUEUED", sent_at=0.0)
    sfn.start_execution(stateMachineArn=ctx.names.state_machine_arn, name="o-1", input="{}")
    sfn.stop_execution(executionArn=ctx.names.execution_arn("o-1"), error="Boom", cause="c")
    submit.wait_for(
        ctx.aws.client("stepfunctions"), ctx.names, [r], timeout=5, sleep=lambda s: None
    )
    assert r.status == "ABORTED"


def test_wait_lists_back_only_to_the_oldest_order_still_waiting(make_ctx: MakeCtx) -> None:
    import datetime

    def at(t: float) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(t, tz=datetime.UTC)

    done = [submit.OrderResult(f"old-{i}", "SUCCEEDED", sent_at=0.0) for i in range(5)]
    late = [submit.OrderResult(f"new-{i}", "QUEUED", sent_at=1000.0) for i in range(26)]
    pages = [
        [{"name": r.order_id, "status": "RUNNING", "startDate": at(1000.5)} for r in late],
        [{"name": f"older-{i}", "status": "SUCCEEDED", "startDate": at(500.0)} for i in range(3)],
        [{"name": f"oldest-{i}", "status": "SUCCEEDED", "startDate": at(1.0)} for i in range(3)],
    ]
    served: list[int] = []

    class Paginator:
        def paginate(self, **kwargs: Any) -> Any:
            for i, page in enumerate(pages):
                served.append(i)
                yield {"executions": page}

    class Sfn:
        def get_paginator(self, name: str) -> Paginator:
            return Paginator()

    submit.wait_for(
        Sfn(), make_ctx("op").names, done + late, timeout=0, sleep=lambda s: None, clock_slack=1
    )
    assert {r.status for r in late} == {"RUNNING"}
    assert served == [0, 1]  # the first send of the run (t=0) would have read every page


@pytest.mark.parametrize(
    "left, pace, seconds",
    [(10, 0.0, 0.25), (1000, 0.0, 1.0), (100, 1000.0, 0.25), (1000, 100.0, 1.0), (100, 100.0, 0.5)],
)
def test_polls_come_as_often_as_the_pace_calls_for(left: int, pace: float, seconds: float) -> None:
    assert submit.next_poll(left, pace) == seconds


def test_wait_lists_a_large_run_then_describes_the_last_few(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("op")
    deploy.up(ctx)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    results = [submit.OrderResult(f"o-{i}", "QUEUED", sent_at=time.time()) for i in range(30)]
    for r in results:
        sfn.start_execution(stateMachineArn=ctx.names.state_machine_arn, name=r.order_id)
    for r in results[:27]:
        sfn.stop_execution(executionArn=ctx.names.execution_arn(r.order_id), error="Boom")
    client = ctx.aws.client("stepfunctions")
    submit.wait_for(client, ctx.names, results, timeout=0, sleep=lambda s: None)  # one listing
    assert [r.status for r in results].count("ABORTED") == 27
    assert {r.status for r in results[27:]} == {"RUNNING"}
    sfn.stop_execution(executionArn=ctx.names.execution_arn("o-27"), error="Late")
    submit.wait_for(client, ctx.names, results[27:], timeout=0, sleep=lambda s: None)
    assert results[27].status == "ABORTED"
    assert results[28].status == "RUNNING"


# -- status / tail / dlq ---------------------------------------------------------------------
def test_status_of_an_empty_stack(make_ctx: MakeCtx) -> None:
    st = status.stack_status(make_ctx("empty"))
    assert st["deployed"] is False
    assert {r["state"] for r in st["resources"]} == {"missing"}
    assert st["queue"]["exists"] is False
    assert st["executions"]["succeeded"] == 0


def test_status_of_a_deployed_stack_counts(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("st")
    deploy.up(ctx)
    submit.submit(ctx, orders_input.generate(3), ctx.require_stack())
    st = status.stack_status(ctx)
    assert st["deployed"] and {r["state"] for r in st["resources"]} == {"present"}
    assert st["queue"]["visible"] == 3 and st["dlq"]["visible"] == 0
    boto3.client("lambda", region_name="us-east-1").update_function_configuration(
        FunctionName="st-ValidateOrder", Timeout=99
    )
    drifted = [r for r in status.stack_status(ctx)["resources"] if r["state"] == "drifted"]
    assert [r["name"] for r in drifted] == ["st-ValidateOrder"] and "timeout" in drifted[0][
        "detail"
    ]


def test_unknown_order_is_not_found(make_ctx: MakeCtx) -> None:
    from ordercli.errors import NotFound

    ctx = make_ctx("st")
    deploy.up(ctx)
    with pytest.raises(NotFound) as err:
        status.order_status(ctx, "nope")
    assert err.value.exit_code == 1


def test_steps_from_a_history() -> None:
    from datetime import UTC, datetime, timedelta

    t = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        {
            "type": "TaskStateEntered",
            "timestamp": t,
            "stateEnteredEventDetails": {"name": "ValidateOrder"},
        },
        {"type": "TaskStateExited", "timestamp": t + timedelta(milliseconds=20)},
        {
            "type": "TaskStateEntered",
            "timestamp": t + timedelta(milliseconds=21),
            "stateEnteredEventDetails": {"name": "ProcessPayment"},
        },
        {
            "type": "LambdaFunctionFailed",
            "timestamp": t + timedelta(milliseconds=30),
            "lambdaFunctionFailedEventDetails": {"error": "PaymentDeclined", "cause": "no"},
        },
        {"type": "TaskStateExited", "timestamp": t + timedelta(milliseconds=31)},
        {
            "type": "FailStateEntered",
            "timestamp": t + timedelta(milliseconds=40),
            "stateEnteredEventDetails": {"name": "PaymentDeclined"},
        },
    ]
    steps = [s.to_json() for s in status.steps_from_history(events)]
    assert [(s["name"], s["status"], s["duration_ms"]) for s in steps] == [
        ("ValidateOrder", "succeeded", 20.0),
        ("ProcessPayment", "failed", 10.0),
        ("PaymentDeclined", "failed", 0.0),
    ]
    assert steps[1]["error"] == "PaymentDeclined"


def test_tail_with_no_executions_prints_nothing(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("tl")
    deploy.up(ctx)
    assert list(tail.follow(ctx, since=600, order_id=None, keep_following=False)) == []


def test_tail_follow_backs_off_while_idle(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("tl")
    deploy.up(ctx)  # tail on a stack that is not deployed is an error
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        if len(waits) >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(tail.follow(ctx, since=60, order_id=None, keep_following=True, sleep=sleep))
    assert waits == sorted(waits) and waits[-1] > waits[0] and max(waits) <= tail.MAX_WAIT


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since(text: str, seconds: int) -> None:
    assert tail.parse_since(text) == seconds


def test_since_rejects_nonsense() -> None:
    with pytest.raises(UsageError):
        tail.parse_since("ten minutes")


def test_log_lines_become_tail_lines() -> None:
    line = tail.log_line(
        "ValidateOrder",
        {
            "timestamp": 1000,
            "message": "[INFO]\t2026-01-01T00:00:00.000Z\treq-1\t"
            '{"orderId": "o1", "step": "ValidateOrder", "result": "valid"}',
        },
    )
    assert line is not None and (line.order_id, line.step, line.message, line.outcome) == (
        "o1",
        "ValidateOrder",
        "valid",
        "ok",
    )
    known = {"req-1": "o1"}
    err = tail.log_line(
        "ProcessPayment",
        {
            "timestamp": 1001,
            "message": "[ERROR]\t2026-01-01T00:00:00Z\treq-1\tPaymentDeclined: declined",
        },
        known,
    )
    assert err is not None and err.order_id == "o1" and err.outcome == "fail"
    assert (
        tail.log_line("X", {"timestamp": 1, "message": "START RequestId: r Version: $LATEST"})
        is None
    )


def test_dlq_list_does_not_consume_and_redrive_moves_back(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("dq")
    deploy.up(ctx)
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq_url = sqs.get_queue_url(QueueName="dq-orders-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dlq_url, MessageBody=json.dumps({"order": {"orderId": "lost-1", "amount": 1}})
    )
    sqs.send_message(QueueUrl=dlq_url, MessageBody="garbage")
    listed = dlq.list_dead_letters(ctx)
    assert sorted(str(m["orderId"]) for m in listed["messages"]) == ["None", "lost-1"]
    assert len(dlq.list_dead_letters(ctx)["messages"]) == 2
    moved = dlq.redrive(ctx)
    assert moved["moved"] == 2
    q = sqs.get_queue_url(QueueName="dq-orders")["QueueUrl"]
    bodies = {
        m["Body"] for m in sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10)["Messages"]
    }
    assert "garbage" in bodies
    assert dlq.list_dead_letters(ctx)["messages"] == []


def test_cli_submit_bad_amount_exits_2_and_sends_nothing(make_ctx: MakeCtx) -> None:
    from typer.testing import CliRunner

    from ordercli.cli import app

    deploy.up(make_ctx("cl"))
    result = CliRunner().invoke(
        app, ["submit", "--stack", "cl", "--customer", "A", "--product", "B", "--amount", "-5"]
    )
    assert result.exit_code == 2 and "amount" in result.stderr
    result = CliRunner().invoke(app, ["submit", "--stack", "cl", "--count", "3", "--file", "x.csv"])
    assert result.exit_code == 2 and "exactly one" in result.stderr
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="cl-orders")["QueueUrl"]
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_cli_submit_file_with_bad_row_sends_nothing_unless_skip_invalid(
    make_ctx: MakeCtx, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ordercli.cli import app

    deploy.up(make_ctx("cf"))
    p = write(tmp_path, "o.csv", "customerName,product,amount\nAda,Book,12.50\nBob,Pen,abc\n")
    result = CliRunner().invoke(app, ["submit", "--stack", "cf", "--file", str(p)])
    assert result.exit_code == 2 and "line 3" in result.stderr
    result = CliRunner().invoke(
        app, ["submit", "--stack", "cf", "--file", str(p), "--skip-invalid", "--json"]
    )
    assert result.exit_code == 0
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["summary"]["sent"] == 1 and data["rejected"][0]["line"] == 3


# -- hostile order files (issue 10, item 6) ---------------------------------------------------
HEAD = "customerName,product,amount\n"


def rejected_of(p: Path) -> list[tuple[int, str]]:
    return [(r.line, r.field) for r in orders_input.from_file(p).rejected]


def test_csv_with_bom_and_crlf_is_read(tmp_path: Path) -> None:
    p = write(tmp_path, "o.csv", b"\xef\xbb\xbf" + (HEAD + "Ada,Book,1\r\nBob,Pen,2\r\n").encode())
    batch = orders_input.from_file(p)
    assert [o.customer_name for o in batch.orders] == ["Ada", "Bob"] and not batch.rejected


def test_jsonl_with_bom_crlf_and_u2028_inside_a_string(tmp_path: Path) -> None:
    good = '{"customerName":"Ada","product":"Book","amount":1}\r\n'
    bad = '{"customerName":"A\u2028B","product":"Book","amount":1}\r\n'
    p = write(tmp_path, "o.jsonl", b"\xef\xbb\xbf" + (good + bad).encode())
    batch = orders_input.from_file(p)
    assert len(batch.orders) == 1
    assert [(r.line, r.field) for r in batch.rejected] == [(2, "customerName")]


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("nul.csv", HEAD + "A\x00da,Book,1\n", [(2, "customerName")]),
        ("formula.csv", HEAD + '=cmd|"/c calc"!A0,Book,1\n', [(2, "customerName")]),
        ("exp.csv", HEAD + "Ada,Book,1e3\n", [(2, "amount")]),
        (
            "bidi.jsonl",
            '{"customerName":"a\u202eb","product":"p","amount":1}\n',
            [(1, "customerName")],
        ),
        (
            "dupkey.jsonl",
            '{"customerName":"a","product":"p","amount":1,"amount":2}\n',
            [(1, "amount")],
        ),
        ("exp.jsonl", '{"customerName":"a","product":"p","amount":1e3}\n', [(1, "amount")]),
        ("neg0.jsonl", '{"customerName":"a","product":"p","amount":-0}\n', [(1, "amount")]),
        (
            "long.jsonl",
            '{"customerName":"a","product":"p","amount":12.30000000000000001}\n',
            [(1, "amount")],
        ),
        ("bool.json", '[{"customerName":"a","product":"p","amount":true}]', [(1, "amount")]),
        ("null.json", '[{"customerName":null,"product":"p","amount":1}]', [(1, "customerName")]),
        ("array.json", '[{"customerName":["a"],"product":"p","amount":1}]', [(1, "customerName")]),
        (
            "id.jsonl",
            '{"orderId":"x\\n","customerName":"a","product":"p","amount":1}\n',
            [(1, "orderId")],
        ),
        ("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", [(1, "row")]),
    ],
)
def test_hostile_rows_are_rejected_naming_line_and_field(
    tmp_path: Path, name: str, text: str, expected: list[tuple[int, str]]
) -> None:
    assert rejected_of(write(tmp_path, name, text)) == expected


def test_a_128_kib_cell_is_one_rejected_field(tmp_path: Path) -> None:
    p = write(tmp_path, "big.csv", HEAD + "x" * (128 * 1024) + ",Book,1\nAda,Book,1\n")
    batch = orders_input.from_file(p)
    assert [(r.line, r.field) for r in batch.rejected] == [(2, "customerName")]
    assert "at most 100 characters" in batch.rejected[0].message and len(batch.orders) == 1


@pytest.mark.parametrize(
    "name, content, words",
    [
        (
            "dup.csv",
            "customerName,product,amount,amount\nA,B,1,2\n",
            "column 'amount' appears twice",
        ),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("dup.json", '[{"amount": 1, "amount": 2}]', "key 'amount' appears twice"),
        ("latin1.csv", (HEAD + "Zoë,Book,1\n").encode("latin-1"), "not UTF-8"),
        ("nan.json", '[{"customerName":"a","product":"p","amount":NaN}]', "NaN"),
    ],
)
def test_hostile_files_are_one_clear_error(
    tmp_path: Path, name: str, content: str | bytes, words: str
) -> None:
    with pytest.raises(UsageError, match=words):
        orders_input.from_file(write(tmp_path, name, content))


def test_a_10_mb_file_is_refused_whole(tmp_path: Path) -> None:
    p = write(tmp_path, "huge.csv", HEAD + "Ada,Book,1\n" * 1_000_000)  # ~11 MB
    with pytest.raises(UsageError, match=r"larger than 16 MiB|at most 100000"):
        orders_input.from_file(p)
    p = write(tmp_path, "huge.jsonl", "x" * (17 * 1024 * 1024))
    with pytest.raises(UsageError, match="larger than 16 MiB"):
        orders_input.from_file(p)


def test_a_directory_is_not_an_order_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        orders_input.from_file(tmp_path)


@pytest.mark.parametrize(
    "text, kind",
    [
        ('[{"customerName":"a","product":"p","amount":1}]', "json"),
        ('{"orders": [{"customerName":"a","product":"p","amount":1}]}', "json"),
        ('{"customerName":"a","product":"p","amount":1}\n', "jsonl"),
        (HEAD + "a,p,1\n", "csv"),
    ],
)
def test_standard_input_format_is_told_by_its_first_character(
    text: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    assert orders_input._sniff(text) == kind
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    batch = orders_input.from_file("-")
    assert batch.source == "standard input" and len(batch.orders) == 1


def test_explicit_order_ids_are_tracked(tmp_path: Path) -> None:
    p = write(tmp_path, "o.csv", "orderId,customerName,product,amount\nmine-1,A,B,1\n,C,D,2\n")
    assert orders_input.from_file(p).explicit_ids == ["mine-1"]
    batch = orders_input.choose("A", "B", "1", "mine-2", None, None)
    assert batch.explicit_ids == ["mine-2"]
    assert orders_input.choose("A", "B", "1", None, None, None).explicit_ids == []


# -- sending: pace, progress, interruption ---------------------------------------------------
class FakeSqs:
    """Accepts every entry and records when (on a fake clock) each was sent."""

    def __init__(self, clock: list[float], fail_after: int | None = None, exc: Any = None):
        self.clock = clock
        self.sent: list[float] = []
        self.calls = 0
        self.fail_after = fail_after
        self.exc = exc

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise self.exc
        self.sent.extend([self.clock[0]] * len(Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


@pytest.mark.parametrize("rate, count", [(2.0, 20), (50.0, 500), (15.0, 150)])
def test_rate_is_held_from_the_first_order(rate: float, count: int) -> None:
    """On a fake clock: the asked rate holds over 10 s, with no burst at the start (the
    pacer waits before a batch, and paced batches are small)."""
    now = [0.0]
    sqs = FakeSqs(now)

    def sleep(s: float) -> None:
        now[0] += s

    submit.send_orders(
        sqs,
        "q",
        orders_input.generate(count),
        concurrency=1,
        rate=rate,
        sleep=sleep,
        clock=lambda: now[0],
    )
    in_10s = sum(1 for t in sqs.sent if t < 10.0)
    assert abs(in_10s - rate * 10) <= rate * 10 * 0.05
    in_first_second = sum(1 for t in sqs.sent if t < 1.0)
    assert in_first_second <= rate + submit.batch_size(rate)


def test_progress_is_reported_once_per_batch_with_a_running_count() -> None:
    seen: list[tuple[int, int]] = []
    submit.send_orders(
        FakeSqs([0.0]),
        "q",
        orders_input.generate(35),
        concurrency=1,
        on_progress=lambda n, t: seen.append((n, t)),
    )
    assert seen == [(10, 35), (20, 35), (30, 35), (35, 35)]


def test_an_unreachable_endpoint_stops_the_run_and_lists_what_was_accepted() -> None:
    from botocore.exceptions import EndpointConnectionError

    sqs = FakeSqs([0.0], fail_after=2, exc=EndpointConnectionError(endpoint_url="http://x"))
    out = submit.send_orders(sqs, "q", orders_input.generate(50), concurrency=1)
    assert [r.status for r in out.results].count("QUEUED") == 20
    assert out.fatal is not None and sqs.calls == 3  # no call after the failure
    assert {r.cause for r in out.results[30:]} == {"not attempted: the run was stopped"}
    report = submit.SubmitReport(out.results)
    data = report.to_json()
    assert sum(o["accepted"] for o in data["orders"]) == 20
    assert data["summary"]["not_sent"] == 30


def test_ctrl_c_stops_sending_and_keeps_what_was_accepted() -> None:
    sqs = FakeSqs([0.0], fail_after=3, exc=KeyboardInterrupt())
    out = submit.send_orders(sqs, "q", orders_input.generate(100), concurrency=1)
    assert out.interrupted
    assert [r.status for r in out.results].count("QUEUED") == 30
    assert sqs.calls == 4


def test_summary_adds_up_with_dead_letters() -> None:
    results = [
        submit.OrderResult("a", "SUCCEEDED"),
        submit.OrderResult("b", "FAILED", error="PaymentDeclined"),
        submit.OrderResult("c", "DEAD_LETTERED", error="invalid-order"),
        submit.OrderResult("d", "QUEUED"),
        submit.OrderResult("e", "NOT_SENT", cause="x"),
    ]
    s = submit.SubmitReport(results, waited=True).summary()
    assert s["sent"] == s["succeeded"] + s["failed"] + s["dead_lettered"] + s["pending"] == 4
    assert s["dead_lettered_by_reason"] == {"invalid-order": 1}


@dataclass(frozen=True)
class Letter:
    order_id: str | None
    reason: str
    error: str
    sent_at: str | None = None


def test_wait_reports_dead_lettered_orders_with_their_reason(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("dl")
    deploy.up(ctx)
    results = [submit.OrderResult("dl-1", "QUEUED", sent_at=time.time())]
    submit.wait_for(
        ctx.aws.client("stepfunctions"),
        ctx.names,
        results,
        timeout=1,
        sleep=lambda s: None,
        dead_letters=lambda: [
            Letter(None, "not-json", "x"),
            Letter("dl-1", "invalid-order", "amount: must be a number"),
        ],
    )
    assert results[0].status == "DEAD_LETTERED" and results[0].error == "invalid-order"
    assert results[0].cause == "amount: must be a number"


def test_wait_ignores_an_earlier_order_dead_lettered_under_the_same_id(
    make_ctx: MakeCtx,
) -> None:
    ctx = make_ctx("dl")
    deploy.up(ctx)
    results = [submit.OrderResult("dl-2", "QUEUED", sent_at=time.time())]
    submit.wait_for(
        ctx.aws.client("stepfunctions"),
        ctx.names,
        results,
        timeout=0.5,
        sleep=lambda s: None,
        clock_slack=1.0,
        dead_letters=lambda: [Letter("dl-2", "invalid-order", "old", "2020-01-01T00:00:00Z")],
    )
    assert results[0].status != "DEAD_LETTERED"


def test_submit_refuses_an_order_id_that_already_has_an_execution(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("ex")
    deploy.up(ctx)
    sfn = ctx.aws.client("stepfunctions")
    sfn.start_execution(stateMachineArn=ctx.names.state_machine_arn, name="dup-1", input="{}")
    submit.refuse_existing(ctx, ["new-1"])  # no execution: fine
    with pytest.raises(
        UsageError, match=r"orderId dup-1 already has an execution \(RUNNING\); nothing was sent"
    ):
        submit.refuse_existing(ctx, ["new-2", "dup-1"])


def test_an_execution_holding_another_order_is_never_reported_as_this_one(
    make_ctx: MakeCtx,
) -> None:
    """Same orderId, different content: the execution is the other order's; this one is
    reported from the DLQ (order-id-conflict), or stays pending - never SUCCEEDED."""

    from lambda_src.order import new_order

    ctx = make_ctx("cf")
    deploy.up(ctx)
    sfn = ctx.aws.client("stepfunctions")
    theirs = new_order("Ada", "Book", "5", "same-1")
    ours = new_order("Eve", "Yacht", "9999", "same-1")
    sfn.start_execution(
        stateMachineArn=ctx.names.state_machine_arn,
        name="same-1",
        input=json.dumps(theirs.message()),
    )
    sfn.stop_execution(executionArn=ctx.names.execution_arn("same-1"))
    assert submit.same_order(theirs, json.dumps(theirs.message()))

    def follow(letters: list[Letter]) -> submit.OrderResult:
        r = submit.OrderResult("same-1", "QUEUED", sent_at=time.time())
        submit.wait_for(
            sfn,
            ctx.names,
            [r],
            timeout=0.3,
            sleep=lambda s: None,
            dead_letters=lambda: letters,
            expected={"same-1": ours},
        )
        return r

    assert follow([]).status == "QUEUED"
    r = follow([Letter("same-1", "order-id-conflict", "orderId same-1 holds another order")])
    assert (r.status, r.error) == ("DEAD_LETTERED", "order-id-conflict")
