"""StartOrderWorkflow: the queue consumer. One execution per order, named after its orderId,
so a message delivered twice still makes one execution. Failed records are reported back
(partial batch failure) so SQS retries only them and dead-letters them after maxReceiveCount."""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from .order import parse_order_id

log = logging.getLogger()
log.setLevel(logging.INFO)


_client_lock = threading.Lock()


@cache
def _sfn() -> Any:
    # Created lazily (a client made at import time escapes test mocks) and under a lock:
    # boto3's default session must not build clients from several threads at once.
    with _client_lock:
        import boto3

        return boto3.client("stepfunctions")


def _start(body: str) -> str:
    message = json.loads(body)
    order_id = parse_order_id((message.get("order") or {}).get("orderId"))
    try:
        _sfn().start_execution(
            stateMachineArn=os.environ["STATE_MACHINE_ARN"], name=order_id, input=body
        )
    except _sfn().exceptions.ExecutionAlreadyExists:
        log.info(
            json.dumps(
                {"orderId": order_id, "step": "StartOrderWorkflow", "result": "already started"}
            )
        )
        return order_id
    log.info(json.dumps({"orderId": order_id, "step": "StartOrderWorkflow", "result": "started"}))
    return order_id


def _one(record: dict[str, Any]) -> dict[str, str] | None:
    """None if the record's order is started (or already was), else its failure entry."""
    try:
        _start(record["body"])
    except Exception as exc:  # every record's failure is reported, none aborts the batch
        log.warning(
            json.dumps(
                {
                    "messageId": record.get("messageId"),
                    "step": "StartOrderWorkflow",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
        )
        return {"itemIdentifier": record["messageId"]}
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    # The records of a batch are independent: start them concurrently, so a batch takes one
    # StartExecution round trip, not ten.
    with ThreadPoolExecutor(max_workers=max(1, min(10, len(records)))) as pool:
        results = list(pool.map(_one, records))
    return {"batchItemFailures": [r for r in results if r is not None]}
