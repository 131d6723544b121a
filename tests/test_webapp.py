"""The web app through Flask's test client, against moto in-process."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ordercli.deploy import stack as deploy
from tests.conftest import MakeCtx
from webapp import receipts


@pytest.fixture
def client(make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch) -> Any:
    ctx = make_ctx("web")
    result = deploy.up(ctx)
    monkeypatch.setenv("ORDERS_QUEUE_URL", result.outputs["queue_url"])
    monkeypatch.setenv("STATE_MACHINE_ARN", result.outputs["state_machine_arn"])
    from webapp import application as app_module

    app_module._client.cache_clear()
    app_module.application.config["TESTING"] = True
    return app_module.application.test_client()


def queued() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="web-orders")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_form_page_has_labelled_fields_and_security_headers(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for field in ("customerName", "product", "amount"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (
        r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    )


def test_json_submit_is_accepted_and_queued(client: Any) -> None:
    r = client.post(
        "/submit-order", json={"customerName": "John Doe", "product": "Laptop", "amount": 1500}
    )
    assert r.status_code == 202
    body = r.get_json()
    assert body["status_url"] == f"/orders/{body['orderId']}"
    assert queued()[0]["order"]["orderId"] == body["orderId"]
    page = client.get(f"{body['status_url']}?submitted={body['receipt']}")
    assert page.status_code == 200 and "QUEUED" in page.get_data(as_text=True)


def test_form_submit_redirects_to_the_order_page(client: Any) -> None:
    r = client.post(
        "/submit-order", data={"customerName": "Ada", "product": "Book", "amount": "12.5"}
    )
    assert r.status_code == 303 and "/orders/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and "QUEUED" in page.get_data(as_text=True)
    assert "12.50 USD" not in page.get_data(as_text=True)  # not known until the workflow runs


def test_submitted_says_queued_only_with_this_apps_receipt(client: Any) -> None:
    oid = client.post(
        "/submit-order", json={"customerName": "A", "product": "B", "amount": 1}
    ).get_json()["orderId"]
    assert client.get("/orders/never-sent?submitted=1").status_code == 404
    assert client.get("/api/orders/never-sent?submitted=1").status_code == 404
    assert client.get(f"/orders/{oid}?submitted=1").status_code == 404
    other = receipts.receipt("never-sent", "")
    assert client.get(f"/orders/{oid}?submitted={other}").status_code == 404
    good = client.get(f"/api/orders/{oid}?submitted={receipts.receipt(oid, 'any')}")
    assert good.status_code == 200 and good.get_json()["status"] == "QUEUED"


def test_the_same_form_posted_twice_is_one_order(client: Any) -> None:
    form_page = client.get("/").get_data(as_text=True)
    oid = re.search(r'name="orderId" value="([0-9A-Z]{26})"', form_page).group(1)  # type: ignore[union-attr]
    fields = {"customerName": "Ada", "product": "Book", "amount": "12.50", "orderId": oid}
    first = client.post("/submit-order", data=fields)
    second = client.post("/submit-order", data=fields)
    assert first.headers["Location"] == second.headers["Location"]
    a, b = queued()
    assert a == b and a["order"]["orderId"] == oid  # identical messages: one execution
    start(a)
    assert client.post("/submit-order", data=fields).status_code == 303
    assert queued() == []  # already started: not sent again
    r = client.post("/submit-order", json={**fields, "amount": "99"})
    assert r.status_code == 409 and oid in r.get_json()["errors"]["orderId"]
    assert r.get_json()["nextOrderId"] != oid
    again = client.post("/submit-order", data={**fields, "amount": "99"})
    assert again.status_code == 409 and "submit again" in again.get_data(as_text=True)
    assert f'value="{oid}"' not in again.get_data(as_text=True)  # a fresh id for a new order
    assert queued() == []


def test_an_order_sent_under_a_taken_id_never_shows_the_other_orders_result(
    client: Any,
) -> None:
    """Two orders under one given id, both accepted before either has an execution: the
    consumer starts the first and dead-letters the second; the second's page says so."""
    base = {"customerName": "Ada", "product": "Book", "orderId": "shared-1"}
    first = client.post("/submit-order", json={**base, "amount": "5"}).get_json()
    second = client.post("/submit-order", json={**base, "amount": "7"}).get_json()
    assert first["receipt"] != second["receipt"]
    a, _ = queued()
    start(a)  # the consumer starts the first; the second is an order-id-conflict
    mine = client.get(f"/api/orders/shared-1?submitted={first['receipt']}").get_json()
    assert mine["status"] != "DEAD_LETTERED"
    theirs = client.get(f"/api/orders/shared-1?submitted={second['receipt']}").get_json()
    assert theirs["status"] == "DEAD_LETTERED" and theirs["error"] == "order-id-conflict"
    page = client.get(f"/orders/shared-1?submitted={second['receipt']}").get_data(as_text=True)
    assert "already belongs to another order" in page


@pytest.mark.parametrize(
    "body, field",
    [
        ({"customerName": "A", "product": "B", "amount": 0}, "amount"),
        ({"customerName": "A", "product": "B", "amount": 10000}, "amount"),
        ({"customerName": "A", "product": "B", "amount": "abc"}, "amount"),
        ({"customerName": "A", "product": "B", "amount": "NaN"}, "amount"),
        ({"customerName": "A", "product": "B", "amount": "1e3"}, "amount"),
        ({"customerName": "A", "amount": 5}, "product"),
        ({"customerName": "", "product": "B", "amount": 5}, "customerName"),
        ({"customerName": "A", "product": "B", "amount": 5, "admin": True}, "admin"),
        # the hostile input corpus, JSON side
        ({"customerName": "A", "product": "B", "amount": -0}, "amount"),
        ({"customerName": "A", "product": "B", "amount": True}, "amount"),
        ({"customerName": "A", "product": "B", "amount": None}, "amount"),
        ({"customerName": "A", "product": "B", "amount": [5]}, "amount"),
        ({"customerName": "A", "product": "B", "amount": {"v": 5}}, "amount"),
        ({"customerName": True, "product": "B", "amount": 5}, "customerName"),
        ({"customerName": None, "product": "B", "amount": 5}, "customerName"),
        ({"customerName": ["A"], "product": "B", "amount": 5}, "customerName"),
        ({"customerName": 1.5, "product": "B", "amount": 5}, "customerName"),
        ({"customerName": "A\u0000B", "product": "B", "amount": 5}, "customerName"),
        ({"customerName": "A\u2028B", "product": "B", "amount": 5}, "customerName"),
        ({"customerName": "\ufeffA", "product": "B", "amount": 5}, "customerName"),
        ({"customerName": "A", "product": "abc\u202egnp.exe", "amount": 5}, "product"),
        ({"customerName": "A", "product": "\u2066B\u2069", "amount": 5}, "product"),
        ({"customerName": "A", "product": "B", "amount": 5, "orderId": "x\n"}, "orderId"),
        ({"customerName": "A", "product": "B", "amount": 5, "orderId": 7}, "orderId"),
    ],
)
def test_invalid_orders_get_400_with_the_field_and_send_nothing(
    client: Any, body: dict[str, Any], field: str
) -> None:
    r = client.post("/submit-order", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 400
    assert field in r.get_json()["errors"]
    assert queued() == []


@pytest.mark.parametrize(
    "raw, field",
    [
        (b'{"customerName": "A", "product": "B", "amount": 1e3}', "amount"),
        (b'{"customerName": "A", "product": "B", "amount": 1E-2}', "amount"),
        (b'{"customerName": "A", "product": "B", "amount": 12.30000000000000001}', "amount"),
        (b'{"customerName": "A", "product": "B", "amount": -0}', "amount"),
        (b'{"customerName": "A", "product": "B", "amount": -0.0}', "amount"),
    ],
)
def test_amounts_are_judged_as_written(client: Any, raw: bytes, field: str) -> None:
    """The JSON number as written, not as a float: 1e3 has an exponent, 12.30000000000000001
    has too many decimals, whatever a float would round them to."""
    r = client.post("/submit-order", data=raw, content_type="application/json")
    assert r.status_code == 400 and field in r.get_json()["errors"]
    assert queued() == []


@pytest.mark.parametrize("name", ["می‌رزا", "ශ්‍රී", "Zoë Ångström", "李小龍", "👩‍💻 Dev"])
def test_names_in_every_script_are_accepted(client: Any, name: str) -> None:
    r = client.post("/submit-order", json={"customerName": name, "product": "B", "amount": 5})
    assert r.status_code == 202, r.get_json()
    assert queued()[0]["order"]["customerName"] == name


def test_hostile_form_fields_get_400_naming_the_field(client: Any) -> None:
    r = client.post(
        "/submit-order",
        data={"customerName": "A\u202eB", "product": "x\x00", "amount": "1e3"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 400
    assert set(r.get_json()["errors"]) == {"customerName", "product", "amount"}
    assert queued() == []


def test_every_field_error_is_reported_at_once(client: Any) -> None:
    r = client.post("/submit-order", json={"customerName": "", "amount": "abc"})
    assert r.status_code == 400
    assert set(r.get_json()["errors"]) == {"customerName", "product", "amount"}
    page = client.post(
        "/submit-order", data={"amount": "-1"}, headers={"Accept": "text/html"}
    ).get_data(as_text=True)
    assert page.count('aria-invalid="true"') == 3
    assert "is required" in page and "must be greater than 0" in page


@pytest.mark.parametrize(
    "data, ctype",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"hello", "text/plain"),
        (b"[" * 15000, "application/json"),
        (b'{"a":' * 2500 + b"1" + b"}" * 2500, "application/json"),
        (
            b'{"customerName": "A", "customerName": "B", "product": "p", "amount": 1}',
            "application/json",
        ),
        (b'{"customerName": "A", "product": "p", "amount": NaN}', "application/json"),
        (b'\xef\xbb\xbf{"customerName": "A", "product": "p", "amount": 1}', "application/json"),
        (b'{"customerName": "\xff", "product": "p", "amount": 1}', "application/json"),
        (b"null", "application/json"),
    ],
)
def test_malformed_bodies_get_400(client: Any, data: bytes, ctype: str) -> None:
    r = client.post("/submit-order", data=data, content_type=ctype)
    assert r.status_code == 400 and r.get_json()["error"]
    assert queued() == []


def test_body_over_16_kib_gets_413(client: Any) -> None:
    big = json.dumps({"customerName": "A" * 20000, "product": "B", "amount": 1})
    assert (
        client.post("/submit-order", data=big, content_type="application/json").status_code == 413
    )


def test_invalid_form_post_rerenders_with_the_error_next_to_the_field(client: Any) -> None:
    r = client.post(
        "/submit-order",
        data={"customerName": "Ada", "product": "Book", "amount": "-1"},
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'id="amount-error" role="alert">amount' not in html  # the message, not the field name
    assert "must be greater than 0" in html and 'value="Ada"' in html


def start(body: dict[str, Any]) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:web-OrderProcessingWorkflow"
    sfn.start_execution(stateMachineArn=arn, name=body["order"]["orderId"], input=json.dumps(body))


def test_user_text_is_escaped_on_the_order_page(client: Any) -> None:
    r = client.post(
        "/submit-order",
        json={
            "customerName": "<script>alert(1)</script>",
            "product": "<img src=x onerror=alert(2)>",
            "amount": 3,
        },
    )
    oid = r.get_json()["orderId"]
    start(queued()[0])
    page = client.get(f"/orders/{oid}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    api = client.get(f"/api/orders/{oid}")
    assert api.status_code == 200 and api.get_json()["orderId"] == oid


def test_unknown_order_is_404(client: Any) -> None:
    assert client.get("/api/orders/nope").status_code == 404
    assert client.get("/orders/nope").status_code == 404
    assert client.get("/orders/bad%20id").status_code == 404


def test_healthz_and_queue_unreachable(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/healthz").status_code == 200
    monkeypatch.setenv("ORDERS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/gone")
    assert client.get("/healthz").status_code == 503
    r = client.post("/submit-order", json={"customerName": "A", "product": "B", "amount": 1})
    assert r.status_code == 503 and r.headers["Retry-After"] and "retry" in r.get_json()["error"]


class Unreachable:
    """A client whose endpoint does not answer."""

    def __getattr__(self, name: str) -> Any:
        from botocore.exceptions import EndpointConnectionError

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://states.example")

        return fail


def test_step_functions_unreachable_is_503_with_retry_after(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp import application as app_module

    monkeypatch.setattr(app_module, "_client", lambda service: Unreachable())
    for path in ("/orders/abc", "/api/orders/abc"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5", path
        assert "retry" in r.get_data(as_text=True)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(kind: str, ms: int, **details: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"type": kind, "timestamp": T0 + timedelta(milliseconds=ms)}
    e.update(details)
    return e


def entered(name: str, ms: int, kind: str = "TaskStateEntered") -> dict[str, Any]:
    return event(kind, ms, stateEnteredEventDetails={"name": name})


def exited(name: str, ms: int) -> dict[str, Any]:
    return event("TaskStateExited", ms, stateExitedEventDetails={"name": name})


TRACE = json.dumps(
    {
        "errorMessage": "Payment declined for order d-1",
        "errorType": "PaymentDeclined",
        "stackTrace": ['  File "/var/task/process_payment.py", line 20, in handler\n'],
    }
)
DECLINED = [
    event("ExecutionStarted", 0),
    entered("ValidateOrder", 1),
    exited("ValidateOrder", 20),
    entered("ProcessPayment", 21),
    event(
        "LambdaFunctionFailed",
        60,
        lambdaFunctionFailedEventDetails={"error": "PaymentDeclined", "cause": TRACE},
    ),
    entered("NotifyPaymentDeclined", 61),
    exited("NotifyPaymentDeclined", 90),
    entered("PaymentDeclined", 91, "FailStateEntered"),
    event(
        "ExecutionFailed",
        92,
        executionFailedEventDetails={"error": "PaymentDeclined", "cause": TRACE},
    ),
]


def test_a_declined_order_draws_its_branch_and_what_the_customer_was_told(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp import application as app_module

    class DeclinedSfn:
        exceptions = boto3.client("stepfunctions", region_name="us-east-1").exceptions

        def describe_execution(self, executionArn: str) -> dict[str, Any]:
            order = {"orderId": "d-1", "customerName": "Eve", "product": "Yacht", "amount": 49.9}
            return {
                "status": "FAILED",
                "error": "PaymentDeclined",
                "cause": TRACE,
                "input": json.dumps({"order": order}),
            }

        def get_paginator(self, name: str) -> Any:
            class Pages:
                def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                    return [{"events": DECLINED}]

            return Pages()

    monkeypatch.setattr(app_module, "_client", lambda service: DeclinedSfn())
    monkeypatch.setenv("ORDERCLI_CURRENCY", "EUR")
    api = client.get("/api/orders/d-1").get_json()
    assert [(s["name"], s["status"]) for s in api["steps"]] == [
        ("ValidateOrder", "succeeded"),
        ("ProcessPayment", "failed"),
        ("NotifyPaymentDeclined", "succeeded"),
        ("PaymentDeclined", "failed"),
    ]  # the branch it took; SendNotification, never reached, is not drawn as pending
    assert api["order"]["amount"] == "49.90 EUR"
    assert api["notified"] and api["customerTold"]
    page = client.get("/orders/d-1").get_data(as_text=True)
    text = json.dumps(api) + page
    for leak in ("/var/task", "stackTrace", "Traceback", "errorType", "{&#34;", '{"error'):
        assert leak not in text
    assert "49.90 EUR" in page and "The customer was told" in page
    assert 'class="step failed branch"' in page or 'class="step failed"' in page


@pytest.fixture
def metric_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's GetMetricData (percentiles, exact dimensions), undone after the test."""
    from moto.cloudwatch.models import CloudWatchBackend

    from ordercli.local import moto_hooks

    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", CloudWatchBackend.get_metric_data)
    moto_hooks.fast_metric_data()


def put(metric: str, namespace: str, dim: tuple[str, str], values: list[float]) -> None:
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dim[0], "Value": dim[1]}],
                "Values": values,
            }
        ],
    )


def test_metrics_api_reads_the_pipeline_figures(client: Any, metric_hooks: None) -> None:
    sm = (
        "StateMachineArn",
        "arn:aws:states:us-east-1:123456789012:stateMachine:web-OrderProcessingWorkflow",
    )
    put("NumberOfMessagesSent", "AWS/SQS", ("QueueName", "web-orders"), [5, 7])
    put("NumberOfMessagesSent", "AWS/SQS", ("QueueName", "other-orders"), [100])
    put("ExecutionsSucceeded", "AWS/States", sm, [9])
    put("ExecutionsFailed", "AWS/States", sm, [3])
    put("ExecutionTime", "AWS/States", sm, [float(v) for v in range(1, 101)])
    put("Errors", "AWS/Lambda", ("FunctionName", "web-ProcessPayment"), [3])
    r = client.get("/api/metrics?minutes=60")
    assert r.status_code == 200
    m = r.get_json()
    assert m["orders"] == 12 and m["orders_per_hour"] == 12.0
    assert (m["succeeded"], m["failed"], m["payment_success_rate"]) == (9, 3, 75.0)
    assert (m["latency_p50_ms"], m["latency_p95_ms"]) == (50.0, 95.0)
    assert m["errors_by_function"]["ProcessPayment"] == 3
    assert m["errors_by_function"]["ValidateOrder"] == 0
    assert len(m["series"]["orders"]["times"]) == 60
    page = client.get("/dashboard").get_data(as_text=True)
    assert "75.0 %" in page and "<script>" not in page


def test_metrics_window_is_checked_and_cloudwatch_outage_is_503(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/metrics?minutes=0").status_code == 400
    assert client.get("/api/metrics?minutes=1e3").status_code == 400
    from webapp import application as app_module

    monkeypatch.setattr(app_module, "_client", lambda service: Unreachable())
    r = client.get("/api/metrics")
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert client.get("/dashboard").status_code == 503


class DeniedCloudWatch:
    def __getattr__(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        def deny(*args: Any, **kwargs: Any) -> Any:
            error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
            raise ClientError(error, "GetMetricData")

        return deny


def test_dashboard_without_metrics_permission_says_why_and_where_to_look(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp import application as app_module

    monkeypatch.setattr(app_module, "_client", lambda service: DeniedCloudWatch())
    r = client.get("/api/metrics")
    assert r.status_code == 403 and "cloudwatch:GetMetricData" in r.get_json()["error"]
    page = client.get("/dashboard")
    assert page.status_code == 403
    assert "CloudWatch dashboard" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_a_step_retried_to_success_is_drawn_as_succeeded() -> None:
    from webapp.order_view import flow

    events = [
        event("ExecutionStarted", 0),
        entered("ProcessPayment", 1),
        event(
            "LambdaFunctionFailed",
            5,
            lambdaFunctionFailedEventDetails={"error": "Sandbox.Timedout", "cause": TRACE},
        ),
        event("LambdaFunctionSucceeded", 30, lambdaFunctionSucceededEventDetails={}),
        exited("ProcessPayment", 31),
        entered("SendNotification", 32),
    ]
    steps = flow(events, terminal=False)
    assert [(s["name"], s["status"]) for s in steps] == [
        ("ProcessPayment", "succeeded"),
        ("SendNotification", "running"),
        ("OrderConfirmed", "pending"),
    ]
    assert steps[0]["message"] == "succeeded after 1 retry" and steps[0]["error"] is None
