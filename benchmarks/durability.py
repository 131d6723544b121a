"""What the local target's durability costs and whether it holds, each against its bar from
the durability issue: `local stop` with 1,000 orders in flight (seconds to drain and save);
`local start` with the state of 10,000 finished orders (seconds to ready, <= 2 s); end-to-end
throughput of 500 warm orders with and without the journal (at most 10% slower); enqueue
throughput into a 20,000-message queue (within 20% of an empty one); and the crash: kill -9
of the emulator during a 1,000-order run, restart, account for every order (lost = 0,
duplicate executions = 0). `crash_scenario` is what benchmarks/faults.py calls.

usage: python benchmarks/durability.py [--quick]   (--quick: 2,000 finished orders, not 10,000,
and 300-order runs)"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections import Counter
from dataclasses import asdict, dataclass
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

QUEUE = "bench-orders"
DLQ = "bench-orders-dlq"


@dataclass(frozen=True)
class Account:
    """Where every accepted order ended up once the emulator was quiet again."""

    accepted: int
    succeeded: int
    failed: int
    dead_lettered: int
    lost: int
    duplicate_executions: int
    restarted: int
    restart_seconds: float


def endpoint(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['ORDERCLI_LOCAL_PORT']}"


def emulator_pid(env: dict[str, str]) -> int:
    path = os.path.join(env["ORDERCLI_HOME"], f"emulator-{env['ORDERCLI_LOCAL_PORT']}.json")
    with open(path) as f:
        return int(json.load(f)["pid"])


def send(env: dict[str, str], n: int) -> list[str]:
    """Send n generated orders (no waiting); the orderIds the queue acknowledged."""
    out = run_ordercli(env, "submit", "--local", "--stack", "bench", "--count", str(n), "--json")
    return [o["orderId"] for o in json.loads(out)["orders"] if o.get("status") != "NOT_SENT"]


def executions(env: dict[str, str]) -> list[dict[str, Any]]:
    sfn = client("stepfunctions", endpoint(env))
    return [
        e
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=BENCH_STATE_MACHINE
        )
        for e in page["executions"]
    ]


def queue_depth(env: dict[str, str], name: str) -> int:
    sqs = client("sqs", endpoint(env))
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_quiet(env: dict[str, str], timeout: float = 600) -> list[dict[str, Any]]:
    """Wait until the orders queue is empty and nothing runs; the executions then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = executions(env)
        if queue_depth(env, QUEUE) == 0 and not [e for e in found if e["status"] == "RUNNING"]:
            return found
        time.sleep(0.5)
    raise RuntimeError("the emulator did not settle")


def dead_letter_ids(env: dict[str, str]) -> list[str]:
    sqs = client("sqs", endpoint(env))
    url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
    ids: list[str] = []
    seen: set[str] = set()
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            return ids
        for m in fresh:
            seen.add(m["MessageId"])
            try:
                ids.append(str(json.loads(m["Body"]).get("orderId")))
            except (ValueError, AttributeError):
                ids.append("?")


def account(
    env: dict[str, str], accepted: list[str], restarted: int = 0, seconds: float = 0.0
) -> Account:
    found = wait_quiet(env)
    by_order = Counter(e["name"] for e in found if e["name"] in set(accepted))
    dead = Counter(i for i in dead_letter_ids(env) if i in set(accepted))
    status = {e["name"]: e["status"] for e in found}
    ended = set(by_order) | set(dead)
    return Account(
        accepted=len(accepted),
        succeeded=sum(1 for i in accepted if status.get(i) == "SUCCEEDED"),
        failed=sum(1 for i in accepted if status.get(i) in ("FAILED", "TIMED_OUT", "ABORTED")),
        dead_lettered=len(dead),
        lost=sum(1 for i in set(accepted) if i not in ended),
        duplicate_executions=sum(
            by_order[i] + dead[i] - 1 for i in ended if by_order[i] + dead[i] > 1
        ),
        restarted=restarted,
        restart_seconds=seconds,
    )


def crash_scenario(orders: int = 1000, kill_at: float = 0.2) -> Account:
    """kill -9 of the emulator once a `kill_at` share of `orders` acknowledged orders have
    finished (others running, most queued), start it again, and account for every order.
    A fresh emulator of its own; stopped afterwards."""
    with local_emulator() as env:
        up_local(env, "--no-web")
        accepted = send(env, orders)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = [e for e in executions(env) if e["status"] != "RUNNING"]
            if len(done) >= orders * kill_at:
                break
            time.sleep(0.05)
        pid = emulator_pid(env)
        os.killpg(pid, signal.SIGKILL)  # the emulator and its Lambda workers, as a crash
        while os.path.exists(f"/proc/{pid}") and _state(pid) not in ("Z", "X"):
            time.sleep(0.01)
        t0 = time.perf_counter()
        out = run_ordercli(env, "local", "start", "--json")
        seconds = time.perf_counter() - t0
        restarted = int((json.loads(out).get("last_start") or {}).get("restarted", 0))
        return account(env, accepted, restarted, seconds)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def stop_in_flight(n: int) -> tuple[float, dict[str, Any], Account]:
    """`local stop` right after n orders were acknowledged: (seconds, its report, the
    account after `local start`)."""
    with local_emulator() as env:
        up_local(env, "--no-web")
        accepted = send(env, n)
        t0 = time.perf_counter()
        report = json.loads(run_ordercli(env, "local", "stop", "--json"))
        seconds = time.perf_counter() - t0
        run_ordercli(env, "local", "start", "--json")
        return seconds, report, account(env, accepted)


def start_with_finished(n: int) -> tuple[float, dict[str, Any]]:
    """Seconds `local start` takes to be ready with the state of n finished orders."""
    with local_emulator() as env:
        up_local(env, "--no-web")
        for chunk in range(0, n, 2000):
            send(env, min(2000, n - chunk))
            wait_quiet(env)
        run_ordercli(env, "local", "stop", "--json")
        t0 = time.perf_counter()
        out = json.loads(run_ordercli(env, "local", "start", "--json"))
        return time.perf_counter() - t0, out


def throughput(n: int, journal: str) -> float:
    """Orders per second, end to end, for n warm orders (after a warm-up of 50)."""
    with local_emulator() as env:
        env["ORDERCLI_LOCAL_JOURNAL"] = journal  # read by the emulator at its start
        up_local(env, "--no-web")
        run_ordercli(env, "submit", "--local", "--stack", "bench", "--count", "50", "--wait")
        t0 = time.perf_counter()
        report = submit_and_wait(env, n)
        seconds = time.perf_counter() - t0
        assert report["summary"]["pending"] == 0
        return n / seconds


def enqueue_rate(depth: int, n: int = 2000) -> float:
    """Messages per second sent (batches of 10, one client) into a queue already holding
    `depth` messages; the queue has no consumer, so it only grows."""
    with local_emulator() as env:
        run_ordercli(env, "local", "start")
        sqs = client("sqs", endpoint(env))
        url = sqs.create_queue(QueueName="deep")["QueueUrl"]

        def batch(i: int) -> None:
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(k), "MessageBody": f'{{"n": {i + k}}}'} for k in range(10)],
            )

        for i in range(0, depth, 10):
            batch(i)
        t0 = time.perf_counter()
        for i in range(0, n, 10):
            batch(i)
        return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    finished = 2000 if args.quick else 10_000
    run = 300 if args.quick else 1000
    print("durability figures (taken now: under whatever load the machine has)")

    seconds, report, acct = stop_in_flight(run)
    row(f"local stop, {run} orders in flight: seconds", f"{seconds:.2f}")
    row("  drain / save seconds (emulator's report)", _drain(report))
    row(
        "  after local start: lost / duplicate executions",
        f"{acct.lost} / {acct.duplicate_executions}",
    )

    seconds, out = start_with_finished(finished)
    row(f"local start with {finished} finished orders: seconds (bar 2)", f"{seconds:.2f}")
    row("  restore inside the emulator: seconds", f"{out['last_start']['seconds']:.2f}")
    row("  state on disk: MB", f"{out['state_bytes'] / 1e6:.2f}")

    orders = 500
    with_j = throughput(orders, "on")
    without = throughput(orders, "off")
    row(f"{orders} warm orders, journal on: orders/s", f"{with_j:.0f}")
    row(f"{orders} warm orders, journal off: orders/s", f"{without:.0f}")
    row("  journal's cost (bar <= 10%)", f"{(1 - with_j / without) * 100:.1f}%")

    empty = enqueue_rate(0)
    deep = enqueue_rate(20_000)
    row("enqueue into an empty queue: messages/s", f"{empty:.0f}")
    row("enqueue into a 20,000-message queue: messages/s", f"{deep:.0f}")
    row("  deep vs empty (bar within 20%)", f"{(deep / empty - 1) * 100:+.1f}%")

    crash = crash_scenario(run)
    row(f"kill -9 during a {run}-order run, restart", json.dumps(asdict(crash)))


def _drain(report: dict[str, Any]) -> str:
    saved = report.get("saved") or {}
    if not saved:
        return "(no report)"
    drain, save = saved["drain_seconds"], saved["save_seconds"]
    return f"{drain:.2f} / {save:.2f} ({saved['unfinished']} unfinished)"


if __name__ == "__main__":
    main()
