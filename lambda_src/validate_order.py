"""ValidateOrder: the first step of the workflow; raises OrderInvalid for a bad order."""

from __future__ import annotations

import json
from typing import Any

from .order import handler_log, order_from_message

log = handler_log()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = (event.get("order") or {}).get("orderId") if isinstance(event, dict) else None
    try:
        order = order_from_message(event)
    except Exception as exc:
        log.info(json.dumps({"orderId": order_id, "step": "ValidateOrder", "result": str(exc)}))
        raise
    log.info(json.dumps({"orderId": order.order_id, "step": "ValidateOrder", "result": "valid"}))
    return {**event, "order": order.to_dict()}
