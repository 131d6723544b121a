"""Operate figures: `submit --count 2000` against a naive one-send_message-per-order boto3 loop
on the same endpoint in the same run (bar: >= 5x), also through a loopback proxy adding 20 ms
to every request (as a network would); `status` on a stack with 10,000 executions (bar: < 3 s);
how soon `tail` shows a line after its event under load (bar: within 2 s).

usage: python benchmarks/operate.py"""

from __future__ import annotations

import json
import os
import select
import socket
import statistics
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from _common import (
    BENCH_STATE_MACHINE,
    ORDERCLI,
    client,
    fake_aws_env,
    free_port,
    local_emulator,
    moto_server,
    row,
    run_ordercli,
    up_local,
)


def naive_loop(endpoint: str, queue: str, n: int) -> float:
    """Seconds per order for one send_message per order, sequentially."""
    sqs = client("sqs", endpoint)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    t0 = time.perf_counter()
    for _ in range(n):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(
                {
                    "order": {
                        "orderId": "naive" + uuid.uuid4().hex[:16],
                        "customerName": "n",
                        "product": "p",
                        "amount": "10.00",
                    }
                }
            ),
        )
    return (time.perf_counter() - t0) / n


def ours(env: dict[str, str], args: list[str], n: int) -> float:
    t0 = time.perf_counter()
    run_ordercli(env, "submit", *args, "--count", str(n), "--json")
    return (time.perf_counter() - t0) / n


class DelayProxy:
    """A loopback TCP proxy that holds every client chunk (a request) for `delay` seconds."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.port, self.target, self.delay = free_port(), target_port, delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.sock.accept()
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 60)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is client:
                        time.sleep(self.delay)
                        upstream.sendall(data)
                    else:
                        client.sendall(data)
        finally:
            client.close()
            upstream.close()


def drained(endpoint: str) -> None:
    """Wait until the stack's queue is empty and no execution runs: each measurement starts
    from the same idle pipeline (the orders sent also flow through it while sending)."""
    sqs, sfn = client("sqs", endpoint), client("stepfunctions", endpoint)
    url = sqs.get_queue_url(QueueName="bench-orders")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while True:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        running = sfn.list_executions(
            stateMachineArn=BENCH_STATE_MACHINE, statusFilter="RUNNING", maxResults=1
        )
        if not any(int(v) for v in attrs.values()) and not running["executions"]:
            return
        time.sleep(0.5)


def submit_figures() -> None:
    with local_emulator() as env:
        up_local(env, "--no-web")
        endpoint = f"http://127.0.0.1:{env['ORDERCLI_LOCAL_PORT']}"
        run_ordercli(env, "submit", "--local", "--stack", "bench", "--count", "50", "--wait")
        naive = naive_loop(endpoint, "bench-orders", 300)
        drained(endpoint)
        mine = ours(env, ["--local", "--stack", "bench"], 2000)
        row("local: naive loop, per order", f"{naive * 1000:.2f} ms")
        row("local: submit --count 2000, per order", f"{mine * 1000:.2f} ms")
        row("local: submit throughput / naive (bar: >= 5x)", f"{naive / mine:.1f}x")

        # The same emulator behind a loopback proxy that adds 20 ms to every request, as a
        # network would; ordercli reaches it as the aws target pointed at the proxy.
        drained(endpoint)
        proxy = DelayProxy(int(env["ORDERCLI_LOCAL_PORT"]), 0.020)
        via = f"http://127.0.0.1:{proxy.port}"
        naive = naive_loop(via, "bench-orders", 100)
        mine = ours(fake_aws_env(via), ["--stack", "bench"], 2000)
        row("20 ms proxy: naive loop, per order", f"{naive * 1000:.2f} ms")
        row("20 ms proxy: submit --count 2000, per order", f"{mine * 1000:.2f} ms")
        row("20 ms proxy: submit throughput / naive", f"{naive / mine:.1f}x")


def status_figure() -> None:
    """10,000 executions on a plain moto server (it records executions without running
    them, so the stack fills in seconds), then the wall time of `ordercli status`."""
    with moto_server() as endpoint:
        env = fake_aws_env(endpoint)
        run_ordercli(env, "up", "--stack", "bench", "--no-web")
        sfn = client("stepfunctions", endpoint)

        def start(i: int) -> None:
            sfn.start_execution(stateMachineArn=BENCH_STATE_MACHINE, name=f"o{i:05d}", input="{}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start, range(10_000)))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            run_ordercli(env, "status", "--stack", "bench", "--json")
            times.append(time.perf_counter() - t0)
        row(
            "status with 10,000 executions, median of 3 (bar: < 3 s)",
            f"{statistics.median(times):.2f} s",
        )


def tail_figure() -> None:
    with local_emulator() as env:
        up_local(env, "--no-web")
        tail = subprocess.Popen(
            [ORDERCLI, "tail", "--local", "--stack", "bench", "--since", "1m", "-f", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        lags: list[float] = []
        done = threading.Event()

        def read() -> None:
            assert tail.stdout is not None
            for line in tail.stdout:
                stamp = json.loads(line)["time"].replace("Z", "+00:00")
                lags.append(time.time() - datetime.fromisoformat(stamp).timestamp())
                if done.is_set():
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        run_ordercli(env, "submit", "--local", "--stack", "bench", "--count", "500", "--wait")
        time.sleep(3)
        done.set()
        tail.terminate()
        tail.wait()
        lags.sort()
        row("tail lines seen under load", str(len(lags)))
        row(
            "tail: event to line, p50 / p95 / max (bar: within 2 s)",
            f"{statistics.median(lags):.2f} / {lags[int(len(lags) * 0.95)]:.2f} / {lags[-1]:.2f} s",
        )


if __name__ == "__main__":
    os.environ.pop("AWS_PROFILE", None)
    submit_figures()
    status_figure()
    tail_figure()
