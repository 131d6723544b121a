"""A real headless Chromium (Debian's, driven by Playwright) against the web app on the local
target: place an order, land on its page, watch it finish, see an inline error for a bad amount.
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ordercli.cli import app
from tests.conftest import free_port

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SEED = 7  # with success rate 0.5, a payment's decision is a pure function of seed and orderId
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: never skip there
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def site(local: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("ORDERCLI_WEB_PORT", str(free_port()))
    cfg = tmp_path / "ordercli.yaml"
    cfg.write_text(f"payment:\n  success_rate: 0.5\n  seed: {SEED}\n")
    result = CliRunner().invoke(
        app, ["up", "--local", "--stack", "browser", "--config", str(cfg), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    import json

    yield json.loads(result.stdout)["outputs"]["webapp_url"]
    CliRunner().invoke(app, ["teardown", "--local", "--stack", "browser", "--yes"])


def order_id(approved: bool, prefix: str) -> str:
    """An orderId whose simulated payment is approved (or declined)."""
    from lambda_src.order import payment_approved

    return next(
        f"{prefix}-{n}"
        for n in range(1000)
        if payment_approved(f"{prefix}-{n}", 0.5, SEED) is approved
    )


def watch(page: Any) -> list[str]:
    """Page errors and CSP violations, which must stay empty."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return problems


def overflow(page: Any) -> int:
    """How far the page is wider than the viewport (0: no horizontal scrolling)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def test_order_form_end_to_end_in_a_real_browser(browser: Any, site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import expect

    page = browser.new_page()
    errors = watch(page)
    page.goto(site + "/")
    # The form's server-issued id, replaced by one whose payment the seed approves.
    page.locator("input[name=orderId]").evaluate(
        "(el, v) => { el.value = v; }", order_id(True, "ok")
    )
    page.get_by_label("Customer name").fill("Ada <b>Lovelace</b>")
    page.get_by_label("Product").fill("Analytical Engine")
    page.get_by_label("Amount").fill("42.5")
    page.screenshot(path=str(ARTIFACTS / "1-form.png"), full_page=True)
    posts: list[Any] = []
    page.route("**/submit-order", lambda route: posts.append(route))  # held until released
    button = page.get_by_role("button", name="Submit order")
    button.click()
    expect(button).to_be_disabled()  # while the first click's order is in flight
    button.click(force=True)
    button.dblclick(force=True)
    page.wait_for_timeout(300)  # give a second POST the chance to appear (it must not)
    assert len(posts) == 1
    posts[0].continue_()
    page.unroute("**/submit-order")
    page.wait_for_url("**/orders/**")
    expect(page.locator("#status")).to_have_text("SUCCEEDED", timeout=30_000)
    assert (
        page.locator("[data-step='SendNotification']").get_attribute("class").split()[-1]
        == "succeeded"
    )
    summary = page.locator(".summary").inner_text()
    assert "Ada <b>Lovelace</b>" in summary  # shown as text, not markup
    assert "42.50 USD" in summary
    assert page.locator("#steps li").evaluate_all("els => els.map(e => e.dataset.step)") == [
        "ValidateOrder",
        "ProcessPayment",
        "SendNotification",
        "OrderConfirmed",
    ]
    page.screenshot(path=str(ARTIFACTS / "2-order-succeeded.png"), full_page=True)

    page.goto(site + "/")
    page.get_by_label("Customer name").fill("Bob")
    page.get_by_label("Product").fill("Pen")
    page.get_by_label("Amount").fill("-3")
    page.get_by_label("Product").fill("")
    page.get_by_role("button", name="Submit order").click()
    expect(page.locator("#amount-error")).to_contain_text("greater than 0")
    # every field at once
    expect(page.locator("#product-error")).to_contain_text("must not be empty")
    expect(page.get_by_role("button", name="Submit order")).to_be_enabled()
    assert page.url.rstrip("/") == site  # stayed on the form
    page.screenshot(path=str(ARTIFACTS / "3-inline-error.png"), full_page=True)
    assert errors == []


def test_a_declined_order_shows_its_branch_on_a_phone(browser: Any, site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import expect

    page = browser.new_page(viewport=PHONE)
    errors = watch(page)
    oid = order_id(False, "no")
    long_name = "W" * 100  # one unbreakable 100-character word
    got = page.request.post(
        site + "/submit-order",
        data={"customerName": long_name, "product": "Yacht", "amount": "9999.9", "orderId": oid},
    ).json()
    page.goto(f"{site}/orders/{oid}?submitted={got['receipt']}")
    expect(page.locator("#status")).to_have_text("FAILED", timeout=30_000)
    steps = page.locator("#steps li")
    expect(steps).to_have_count(4)
    assert steps.evaluate_all("els => els.map(e => [e.dataset.step, e.classList[1]])") == [
        ["ValidateOrder", "succeeded"],
        ["ProcessPayment", "failed"],
        ["NotifyPaymentDeclined", "succeeded"],
        ["PaymentDeclined", "failed"],
    ]
    expect(page.locator("#told")).to_contain_text("told")
    assert "9999.90 USD" in page.locator(".summary").inner_text()
    assert "Traceback" not in page.content() and "/var/task" not in page.content()
    assert overflow(page) == 0
    page.screenshot(path=str(ARTIFACTS / "4-declined-phone.png"), full_page=True)
    page.goto(site + "/")
    page.get_by_label("Customer name").fill(long_name)
    assert overflow(page) == 0
    assert errors == []


def test_dashboard_draws_live_charts(browser: Any, site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import expect

    page = browser.new_page()
    errors = watch(page)
    for i in range(3):
        r = page.request.post(
            site + "/submit-order", data={"customerName": f"c{i}", "product": "p", "amount": 1}
        )
        assert r.status == 202
    page.goto(site + "/dashboard")
    board = page.locator("#dashboard")
    # Redrawn from /api/metrics, again and again, until the orders reach the chart.
    expect(page.locator("#fig-orders-total")).not_to_have_text("0", timeout=30_000)
    expect(board).to_have_attribute("data-updates", re.compile(r"^([2-9]|\d\d+)$"), timeout=30_000)
    assert int(page.locator("svg[data-chart=orders]").get_attribute("data-drawn") or 0) >= 1
    assert page.locator("#fig-errors li").count() == 4
    page.screenshot(path=str(ARTIFACTS / "5-dashboard.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert overflow(page) == 0
    page.screenshot(path=str(ARTIFACTS / "6-dashboard-phone.png"), full_page=True)
    assert errors == []
