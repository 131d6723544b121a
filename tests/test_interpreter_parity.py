"""The emulator's sped-up interpreter writes the same execution histories as moto's own.

Two emulators run side by side: the session's (every speed-up: Task states on the
execution's thread, parsed definitions shared, Lambda called in-process, state copies by
pickle, finished histories compacted, requests without Flask) and one started with
ORDERCLI_EMULATOR_STOCK_MOTO=1 (moto's interpreter and request handling as moto ships them;
only Lambda runs in the same workers, as moto's would in Docker). The same stack and the same
orders go to both, down every path of the workflow; their histories, read back through
GetExecutionHistory, must be the same event for event, apart from what is drawn anew each
run (times, ids)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_src.order import new_order, payment_approved
from ordercli.local import control
from tests.conftest import free_port
from tests.test_local_e2e import cli, wait_for_execution

STACK = "parity"
SEED, RATE = 7, 0.5
DRAWN = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"txn-[0-9a-f]{16}"), "<txn>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"Duration: [0-9.]+ ms"), "Duration: <ms>"),
]


@pytest.fixture
def stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"ORDERCLI_HOME": str(tmp_path / "stock-home"), "ORDERCLI_LOCAL_PORT": str(free_port())}
    with monkeypatch.context() as m:
        for k, v in {**env, "ORDERCLI_EMULATOR_STOCK_MOTO": "1"}.items():
            m.setenv(k, v)
        state, started = control.start()
        assert started
    try:
        yield {**env, "endpoint": state.endpoint}
    finally:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            control.stop()


def on(emulator: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    with monkeypatch.context() as m:
        m.setenv("ORDERCLI_HOME", emulator["ORDERCLI_HOME"])
        m.setenv("ORDERCLI_LOCAL_PORT", emulator["ORDERCLI_LOCAL_PORT"])
        result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


def normalized(events: list[dict[str, Any]], home: str) -> list[str]:
    """Each event as sorted JSON, without its time, with drawn values and the emulator's
    own directory (in a handler's stack trace) replaced by placeholders."""
    out = []
    for e in events:
        e = {k: v for k, v in e.items() if k != "timestamp"}
        text = json.dumps(e, sort_keys=True, default=str).replace(home, "<home>")
        for pattern, placeholder in DRAWN:
            text = pattern.sub(placeholder, text)
        out.append(text)
    return out


def order_input(order_id: str, amount: Any = "49.90") -> str:
    if amount == "invalid":
        return json.dumps({"order": {"orderId": order_id, "product": "p", "amount": -5}})
    return json.dumps({"order": new_order("Ann", "Lamp", amount, order_id).to_dict()})


def test_histories_match_moto_s_own_interpreter_on_every_path(
    local: dict[str, str], stock: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "parity.yaml"
    config.write_text(f"payment:\n  success_rate: {RATE}\n  seed: {SEED}\nlambda:\n  timeout: 3\n")
    ids = (f"p{i}" for i in range(1000))
    approved = [i for i in ids if payment_approved(i, RATE, SEED)][:3]
    declined = next(
        i for i in (f"d{i}" for i in range(1000)) if not payment_approved(i, RATE, SEED)
    )
    runs: dict[str, list[list[str]]] = {}
    for emulator in (local, stock):
        up = ("up", "--local", "--stack", STACK, "--no-web", "--config", str(config))
        on(emulator, monkeypatch, *up)
        sfn = boto3.client(
            "stepfunctions", endpoint_url=emulator["endpoint"], region_name="us-east-1"
        )
        machine = (
            f"arn:aws:states:us-east-1:123456789012:stateMachine:{STACK}-OrderProcessingWorkflow"
        )

        home = emulator["ORDERCLI_HOME"]

        def run(
            name: str, text: str, sfn: Any = sfn, machine: str = machine, home: str = home
        ) -> list[str]:
            arn = sfn.start_execution(stateMachineArn=machine, name=name, input=text)[
                "executionArn"
            ]
            wait_for_execution(sfn, arn, timeout=60)
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            return normalized(events, home)

        histories = [
            run(approved[0], order_input(approved[0])),  # confirmed
            run(declined, order_input(declined)),  # PaymentDeclined
            run("bad-1", order_input("bad-1", "invalid")),  # OrderInvalid
        ]
        sns = boto3.client("sns", endpoint_url=emulator["endpoint"], region_name="us-east-1")
        sns.delete_topic(TopicArn=f"arn:aws:sns:us-east-1:123456789012:{STACK}-notifications")
        histories.append(run(approved[1], order_input(approved[1])))  # paid, notification failed
        on(emulator, monkeypatch, *up)  # the topic again
        ddb = boto3.client("dynamodb", endpoint_url=emulator["endpoint"], region_name="us-east-1")
        ddb.delete_table(TableName=f"{STACK}-payments")
        histories.append(run(approved[2], order_input(approved[2])))  # PaymentError
        runs[emulator["endpoint"]] = histories
    ours, theirs = runs[local["endpoint"]], runs[stock["endpoint"]]
    outcomes = [json.loads(h[-1])["type"] for h in ours]
    assert outcomes == [
        "ExecutionSucceeded",
        "ExecutionFailed",
        "ExecutionFailed",
        "ExecutionSucceeded",
        "ExecutionFailed",
    ]
    for mine, moto_s in zip(ours, theirs, strict=True):
        assert mine == moto_s
