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

import receipts  # noqa: E402
from order_view import conflict_view, execution_view, queued_view  # noqa: E402
from submission import BadBody, build, field_errors, read_form, read_json  # noqa: E402

from lambda_src.order import ORDER_ID_RE, new_order_id, now_iso  # noqa: E402

MAX_BODY = 16 * 1024
RETRY_AFTER = "5"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

application = Flask(__name__)
application.config["MAX_CONTENT_LENGTH"] = MAX_BODY
_lock = threading.Lock()


class Unavailable(Exception):
    """A service the page needs (SQS, Step Functions, CloudWatch) could not be reached."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class NotPermitted(Exception):
    """The app's role may not read CloudWatch metrics: ordercli grants no
    cloudwatch:GetMetricData, because AWS allows no resource narrower than "*" for it."""


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


def currency() -> str:
    return os.environ.get("ORDERCLI_CURRENCY", "") or "USD"


def _wants_json() -> bool:
    if request.is_json or request.path.startswith("/api/"):
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
    if _wants_json():
        return jsonify(error="not found"), 404
    return render_template("not_found.html"), 404


@application.errorhandler(Unavailable)
def unavailable(exc: Unavailable) -> tuple[Response | str, int]:
    application.logger.warning("%s unreachable", exc.what, exc_info=True)
    message = f"{exc.what} is unavailable right now; please retry in a few seconds"
    if _wants_json():
        resp = jsonify(error=message)
    else:
        resp = Response(render_template("unavailable.html", message=message))
    resp.headers["Retry-After"] = RETRY_AFTER
    return resp, 503


@application.errorhandler(NotPermitted)
def not_permitted(_: NotPermitted) -> tuple[Response | str, int]:
    stack = _settings()[1].rsplit(":", 1)[-1].removesuffix("-OrderProcessingWorkflow") or "orders"
    message = (
        "This page reads CloudWatch metrics (cloudwatch:GetMetricData), which AWS cannot limit "
        "to one stack, so ordercli does not grant it to the web app. The same figures are on "
        f"the CloudWatch dashboard {stack}-orders and in `ordercli status`."
    )
    if _wants_json():
        return jsonify(error=message), 403
    return render_template("unavailable.html", message=message), 403


@application.errorhandler(Exception)
def internal(exc: Exception) -> Any:
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        return exc
    application.logger.exception("unhandled error")  # the details go to the log, not the page
    if _wants_json():
        return jsonify(error="internal error"), 500
    return render_template("unavailable.html", message="Something went wrong."), 500


@application.context_processor
def page_globals() -> dict[str, Any]:
    return {"currency": currency()}


def _metrics(minutes: int) -> dict[str, Any]:
    from datetime import timedelta

    from ordercli.operate import metrics

    _, machine_arn = _settings()
    try:
        got = metrics.read(
            _client("cloudwatch"),
            metrics.names_from_state_machine(machine_arn),
            timedelta(minutes=minutes),
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            raise NotPermitted() from exc
        raise Unavailable("CloudWatch") from exc
    return got.to_json()


def _window() -> int | None:
    text = request.args.get("minutes", "60")
    if not (text.isascii() and text.isdigit()) or not 5 <= int(text) <= 1440:
        return None
    return int(text)


@application.get("/api/metrics")
def metrics_api() -> Any:
    minutes = _window()
    if minutes is None:
        return jsonify(error="minutes must be a whole number from 5 to 1440"), 400
    return jsonify(_metrics(minutes))


@application.get("/dashboard")
def dashboard() -> Any:
    minutes = _window()
    if minutes is None:
        return render_template("unavailable.html", message="minutes must be 5 to 1440"), 400
    return render_template("dashboard.html", m=_metrics(minutes), minutes=minutes)


@application.get("/")
def form() -> str:
    return render_template("form.html", values={"orderId": new_order_id()}, errors={})


def _read_submission() -> dict[str, Any]:
    if request.mimetype == "application/json":
        return read_json(request.get_data(cache=False))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return read_form(request.form)
    raise BadBody("send application/json or a form (application/x-www-form-urlencoded)")


def _existing_order(order_id: str) -> dict[str, Any] | None:
    """The order already started under this id, or None (also when that cannot be known now:
    the message still goes to the queue, whose consumer settles conflicts)."""
    try:
        d = _client("stepfunctions").describe_execution(executionArn=_execution_arn(order_id))
        return dict(json.loads(d.get("input") or "{}").get("order") or {})
    except Exception:
        return None


def _content(order: dict[str, Any]) -> str:
    """The order's content as receipts bind it (amounts compared as numbers)."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = str(Decimal(str(order.get("amount"))).normalize())
    except InvalidOperation:
        amount = repr(order.get("amount"))
    return json.dumps([order.get("customerName"), order.get("product"), amount])


def _same_order(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _content(a) == _content(b)


@application.post("/submit-order")
def submit_order() -> Any:
    as_json = request.mimetype == "application/json" or _wants_json()
    try:
        data = _read_submission()
    except BadBody as exc:
        return jsonify(error=str(exc)), 400
    errors = field_errors(data)
    if errors:
        if as_json:
            return jsonify(error="invalid order", errors=errors), 400
        return render_template("form.html", values=data, errors=errors), 400
    sub = build(data, new_order_id(), now_iso())
    order = sub.order
    existing = _existing_order(order.order_id) if sub.id_given else None
    if existing is not None and not _same_order(existing, order.to_dict()):
        message = f"orderId {order.order_id} is already used by another order"
        fresh = new_order_id()  # submitting again places this as a new order
        if as_json:
            return jsonify(error=message, errors={"orderId": message}, nextOrderId=fresh), 409
        again = f"{message}; submit again to place this as a new order"
        values = {**data, "orderId": fresh}
        return render_template("form.html", values=values, errors={"orderId": again}), 409
    if existing is None:  # an order already started is not sent again
        queue_url, _ = _settings()
        try:
            _client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(order.message()))
        except Exception:
            application.logger.exception("could not enqueue an order")
            resp = jsonify(error="the order queue is unavailable; nothing was sent, please retry")
            resp.headers["Retry-After"] = RETRY_AFTER
            return resp, 503
    token = receipts.receipt(order.order_id, _content(order.to_dict()))
    if as_json:
        return jsonify(
            orderId=order.order_id,
            status_url=url_for("order_page", order_id=order.order_id),
            receipt=token,
        ), 202
    return redirect(url_for("order_page", order_id=order.order_id, submitted=token), code=303)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _execution_arn(order_id: str) -> str:
    _, machine_arn = _settings()
    return machine_arn.replace(":stateMachine:", ":execution:") + ":" + order_id


def order_view(order_id: str) -> dict[str, Any] | None:
    """The order's state from its execution (named after the orderId), or None if unknown."""
    if not ORDER_ID_RE.fullmatch(order_id):
        return None
    sfn = _client("stepfunctions")
    arn = _execution_arn(order_id)
    try:
        d = sfn.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events += page["events"]
    except Exception as exc:
        if _error_code(exc) == "ExecutionDoesNotExist":
            return None
        raise Unavailable("Step Functions") from exc
    return execution_view(order_id, d, events, currency())


def _view_or_queued(order_id: str) -> dict[str, Any] | None:
    token = request.args.get("submitted")
    view = order_view(order_id)
    if view is None and receipts.valid(order_id, token):
        view = queued_view(order_id)
    elif view is not None and receipts.valid(order_id, token):
        existing = _existing_order(order_id)
        if existing is not None and not receipts.same_content(order_id, token, _content(existing)):
            # this receipt's order was sent under an id another order had already taken:
            # the consumer dead-letters it (order-id-conflict); never show the other's result
            view = conflict_view(order_id)
    return view


@application.get("/api/orders/<order_id>")
def order_api(order_id: str) -> Any:
    view = _view_or_queued(order_id)
    if view is None:
        return jsonify(error=f"no order {order_id}"), 404
    return jsonify(view)


@application.get("/orders/<order_id>")
def order_page(order_id: str) -> Any:
    view = _view_or_queued(order_id)
    if view is None:
        return render_template("not_found.html"), 404
    return render_template("order.html", view=view, receipt=request.args.get("submitted", ""))


@application.get("/healthz")
def healthz() -> Any:
    queue_url, _ = _settings()
    try:
        _client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    except Exception as exc:
        return jsonify(status="unhealthy", reason=type(exc).__name__), 503
    return jsonify(status="ok")
