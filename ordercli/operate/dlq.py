"""`dlq`: look at dead-lettered orders without consuming them, and move them back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ordercli.aws import error_code
from ordercli.operate.status import queue_depth

PEEK_VISIBILITY = 30  # seconds the listed messages stay hidden before we release them
MOVE_UNSUPPORTED = (
    "UnsupportedOperation",
    "InvalidAction",
    "NotImplemented",
    "UnknownOperationException",
    "InvalidParameterValue",
)


# The message attributes a dead letter carries (set by the consumer, lambda_src/
# start_order_workflow.py): why it is there, the last error, and the orderId when readable.
REASON, ERROR, ORDER_ID = "ordercli.reason", "ordercli.error", "ordercli.orderId"
REASONS = ("not-json", "invalid-order", "order-id-conflict", "retries-exhausted")
REDRIVEN = "retries-exhausted"  # what SQS's own redrive means: every receive failed


@dataclass(frozen=True)
class DeadLetter:
    """One message in the DLQ, read without consuming it."""

    message_id: str
    order_id: str | None
    reason: str
    error: str
    sent_at: str | None  # when it reached the DLQ (the consumer's send), or was first sent
    body: str
    receive_count: int = 0  # receives before ours

    def to_json(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "orderId": self.order_id} | {
            k: v for k, v in asdict(self).items() if k not in ("message_id", "order_id")
        }


def _order_id(body: str) -> str | None:
    try:
        data = json.loads(body)
        value = data.get("order", {}).get("orderId")
        return value if isinstance(value, str) else None
    except (ValueError, AttributeError, RecursionError):
        return None


def _iso(millis: str | None) -> str | None:
    if not millis:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(millis) / 1000))


def dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    """A received DLQ message as a DeadLetter. One without our attributes was moved by SQS's
    redrive after maxReceiveCount failed receives."""
    attrs = message.get("Attributes", {})
    tags = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
    count = max(0, int(attrs.get("ApproximateReceiveCount", "1")) - 1)
    reason = tags.get(REASON) or REDRIVEN
    error = tags.get(ERROR) or (
        "every receive failed; SQS moved it here after maxReceiveCount"
        if REASON not in tags
        else ""
    )
    return DeadLetter(
        message_id=message["MessageId"],
        order_id=tags.get(ORDER_ID) or _order_id(message["Body"]),
        reason=reason,
        error=error,
        sent_at=_iso(attrs.get("SentTimestamp")),
        body=message["Body"],
        receive_count=count,
    )


def dead_letters(ctx: Any, limit: int = 1000) -> list[DeadLetter]:
    """Every message in the DLQ (up to `limit`), released again right after reading."""
    sqs = ctx.aws.client("sqs")
    depth = queue_depth(sqs, ctx.names.dlq)
    return _read(sqs, depth["url"], limit) if depth["exists"] else []


def move_task_unsupported(exc: BaseException) -> bool:
    """Whether the endpoint lacks SQS's message move task. Emulators do (moto in-process
    raises NotImplementedError; its server answers an error naming the missing action)."""
    text = str(exc).lower()
    return (
        isinstance(exc, NotImplementedError)
        or error_code(exc) in MOVE_UNSUPPORTED
        or "not been implemented" in text
        or "not yet implemented" in text
    )


def list_dead_letters(ctx: Any, limit: int = 1000) -> dict[str, Any]:
    """The DLQ's depth and its messages as JSON-ready dicts (for `dlq` and `dlq --json`)."""
    sqs = ctx.aws.client("sqs")
    depth = queue_depth(sqs, ctx.names.dlq)
    if not depth["exists"]:
        return {"dlq": depth, "messages": []}
    letters = _read(sqs, depth["url"], limit)
    messages = [{**d.to_json(), "body": d.body[:200]} for d in letters]
    return {"dlq": {**depth, "visible": len(letters)}, "messages": messages}


def _read(sqs: Any, url: str, limit: int) -> list[DeadLetter]:
    seen: dict[str, DeadLetter] = {}
    receipts: list[str] = []
    empty = 0
    while len(seen) < limit and empty < 2:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=PEEK_VISIBILITY,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            empty += 1
            continue
        for m in got:
            receipts.append(m["ReceiptHandle"])
            seen.setdefault(m["MessageId"], dead_letter(m))
    _release(sqs, url, receipts)
    return list(seen.values())


def _release(sqs: Any, url: str, receipts: list[str]) -> None:
    for i in range(0, len(receipts), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": r, "VisibilityTimeout": 0}
            for n, r in enumerate(receipts[i : i + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def redrive(ctx: Any, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """SQS's own move task where the service has it; otherwise copy-then-delete ourselves,
    so a crash mid-way duplicates at worst and never loses (the orderId makes a duplicate
    harmless)."""
    sqs = ctx.aws.client("sqs")
    dlq, queue = queue_depth(sqs, ctx.names.dlq), queue_depth(sqs, ctx.names.queue)
    if not dlq["exists"] or not queue["exists"]:
        from ordercli.errors import NotFound

        raise NotFound(
            f"Stack '{ctx.settings.stack}' is not deployed on {ctx.target.label}.",
            hint="ordercli up" + (" --local" if ctx.target.is_local else ""),
        )
    if not ctx.target.is_local:
        try:
            return _move_task(ctx, sqs, on_progress)
        except Exception as exc:
            if not move_task_unsupported(exc):
                raise
    return _move_by_copy(sqs, dlq["url"], queue["url"], on_progress)


def _move_task(
    ctx: Any, sqs: Any, on_progress: Callable[[int, int], None] | None
) -> dict[str, Any]:
    names = ctx.names
    handle = sqs.start_message_move_task(SourceArn=names.dlq_arn, DestinationArn=names.queue_arn())
    handle = handle["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=names.dlq_arn, MaxResults=1)["Results"]
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        total = int(task.get("ApproximateNumberOfMessagesToMove", moved) or moved)
        if on_progress:
            on_progress(moved, total)
        if task.get("Status") in ("COMPLETED", "FAILED", "CANCELLED"):
            return {
                "moved": moved,
                "method": "StartMessageMoveTask",
                "status": task.get("Status"),
                "failure": task.get("FailureReason"),
            }
        ctx.aws.sleep(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def _move_by_copy(
    sqs: Any, src: str, dst: str, on_progress: Callable[[int, int], None] | None
) -> dict[str, Any]:
    """Move what the DLQ held when the move began. A message dead-lettered again meanwhile
    (the consumer sends poison straight back) is left for the next look, not moved in a loop."""
    started_ms = now_ms()
    moved = 0
    kept: list[str] = []  # receipts of the later ones, released at the end
    while True:
        got = sqs.receive_message(
            QueueUrl=src,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        if not got:
            break
        later = [m for m in got if int(m["Attributes"]["SentTimestamp"]) > started_ms]
        kept += [m["ReceiptHandle"] for m in later]
        got = [m for m in got if m not in later]
        if not got:
            continue
        sent = sqs.send_message_batch(
            QueueUrl=dst,
            Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(got)],
        )
        ok = {int(s["Id"]) for s in sent.get("Successful", [])}
        done = [m for i, m in enumerate(got) if i in ok]
        if done:
            sqs.delete_message_batch(
                QueueUrl=src,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        moved += len(done)
        if on_progress:
            on_progress(moved, moved)
        if len(done) < len(got):
            break  # what could not be sent stays in the DLQ, visible again after 60 s
    _release(sqs, src, kept)
    return {"moved": moved, "method": "copy-then-delete", "status": "COMPLETED"}
