"""A real headless Chromium (Debian's, driven by Playwright) against the web app on the local
target: place an order, land on its page, watch it finish, see an inline error for a bad amount.
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
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
    cfg.write_text("payment:\n  success_rate: 1.0\n")
    result = CliRunner().invoke(
        app, ["up", "--local", "--stack", "browser", "--config", str(cfg), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    import json

    yield json.loads(result.stdout)["outputs"]["webapp_url"]
    CliRunner().invoke(app, ["teardown", "--local", "--stack", "browser", "--yes"])


def test_order_form_end_to_end_in_a_real_browser(browser: Any, site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site + "/")
    page.get_by_label("Customer name").fill("Ada <b>Lovelace</b>")
    page.get_by_label("Product").fill("Analytical Engine")
    page.get_by_label("Amount").fill("42.50")
    page.screenshot(path=str(ARTIFACTS / "1-form.png"), full_page=True)
    page.get_by_role("button", name="Submit order").click()
    page.wait_for_url("**/orders/**")
    expect(page.locator("#status")).to_have_text("SUCCEEDED", timeout=30_000)
    assert (
        page.locator("[data-step='SendNotification']").get_attribute("class").split()[-1]
        == "succeeded"
    )
    assert (
        "Ada <b>Lovelace</b>" in page.locator(".summary").inner_text()
    )  # shown as text, not markup
    page.screenshot(path=str(ARTIFACTS / "2-order-succeeded.png"), full_page=True)

    page.goto(site + "/")
    page.get_by_label("Customer name").fill("Bob")
    page.get_by_label("Product").fill("Pen")
    page.get_by_label("Amount").fill("-3")
    page.get_by_role("button", name="Submit order").click()
    expect(page.locator("#amount-error")).to_contain_text("greater than 0")
    assert page.url.rstrip("/") == site  # stayed on the form
    page.screenshot(path=str(ARTIFACTS / "3-inline-error.png"), full_page=True)
    assert errors == []
