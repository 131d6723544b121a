"""SendNotification: tells the customer the outcome by publishing to the stack's SNS topic."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from .order import handler_log, on_lambda

log = handler_log()


class NotificationUnavailable(Exception):
    """SNS refused or could not be reached: transient, the workflow retries, then records the
    failure and still ends the order as it stands."""


@cache
def _sns() -> Any:
    # Created lazily: a client made at import time would escape test mocks.
    import boto3

    return boto3.client("sns")


if on_lambda():
    _sns()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = event.get("order") or {}
    order_id = order.get("orderId")
    error = event.get("error")
    if error:
        outcome = error.get("Error", "Failed")
        text = f"Order {order_id} could not be completed: {outcome}."
    else:
        outcome = "Confirmed"
        product = order.get("product", "your order")
        text = f"Order {order_id} is confirmed: {product}, amount {order.get('amount')}."
    try:
        response = _sns().publish(
            TopicArn=os.environ["TOPIC_ARN"],
            Subject=f"Order {order_id}: {outcome}"[:100],
            Message=json.dumps({"orderId": order_id, "outcome": outcome, "message": text}),
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        log.warning(json.dumps({"orderId": order_id, "step": "SendNotification", "error": code}))
        raise NotificationUnavailable(f"could not publish the notification: {code}") from exc
    log.info(json.dumps({"orderId": order_id, "step": "SendNotification", "result": outcome}))
    return {"orderId": order_id, "outcome": outcome, "messageId": response.get("MessageId")}
