"""StartOrderWorkflow: the queue consumer. One execution per order, named after its orderId,
so a message delivered twice still makes one execution. Failed records are reported back
(partial batch failure) so SQS retries only them and dead-letters them after maxReceiveCount."""

from __future__ import annotations

import json
import logging
import os
from functools import cache
from typing import Any

from .order import parse_order_id

log = logging.getLogger()
log.setLevel(logging.INFO)


@cache
def _sfn() -> Any:
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
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
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
