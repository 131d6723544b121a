"""`tail` and `status` against an emulator process of the test's own (it is stopped on purpose,
so it cannot be the session's shared one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ordercli.local import control
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
STACK = "tl"


@pytest.fixture
def own_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {"ORDERCLI_HOME": str(tmp_path / "home"), "ORDERCLI_LOCAL_PORT": str(free_port())}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    endpoint = f"http://127.0.0.1:{env['ORDERCLI_LOCAL_PORT']}"
    try:  # the test's `up --local` starts it
        yield {**os.environ, **env, "endpoint": endpoint}
    finally:
        control.stop()


def ordercli(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ordercli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_tail_and_status_on_an_emulator_that_then_stops(own_emulator: dict[str, str]) -> None:
    env = own_emulator
    up = ordercli(env, "up", "--local", "--stack", STACK, "--no-web")
    assert up.returncode == 0, up.stderr
    # it says it left an emulator running, and how to stop it
    assert up.stdout.splitlines()[1] == (
        f"Started the local emulator in the background at {env['endpoint']}; it keeps running "
        f"after this command. Stop it with: ordercli local stop"
    )
    one = ordercli(
        env, "submit", "--local", "--stack", STACK, "--customer", "Ann", "--product", "Pen",
        "--amount", "3", "--order-id", "tail-1", "--wait", "--json",
    )  # fmt: skip
    assert one.returncode in (0, 1), one.stderr

    # --order --follow returns by itself once the order is terminal
    followed = ordercli(
        env, "tail", "--local", "--stack", STACK, "--order", "tail-1", "--follow", "--json",
        timeout=60,
    )  # fmt: skip
    assert followed.returncode == 0, followed.stderr
    lines = [json.loads(x) for x in followed.stdout.splitlines()]
    assert {x["orderId"] for x in lines} == {"tail-1"}
    ends = [x for x in lines if x["step"] == "execution" and x["message"] != "started"]
    assert len(ends) == 1 and ends[0]["message"].split()[0] in ("SUCCEEDED", "FAILED")

    # the functions' logs carry only their own lines: no SDK chatter
    logs = boto3.client("logs", endpoint_url=env["endpoint"], region_name="us-east-1")
    for fn in ("StartOrderWorkflow", "ValidateOrder", "ProcessPayment", "SendNotification"):
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{STACK}-{fn}")["events"]
        assert events and not [e for e in events if "Found credentials" in e["message"]], fn

    # status reads the figures the emulator records, with GetMetricData as on AWS
    deadline = time.monotonic() + 60
    while True:
        st = ordercli(env, "status", "--local", "--stack", STACK, "--json")
        assert st.returncode == 0, st.stderr
        figures = json.loads(st.stdout)["monitoring"]
        if figures["orders_per_hour"] or time.monotonic() > deadline:
            break
        time.sleep(1)  # the emulator flushes its counts every few seconds
    assert figures["orders_per_hour"] == 1.0 and figures["window_seconds"] == 3600
    assert figures["latency_ms"]["p50"] is not None
    assert set(figures["errors_by_function"]) == {
        "ValidateOrder", "ProcessPayment", "SendNotification", "StartOrderWorkflow"
    }  # fmt: skip

    # plain --follow keeps going until the emulator stops, then says so and exits 1
    tail = subprocess.Popen(
        [sys.executable, "-m", "ordercli", "tail", "--local", "--stack", STACK, "-f", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stdout is not None
        first = json.loads(tail.stdout.readline())  # following: it has polled at least once
        assert first["orderId"] == "tail-1"
        control.stop()
        _, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 1, err
    assert "emulator" in err and "stopped" in err and "Traceback" not in err
