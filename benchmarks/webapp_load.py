"""POST /submit-order on the local target with 1, 8 and 32 concurrent clients: requests/s
and p50/p99 latency, as a table.

usage: python benchmarks/webapp_load.py [--requests 400]"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from _common import local_emulator, up_local


def post(url: str, i: int) -> float:
    body = json.dumps({"customerName": f"c{i}", "product": "p", "amount": 1}).encode()
    req = urllib.request.Request(
        url + "/submit-order",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 202
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with local_emulator() as env:
        out = up_local(env, "--json")
        url = json.loads(out)["outputs"]["webapp_url"]
        for i in range(20):
            post(url, i)  # warm up
        print(f"{'clients':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for clients in (1, 8, 32):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                lat = sorted(pool.map(lambda i: post(url, i), range(args.requests)))
            wall = time.perf_counter() - t0
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(
                f"{clients:>8} {args.requests / wall:>8.0f} {statistics.median(lat) * 1000:>8.1f}"
                f" {p99 * 1000:>8.1f}"
            )


if __name__ == "__main__":
    main()
