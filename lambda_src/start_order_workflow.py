"""StartOrderWorkflow: the queue consumer. One execution per order, named after its orderId.

Every record ends in one of four ways:
- started (or the same order was already started: a duplicate delivery) -> done;
- it can never succeed (not JSON, no valid order, an orderId already used by a different
  order) -> sent to the DLQ at once with its reason, then done;
- StartExecution is throttled past this invocation's time -> re-sent to the queue with a
  delay, then done, so throttling never uses up the record's receives;
- another failure -> reported back (partial batch failure) for SQS to retry; on its last
  allowed receive it is dead-lettered here with reason `retries-exhausted` and the last error.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

from .order import (
    OrderInvalid,
    handler_log,
    on_lambda,
    order_from_message,
    parse_amount,
    parse_order_id,
)

log = handler_log()

STEP = "StartOrderWorkflow"
REASON, ERROR, ORDER_ID = "ordercli.reason", "ordercli.error", "ordercli.orderId"
MAX_ERROR = 300
TIME_MARGIN_MS = 3000  # left for dead-lettering and re-sending after the last retry
DEFAULT_BUDGET_MS = 5000  # without a Lambda context (tests, direct calls)
RESEND_DELAY = (2, 10)  # seconds a still-throttled record waits before its next try
FAULT_ENV = "ORDERCLI_FAULT_CONSUMER_RATE"  # local fault knob: share of records failing

_client_lock = threading.Lock()
sleep: Callable[[float], None] = time.sleep  # replaced in tests


@cache
def _client(service: str) -> Any:
    # Created lazily (a client made at import time escapes test mocks) and under a lock:
    # boto3's default session must not build clients from several threads at once.
    with _client_lock:
        import boto3

        return boto3.client(service)


def _sfn() -> Any:
    return _client("stepfunctions")


def _sqs() -> Any:
    return _client("sqs")


if on_lambda():
    _sfn()  # the dead-letter client is made when first needed


class Poison(Exception):
    """A record that can never succeed: it goes to the DLQ at once."""

    def __init__(self, reason: str, error: str, order_id: str | None = None) -> None:
        super().__init__(error)
        self.reason, self.error, self.order_id = reason, error, order_id


class Throttled(Exception):
    """StartExecution still throttled when this invocation's time ran out."""


class InjectedFault(Exception):
    """A transient failure injected by the local fault knob (never set on AWS)."""


@dataclass(frozen=True)
class Result:
    """How one record ended: started | duplicate | dead-lettered | resent | retry."""

    message_id: str
    outcome: str
    order_id: str | None = None

    def failure(self) -> dict[str, str] | None:
        return {"itemIdentifier": self.message_id} if self.outcome == "retry" else None


# -- reading a record ---------------------------------------------------------------------
class Literal(str):
    """A JSON number with a fraction or exponent, kept as written."""


@dataclass(frozen=True)
class Message:
    """A readable record: its orderId and the workflow input to start it with."""

    order_id: str
    data: dict[str, Any]
    input: str


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise Poison("invalid-order", f"duplicate key {k!r}: which one counts is ambiguous")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(body: str) -> Any:
    try:
        return json.loads(
            body,
            parse_float=Literal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except RecursionError:
        raise Poison("not-json", "body is not JSON: nested too deeply") from None
    except ValueError as exc:
        raise Poison("not-json", f"body is not JSON: {exc}") from None


def parse_body(body: str) -> Message:
    """The record's orderId and workflow input; Poison if it can never be an order (not JSON,
    no order object, no valid orderId, a duplicate key). The rest of the order is the
    workflow's to judge (ValidateOrder fails it as OrderInvalid and tells the customer), but
    an amount written as a number ValidateOrder would see rounded (`1e3` arrives as 1000.0,
    `12.30000000000000001` as 12.3) is passed on as the text it was, so the rule that refuses
    the string form refuses it too."""
    message = _load(body)
    if not isinstance(message, dict):
        raise Poison("invalid-order", 'body must be a JSON object {"order": {...}}')
    order = message.get("order")
    if not isinstance(order, dict):
        raise Poison("invalid-order", "order: must be an object")
    raw_id = order.get("orderId")
    try:
        order_id = parse_order_id(raw_id)
    except OrderInvalid as exc:
        readable = raw_id if isinstance(raw_id, str) else None
        raise Poison("invalid-order", f"order.orderId: {exc.message}", readable) from None
    amount = order.get("amount")
    if isinstance(amount, Literal):
        try:
            parse_amount(amount)
        except OrderInvalid:
            data = {**message, "order": {**order, "amount": str(amount)}}
            return Message(order_id, message, json.dumps(data))
    return Message(order_id, message, body)


def _same_order(new: Message, existing_input: str | None) -> bool:
    """Whether an execution's input is the same order: equal as orders when both are valid
    (so 12.5 and "12.50" agree), else equal as JSON."""
    try:
        old = _load(existing_input or "")
    except Poison:
        return False
    try:
        return bool(order_from_message(old) == order_from_message(new.data))
    except OrderInvalid:
        return _plain(old) == _plain(new.data)


def _plain(value: Any) -> Any:
    """JSON with every number as its text, so a rewritten amount equals its original."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return str(value) if isinstance(value, (int, float, str)) else value


# -- starting -----------------------------------------------------------------------------
def _is_throttle(exc: BaseException) -> bool:
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    text = f"{code} {exc}".lower()
    return code in ("ThrottlingException", "TooManyRequestsException", "Throttling") or (
        "rate exceeded" in text or "throttl" in text
    )


def _start(order: Message, deadline: float) -> str:
    """'started' or 'duplicate'; raises Poison on a conflicting orderId and Throttled when
    throttling outlasts the deadline."""
    machine = os.environ["STATE_MACHINE_ARN"]
    attempt = 0
    while True:
        try:
            _sfn().start_execution(stateMachineArn=machine, name=order.order_id, input=order.input)
            return "started"
        except Exception as exc:
            if _error_code(exc) == "ExecutionAlreadyExists":
                return _existing(order, machine)
            if not _is_throttle(exc):
                raise
            # Full jitter, capped: many consumers back off without moving in step.
            pause = random.uniform(0, min(2.0, 0.1 * 2**attempt))
            if time.monotonic() + pause > deadline:
                raise Throttled(f"StartExecution throttled {attempt + 1} times") from exc
            attempt += 1
            sleep(pause)


def _existing(order: Message, machine: str) -> str:
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + order.order_id
    described = _sfn().describe_execution(executionArn=arn)
    if _same_order(order, described.get("input")):
        return "duplicate"
    raise Poison(
        "order-id-conflict",
        f"orderId {order.order_id} already belongs to a different order "
        f"(execution {described.get('status', 'unknown').lower()})",
        order.order_id,
    )


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


# -- ending a record ----------------------------------------------------------------------
def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    line = "".join(c for c in line if c.isprintable())
    return line[:MAX_ERROR]


def _escaped(text: str) -> str:
    """Readable and safe as an SQS attribute: control and invisible characters escaped."""
    out = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return out[:MAX_ERROR]


def dead_letter(record: dict[str, Any], reason: str, error: str, order_id: str | None) -> None:
    """Send the record's body to the DLQ with why, so `ordercli dlq` can say it."""
    attrs = {
        REASON: {"DataType": "String", "StringValue": reason},
        ERROR: {"DataType": "String", "StringValue": _one_line(error) or reason},
    }
    if order_id:
        attrs[ORDER_ID] = {"DataType": "String", "StringValue": _escaped(order_id)}
    _sqs().send_message(
        QueueUrl=os.environ["DLQ_URL"], MessageBody=record["body"], MessageAttributes=attrs
    )


def _resend(record: dict[str, Any]) -> None:
    """A fresh copy of the record (receive count 0) after a short delay. A duplicate is
    harmless: the execution is named after the orderId."""
    _sqs().send_message(
        QueueUrl=os.environ["QUEUE_URL"],
        MessageBody=record["body"],
        DelaySeconds=random.randint(*RESEND_DELAY),
    )


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    except ValueError:
        return 1


def _max_receives() -> int:
    try:
        return int(os.environ.get("MAX_RECEIVE_COUNT", "0"))
    except ValueError:
        return 0


def _inject_fault(message_id: str) -> None:
    rate = os.environ.get(FAULT_ENV)
    if rate and random.random() < float(rate):
        raise InjectedFault(f"injected transient failure ({FAULT_ENV}={rate})")


def _log(message_id: str, order_id: str | None, **fields: Any) -> None:
    log.info(json.dumps({"messageId": message_id, "orderId": order_id, "step": STEP, **fields}))


def _one(record: dict[str, Any], deadline: float) -> Result:
    message_id = str(record.get("messageId"))
    order_id: str | None = None
    try:
        order = parse_body(record.get("body") or "")
        order_id = order.order_id
        _inject_fault(message_id)
        outcome = _start(order, deadline)
        _log(message_id, order_id, result=outcome)
        return Result(message_id, outcome, order_id)
    except Poison as exc:
        return _poison(record, message_id, exc.reason, exc.error, exc.order_id or order_id)
    except Throttled as exc:
        try:
            _resend(record)
        except Exception as resend_exc:
            _log(message_id, order_id, result="retry", error=_one_line(f"{resend_exc}"))
            return Result(message_id, "retry", order_id)
        _log(message_id, order_id, result="resent", error=str(exc))
        return Result(message_id, "resent", order_id)
    except Exception as exc:  # transient: every record's failure is reported, none aborts
        error = _one_line(f"{type(exc).__name__}: {exc}")
        limit = _max_receives()
        if limit and _receive_count(record) >= limit:
            return _poison(record, message_id, "retries-exhausted", error, order_id)
        log.warning(
            json.dumps(
                {
                    "messageId": message_id,
                    "orderId": order_id,
                    "step": STEP,
                    "result": "retry",
                    "error": error,
                }
            )
        )
        return Result(message_id, "retry", order_id)


def _poison(
    record: dict[str, Any], message_id: str, reason: str, error: str, order_id: str | None
) -> Result:
    try:
        dead_letter(record, reason, error, order_id)
    except Exception as exc:  # the DLQ is unreachable: SQS retries, and redrives in the end
        _log(message_id, order_id, result="retry", reason=reason, error=_one_line(f"{exc}"))
        return Result(message_id, "retry", order_id)
    log.warning(
        json.dumps(
            {
                "messageId": message_id,
                "orderId": order_id,
                "step": STEP,
                "result": "dead-lettered",
                "reason": reason,
                "error": _one_line(error),
            }
        )
    )
    return Result(message_id, "dead-lettered", order_id)


def _deadline(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget_ms = remaining() - TIME_MARGIN_MS if callable(remaining) else DEFAULT_BUDGET_MS
    return time.monotonic() + max(0, budget_ms) / 1000


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    deadline = _deadline(context)
    # The records of a batch are independent: start them concurrently, so a batch takes one
    # StartExecution round trip, not ten.
    with ThreadPoolExecutor(max_workers=max(1, min(10, len(records)))) as pool:
        results = list(pool.map(lambda r: _one(r, deadline), records))
    return {"batchItemFailures": [f for f in (r.failure() for r in results) if f is not None]}
