"""The local emulator keeps its state: a planned stop and start, a kill -9, an unloadable
snapshot, a reset. End to end against emulator processes, each test with its own."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from ordercli.local import control, store
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
STACK = "dur"
MACHINE = f"arn:aws:states:us-east-1:123456789012:stateMachine:{STACK}-OrderProcessingWorkflow"


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An emulator of this test's own (home, ports), not started yet; killed afterwards."""
    env = {
        "ORDERCLI_HOME": str(tmp_path / "home"),
        "ORDERCLI_LOCAL_PORT": str(free_port()),
        "ORDERCLI_WEB_PORT": str(free_port()),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    env["endpoint"] = f"http://127.0.0.1:{env['ORDERCLI_LOCAL_PORT']}"
    yield env
    control.reset()


def client(emu: dict[str, str], service: str) -> Any:
    return boto3.client(service, endpoint_url=emu["endpoint"], region_name="us-east-1")


def up(*extra: str) -> dict[str, Any]:
    result = cli("up", "--local", "--stack", STACK, "--no-web", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def send(n: int, wait: bool = False) -> list[str]:
    args = ["submit", "--local", "--stack", STACK, "--count", str(n), "--json"]
    result = cli(*args, *(["--wait", "--timeout", "300"] if wait else []))
    assert result.exit_code == 0, result.stderr
    return [o["orderId"] for o in json.loads(result.stdout)["orders"]]


def executions(emu: dict[str, str], arn: str = MACHINE) -> list[dict[str, Any]]:
    sfn = client(emu, "stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
    return [e for page in pages for e in page["executions"]]


def queued(emu: dict[str, str], name: str) -> int:
    sqs = client(emu, "sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def settled(emu: dict[str, str], timeout: float = 240) -> list[dict[str, Any]]:
    """The executions once the orders queue is empty and nothing runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = executions(emu)
        if not queued(emu, f"{STACK}-orders") and all(e["status"] != "RUNNING" for e in found):
            return found
        time.sleep(0.2)
    raise AssertionError("the emulator did not settle")


def dead_letter_order_ids(emu: dict[str, str]) -> list[str]:
    sqs = client(emu, "sqs")
    url = sqs.get_queue_url(QueueName=f"{STACK}-orders-dlq")["QueueUrl"]
    seen: dict[str, str] = {}
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        fresh = [m for m in got.get("Messages", []) if m["MessageId"] not in seen]
        if not fresh:
            return list(seen.values())
        for m in fresh:
            seen[m["MessageId"]] = str(json.loads(m["Body"]).get("orderId"))


def start() -> dict[str, Any]:
    result = cli("local", "start", "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def stop(timeout: float = 10) -> dict[str, Any]:
    result = cli("local", "stop", "--timeout", str(timeout), "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def slow_machine(emu: dict[str, str], seconds: int) -> str:
    """A state machine whose executions run for `seconds` (a Wait state)."""
    definition = {
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": seconds, "End": True}},
    }
    sfn = client(emu, "stepfunctions")
    return str(
        sfn.create_state_machine(
            name="slow",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/slow",
        )["stateMachineArn"]
    )


def test_orders_queued_running_and_finished_survive_stop_and_start(emu: dict[str, str]) -> None:
    up()
    finished = send(10, wait=True)
    before = {e["name"]: e for e in executions(emu)}
    slow = slow_machine(emu, 3)
    sfn = client(emu, "stepfunctions")
    running = sfn.start_execution(stateMachineArn=slow, name="held", input='{"k": 1}')
    waiting = send(40)

    report = stop(timeout=0)  # nothing may finish: queued stay queued, running restart
    assert report["stopped"] and report["saved"]["unfinished"] >= 1
    info = start()
    assert info["last_start"]["restored"] and info["last_start"]["restarted"] >= 1

    after = settled(emu)
    names = Counter(e["name"] for e in after)
    assert set(finished + waiting) <= set(names) and max(names.values()) == 1
    for name in finished:  # finished ones are kept as they were, not run again
        kept = next(e for e in after if e["name"] == name)
        assert kept["status"] == before[name]["status"]
        assert kept["stopDate"] == before[name]["stopDate"]
    held = sfn.describe_execution(executionArn=running["executionArn"])
    deadline = time.monotonic() + 60
    while held["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
        held = sfn.describe_execution(executionArn=running["executionArn"])
    assert held["status"] == "SUCCEEDED" and json.loads(held["input"]) == {"k": 1}
    history = sfn.get_execution_history(executionArn=before[finished[0]]["executionArn"])
    assert history["events"][-1]["type"].startswith("Execution")


def test_the_stack_survives_a_restart_and_up_is_then_a_no_op(emu: dict[str, str]) -> None:
    created = up()
    assert {a["action"] for a in created["actions"]} == {"create"}
    stop()
    start()
    again = up()
    assert {a["action"] for a in again["actions"]} == {"noop"}
    assert send(3, wait=True)


def test_dead_letters_receive_counts_logs_topics_dashboards_and_alarms_survive_a_restart(
    emu: dict[str, str],
) -> None:
    up()
    send(3, wait=True)  # the Lambdas have written their log lines
    sqs = client(emu, "sqs")
    dlq = sqs.get_queue_url(QueueName=f"{STACK}-orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"orderId": "dead-1"}')
    for _ in range(2):  # received twice, back at once: receive count 2
        got = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], WaitTimeSeconds=1)
        handle = got["Messages"][0]["ReceiptHandle"]
        sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=handle, VisibilityTimeout=0)
    logs, cw, sns = client(emu, "logs"), client(emu, "cloudwatch"), client(emu, "sns")
    group = f"/aws/lambda/{STACK}-ProcessPayment"

    def lines() -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]

    def kept() -> tuple[Any, ...]:
        return (
            [t["TopicArn"] for t in sns.list_topics()["Topics"]],
            [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]],
            [(a["AlarmName"], a["Threshold"]) for a in cw.describe_alarms()["MetricAlarms"]],
        )

    before_lines, before = lines(), kept()
    assert before_lines and all(before)
    stop()
    start()

    assert lines() == before_lines and kept() == before
    got = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], WaitTimeSeconds=1)
    (message,) = got["Messages"]
    assert json.loads(message["Body"]) == {"orderId": "dead-1"}
    assert message["Attributes"]["ApproximateReceiveCount"] == "3"  # two before, this one


def test_every_acknowledged_order_survives_kill_9(emu: dict[str, str]) -> None:
    up()
    accepted = send(150)

    def finished_at_least(n: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sum(e["status"] != "RUNNING" for e in executions(emu)) >= n:
                return
            time.sleep(0.05)

    finished_at_least(10)
    # A checkpoint mid-run (as when the journal is compacted): running executions go into
    # the snapshot as running, their ends into the new journal.
    assert control.checkpoint(timeout=0) is not None
    finished_at_least(30)  # kill mid-run: some finished, the rest not
    state = control.read_state(int(emu["ORDERCLI_LOCAL_PORT"]))
    assert state is not None
    os.killpg(state.pid, signal.SIGKILL)  # the emulator and its workers, as a crash does
    while control.pid_alive(state.pid):
        time.sleep(0.01)

    info = start()
    assert info["last_start"]["restored"] and info["last_start"]["replayed"] > 0
    found = settled(emu)
    terminal = Counter(e["name"] for e in found if e["status"] != "RUNNING")
    dead = Counter(dead_letter_order_ids(emu))
    outcomes = {i: terminal[i] + dead[i] for i in accepted}
    lost = [i for i, n in outcomes.items() if n == 0]
    duplicated = [i for i, n in outcomes.items() if n > 1]
    assert (len(accepted), lost, duplicated) == (150, [], [])


def test_a_snapshot_from_another_moto_is_set_aside_and_the_start_is_empty(
    emu: dict[str, str],
) -> None:
    up()
    stop()
    root = store.state_dir(Path(emu["ORDERCLI_HOME"]), int(emu["ORDERCLI_LOCAL_PORT"]))
    snapshot = root / store.SNAPSHOT
    header, _, body = snapshot.read_bytes().partition(b"\n")
    fields = json.loads(header)
    snapshot.write_bytes(json.dumps({**fields, "moto": "5.1.22"}).encode() + b"\n" + body)

    result = cli("local", "start")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "could not be loaded" in said and "moto 5.1.22" in said
    last = control.status()["last_start"]
    assert Path(last["set_aside"], store.SNAPSHOT).exists() and not snapshot.exists()
    assert not client(emu, "sqs").list_queues().get("QueueUrls")


def test_a_corrupt_snapshot_is_set_aside(emu: dict[str, str]) -> None:
    up()
    stop()
    root = store.state_dir(Path(emu["ORDERCLI_HOME"]), int(emu["ORDERCLI_LOCAL_PORT"]))
    snapshot = root / store.SNAPSHOT
    header, _, body = snapshot.read_bytes().partition(b"\n")
    snapshot.write_bytes(header + b"\n" + body[: len(body) // 2])

    info = start()
    assert info["last_start"]["reason"] and not info["last_start"]["restored"]
    assert not client(emu, "sqs").list_queues().get("QueueUrls")


def test_local_reset_empties_and_asks_first(emu: dict[str, str]) -> None:
    up()
    send(5, wait=True)
    stop()
    root = store.state_dir(Path(emu["ORDERCLI_HOME"]), int(emu["ORDERCLI_LOCAL_PORT"]))
    assert store.disk_usage(root) > 0

    refused = cli("local", "reset")  # not a terminal: it cannot ask, so it refuses
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert (root / store.SNAPSHOT).exists()

    result = cli("local", "reset", "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["reset"] is True
    assert not root.exists()
    info = start()
    assert not info["last_start"]["restored"]
    assert not client(emu, "sqs").list_queues().get("QueueUrls")


def test_status_says_where_state_is_kept_and_its_size(emu: dict[str, str]) -> None:
    start()
    result = cli("local", "status")
    root = store.state_dir(Path(emu["ORDERCLI_HOME"]), int(emu["ORDERCLI_LOCAL_PORT"]))
    said = "".join(result.stdout.split())  # the long path may wrap
    assert result.exit_code == 0 and f"state:{root}(" in said and "ondisk)" in said
    data = json.loads(cli("local", "status", "--json").stdout)
    assert data["state_dir"] == str(root) and data["state_bytes"] > 0


def test_after_an_emulator_crash_up_stops_the_web_app_it_left(emu: dict[str, str]) -> None:
    result = cli("up", "--local", "--stack", STACK, "--json")
    assert result.exit_code == 0, result.stderr
    state = control.read_state(int(emu["ORDERCLI_LOCAL_PORT"]))
    assert state is not None and state.webapp
    old_web = int(state.webapp["pid"])
    os.kill(state.pid, signal.SIGKILL)  # the emulator alone: its web app lives on
    while control.pid_alive(state.pid):
        time.sleep(0.01)
    assert control.pid_alive(old_web)

    again = cli("up", "--local", "--stack", STACK, "--json")
    assert again.exit_code == 0, again.stderr
    assert not control.pid_alive(old_web)
    new = control.read_state(int(emu["ORDERCLI_LOCAL_PORT"]))
    assert new is not None and new.webapp and int(new.webapp["pid"]) != old_web
