"""`ordercli cost`: the figures at 10,000 orders a month against a calculation done by hand
here (prices written out, not read from ordercli/prices.py), and what the config changes."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ordercli import cost
from ordercli.cli import app
from ordercli.config import load_settings

ORDERS = 10_000
GIB = 1024**3
SNAPSHOTS = Path(__file__).parent / "snapshots"


def settings(**overrides: Any) -> Any:
    return load_settings({}, environ={}, overrides=overrides or None)


def by_item(est: cost.Estimate) -> dict[str, tuple[float, float]]:
    return {f"{x.service}: {x.item}": (x.usd, x.usd_free_tier) for x in est.lines}


def test_ten_thousand_orders_by_hand() -> None:
    """us-east-1 list prices, each checked on its AWS pricing page on 2026-11-28."""
    est = cost.stack_cost(settings(), ORDERS)
    # Step Functions: the success path ValidateOrder > ProcessPayment > SendNotification >
    # OrderConfirmed enters 4 states: 40,000 transitions at $0.025 per 1,000 = $1.00;
    # 4,000 always free: 36,000 x $0.025 / 1,000 = $0.90.
    sfn = 40_000 * 0.025 / 1000
    sfn_free = (40_000 - 4_000) * 0.025 / 1000
    assert (sfn, sfn_free) == (pytest.approx(1.00), pytest.approx(0.90))
    # SQS: 3 requests an order = 30,000, plus 5 pollers x one 20 s long poll x 730 h =
    # 5 x 730 x 3,600 / 20 = 657,000: 687,000 at $0.40 per million = $0.2748; 1M free.
    sqs = (30_000 + 5 * 730 * 3600 / 20) * 0.40 / 1e6
    assert sqs == pytest.approx(0.2748)
    # Lambda: 4 invocations an order = 40,000 at $0.20 per million = $0.008 (1M free);
    # 128 MB = 0.125 GB for 80 + 10 + 50 + 60 ms = 0.2 s an order:
    # 10,000 x 0.2 x 0.125 = 250 GB-s at $0.0000166667 = $0.0041667 (400,000 free).
    lam_requests = 40_000 * 0.20 / 1e6
    lam_compute = 250 * 0.0000166667
    assert (lam_requests, lam_compute) == (pytest.approx(0.008), pytest.approx(0.0041667, rel=1e-4))
    sns = 10_000 * 0.50 / 1e6  # 10,000 publishes at $0.50 per million = $0.005; 1M free
    # DynamoDB on demand: one conditional write an approved order, $0.625 per million WRU
    # = $0.00625; on-demand requests have no free tier
    ddb_w = 10_000 * 0.625 / 1e6
    # Logs: 40,000 invocations x 500 bytes = 0.018626 GiB ingested at $0.50/GB; stored 14
    # of 30 days at $0.03/GB-month; the 5 GB always free covers both
    gb = 40_000 * 500 / GIB
    ingest, store = gb * 0.50, gb * 14 / 30 * 0.03
    dashboard, alarm = 3.00, 0.10  # 3 dashboards and 10 alarms always free
    # the web app: t3.micro 730 h at $0.0104 = $7.592, an 8 GB gp3 volume at $0.08 per
    # GB-month = $0.64, a public IPv4 address 730 h at $0.005 = $3.65; all inside the
    # first year's free tier (750 h, 30 GB, 750 h)
    ec2, ebs, ipv4 = 730 * 0.0104, 8 * 0.08, 730 * 0.005
    expected = {
        "SQS: requests (3/order + idle polling)": (sqs, 0),
        "Step Functions: state transitions (4/order)": (sfn, sfn_free),
        "Lambda: requests (4/order)": (lam_requests, 0),
        "Lambda: compute (128 MB)": (lam_compute, 0),
        "SNS: publishes (1/order)": (sns, 0),
        "DynamoDB: payments writes (1/order)": (ddb_w, ddb_w),
        "CloudWatch: Logs ingestion": (ingest, 0),
        "CloudWatch: Logs storage (14-day retention)": (store, 0),
        "CloudWatch: dashboard": (dashboard, 0),
        "CloudWatch: DLQ alarm": (alarm, 0),
        "EC2 (web app): t3.micro instance": (ec2, 0),
        "EC2 (web app): 8 GB gp3 volume": (ebs, 0),
        "EC2 (web app): public IPv4 address": (ipv4, 0),
    }
    got = by_item(est)
    assert list(got) == list(expected)
    for key, (usd, free) in expected.items():
        assert got[key] == (pytest.approx(usd), pytest.approx(free, abs=1e-12)), key
    # without the free tier: 0.2748 + 1.00 + 0.008 + 0.0041667 + 0.005 + 0.00625
    # + 0.0093132 + 0.0002608 + 3.00 + 0.10 + 7.592 + 0.64 + 3.65 = 16.2897907;
    # with it: the Step Functions transitions past 4,000 and the DynamoDB writes
    # 0.90 + 0.00625 = 0.90625
    assert est.total == pytest.approx(16.2897907, abs=1e-6)
    assert est.total_free_tier == pytest.approx(0.90625)
    assert est.success_path == (
        "ValidateOrder",
        "ProcessPayment",
        "SendNotification",
        "OrderConfirmed",
    )
    assert all(line.source.startswith("https://aws.amazon.com/") for line in est.lines)


def test_the_free_tier_runs_out_with_volume() -> None:
    est = cost.stack_cost(settings(**{"webapp.enabled": False}), 1_000_000)
    got = by_item(est)
    # 3,657,000 SQS requests, 1M of them free
    assert got["SQS: requests (3/order + idle polling)"][1] == pytest.approx(2_657_000 * 0.40 / 1e6)
    # 4M Lambda requests, 1M free; 25,000 GB-s all inside the 400,000 free
    assert got["Lambda: requests (4/order)"][1] == pytest.approx(3_000_000 * 0.20 / 1e6)
    assert got["Lambda: compute (128 MB)"][1] == 0
    assert not any(x.service.startswith("EC2") for x in est.lines)


def test_the_config_changes_the_figures() -> None:
    base = by_item(cost.stack_cost(settings(), ORDERS))
    big = by_item(
        cost.stack_cost(
            settings(
                **{
                    "lambda.memory": 256,
                    "notify.email": "a@b.co",
                    "webapp.instance_type": "t3.small",
                }
            ),
            ORDERS,
        )
    )
    assert big["Lambda: compute (256 MB)"][0] == pytest.approx(
        2 * base["Lambda: compute (128 MB)"][0]
    )
    assert big["SNS: emails to notify.email"] == (
        pytest.approx(0.2),
        pytest.approx(9_000 * 2 / 1e5),
    )
    # only t2.micro/t3.micro hours are in the free tier
    assert big["EC2 (web app): t3.small instance"] == (
        pytest.approx(730 * 0.0208),
        pytest.approx(730 * 0.0208),
    )


def test_an_unpriced_instance_type_is_named_not_guessed() -> None:
    est = cost.stack_cost(settings(**{"webapp.instance_type": "x9.huge"}), ORDERS)
    assert not any("x9.huge" in x.item for x in est.lines)
    assert any("no price for instance type x9.huge" in n for n in est.notes)


def test_transitions_are_counted_from_the_definition() -> None:
    definition = cost.workflow_definition()
    longer = copy.deepcopy(definition)
    longer["States"]["Audit"] = {"Type": "Pass", "Next": "OrderConfirmed"}
    longer["States"]["SendNotification"]["Next"] = "Audit"
    est = cost.estimate(settings(), longer, ORDERS)
    assert len(est.success_path) == 5 and "Audit" in est.success_path
    assert any("5 state transitions per order" in n for n in est.notes)
    # a Choice is followed along its Default; Pass states invoke no function
    assert by_item(est)["Lambda: requests (4/order)"][0] == pytest.approx(40_000 * 0.2 / 1e6)
    chooser = copy.deepcopy(definition)
    chooser["StartAt"] = "Route"
    chooser["States"]["Route"] = {"Type": "Choice", "Choices": [], "Default": "ValidateOrder"}
    assert cost.success_path(chooser)[:2] == ["Route", "ValidateOrder"]


def test_cli_human_output_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 100 columns, colour off; the expected text is tests/snapshots/cost.txt."""
    monkeypatch.setenv("ORDERCLI_WIDTH", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    result = CliRunner().invoke(app, ["cost", "--stack", "shop"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == SNAPSHOTS.joinpath("cost.txt").read_text(encoding="utf-8")


def test_cli_json_and_config(tmp_path: Path) -> None:
    cfg = tmp_path / "ordercli.yaml"
    cfg.write_text("webapp:\n  enabled: false\nlambda:\n  memory: 512\n")
    result = CliRunner().invoke(
        app, ["cost", "--config", str(cfg), "--orders-per-month", "0", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stack"] == "orders" and data["estimate"] is True
    assert data["prices"] == {
        "region": "us-east-1",
        "as_of": "2026-11-28",
        "source": data["prices"]["source"],
    }
    assert data["state_transitions_per_order"] == 4
    # at rest: the trigger's idle polling, the dashboard and the alarm
    assert data["total_usd"] == pytest.approx(657_000 * 0.4 / 1e6 + 3.10, abs=1e-4)
    assert data["total_usd_with_free_tier"] == 0


def test_cli_bad_input_is_exit_2(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["cost", "--orders-per-month", "-1"]).exit_code == 2
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("lambda:\n  memory: 64\n")
    result = CliRunner().invoke(app, ["cost", "--config", str(cfg)])
    assert result.exit_code == 2 and "lambda.memory" in result.stderr


def test_billed_ms_from_report_lines() -> None:
    aws = "REPORT RequestId: r\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB"
    assert cost.billed_ms(aws) == 13
    assert cost.billed_ms("REPORT RequestId: r\tDuration: 4.01 ms") == 5  # rounded up, as billed
    assert cost.billed_ms("START RequestId: r") is None


def test_measured_durations_come_from_the_stack_logs(make_ctx: Any) -> None:
    import boto3

    from ordercli.deploy import stack as deploy

    ctx = make_ctx("ms")
    deploy.up(ctx)
    logs = boto3.client("logs", region_name="us-east-1")
    group = "/aws/lambda/ms-ProcessPayment"
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 2000, "message": "START RequestId: a"},
            {"timestamp": now - 1000, "message": "REPORT RequestId: a\tBilled Duration: 30 ms"},
            {"timestamp": now - 500, "message": "REPORT RequestId: b\tBilled Duration: 50 ms"},
        ],
    )
    measured = cost.measure_durations(ctx, now_ms=now)
    assert measured == {"ProcessPayment": 40.0}
    est = cost.stack_cost(settings(), ORDERS, durations_ms=measured, durations_source="measured")
    assert est.durations_ms["ProcessPayment"] == 40.0
    assert est.durations_ms["ValidateOrder"] == cost.ASSUMED_MS["ValidateOrder"]


def test_another_region_is_told_the_prices_are_us_east_1s() -> None:
    notes = cost.stack_cost(settings(region="eu-west-1"), ORDERS).notes
    assert any("Prices are us-east-1's; the stack's region eu-west-1" in n for n in notes)
    assert not any("Prices are" in n for n in cost.stack_cost(settings(), ORDERS).notes)
