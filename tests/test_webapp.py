"""The web app through Flask's test client, against moto in-process."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ordercli.deploy import stack as deploy
from tests.conftest import MakeCtx


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


def test_form_submit_redirects_to_the_order_page(client: Any) -> None:
    r = client.post(
        "/submit-order", data={"customerName": "Ada", "product": "Book", "amount": "12.5"}
    )
    assert r.status_code == 303 and "/orders/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and "QUEUED" in page.get_data(as_text=True)


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
    ],
)
def test_invalid_orders_get_400_with_the_field_and_send_nothing(
    client: Any, body: dict[str, Any], field: str
) -> None:
    r = client.post("/submit-order", json=body)
    assert r.status_code == 400
    assert field in r.get_json()["errors"]
    assert queued() == []


@pytest.mark.parametrize(
    "data, ctype",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"hello", "text/plain"),
    ],
)
def test_malformed_bodies_get_400(client: Any, data: bytes, ctype: str) -> None:
    assert client.post("/submit-order", data=data, content_type=ctype).status_code == 400


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
    body = queued()[0]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:web-OrderProcessingWorkflow"
    sfn.start_execution(stateMachineArn=arn, name=oid, input=json.dumps(body))
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
