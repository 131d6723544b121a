"""What the local target's durability costs and whether it holds, each against its bar from
the durability issue: `local stop` with 1,000 orders in flight (seconds to drain and save);
`local start` with the state of 10,000 finished orders (seconds to ready, <= 2 s); end-to-end
throughput of 500 warm orders with and without the journal (at most 10% slower); enqueue
throughput into a 20,000-message queue (within 20% of an empty one); and the crash: kill -9
of the emulator during a 1,000-order run, restart, account for every order (lost = 0,
duplicate executions = 0), which is faults.py's scenario (`crash_scenario` runs it alone).

Timings on a shared machine drift: the journal's cost is measured on/off/off/on back to
back, and also as the emulator's CPU per order, which load changes much less.

usage: python benchmarks/durability.py [--quick] [--only stop|start|journal|enqueue|crash]
(--quick: 2,000 finished orders, not 10,000, and 300-order runs)"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
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


def account(env: dict[str, str], accepted: list[str]) -> Account:
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
    )


def crash_scenario(orders: int = 1000, port: int = 0) -> Any:
    """kill -9 of the emulator during an `orders`-order run, restart, account for every
    order: faults.py's scenario (its Row: lost, duplicate executions and payments)."""
    from _common import free_port
    from faults import Bench

    bench = Bench(port or free_port())
    try:
        bench.up()
        return bench.crash(orders)
    finally:
        bench.stop()


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


def ready_seconds(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting the emulator process to its port answering (what `local
    start` waits for; the CLI's own start is apart), measured in this process; and the CPU
    seconds the emulator used to get there (what load on a shared machine does not
    stretch)."""
    from ordercli.local import control

    keys = ("ORDERCLI_HOME", "ORDERCLI_LOCAL_PORT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    try:
        t0 = time.perf_counter()
        state, _ = control.start()
        return time.perf_counter() - t0, cpu_seconds(state.pid)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass(frozen=True)
class Start:
    orders: int
    emulator_ready: float  # spawn to port answering
    emulator_cpu: float  # CPU seconds the emulator used until then
    command: float  # `ordercli local start`, end to end
    restore: float  # the emulator's own restore, inside emulator_ready
    state_mb: float


def start_with_finished(n: int) -> Start:
    """`local start` to ready with the state of n finished orders (n = 0: empty)."""
    with local_emulator() as env:
        if n:
            up_local(env, "--no-web")
            for chunk in range(0, n, 2000):
                send(env, min(2000, n - chunk))
                wait_quiet(env)
            run_ordercli(env, "local", "stop", "--json")
        ready, cpu = ready_seconds(env)
        run_ordercli(env, "local", "stop", "--json")
        t0 = time.perf_counter()
        out = json.loads(run_ordercli(env, "local", "start", "--json"))
        command = time.perf_counter() - t0
        restore = float((out.get("last_start") or {}).get("seconds") or 0.0)
        return Start(n, ready, cpu, command, restore, out["state_bytes"] / 1e6)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (its own, not its children's)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Throughput:
    journal: str
    orders_per_second: float
    emulator_cpu_ms_per_order: float  # the emulator process's CPU, Lambda workers apart


def throughput(n: int, journal: str) -> Throughput:
    """End to end for n warm orders (after a warm-up of 50): orders per second, and the
    emulator's CPU per order (steadier than the rate on a shared machine)."""
    with local_emulator() as env:
        env["ORDERCLI_LOCAL_JOURNAL"] = journal  # read by the emulator at its start
        up_local(env, "--no-web")
        run_ordercli(env, "submit", "--local", "--stack", "bench", "--count", "50", "--wait")
        pid = emulator_pid(env)
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        report = submit_and_wait(env, n)
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0
        assert report["summary"]["pending"] == 0
        return Throughput(journal, n / seconds, cpu / n * 1000)


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
    parser.add_argument(
        "--only", choices=("stop", "start", "journal", "enqueue", "crash"), action="append"
    )
    args = parser.parse_args()

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    finished = 2000 if args.quick else 10_000
    run = 300 if args.quick else 1000
    print("durability figures (taken now: under whatever load the machine has)")

    if wanted("stop"):
        stop_figures(run)
    if wanted("start"):
        start_figures(finished)
    if wanted("journal"):
        journal_figures(500)
    if wanted("enqueue"):
        enqueue_figures()
    if wanted("crash"):
        crash_figures(run)


def stop_figures(run: int) -> None:
    seconds, report, acct = stop_in_flight(run)
    row(f"local stop, {run} orders in flight: seconds", f"{seconds:.2f}")
    row("  drain / save seconds (emulator's report)", _drain(report))
    row(
        "  after local start: lost / duplicate executions",
        f"{acct.lost} / {acct.duplicate_executions}",
    )


def start_figures(finished: int) -> None:
    for n in (0, finished):
        st = start_with_finished(n)
        what = f"{n} finished orders" if n else "no saved state"
        bar = "2" if n else "1"
        row(f"local start, {what}: emulator ready, s (bar {bar})", f"{st.emulator_ready:.2f}")
        row("  CPU the emulator used until ready, s", f"{st.emulator_cpu:.2f}")
        row("  `ordercli local start` command, s", f"{st.command:.2f}")
        if n:
            row("  restore inside the emulator, s", f"{st.restore:.2f}")
            row("  state on disk, MB", f"{st.state_mb:.2f}")


def journal_figures(orders: int) -> None:
    runs = [throughput(orders, mode) for mode in ("on", "off", "off", "on")]  # ABBA: drift cancels
    for t in runs:
        row(
            f"{orders} warm orders, journal {t.journal}: orders/s, emulator CPU ms/order",
            f"{t.orders_per_second:.0f}, {t.emulator_cpu_ms_per_order:.1f}",
        )
    on = [t for t in runs if t.journal == "on"]
    off = [t for t in runs if t.journal == "off"]
    rate_on = sum(t.orders_per_second for t in on) / len(on)
    rate_off = sum(t.orders_per_second for t in off) / len(off)
    cpu_on = sum(t.emulator_cpu_ms_per_order for t in on) / len(on)
    cpu_off = sum(t.emulator_cpu_ms_per_order for t in off) / len(off)
    row("  journal's cost in throughput (bar <= 10%)", f"{(1 - rate_on / rate_off) * 100:.1f}%")
    row("  journal's cost in emulator CPU per order", f"{(cpu_on / cpu_off - 1) * 100:+.1f}%")


def enqueue_figures() -> None:
    empty = enqueue_rate(0)
    deep = enqueue_rate(20_000)
    row("enqueue into an empty queue: messages/s", f"{empty:.0f}")
    row("enqueue into a 20,000-message queue: messages/s", f"{deep:.0f}")
    row("  deep vs empty (bar within 20%)", f"{(deep / empty - 1) * 100:+.1f}%")


def crash_figures(run: int) -> None:
    crash = crash_scenario(run)
    row(
        f"kill -9 during a {run}-order run, restart: lost / duplicate executions (bar 0 / 0)",
        f"{crash.lost} / {crash.dup_executions}",
    )
    row("  duplicate payments, accepted, note", f"{crash.dup_payments}, {crash.accepted}")
    print(f"  {crash.note}")


def _drain(report: dict[str, Any]) -> str:
    saved = report.get("saved") or {}
    if not saved:
        return "(no report)"
    drain, save = saved["drain_seconds"], saved["save_seconds"]
    return f"{drain:.2f} / {save:.2f} ({saved['unfinished']} unfinished)"


if __name__ == "__main__":
    main()
