"""ProcessPayment: a payment simulation, deterministic per orderId when a seed is set."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from .order import PaymentDeclined, order_from_message, payment_approved, payment_settings_from_env

log = logging.getLogger()
log.setLevel(logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = order_from_message(event)
    rate, seed = payment_settings_from_env()
    if not payment_approved(order.order_id, rate, seed):
        log.info(
            json.dumps({"orderId": order.order_id, "step": "ProcessPayment", "result": "declined"})
        )
        raise PaymentDeclined(f"payment of {order.amount} for order {order.order_id} was declined")
    txn = "txn-" + hashlib.sha256(order.order_id.encode()).hexdigest()[:16]
    log.info(
        json.dumps({"orderId": order.order_id, "step": "ProcessPayment", "result": "approved"})
    )
    return {
        **event,
        "payment": {"status": "APPROVED", "transactionId": txn, "amount": str(order.amount)},
    }
