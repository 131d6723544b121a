"""Send orders to the queue (batches of 10 on a thread pool) and optionally follow them to
a terminal execution."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lambda_src.order import Order
from ordercli.aws import error_code
from ordercli.names import Names
from ordercli.operate.status import list_executions

BATCH = 10
SEND_ATTEMPTS = 4
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class OrderResult:
    order_id: str
    status: str  # NOT_SENT | QUEUED | RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    error: str | None = None
    cause: str | None = None
    sent_at: float | None = None
    stopped_at: float | None = None

    @property
    def latency(self) -> float | None:
        if self.sent_at is None or self.stopped_at is None:
            return None
        return max(0.0, self.stopped_at - self.sent_at)

    def to_json(self) -> dict[str, Any]:
        lat = self.latency
        return {
            "orderId": self.order_id,
            "status": self.status,
            "error": self.error,
            "cause": self.cause,
            "latency_ms": None if lat is None else round(lat * 1000, 1),
        }


@dataclass
class SubmitReport:
    results: list[OrderResult]
    waited: bool = False
    rejected: list[Any] = field(default_factory=list)

    @property
    def not_sent(self) -> list[OrderResult]:
        return [r for r in self.results if r.status == "NOT_SENT"]

    def summary(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        by_error: dict[str, int] = {}
        for r in self.results:
            by_status[r.status] = by_status.get(r.status, 0) + 1
            if r.status in ("FAILED", "TIMED_OUT", "ABORTED"):
                key = r.error or r.status
                by_error[key] = by_error.get(key, 0) + 1
        lat = sorted(x for x in (r.latency for r in self.results) if x is not None)
        out: dict[str, Any] = {
            "submitted": len(self.results) + len(self.rejected),
            "sent": len(self.results) - len(self.not_sent),
            "not_sent": len(self.not_sent),
            "rejected": len(self.rejected),
            "succeeded": by_status.get("SUCCEEDED", 0),
            "failed": sum(by_error.values()),
            "failed_by_error": by_error,
            "pending": sum(by_status.get(s, 0) for s in ("QUEUED", "RUNNING")),
        }
        if lat:
            out["latency_ms"] = {
                "p50": round(_pct(lat, 50) * 1000, 1),
                "p95": round(_pct(lat, 95) * 1000, 1),
                "max": round(lat[-1] * 1000, 1),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": [r.to_json() for r in self.results],
            "summary": self.summary(),
            "rejected": [r.to_json() for r in self.rejected],
        }


def _pct(sorted_values: Sequence[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


class Pacer:
    """Spreads sends over time at `rate` orders per second, shared by every sending thread."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.sleep = sleep
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + n / self.rate
        if slot > now:
            self.sleep(slot - now)


def send_orders(
    sqs: Any,
    queue_url: str,
    orders: Sequence[Order],
    *,
    concurrency: int = 8,
    rate: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[OrderResult]:
    """SendMessageBatch in tens on `concurrency` threads; a batch's failed entries are
    retried with backoff, and an order that still cannot be sent is marked NOT_SENT."""
    results = [OrderResult(o.order_id, "NOT_SENT") for o in orders]
    bodies = [json.dumps(o.message(), separators=(",", ":")) for o in orders]
    pacer = Pacer(rate, sleep)
    lock = threading.Lock()
    counts = [0, 0]  # sent, failed

    def one_batch(start: int) -> None:
        pending = list(range(start, min(start + BATCH, len(orders))))
        pacer.take(len(pending))
        reasons: dict[int, str] = {}
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                sleep(0.2 * 2**attempt)
            try:
                answer = sqs.send_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "MessageBody": bodies[i]} for i in pending],
                )
            except Exception as exc:  # the whole call failed: retry every entry
                reasons = dict.fromkeys(pending, f"{type(exc).__name__}: {exc}")
                continue
            now = time.time()
            for ok in answer.get("Successful", []):
                r = results[int(ok["Id"])]
                r.status, r.sent_at = "QUEUED", now
            failed = answer.get("Failed", [])
            reasons = {int(f["Id"]): f"{f.get('Code')}: {f.get('Message', '')}" for f in failed}
            pending = [int(f["Id"]) for f in failed if not f.get("SenderFault")]
            for f in failed:
                if f.get("SenderFault"):
                    results[int(f["Id"])].cause = reasons[int(f["Id"])]
            if not pending:
                break
        for i in pending:
            results[i].cause = reasons.get(i, "not sent")
        with lock:
            counts[0] += sum(
                1
                for i in range(start, min(start + BATCH, len(orders)))
                if results[i].status == "QUEUED"
            )
            counts[1] = sum(1 for r in results if r.cause and r.status == "NOT_SENT")
            if on_progress:
                on_progress(counts[0], len(orders))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(one_batch, range(0, len(orders), BATCH)))
    return results


FOLLOW_EACH = 25  # at most this many orders still running: describe each, and poll faster


def wait_for(
    sfn: Any,
    names: Names,
    results: Sequence[OrderResult],
    *,
    timeout: float,
    on_progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock_slack: float = 60.0,
) -> None:
    """Follow sent orders until every one has a terminal execution or time runs out.
    While many are running, each poll lists the executions the run started, as often as the
    pace of the run calls for (next_poll); once few are left, each poll describes just
    those, every quarter second, so the end of a run is seen soon after it comes."""
    waiting = {r.order_id: r for r in results if r.status not in ("NOT_SENT", *TERMINAL)}
    deadline = time.monotonic() + timeout
    total = len(waiting)
    last_poll, last_waiting = time.monotonic(), total
    with ThreadPoolExecutor(max_workers=8) as pool:
        while waiting:
            detailed = len(waiting) <= FOLLOW_EACH
            if detailed:
                found = described(sfn, names, list(waiting), pool)
            else:
                # Newest first, in small pages, back to the first send of an order still
                # waiting (less the skew there may be between this machine's clock and the
                # service's): no order still waiting started before it, so the listing
                # shrinks as the run ends, and older history is never serialized.
                sent = [r.sent_at for r in waiting.values() if r.sent_at is not None]
                since = min(sent) - clock_slack if sent else None
                found = list_executions(sfn, names, since, page_size=100)
            finished = [
                waiting.pop(order_id)
                for order_id, e in found.items()
                if order_id in waiting and _record(waiting[order_id], e, detailed)
            ]
            failed = [r for r in finished if r.status != "SUCCEEDED" and not detailed]
            details = described(sfn, names, [r.order_id for r in failed], pool)
            for r in failed:
                r.error, r.cause = (
                    details[r.order_id].get("error"),
                    details[r.order_id].get("cause"),
                )
            if on_progress:
                on_progress(total - len(waiting), total)
            now = time.monotonic()
            if not waiting or now >= deadline:
                break
            pace = (last_waiting - len(waiting)) / max(now - last_poll, 1e-3)
            last_poll, last_waiting = now, len(waiting)
            sleep(next_poll(len(waiting), pace))


def next_poll(left: int, pace: float) -> float:
    """Seconds to the next poll: half the time the rest should take at the pace seen since
    the last one, between 0.25 and 1 s, so a large run is not listed over and over while
    far from done, and the end of a run is seen soon after it comes."""
    if left <= FOLLOW_EACH:
        return 0.25
    if pace <= 0:
        return 1.0
    return min(1.0, max(0.25, left / pace / 2))


def _record(r: OrderResult, e: dict[str, Any], detailed: bool) -> bool:
    """Take an execution's status (and, from a description, its error) into the order's
    result; whether it is terminal."""
    r.status = e["status"]
    if r.status not in TERMINAL:
        return False
    r.stopped_at = e["stopDate"].timestamp() if e.get("stopDate") else time.time()
    if detailed:
        r.error, r.cause = e.get("error"), e.get("cause")
    return True


def described(
    sfn: Any, names: Names, order_ids: Sequence[str], pool: ThreadPoolExecutor
) -> dict[str, dict[str, Any]]:
    """The executions of these orders by orderId, described one by one (an order whose
    execution has not started yet is left out)."""

    def one(order_id: str) -> dict[str, Any] | None:
        try:
            d: dict[str, Any] = sfn.describe_execution(executionArn=names.execution_arn(order_id))
            return d
        except Exception as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise

    return {
        order_id: d
        for order_id, d in zip(order_ids, pool.map(one, order_ids), strict=True)
        if d is not None
    }


def queue_url(ctx: Any) -> str:
    """The stack's queue, or a clear error if the stack is not deployed."""
    from ordercli.deploy.resources.queue import find_url
    from ordercli.errors import NotFound

    url = find_url(ctx.aws.client("sqs"), ctx.names.queue)
    if url is None:
        raise NotFound(
            f"Stack '{ctx.settings.stack}' has no queue {ctx.names.queue} on {ctx.target.label}.",
            hint="Deploy it first: ordercli up" + (" --local" if ctx.target.is_local else ""),
        )
    return url


def submit(
    ctx: Any,
    orders: Sequence[Order],
    *,
    rejected: Sequence[Any] = (),
    wait: bool = False,
    timeout: float = 300.0,
    concurrency: int = 8,
    rate: float | None = None,
    on_sent: Callable[[int, int], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> SubmitReport:
    url = queue_url(ctx)
    results = send_orders(
        ctx.aws.client("sqs"), url, orders, concurrency=concurrency, rate=rate, on_progress=on_sent
    )
    report = SubmitReport(results, wait, list(rejected))
    if wait:
        wait_for(
            ctx.aws.client("stepfunctions"),
            ctx.names,
            results,
            timeout=timeout,
            on_progress=on_done,
            clock_slack=1.0 if ctx.target.is_local else 60.0,  # the emulator shares our clock
        )
    return report
