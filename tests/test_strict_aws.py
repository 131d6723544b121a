"""The deployer against the stricter double (tests/strict_aws.py): AWS's lifecycles, eventual
consistency and throttling, on a virtual clock so every wait ends at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ordercli.aws import Aws, Target
from ordercli.config import load_settings
from ordercli.context import Context, Options
from ordercli.deploy import stack as engine
from ordercli.deploy.resources import event_source_mapping
from tests.strict_aws import StrictAws, VirtualClock, strict
from tests.test_deploy import actions, leftovers

StrictCtx = Callable[..., tuple[Context, StrictAws, list[str]]]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def strict_ctx(mocked: None, clock: VirtualClock) -> StrictCtx:
    """A context on the aws target whose clients go through the double; one double per test,
    shared by every context (it is AWS's memory). Returns (ctx, double, progress lines)."""
    shared: dict[str, StrictAws] = {}

    def make(stack: str = "shop", **overrides: Any) -> tuple[Context, StrictAws, list[str]]:
        overrides.setdefault("webapp.enabled", False)
        settings = load_settings({"stack": stack}, environ={}, overrides=overrides)
        target = Target("aws", "us-east-1")
        aws = Aws(target, sleep=clock.sleep, clock=clock.now)
        notes: list[str] = []
        aws.note = notes.append
        if "double" not in shared:
            shared["double"] = strict(aws, clock.now)
        else:
            shared["double"].attach(aws)
        return Context(settings, Options(stack=stack), target, aws), shared["double"], notes

    return make


def test_the_whole_cycle_against_aws_lifecycles(strict_ctx: StrictCtx, call_log: Any) -> None:
    ctx, double, _ = strict_ctx()
    first = engine.up(ctx)
    assert set(actions(first).values()) == {"create"}
    for behaviour in (
        "throttled lambda",
        "throttled states",
        "function Pending",
        "mapping Creating",
        "role not ready for lambda",
        "role not ready for states",
        "role not ready for event source mapping",
    ):
        assert double.seen[behaviour] >= 1, behaviour

    ctx, _, _ = strict_ctx()
    log = call_log(ctx)
    noop = engine.up(ctx)
    assert set(actions(noop).values()) == {"noop"} and log.mutating == []

    ctx, _, _ = strict_ctx(**{"lambda.timeout": 20})
    changed = engine.up(ctx)
    assert {k for k, v in actions(changed).items() if v == "update"} == {
        f"function:shop-{f}"
        for f in ("ValidateOrder", "ProcessPayment", "SendNotification", "StartOrderWorkflow")
    } | {"state_machine:shop-OrderProcessingWorkflow"}  # its tasks' timeouts follow
    assert double.seen["function InProgress"] >= 4

    ctx, _, _ = strict_ctx(**{"lambda.timeout": 20})
    down = engine.teardown(ctx)
    finishing = {r["kind"]: r["detail"] for r in down.to_json()["finishing"]}
    assert "Deleting" in finishing["event_source_mapping"]
    assert "DELETING" in finishing["state_machine"]
    assert "60 s" in finishing["queue"]
    assert double.seen["mapping Disabling"] >= 1 and double.seen["mapping Deleting"] == 1

    ctx, _, notes = strict_ctx(**{"lambda.timeout": 20})
    events: list[tuple[str, str]] = []
    again = engine.up(ctx, listener=lambda ev, a, r: events.append((ev, r.detail if r else "")))
    assert set(actions(again).values()) == {"create"}  # Deleting/DELETING ones are not present
    assert double.seen["queue name held after delete"] >= 1
    assert any("SQS holds a deleted queue's name for 60 s" in n for n in notes)
    countdown = [d for ev, d in events if ev == "waiting" and "free the name" in d]
    assert countdown and countdown[0].endswith("60 s")

    ctx, _, _ = strict_ctx()
    engine.teardown(ctx)
    assert leftovers("shop") == {}
    ctx.aws.sleep(60)  # what AWS finishes by itself, it finishes
    assert double.alive() == []


def test_a_mapping_is_never_changed_mid_transition(strict_ctx: StrictCtx) -> None:
    ctx, double, _ = strict_ctx()
    engine.up(ctx)
    spec = next(s for s in engine.desired(ctx) if s.kind == "event_source_mapping")
    lam = ctx.aws.client("lambda")
    uuid = lam.list_event_source_mappings(FunctionName="shop-StartOrderWorkflow")[
        "EventSourceMappings"
    ][0]["UUID"]
    lam.update_event_source_mapping(UUID=uuid, BatchSize=5)  # now Updating
    current = event_source_mapping.read(ctx.aws, spec)
    assert current is not None and current.mapping and current.mapping.state == "Updating"
    assert event_source_mapping.delete(ctx.aws, spec, current)  # waited, disabled, deleted
    assert double.seen["mapping update refused mid-transition"] == 0
    assert double.seen["mapping delete refused mid-transition"] == 0
    assert event_source_mapping.read(ctx.aws, spec) is None  # Deleting is not present
    plan = engine.plan(ctx)
    assert actions(engine.StackResult("", "", plan))[f"event_source_mapping:{spec.name}"] == (
        "create"
    )
