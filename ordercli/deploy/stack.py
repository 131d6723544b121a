"""`up` and `teardown`: one pipeline (specs -> plan -> apply), two directions."""

from __future__ import annotations

from dataclasses import dataclass, field

from ordercli.context import Context
from ordercli.deploy.apply import Listener, Result, apply
from ordercli.deploy.plan import Plan, plan_teardown, plan_up
from ordercli.deploy.specs import Spec, build_specs
from ordercli.names import FUNCTIONS


@dataclass
class StackResult:
    target: str
    stack: str
    plan: Plan
    results: list[Result] = field(default_factory=list)
    outputs: dict[str, object] = field(default_factory=dict)
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "stack": self.stack,
            "dry_run": self.dry_run,
            "actions": [a.to_json() for a in self.plan.actions],
            "outputs": self.outputs,
            # Deleted but not yet gone: AWS finishes these by itself (teardown).
            "finishing": [
                {"resource": r.action.spec.name, "kind": r.action.spec.kind, "detail": r.detail}
                for r in self.results
                if r.detail
            ],
        }


def desired(ctx: Context, *, teardown: bool = False) -> list[Spec]:
    """The stack's specs. On AWS the web app is part of it (teardown always removes it);
    on the local target the app is a local process instead."""
    on_aws = not ctx.target.is_local
    return build_specs(
        ctx.settings,
        ctx.names,
        webapp=on_aws and (teardown or bool(ctx.settings["webapp.enabled"])),
    )


def plan(ctx: Context, *, teardown: bool = False) -> Plan:
    """Read what exists and decide; changes nothing."""
    if teardown:
        return plan_teardown(ctx.aws, desired(ctx, teardown=True))
    return plan_up(ctx.aws, desired(ctx))


def up(
    ctx: Context,
    planned: Plan | None = None,
    *,
    dry_run: bool = False,
    listener: Listener | None = None,
) -> StackResult:
    the_plan = planned or plan(ctx)
    result = StackResult(ctx.target.label, ctx.settings.stack, the_plan, dry_run=dry_run)
    if dry_run:
        return result
    result.results = apply(ctx.aws, the_plan, listener)
    result.outputs = outputs(ctx, the_plan)
    if ctx.target.is_local and ctx.settings["webapp.enabled"]:
        from ordercli.local import webapp

        result.outputs["webapp_url"] = webapp.ensure(
            ctx.settings.stack,
            str(result.outputs["queue_url"]),
            ctx.names.state_machine_arn,
            currency=ctx.settings["webapp.currency"],
        )
    return result


def teardown(
    ctx: Context, planned: Plan | None = None, *, listener: Listener | None = None
) -> StackResult:
    the_plan = planned or plan(ctx, teardown=True)
    result = StackResult(ctx.target.label, ctx.settings.stack, the_plan)
    if ctx.target.is_local:
        from ordercli.local import control, webapp

        state = control.running(control.port_from_env())
        if state is not None:
            webapp.stop(state, ctx.settings.stack)
    result.results = apply(ctx.aws, the_plan, listener)
    return result


def outputs(ctx: Context, plan: Plan) -> dict[str, object]:
    names = ctx.names
    queue = next(
        (a for a in plan.actions if a.spec.kind == "queue" and a.spec.name == names.queue), None
    )
    url = getattr(queue.current, "url", None) if queue else None
    if url is None:
        url = ctx.aws.client("sqs").get_queue_url(QueueName=names.queue)["QueueUrl"]
    return {
        "queue_url": url,
        "dlq_arn": names.dlq_arn,
        "state_machine_arn": names.state_machine_arn,
        "topic_arn": names.topic_arn,
        "functions": {f: names.function_arn(f) for f in FUNCTIONS},
    }
