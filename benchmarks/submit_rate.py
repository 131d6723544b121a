"""`submit --rate`: the rate held. In process, `send_orders` (the code `submit` runs) against
a queue that answers each SendMessageBatch after 20 ms, on the real clock; then end to end,
`ordercli submit --rate 2 --json` on a plain moto server, measured from each order's
`sent_at`. Bar: within 5% of the asked rate over the first 10 s, no burst in the first second.

usage: python benchmarks/submit_rate.py"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import datetime
from typing import Any

from _common import ORDERCLI, client, fake_aws_env, moto_server, row

from ordercli.operate.orders_input import generate
from ordercli.operate.submit import send_orders


class SlowQueue:
    """Accepts every entry after `latency` seconds; records when each call began."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.starts: list[float] = []
        self.lock = threading.Lock()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        with self.lock:
            self.starts.extend([time.monotonic()] * len(Entries))
        time.sleep(self.latency)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def report(label: str, rate: float, stamps: list[float]) -> None:
    first = min(stamps)
    times = sorted(t - first for t in stamps)
    in_10s = sum(1 for t in times if t < 10.0) / 10.0
    first_s = sum(1 for t in times if t < 1.0)
    row(
        label,
        f"{in_10s:.2f}/s over the first 10 s ({(in_10s / rate - 1) * 100:+.1f}%), "
        f"{first_s} in the first second",
    )


def main() -> None:
    for rate in (2.0, 20.0, 100.0, 500.0):
        queue = SlowQueue(0.02)
        send_orders(queue, "q", generate(int(rate * 11)), rate=rate)
        report(f"send_orders --rate {rate:g} (20 ms queue)", rate, queue.starts)
    with moto_server() as endpoint:
        client("sqs", endpoint).create_queue(QueueName="rate-orders")
        out = subprocess.run(
            [ORDERCLI, "submit", "--stack", "rate", "--count", "24", "--rate", "2", "--json"],
            env=fake_aws_env(endpoint),
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        stamps = [
            datetime.fromisoformat(o["sent_at"].replace("Z", "+00:00")).timestamp()
            for o in json.loads(out)["orders"]
        ]
        report("ordercli submit --rate 2 (moto server, sent_at)", 2.0, stamps)


if __name__ == "__main__":
    main()
