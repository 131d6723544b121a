"""Helpers the benchmark scripts share: timing commands, free ports, a plain moto server,
and a fresh local emulator. Benchmarks print figures; they assert nothing."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
# The benchmarks' stack ("bench") on the local account and region, as ordercli names it.
BENCH_STATE_MACHINE = (
    "arn:aws:states:us-east-1:123456789012:stateMachine:bench-OrderProcessingWorkflow"
)
ORDERCLI = str(BIN / "ordercli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def median_of(n: int, cmd: Sequence[str], env: dict[str, str] | None = None) -> float:
    return statistics.median(timed(cmd, env) for _ in range(n))


def fake_aws_env(endpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERCLI_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing answered on port {port}")


@contextmanager
def moto_server() -> Iterator[str]:
    """A plain moto server (the aws target pointed at an endpoint)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


@contextmanager
def local_emulator(web: bool = False) -> Iterator[dict[str, str]]:
    """A fresh ordercli emulator on free ports with its own state dir; stopped afterwards."""
    env = fake_aws_env()
    env.update(
        {
            "ORDERCLI_HOME": tempfile.mkdtemp(prefix="ordercli-bench-"),
            "ORDERCLI_LOCAL_PORT": str(free_port()),
            "ORDERCLI_WEB_PORT": str(free_port()),
        }
    )
    try:
        yield env
    finally:
        subprocess.run(
            [ORDERCLI, "local", "stop"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def run_ordercli(env: dict[str, str], *args: str) -> str:
    """Run an ordercli command quietly; its stdout (the JSON, when asked for)."""
    out = subprocess.run([ORDERCLI, *args], env=env, check=True, capture_output=True, text=True)
    return out.stdout


def submit_and_wait(env: dict[str, str], n: int) -> dict[str, Any]:
    """`submit --count n --wait --json` on the bench stack; its report."""
    out = run_ordercli(
        env, "submit", "--local", "--stack", "bench", "--count", str(n), "--wait",
        "--timeout", "600", "--json",
    )  # fmt: skip
    report: dict[str, Any] = json.loads(out)
    return report


def up_local(env: dict[str, str], *extra: str) -> str:
    return run_ordercli(env, "up", "--local", "--stack", "bench", *extra)


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def row(label: str, value: str) -> None:
    print(f"{label:<58} {value}")
