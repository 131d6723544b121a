"""The local target's figures, each against its bar from the local-cloud issue:
emulator start to ready (<= 1 s), `up --local` from nothing (<= 3 s), a warm Lambda invocation
through the emulator (<= 5 ms), end-to-end throughput of 500 orders (>= 100 orders/s), enqueue
throughput into a 20,000-message queue (within 20% of an empty one), emulator memory after
5,000 orders (within 20% of after 500); and from the fast-start issue (14): 500 orders right
after `up --local` on a fresh emulator (>= 150 orders/s, launch of `submit --wait` to its
return), the same warm (>= 200 orders/s), the first order after `up --local` (<= 1 s), the p50 of
the first 100 orders after a config change that replaces every worker (<= 500 ms), and worker
spawn to ready (<= 20 ms, median of 50).

usage: python benchmarks/local_pipeline.py [--quick]   (--quick skips the 5,000-order run)"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from _common import (
    BENCH_STATE_MACHINE,
    client,
    local_emulator,
    row,
    run_ordercli,
    submit_and_wait,
    up_local,
)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def orders(env: dict[str, str], n: int, sfn: Any = None) -> tuple[float, float]:
    """(seconds from launching `submit --count n --wait` until the last of its orders'
    executions stopped, by the emulator's clock (this machine's); seconds until the
    command returned). The first includes the command's own start, so it is the harder."""
    t0 = time.time()
    report = submit_and_wait(env, n)
    wall = time.time() - t0
    summary = report["summary"]
    assert summary["pending"] == 0 and summary["not_sent"] == 0, summary
    if sfn is None:
        return wall, wall
    ids = {o["orderId"] for o in report["orders"]}
    last_stop = max(
        e["stopDate"].timestamp()
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=BENCH_STATE_MACHINE
        )
        for e in page["executions"]
        if e["name"] in ids
    )
    return last_stop - t0, wall


def submit_json(env: dict[str, str], n: int, *extra: str) -> tuple[float, dict[str, Any]]:
    """(seconds from launching `submit --count n --wait --json` to its return, its summary)."""
    t0 = time.time()
    out = run_ordercli(
        env, "submit", "--local", "--stack", "bench", "--count", str(n), "--wait", "--json", *extra
    )
    wall = time.time() - t0
    summary: dict[str, Any] = json.loads(out)["summary"]
    assert summary["pending"] == 0 and summary["not_sent"] == 0, summary
    return wall, summary


def fresh_burst(n: int = 500) -> float:
    """Seconds for `n` orders submitted right after `up --local` on a fresh emulator."""
    with local_emulator() as env:
        up_local(env, "--no-web")
        wall, _ = submit_json(env, n)
        return wall


def spawn_to_ready(n: int = 50) -> float:
    """Median seconds from asking the pool for a new worker to its ready message, for a
    handler that imports boto3 (forked from the zygote)."""
    import hashlib
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from ordercli.local.workers import FunctionVersion, WorkerPool

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "import boto3\ndef handler(event, context):\n    return 1\n")
    code = buf.getvalue()
    fv = FunctionVersion(
        "arn:aws:lambda:us-east-1:123456789012:function:spawn",
        "spawn",
        "h.handler",
        hashlib.sha256(code).hexdigest(),
        3,
        128,
        "us-east-1",
        (),
    )
    pool = WorkerPool(Path(tempfile.mkdtemp(prefix="ordercli-spawn-")), "http://127.0.0.1:9")
    try:
        pool._start(fv, code).close()  # the zygote's own imports are not a spawn
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            worker = pool._start(fv, code)
            times.append(time.perf_counter() - t0)
            worker.close()
        return statistics.median(times)
    finally:
        pool.shutdown()


def enqueue_rate(sqs: object, url: str, n: int = 2000) -> float:
    body = json.dumps({"order": {"orderId": "x", "amount": 1}})
    t0 = time.perf_counter()
    for _ in range(0, n, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[  # type: ignore[attr-defined]
                {"Id": str(j), "MessageBody": body} for j in range(10)
            ],
        )
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    row("worker spawn to ready, median of 50 (bar: <= 20 ms)", f"{spawn_to_ready() * 1000:.1f} ms")
    fresh = fresh_burst()
    row(
        "500 orders right after up --local, fresh (bar: >= 150 orders/s)",
        f"{500 / fresh:.0f} orders/s ({fresh:.2f} s)",
    )
    with local_emulator() as env:
        os.environ.update({k: env[k] for k in ("ORDERCLI_HOME", "ORDERCLI_LOCAL_PORT")})
        from ordercli.local import control

        t0 = time.perf_counter()
        state, _ = control.start()
        row("emulator start to ready (bar: <= 1 s)", f"{time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        up_local(env, "--no-web")
        row(
            "up --local from nothing, emulator running (bar: <= 3 s)",
            f"{time.perf_counter() - t0:.2f} s",
        )

        first, _ = submit_json(env, 1)
        row("first order after up --local, end to end (bar: <= 1 s)", f"{first:.2f} s")

        lam = client("lambda", state.endpoint)
        payload = json.dumps({"order": {"orderId": "warm-1", "amount": 5}})
        for _ in range(5):
            lam.invoke(FunctionName="bench-ValidateOrder", Payload=payload)
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            lam.invoke(FunctionName="bench-ValidateOrder", Payload=payload)
            times.append(time.perf_counter() - t0)
        row(
            "warm Lambda invocation round trip, median of 100 (bar: <= 5 ms)",
            f"{statistics.median(times) * 1000:.1f} ms",
        )

        orders(env, 50)  # warm the workers
        sfn = client("stepfunctions", state.endpoint)
        to_terminal, wall = orders(env, 500, sfn)
        row(
            "500 orders, launch of submit to all terminal (bar: >= 100 orders/s)",
            f"{500 / to_terminal:.0f} orders/s ({to_terminal:.2f} s)",
        )
        row(
            "500 orders warm, `submit --wait` returns (bar: >= 200 orders/s)",
            f"{500 / wall:.0f} orders/s ({wall:.2f} s)",
        )
        cfg = os.path.join(env["ORDERCLI_HOME"], "changed.yaml")
        with open(cfg, "w") as f:
            f.write("lambda:\n  memory: 256\n")  # every function's configuration changes
        up_local(env, "--no-web", "--config", cfg)
        _, summary = submit_json(env, 100)
        row(
            "p50 of the first 100 orders after a change replacing every worker (bar: <= 500 ms)",
            f"{summary['latency_ms']['p50']:.0f} ms",
        )
        rss_500 = rss_mb(state.pid)

        if not args.quick:
            # The same load shape as the first 500: a long run, not one 4,500-order burst
            # (a burst's peak stays in the RSS figure, as freed memory is not returned).
            for _ in range(9):
                orders(env, 500)
            rss_5000 = rss_mb(state.pid)
            row("emulator RSS after 500 orders", f"{rss_500:.0f} MB")
            row(
                "emulator RSS after 5,000 orders (bar: within 20%)",
                f"{rss_5000:.0f} MB ({rss_5000 / rss_500 - 1:+.0%})",
            )

        sqs = client("sqs", state.endpoint)
        url = sqs.create_queue(QueueName="bench-deep")["QueueUrl"]  # no consumer
        empty = enqueue_rate(sqs, url)
        while (
            int(
                sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            < 20_000
        ):
            enqueue_rate(sqs, url, 5000)
            time.sleep(0.3)
        deep = enqueue_rate(sqs, url)
        row("enqueue into an empty queue", f"{empty:.0f} msg/s")
        row(
            "enqueue into a 20,000-message queue (bar: within 20%)",
            f"{deep:.0f} msg/s ({deep / empty:.0%} of empty)",
        )
        sqs.delete_queue(QueueUrl=url)


if __name__ == "__main__":
    main()
