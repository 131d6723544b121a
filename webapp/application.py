"""The order form and live order page (Elastic Beanstalk's convention: `application`).

Configured only by environment variables, which `ordercli up` sets: ORDERS_QUEUE_URL,
STATE_MACHINE_ARN, AWS_REGION, and AWS_ENDPOINT_URL on the local target. Orders go onto the
queue, never straight to the workflow: the queue is the durable buffer."""

from __future__ import annotations

import json
import os
import sys
import threading
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the bundle ships lambda_src/ beside this file
    sys.path.insert(0, str(HERE))

from lambda_src.history import WORKFLOW, steps_from_history  # noqa: E402
from lambda_src.order import ORDER_ID_RE, OrderInvalid, new_order  # noqa: E402

MAX_BODY = 16 * 1024
FIELDS = ("customerName", "product", "amount", "orderId")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

application = Flask(__name__)
application.config["MAX_CONTENT_LENGTH"] = MAX_BODY
_lock = threading.Lock()


@cache
def _client(service: str) -> Any:
    # Lazily, under a lock: a client made at import time escapes test mocks, and boto3's
    # default session must not build clients from several threads at once.
    with _lock:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            config=Config(
                connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
            ),
        )


def _settings() -> tuple[str, str]:
    return os.environ.get("ORDERS_QUEUE_URL", ""), os.environ.get("STATE_MACHINE_ARN", "")


def _wants_json() -> bool:
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@application.after_request
def security_headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


@application.errorhandler(413)
def too_large(_: Any) -> tuple[Response, int]:
    return jsonify(error=f"request body over {MAX_BODY // 1024} KiB"), 413


@application.errorhandler(404)
def not_found(_: Any) -> tuple[Response | str, int]:
    if request.path.startswith("/api/") or _wants_json():
        return jsonify(error="not found"), 404
    return render_template("not_found.html"), 404


@application.get("/")
def form() -> str:
    return render_template("form.html", values={}, errors={})


def _read_submission() -> tuple[dict[str, Any] | None, str | None]:
    """(fields, None) or (None, why the body is unusable)."""
    if request.mimetype == "application/json":
        try:
            data = json.loads(request.get_data(cache=False) or b"")
        except (ValueError, UnicodeDecodeError):
            return None, "malformed JSON"
        if not isinstance(data, dict):
            return None, "the JSON body must be an object"
        return data, None
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {k: v for k, v in request.form.items() if k in FIELDS and v != ""}, None
    return None, "send application/json or a form (application/x-www-form-urlencoded)"


@application.post("/submit-order")
def submit_order() -> Any:
    data, problem = _read_submission()
    as_json = request.mimetype == "application/json" or _wants_json()
    if data is None:
        return jsonify(error=problem), 400
    unknown = [k for k in data if k not in FIELDS]
    try:
        if unknown:
            raise OrderInvalid(unknown[0], "unknown field")
        order = new_order(
            data.get("customerName"),
            data.get("product"),  # type: ignore[arg-type]
            data.get("amount"),
            data.get("orderId"),
        )
    except OrderInvalid as exc:
        if as_json:
            return jsonify(error="invalid order", errors={exc.field: exc.message}), 400
        return render_template("form.html", values=data, errors={exc.field: exc.message}), 400
    queue_url, _ = _settings()
    try:
        _client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(order.message()))
    except Exception:
        application.logger.exception("could not enqueue an order")
        resp = jsonify(error="the order queue is unavailable; nothing was sent, please retry")
        resp.headers["Retry-After"] = "5"
        return resp, 503
    status_url = url_for("order_page", order_id=order.order_id)
    if as_json:
        return jsonify(orderId=order.order_id, status_url=status_url), 202
    return redirect(url_for("order_page", order_id=order.order_id, submitted=1), code=303)


def order_view(order_id: str) -> dict[str, Any] | None:
    """The order's state from its execution (named after the orderId), or None if unknown."""
    if not ORDER_ID_RE.match(order_id):
        return None
    _, machine_arn = _settings()
    arn = machine_arn.replace(":stateMachine:", ":execution:") + ":" + order_id
    sfn = _client("stepfunctions")
    try:
        d = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    steps = [s.to_json() for s in steps_from_history(events)]
    for s in steps:
        s.pop("logs", None)
    order = json.loads(d.get("input") or "{}").get("order", {})
    outcome = {
        "SUCCEEDED": "Your order is confirmed.",
        "RUNNING": "Your order is being processed.",
    }.get(d["status"], f"Your order could not be completed: {d.get('error') or d['status']}.")
    return {
        "orderId": order_id,
        "status": d["status"],
        "error": d.get("error"),
        "cause": d.get("cause"),
        "steps": steps,
        "outcome": outcome,
        "order": {k: order.get(k) for k in ("customerName", "product", "amount")},
        "terminal": d["status"] != "RUNNING",
    }


def _queued(order_id: str) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "status": "QUEUED",
        "error": None,
        "cause": None,
        "steps": [],
        "outcome": "Your order is queued.",
        "order": {},
        "terminal": False,
    }


@application.get("/api/orders/<order_id>")
def order_api(order_id: str) -> Any:
    view = order_view(order_id)
    if view is None:
        if request.args.get("submitted"):
            return jsonify(_queued(order_id))
        return jsonify(error=f"no order {order_id}"), 404
    return jsonify(view)


@application.get("/orders/<order_id>")
def order_page(order_id: str) -> Any:
    view = order_view(order_id)
    if view is None:
        if not request.args.get("submitted"):
            return render_template("not_found.html"), 404
        view = _queued(order_id)
    done = {s["name"]: s for s in view["steps"]}
    return render_template("order.html", view=view, workflow=WORKFLOW, done=done)


@application.get("/healthz")
def healthz() -> Any:
    queue_url, _ = _settings()
    try:
        _client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    except Exception as exc:
        return jsonify(status="unhealthy", reason=type(exc).__name__), 503
    return jsonify(status="ok")
