"""Every accepted order gets exactly one true outcome, under faults (issue 10's figures).

Runs on the local target, on its own port, one scenario after another, each followed by an
account of every orderId it accepted: its execution (status, error, output), its charge in
the payments table, its dead letter, and the notifications the topic delivered (a queue
subscribed to it). One table at the end.

Scenarios: a baseline; `kill -9` of every worker of each function, three times, during a run;
the consumer failing transiently for 5% of messages (the local fault knob
ORDERCLI_FAULT_CONSUMER_RATE in the consumer's environment); poison and conflicting messages
mixed into the queue; an SNS outage (the topic deleted, then made again) during a run;
one large `submit --count N --wait --json`, whose summary is checked against the executions
the emulator holds; and `kill -9` of the emulator itself during a run, then `local start`
(issue 12: every acknowledged order is still there, queued, restarted or finished).

Bars: lost, duplicate executions, duplicate payments and paid orders reported failed are 0
in every row; "notif. missing" counts customers not told, and "unreported" those of them
whose outcome claims they were (must be 0: a missing notification is always said).

usage: python benchmarks/faults.py [--quick] [--port 4611] [--only crash]"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ORDERCLI, client, fake_aws_env

from lambda_src.history import order_outcome

STACK = "faults"

MACHINE = f"arn:aws:states:us-east-1:123456789012:stateMachine:{STACK}-OrderProcessingWorkflow"
FUNCTIONS = ("StartOrderWorkflow", "ValidateOrder", "ProcessPayment", "SendNotification")
FAULT_ENV = "ORDERCLI_FAULT_CONSUMER_RATE"
CONFIG = """\
queue:
  visibility_timeout: 20
  max_receive_count: 5
lambda:
  timeout: 20
"""


@dataclass
class Row:
    scenario: str
    accepted: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    dup_executions: int = 0
    dup_payments: int = 0
    paid_failed: int = 0
    notif_missing: int = 0
    unreported: int = 0
    seconds: float = 0.0
    note: str = ""


class Bench:
    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env = fake_aws_env()
        home = tempfile.mkdtemp(prefix="ordercli-faults-")
        self.env.update(
            {
                "ORDERCLI_HOME": home,
                "ORDERCLI_LOCAL_PORT": str(port),
                "ORDERCLI_WEB_PORT": str(port + 1),
            }
        )
        self.config = Path(home) / "faults.yaml"
        self.config.write_text(CONFIG)
        self.sqs = client("sqs", self.endpoint)
        self.sfn = client("stepfunctions", self.endpoint)
        self.ddb = client("dynamodb", self.endpoint)
        self.sns = client("sns", self.endpoint)
        self.lam = client("lambda", self.endpoint)

    # -- the stack ------------------------------------------------------------------------
    def ordercli(self, *args: str) -> str:
        out = subprocess.run(
            [ORDERCLI, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if out.returncode not in (0, 1):
            raise RuntimeError(f"ordercli {' '.join(args)}: {out.stderr[-400:]}")
        return out.stdout

    def up(self) -> None:
        self.ordercli("up", "--local", "--stack", STACK, "--no-web", "--config", str(self.config))
        self.queue = self.sqs.get_queue_url(QueueName=f"{STACK}-orders")["QueueUrl"]
        self.dlq = self.sqs.get_queue_url(QueueName=f"{STACK}-orders-dlq")["QueueUrl"]
        self.topic = f"arn:aws:sns:us-east-1:123456789012:{STACK}-notifications"
        self.told = self.sqs.create_queue(QueueName=f"{STACK}-bench-notified")["QueueUrl"]
        self.subscribe()
        self.drain(self.dlq)
        self.drain(self.told)

    def subscribe(self) -> None:
        arn = self.sqs.get_queue_attributes(QueueUrl=self.told, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    def stop(self) -> None:
        subprocess.run([ORDERCLI, "local", "stop"], env=self.env, capture_output=True, check=False)

    # -- reading back ---------------------------------------------------------------------
    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message of a queue, consumed."""
        out: list[dict[str, Any]] = []
        empty = 0
        while empty < 2:
            got = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                empty += 1
                continue
            out += got
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )
        return out

    def queue_idle(self) -> bool:
        a = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["All"])["Attributes"]
        return all(
            a.get(k, "0") == "0"
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def executions(self) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=MACHINE)
        return [e for page in pages for e in page["executions"]]

    def settle(self, ids: set[str], timeout: float = 300) -> None:
        """Until the queue is idle and every execution of these orders has stopped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_idle():
                running = [
                    e for e in self.executions() if e["name"] in ids and e["status"] == "RUNNING"
                ]
                if not running:
                    return
            time.sleep(1)

    def payments(self) -> dict[str, str]:
        pages = self.ddb.get_paginator("scan").paginate(TableName=f"{STACK}-payments")
        return {i["orderId"]["S"]: i["transactionId"]["S"] for page in pages for i in page["Items"]}

    # -- faults ---------------------------------------------------------------------------
    def workers(self, logical: str) -> list[int]:
        """Worker processes of this emulator serving one function (found by environment)."""
        want = {
            f"AWS_LAMBDA_FUNCTION_NAME={STACK}-{logical}".encode(),
            f"AWS_ENDPOINT_URL={self.endpoint}".encode(),
        }
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = set((entry / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if want <= environ:
                pids.append(int(entry.name))
        return pids

    def forked_workers(self) -> list[int]:
        """Workers the emulator's zygote forked: their environment is set in-process, so
        /proc shows the zygote's; they are the zygote's children under this emulator."""
        procs: dict[int, tuple[int, str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError, IndexError):
                continue
            procs[int(entry.name)] = (ppid, cmd)

        def under_this_emulator(pid: int) -> bool:
            while pid in procs:
                pid = procs[pid][0]
                cmd = procs.get(pid, (0, ""))[1]
                if "ordercli.local.server" in cmd:
                    return f"--port {self.port} " in cmd + " "
            return False

        return [
            pid
            for pid, (ppid, cmd) in procs.items()
            if "ordercli.local.zygote" in cmd
            and "ordercli.local.zygote" in procs.get(ppid, (0, ""))[1]
            and under_this_emulator(pid)
        ]

    def kill_workers(self, rounds: int, gap: float) -> Callable[[], str]:
        def during() -> str:
            killed = 0
            for _ in range(rounds):
                time.sleep(gap)
                pids = {*self.forked_workers()}
                for logical in FUNCTIONS:
                    pids.update(self.workers(logical))  # any started the slow way
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
            return f"{killed} workers killed in {rounds} rounds"

        return during

    def set_env(self, logical: str, change: dict[str, str | None]) -> None:
        """Set (or, with None, drop) environment variables of one function; its workers are
        replaced, as on Lambda after a configuration change."""
        name = f"{STACK}-{logical}"
        env = self.lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        for k, v in change.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self.lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})

    def sns_outage(self, after: float, seconds: float) -> Callable[[], str]:
        """Publishing fails for a while: the notifier is pointed at a topic that does not
        exist (the real topic and its subscription stay, so delivery is still counted)."""

        def during() -> str:
            time.sleep(after)
            self.set_env("SendNotification", {"TOPIC_ARN": self.topic + "-outage"})
            time.sleep(seconds)
            self.set_env("SendNotification", {"TOPIC_ARN": self.topic})
            return f"publishing failed for {seconds:.0f} s"

        return during

    def poison(self, conflicts: int) -> tuple[Callable[[], str], set[str]]:
        """Poison messages and pairs of different orders sharing one id, sent mid-run."""
        ids = {f"mix-{i}" for i in range(conflicts)}
        bodies = [
            "not json",
            "",
            "[" * 100_000 + "]" * 100_000,
            "[1, 2]",
            "null",
            "true",
            '{"order": null}',
            '{"order": {"orderId": "bad id!", "amount": 5}}',
            '{"order": {"orderId": "x\\n", "amount": 5}}',
            '{"order": {"orderId": "e-1", "amount": 1e3}}',
            '{"order": {"orderId": "z-1", "amount": -0}}',
            '{"order": {"orderId": "b-1", "amount": true}}',
        ]

        def during() -> str:
            time.sleep(1)
            for body in bodies:
                self.sqs.send_message(QueueUrl=self.queue, MessageBody=body)
            for i in range(conflicts):
                for amount in (10, 11):
                    body = {"order": {"orderId": f"mix-{i}", "amount": amount}}
                    self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(body))
            return f"{len(bodies)} poison, {conflicts} conflicting pairs"

        return during, ids

    def emulator_pid(self) -> int:
        state = Path(self.env["ORDERCLI_HOME"]) / f"emulator-{self.port}.json"
        return int(json.loads(state.read_text())["pid"])

    def crash(self, count: int, kill_at: float = 0.2) -> Row:
        """`kill -9` of the emulator and its workers (its process group, as a crash takes
        them) once a `kill_at` share of `count` acknowledged orders has finished, the rest
        running or queued; then `local start`, and every acknowledged order is accounted
        for once the restored emulator has finished them."""
        scenario = "kill -9 emulator"
        t0 = time.monotonic()
        print(f"{scenario}: {count} orders ...", file=sys.stderr, flush=True)
        # The notifications queue and its subscription were made outside `up`: a checkpoint
        # keeps them (a crash keeps the stack as of the last checkpoint).
        from ordercli.local.control import control_request

        control_request(self.port, "checkpoint", 10)
        out = self.ordercli("submit", "--local", "--stack", STACK, "--count", str(count), "--json")
        ids = {o["orderId"] for o in json.loads(out)["orders"] if o.get("accepted")}
        finished = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            finished = sum(
                1 for e in self.executions() if e["name"] in ids and e["status"] != "RUNNING"
            )
            if finished >= len(ids) * kill_at:
                break
            time.sleep(0.05)
        pid = self.emulator_pid()
        os.killpg(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists() and _proc_state(pid) not in ("Z", "X"):
            time.sleep(0.01)
        t1 = time.monotonic()
        started = json.loads(self.ordercli("local", "start", "--json"))
        start_seconds = time.monotonic() - t1
        last = started.get("last_start") or {}
        self.settle(ids, timeout=600)
        row = self.account(scenario, ids)
        row.seconds = time.monotonic() - t0
        row.note = (
            f"killed with {finished} finished; local start took {start_seconds:.1f} s, "
            f"restored {last.get('messages')} queued messages and {last.get('executions')} "
            f"executions, restarted {last.get('restarted')} from their input"
        )
        return row

    # -- one scenario ---------------------------------------------------------------------
    def run(
        self,
        scenario: str,
        count: int,
        during: Callable[[], str] | None = None,
        extra_ids: set[str] | None = None,
        check_summary: bool = False,
    ) -> Row:
        t0 = time.monotonic()
        print(f"{scenario}: {count} orders ...", file=sys.stderr, flush=True)
        notes: list[str] = []
        thread = None
        if during is not None:
            thread = threading.Thread(target=lambda: notes.append(during()), daemon=True)
            thread.start()
        out = subprocess.run(
            [
                ORDERCLI,
                "submit",
                "--local",
                "--stack",
                STACK,
                "--count",
                str(count),
                "--wait",
                "--timeout",
                "900",
                "--json",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if thread is not None:
            thread.join()
        report = json.loads(out.stdout)
        orders = report["orders"]
        ids = {o["orderId"] for o in orders if o.get("status") not in ("NOT_SENT", "REJECTED")}
        ids |= extra_ids or set()
        self.settle(ids)
        row = self.account(scenario, ids)
        row.seconds = time.monotonic() - t0
        if check_summary:
            notes.append(self.summary_check(report["summary"], ids))
        row.note = "; ".join(n for n in notes if n)
        return row

    def summary_check(self, summary: dict[str, Any], ids: set[str]) -> str:
        held = Counter(e["status"] for e in self.executions() if e["name"] in ids)
        ok = (
            summary.get("succeeded") == held["SUCCEEDED"]
            and summary.get("failed") == held["FAILED"]
        )
        return (
            f"submit summary {'matches' if ok else 'DIFFERS FROM'} the emulator "
            f"({summary.get('succeeded')}/{summary.get('failed')} vs "
            f"{held['SUCCEEDED']}/{held['FAILED']} succeeded/failed)"
        )

    def account(self, scenario: str, ids: set[str]) -> Row:
        row = Row(scenario, accepted=len(ids))
        names = Counter(e["name"] for e in self.executions())
        row.dup_executions = sum(n - 1 for n in names.values() if n > 1)
        arns = {e["name"]: e["executionArn"] for e in self.executions() if e["name"] in ids}
        dead = self.drain(self.dlq)
        dead_ids = set()
        for m in dead:
            attrs = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
            row.dead[attrs.get("ordercli.reason", "retries-exhausted")] += 1
            if attrs.get("ordercli.orderId"):
                dead_ids.add(attrs["ordercli.orderId"])
        told: Counter[str | None] = Counter()
        for m in self.drain(self.told):
            try:
                told[json.loads(m["Body"]).get("orderId")] += 1
            except ValueError:
                pass
        paid = self.payments()
        for order_id in ids:
            arn = arns.get(order_id)
            if arn is None:
                row.lost += order_id not in dead_ids
                continue
            d = self.sfn.describe_execution(executionArn=arn)
            if d["status"] == "RUNNING":
                row.lost += 1
                continue
            outcome = order_outcome(d["status"], d.get("error"), d.get("cause"), d.get("output"))
            if d["status"] == "SUCCEEDED":
                row.succeeded += 1
                txn = json.loads(d["output"]).get("payment", {}).get("transactionId")
                row.dup_payments += txn != paid.get(order_id)
            else:
                row.failed[d.get("error") or d["status"]] += 1
                row.paid_failed += order_id in paid
            if not told[order_id]:
                row.notif_missing += 1
                row.unreported += outcome.notified
        return row


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def fmt(c: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "-"


def print_table(rows: list[Row]) -> None:
    head = (
        "scenario",
        "accepted",
        "succeeded",
        "failed by reason",
        "dead-lettered by reason",
        "lost",
        "dup exec",
        "dup pay",
        "paid->failed",
        "notif missing (unreported)",
        "s",
    )
    body = [
        (
            r.scenario,
            str(r.accepted),
            str(r.succeeded),
            fmt(r.failed),
            fmt(r.dead),
            str(r.lost),
            str(r.dup_executions),
            str(r.dup_payments),
            str(r.paid_failed),
            f"{r.notif_missing} ({r.unreported})",
            f"{r.seconds:.0f}",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for b in body:
        print(" | ".join(x.ljust(w) for x, w in zip(b, widths, strict=True)))
    for r in rows:
        if r.note:
            print(f"  {r.scenario}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAULTS_PORT", "4611")))
    parser.add_argument(
        "--only",
        choices=("baseline", "workers", "consumer", "poison", "sns", "big", "crash"),
        action="append",
        help="run only these scenarios (repeatable)",
    )
    args = parser.parse_args()
    n, big, gap, outage = (100, 500, 1.5, 12.0) if args.quick else (1000, 5000, 4.0, 30.0)
    bench = Bench(args.port)
    rows: list[Row] = []

    def consumer_fails() -> Row:
        bench.set_env("StartOrderWorkflow", {FAULT_ENV: "0.05"})
        try:
            return bench.run("consumer fails 5%", n)
        finally:
            bench.set_env("StartOrderWorkflow", {FAULT_ENV: None})

    def poison() -> Row:
        during, mixed = bench.poison(max(5, n // 20))
        return bench.run("poison + conflicts", n, during, extra_ids=mixed)

    scenarios: dict[str, Callable[[], Row]] = {
        "baseline": lambda: bench.run("baseline", n),
        "workers": lambda: bench.run("kill -9 workers x3", n, bench.kill_workers(3, gap)),
        "consumer": consumer_fails,
        "poison": poison,
        "sns": lambda: bench.run("SNS outage", n, bench.sns_outage(1.0, outage)),
        "big": lambda: bench.run(f"{big} orders", big, check_summary=True),
        "crash": lambda: bench.crash(n),
    }
    try:
        bench.up()
        for name, scenario in scenarios.items():
            if not args.only or name in args.only:
                rows.append(scenario())
    finally:
        if rows:
            print(f"\nfaults.py{' --quick' if args.quick else ''} (local target, port {args.port})")
            print_table(rows)
        bench.stop()


if __name__ == "__main__":
    main()
