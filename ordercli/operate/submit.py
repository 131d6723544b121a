"""Send orders to the queue (batches of 10 on a thread pool) and optionally follow them to
a terminal execution."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambda_src.order import Order, OrderInvalid, loads_strict, order_from_message
from ordercli.aws import error_code
from ordercli.names import Names
from ordercli.operate.status import list_executions

BATCH = 10
# Sending threads by default. On the local target the queue's consumer runs in the same
# process as the queue: 16 batches in flight held the send rate of `submit --count 2000`
# at 1.9 ms an order against 2.9 ms with 8 while the pipeline ran (quiet 2-core machine).
SEND_THREADS = 16
SEND_ATTEMPTS = 4
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "DEAD_LETTERED")
FAILED_STATES = ("FAILED", "TIMED_OUT", "ABORTED")
DLQ_EVERY = 3.0  # seconds between looks at the DLQ while orders are waiting


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@dataclass
class OrderResult:
    order_id: str
    # NOT_SENT | QUEUED | RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | DEAD_LETTERED
    status: str
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
            "accepted": self.status != "NOT_SENT",
            "error": self.error,
            "cause": self.cause,
            "sent_at": iso(self.sent_at),
            "stopped_at": iso(self.stopped_at),
            "latency_ms": None if lat is None else round(lat * 1000, 1),
        }


@dataclass
class SubmitReport:
    results: list[OrderResult]
    waited: bool = False
    rejected: list[Any] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: what was accepted until then is still reported
    error: Any = None  # an OrderCliError that ended the run early (endpoint gone)

    @property
    def not_sent(self) -> list[OrderResult]:
        return [r for r in self.results if r.status == "NOT_SENT"]

    def summary(self) -> dict[str, Any]:
        """Counts that add up: sent = succeeded + failed + dead_lettered + pending."""
        by_status: dict[str, int] = {}
        by_error: dict[str, int] = {}
        by_reason: dict[str, int] = {}
        for r in self.results:
            by_status[r.status] = by_status.get(r.status, 0) + 1
            if r.status in FAILED_STATES:
                key = r.error or r.status
                by_error[key] = by_error.get(key, 0) + 1
            elif r.status == "DEAD_LETTERED":
                key = r.error or "unknown"
                by_reason[key] = by_reason.get(key, 0) + 1
        lat = sorted(x for x in (r.latency for r in self.results) if x is not None)
        not_sent = by_status.get("NOT_SENT", 0)
        out: dict[str, Any] = {
            "submitted": len(self.results) + len(self.rejected),
            "sent": len(self.results) - not_sent,
            "not_sent": not_sent,
            "rejected": len(self.rejected),
            "succeeded": by_status.get("SUCCEEDED", 0),
            "failed": sum(by_error.values()),
            "failed_by_error": by_error,
            "dead_lettered": sum(by_reason.values()),
            "dead_lettered_by_reason": by_reason,
            "pending": sum(by_status.get(s, 0) for s in ("QUEUED", "RUNNING")),
            "latency_ms": None,
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
            "waited": self.waited,
            "interrupted": self.interrupted,
            "error": None
            if self.error is None
            else {"message": self.error.message, "hint": self.error.hint},
        }


def _pct(sorted_values: Sequence[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def batch_size(rate: float | None) -> int:
    """Orders per SendMessageBatch: ten unpaced; paced, small enough that a batch goes out
    at most every tenth of a second, so no burst runs ahead of the asked rate."""
    if not rate:
        return BATCH
    return max(1, min(BATCH, int(rate / 10)))


class Pacer:
    """Spreads sends over time at `rate` orders per second, shared by every sending thread.
    A batch waits for its slot *before* it is sent: batch k goes at k * size / rate."""

    def __init__(
        self,
        rate: float | None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.sleep = sleep
        self.clock = clock
        self._next: float | None = None
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = self.clock()
            slot = now if self._next is None else max(self._next, now)
            self._next = slot + n / self.rate
        if slot > now:
            self.sleep(slot - now)


class Unreachable(Exception):
    """The endpoint cannot be reached: the rest of the run is not attempted."""


def _fatal(exc: BaseException) -> bool:
    import botocore.exceptions as bex

    return isinstance(
        exc,
        bex.EndpointConnectionError
        | bex.ConnectTimeoutError
        | bex.NoCredentialsError
        | bex.PartialCredentialsError,
    )


@dataclass
class SendOutcome:
    results: list[OrderResult]
    interrupted: bool = False
    fatal: BaseException | None = None


def send_orders(
    sqs: Any,
    queue_url: str,
    orders: Sequence[Order],
    *,
    concurrency: int = SEND_THREADS,
    rate: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SendOutcome:
    """SendMessageBatch on `concurrency` threads, paced before each batch; a batch's failed
    entries are retried with backoff, and an order that still cannot be sent is NOT_SENT.
    An unreachable endpoint or Ctrl-C stops the batches not yet sent; every order's result
    says whether it was accepted."""
    results = [OrderResult(o.order_id, "NOT_SENT") for o in orders]
    bodies = [json.dumps(o.message(), separators=(",", ":")) for o in orders]
    stop = threading.Event()
    nap = sleep or stop.wait  # an interrupted run wakes paced threads at once
    pacer = Pacer(rate, nap, clock)
    size = batch_size(rate)
    lock = threading.Lock()
    sent = [0]
    fatal: list[BaseException] = []

    def one_batch(start: int) -> None:
        pending = list(range(start, min(start + size, len(orders))))
        if stop.is_set():
            for i in pending:
                results[i].cause = "not attempted: the run was stopped"
            return
        pacer.take(len(pending))
        reasons: dict[int, str] = {}
        for attempt in range(SEND_ATTEMPTS):
            if stop.is_set():
                break
            if attempt:
                nap(0.2 * 2**attempt)
            try:
                answer = sqs.send_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "MessageBody": bodies[i]} for i in pending],
                )
            except KeyboardInterrupt:  # stop the other threads too; the caller reports
                stop.set()
                raise
            except Exception as exc:  # the whole call failed: retry every entry
                reasons = dict.fromkeys(pending, f"{type(exc).__name__}: {exc}")
                if _fatal(exc):
                    with lock:
                        fatal.append(exc)
                    stop.set()
                    break
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
            results[i].cause = reasons.get(i, "not attempted: the run was stopped")
        accepted = sum(
            1 for i in range(start, start + size) if i < len(orders) and results[i].sent_at
        )
        with lock:  # O(batch) per batch: the count is kept, never recomputed
            sent[0] += accepted
            if on_progress:
                on_progress(sent[0], len(orders))

    interrupted = False
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        futures = [pool.submit(one_batch, i) for i in range(0, len(orders), size)]
        for f in futures:
            f.result()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for r in results:
        if r.status == "NOT_SENT" and r.cause is None:
            r.cause = "not attempted: the run was stopped"
    return SendOutcome(results, interrupted, fatal[0] if fatal else None)


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
    dead_letters: Callable[[], Sequence[Any]] | None = None,
    expected: Mapping[str, Order] | None = None,
    closings: Any = None,
) -> None:
    """Follow sent orders until every one has a terminal execution, or is in the DLQ, or
    time runs out. While many are running, each poll lists the executions the run started,
    as often as the pace of the run calls for (next_poll); once few are left, each poll
    describes just those, every quarter second, so the end of a run is seen soon after it
    comes. An orderId the user chose (`expected`) counts only when the execution's input is
    this order: another order under the same id is never reported as this one's result.
    With `closings` (a started ordercli.operate.follow.ClosingsFeed, on the local target)
    each step instead waits for the executions that close, and costs only what closed."""
    expected = expected or {}
    foreign: set[str] = set()  # ids whose execution holds another order: the DLQ decides
    waiting = {r.order_id: r for r in results if r.status not in ("NOT_SENT", *TERMINAL)}
    deadline = time.monotonic() + timeout
    total = len(waiting)
    last_poll, last_waiting = time.monotonic(), total
    last_dlq = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while waiting:
            if dead_letters is not None and time.monotonic() - last_dlq >= DLQ_EVERY:
                last_dlq = time.monotonic()
                _take_dead_letters(waiting, dead_letters(), clock_slack)
            detailed = len(waiting) <= FOLLOW_EACH or closings is not None
            fed = None
            if closings is not None:
                fed = closings.next(max(0.0, min(DLQ_EVERY, deadline - time.monotonic())))
                if fed is None:  # the feed cannot say: describe and list from here on
                    closings, detailed = None, len(waiting) <= FOLLOW_EACH
            if fed is not None:
                found = fed
            elif detailed:
                found = described(sfn, names, [k for k in waiting if k not in foreign], pool)
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
                if order_id in waiting
                and order_id not in foreign
                and _record(waiting[order_id], e, detailed)
            ]
            chosen = [r for r in finished if r.order_id in expected]
            if chosen:
                inputs = (
                    found
                    if detailed and fed is None
                    else described(sfn, names, [r.order_id for r in chosen], pool)
                )
                for r in chosen:
                    if not same_order(expected[r.order_id], inputs[r.order_id].get("input")):
                        finished.remove(r)
                        r.status, r.stopped_at, r.error = "QUEUED", None, None
                        r.cause = "an execution with this orderId holds another order"
                        waiting[r.order_id] = r
                        foreign.add(r.order_id)
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
            if waiting and now >= deadline and dead_letters is not None:
                # a last look before giving up
                _take_dead_letters(waiting, dead_letters(), clock_slack)
                if on_progress:
                    on_progress(total - len(waiting), total)
            if waiting and now >= deadline and closings is not None:
                # the feed says only what closed: describe what is left, so an order still
                # running reads RUNNING (not QUEUED), as when the run is listed
                for order_id, e in described(sfn, names, list(waiting), pool).items():
                    if order_id not in foreign and _record(waiting[order_id], e, True):
                        waiting.pop(order_id)
            if not waiting or now >= deadline:
                break
            if closings is not None:
                continue  # the next ask waits for closings itself
            pace = (last_waiting - len(waiting)) / max(now - last_poll, 1e-3)
            last_poll, last_waiting = now, len(waiting)
            sleep(next_poll(len(waiting), pace))


def same_order(order: Order, execution_input: str | None) -> bool:
    """Whether an execution's input is this very order (as the consumer compares them)."""
    try:
        return order_from_message(loads_strict(execution_input or "")) == order
    except (OrderInvalid, ValueError, RecursionError):
        return False


def _take_dead_letters(
    waiting: dict[str, OrderResult], letters: Sequence[Any], clock_slack: float
) -> None:
    """Orders still waiting whose message is in the DLQ end DEAD_LETTERED, with its reason
    as the error and its one-line error as the cause. A letter older than the order's send
    (an earlier order under the same id, dead-lettered before) is not this order's."""
    for letter in letters:
        r = waiting.get(letter.order_id) if letter.order_id else None
        if r is None or _before(letter.sent_at, r.sent_at, clock_slack):
            continue
        del waiting[r.order_id]
        r.status, r.error, r.cause = "DEAD_LETTERED", letter.reason, letter.error
        r.stopped_at = time.time()


def _before(iso: str | None, sent_at: float | None, slack: float) -> bool:
    """Whether a DLQ time (whole seconds) is plainly before `sent_at` (epoch seconds)."""
    if iso is None or sent_at is None:
        return False
    from datetime import datetime

    when = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return when + 1 + slack < sent_at


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


def refuse_existing(ctx: Any, order_ids: Sequence[str]) -> None:
    """An orderId the user chose that already has an execution is a different order under
    a taken id: refuse the whole submit (exit 2) before anything is sent."""
    if not order_ids:
        return
    from ordercli.errors import UsageError

    sfn = ctx.aws.client("stepfunctions")
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = described(sfn, ctx.names, list(order_ids), pool)
    if not found:
        return
    taken = [f"{oid} ({found[oid]['status']})" for oid in order_ids if oid in found]
    first = next(oid for oid in order_ids if oid in found)
    raise UsageError(
        f"orderId {first} already has an execution ({found[first]['status']})"
        + (f"; so do {len(taken) - 1} more: {', '.join(taken[1:10])}" if len(taken) > 1 else "")
        + "; nothing was sent",
        hint=f"Leave the orderId out to get a new one, or look at the existing order: "
        f"{ctx.command('status ' + first)}",
    )


def submit(
    ctx: Any,
    orders: Sequence[Order],
    url: str,
    *,
    rejected: Sequence[Any] = (),
    wait: bool = False,
    timeout: float = 300.0,
    concurrency: int = SEND_THREADS,
    rate: float | None = None,
    on_sent: Callable[[int, int], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
    explicit_ids: Sequence[str] = (),
) -> SubmitReport:
    """Send, then (with wait) follow. Whatever ends the run early (an unreachable endpoint,
    Ctrl-C) ends up in the report, which still lists every order as accepted or not."""
    closings = None
    if wait and ctx.target.is_local:
        from ordercli.operate.follow import ClosingsFeed

        closings = ClosingsFeed(ctx.target.endpoint_url, ctx.names.state_machine_arn)
        if not closings.start():  # started before sending: none of these orders can close first
            closings = None
    sent = send_orders(
        ctx.aws.client("sqs"), url, orders, concurrency=concurrency, rate=rate, on_progress=on_sent
    )
    report = SubmitReport(sent.results, wait, list(rejected), interrupted=sent.interrupted)
    if sent.fatal is not None:
        report.error = ctx.translate(sent.fatal)
        return report
    if wait and not report.interrupted:
        chosen_ids = set(explicit_ids)
        try:
            wait_for(
                ctx.aws.client("stepfunctions"),
                ctx.names,
                sent.results,
                timeout=timeout,
                on_progress=on_done,
                clock_slack=1.0 if ctx.target.is_local else 60.0,  # the emulator shares our clock
                dead_letters=lambda: read_dead_letters(ctx),
                expected={o.order_id: o for o in orders if o.order_id in chosen_ids},
                closings=closings,
            )
        except KeyboardInterrupt:
            report.interrupted = True
        except Exception as exc:
            report.error = ctx.translate(exc)
            if report.error is None:
                raise
    return report


def read_dead_letters(ctx: Any) -> Sequence[Any]:
    """The DLQ's messages (ordercli.operate.dlq's reader: reason and error per message)."""
    from ordercli.operate.dlq import dead_letters

    return dead_letters(ctx)
