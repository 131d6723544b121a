"""ProcessPayment: a payment simulation, deterministic per orderId when a seed is set.

The orderId is the idempotency key: each charge is recorded in the payments table with a
conditional put, so a payment retried after a crash or a timeout (which may have come after
the charge) returns the transaction already made and never charges twice."""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .order import (
    Order,
    PaymentDeclined,
    handler_log,
    on_lambda,
    order_from_message,
    payment_approved,
    payment_settings_from_env,
)

log = handler_log()
_client_lock = threading.Lock()


class PaymentUnavailable(Exception):
    """The payments table could not be read or written: transient, the workflow retries."""


@cache
def _dynamodb() -> Any:
    # Created lazily: a client made at import time would escape test mocks.
    with _client_lock:
        import boto3

        return boto3.client("dynamodb")


if on_lambda():
    _dynamodb()


def _log(order_id: str, result: str, **fields: Any) -> None:
    entry = {"orderId": order_id, "step": "ProcessPayment", "result": result, **fields}
    log.info(json.dumps(entry))


def _payment(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "APPROVED",
        "transactionId": item["transactionId"]["S"],
        "amount": item["amount"]["S"],
    }


def _recorded(table: str, order_id: str) -> dict[str, Any] | None:
    item = (
        _dynamodb()
        .get_item(TableName=table, Key={"orderId": {"S": order_id}}, ConsistentRead=True)
        .get("Item")
    )
    return _payment(item) if item else None


def _charge(table: str, order: Order) -> tuple[dict[str, Any], bool]:
    """The payment, and whether this call made it (False: an earlier attempt had)."""
    payment = {
        "status": "APPROVED",
        "transactionId": "txn-" + uuid.uuid4().hex[:16],
        "amount": str(order.amount),
    }
    try:
        _dynamodb().put_item(
            TableName=table,
            Item={
                "orderId": {"S": order.order_id},
                "transactionId": {"S": payment["transactionId"]},
                "amount": {"S": payment["amount"]},
                "chargedAt": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
            },
            ConditionExpression="attribute_not_exists(orderId)",
            # an earlier attempt's charge comes back with the refusal: one request either way
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        response = getattr(exc, "response", {})
        if response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        item = response.get("Item")
        existing = _payment(item) if item else _recorded(table, order.order_id)
        if existing is None:  # pragma: no cover - a record is never deleted
            raise
        return existing, False
    return payment, True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = order_from_message(event)
    table = os.environ["PAYMENTS_TABLE"]
    try:
        rate, seed = payment_settings_from_env()
        if not payment_approved(order.order_id, rate, seed):
            # Without a seed the decision is drawn again on a retry: an earlier attempt may
            # have been approved and charged before it crashed, and that charge stands.
            payment = _recorded(table, order.order_id)
            if payment is not None:
                _log(order.order_id, "approved", transactionId=payment["transactionId"], retry=True)
                return {**event, "payment": payment}
            _log(order.order_id, "declined")
            raise PaymentDeclined(
                f"payment of {order.amount} for order {order.order_id} was declined"
            )
        # An approved attempt: the conditional put returns an earlier attempt's charge if any.
        payment, made = _charge(table, order)
    except PaymentDeclined:
        raise
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise PaymentUnavailable(f"payments table unavailable: {code}") from exc
    _log(order.order_id, "approved", transactionId=payment["transactionId"], retry=not made)
    return {**event, "payment": payment}
