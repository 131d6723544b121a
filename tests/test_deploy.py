"""The deployer end to end against moto in-process: create, no-op, targeted updates,
convergence after a failure, teardown of full, partial and empty stacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ordercli.deploy import stack as engine
from ordercli.deploy.apply import ApplyError
from ordercli.deploy.resources import function as function_kind
from ordercli.names import FUNCTIONS, TAG_KEY
from tests.conftest import MakeCtx

REGION = "us-east-1"


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def leftovers(stack: str) -> dict[str, list[str]]:
    """Everything named for the stack, read with plain boto3 (not ordercli's code)."""
    p = stack + "-"
    lam, iam, logs, sfn = (
        _client("lambda"),
        _client("iam"),
        _client("logs"),
        _client("stepfunctions"),
    )
    return {
        k: v
        for k, v in {
            "queues": _client("sqs").list_queues(QueueNamePrefix=p).get("QueueUrls", []),
            "functions": [
                f["FunctionName"]
                for f in lam.list_functions()["Functions"]
                if f["FunctionName"].startswith(p)
            ],
            "roles": [
                r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(p)
            ],
            "logs": [
                g["logGroupName"]
                for g in logs.describe_log_groups()["logGroups"]
                if g["logGroupName"].startswith(f"/aws/lambda/{p}")
            ],
            "machines": [
                m["name"]
                for m in sfn.list_state_machines()["stateMachines"]
                if m["name"].startswith(p)
            ],
            "topics": [
                t["TopicArn"]
                for t in _client("sns").list_topics()["Topics"]
                if f":{p}" in t["TopicArn"]
            ],
            "mappings": [
                m["UUID"]
                for m in lam.list_event_source_mappings()["EventSourceMappings"]
                if f":{p}" in m["FunctionArn"]
            ],
            "dashboards": [
                d["DashboardName"]
                for d in _client("cloudwatch").list_dashboards(DashboardNamePrefix=p)[
                    "DashboardEntries"
                ]
            ],
            "alarms": [
                a["AlarmName"]
                for a in _client("cloudwatch").describe_alarms(AlarmNamePrefix=p)["MetricAlarms"]
            ],
        }.items()
        if v
    }


def is_web(key: str) -> bool:
    """The web app's resources (Elastic Beanstalk), which teardown always looks for."""
    return key.startswith(("eb_", "instance_profile:")) or key.endswith(
        ("-webapp", "-webapp-service")
    )


def actions(result: engine.StackResult) -> dict[str, str]:
    return {f"{a.spec.kind}:{a.spec.name}": a.action for a in result.plan.actions}


def test_up_creates_every_resource_tagged(make_ctx: MakeCtx) -> None:
    ctx = make_ctx("shop")
    result = engine.up(ctx)
    assert set(actions(result).values()) == {"create"}
    made = leftovers("shop")
    assert sorted(made["functions"]) == sorted(f"shop-{f}" for f in FUNCTIONS)
    assert len(made["queues"]) == 2 and made["machines"] == ["shop-OrderProcessingWorkflow"]
    assert len(made["mappings"]) == 1 and len(made["logs"]) == 4
    assert made["dashboards"] == ["shop-orders"] and made["alarms"] == ["shop-orders-dlq-not-empty"]
    alarm = _client("cloudwatch").describe_alarms(AlarmNames=["shop-orders-dlq-not-empty"])[
        "MetricAlarms"
    ][0]
    assert alarm["AlarmActions"] == [result.outputs["topic_arn"]] and alarm["Threshold"] == 0
    mapping = _client("lambda").list_event_source_mappings()["EventSourceMappings"][0]
    assert mapping["BatchSize"] == 10 and mapping["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]
    q = _client("sqs").get_queue_url(QueueName="shop-orders")["QueueUrl"]
    attrs = _client("sqs").get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5
    assert _client("sqs").list_queue_tags(QueueUrl=q)["Tags"] == {TAG_KEY: "shop"}
    assert (
        _client("lambda").get_function(FunctionName="shop-ProcessPayment")["Tags"][TAG_KEY]
        == "shop"
    )
    assert result.outputs["queue_url"] == q


def test_second_up_is_all_noop_with_zero_mutating_calls(make_ctx: MakeCtx, call_log: Any) -> None:
    engine.up(make_ctx("shop"))
    ctx = make_ctx("shop")
    log = call_log(ctx)
    result = engine.up(ctx)
    assert set(actions(result).values()) == {"noop"}
    assert result.results == []
    assert log.calls, "the hook saw no calls at all"
    assert log.mutating == []


def test_changed_handler_updates_only_that_function(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine.up(make_ctx("shop"))
    from ordercli.deploy import package

    real = package.lambda_source_dir()
    fake = tmp_path / "src"
    fake.mkdir()
    for f in real.glob("*.py"):
        text = f.read_text()
        if f.name == "process_payment.py":
            text += "\n# a change\n"
        (fake / f.name).write_text(text)
    monkeypatch.setattr(package, "lambda_source_dir", lambda: fake)
    result = engine.up(make_ctx("shop"))
    changed = {k: v for k, v in actions(result).items() if v != "noop"}
    assert changed == {"function:shop-ProcessPayment": "update"}
    assert next(a for a in result.plan.actions if a.action == "update").reason == "code changed"


def test_changed_workflow_updates_only_the_state_machine(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.up(make_ctx("shop"))
    from ordercli.deploy import specs

    original = specs.workflow_definition

    def edited(names: Any, timeout: int) -> str:
        d = json.loads(original(names, timeout))
        d["Comment"] = "edited"
        return json.dumps(d)

    monkeypatch.setattr(specs, "workflow_definition", edited)
    result = engine.up(make_ctx("shop"))
    assert {k: v for k, v in actions(result).items() if v != "noop"} == {
        "state_machine:shop-OrderProcessingWorkflow": "update"
    }
    got = _client("stepfunctions").describe_state_machine(
        stateMachineArn=make_ctx("shop").names.state_machine_arn
    )["definition"]
    assert json.loads(got)["Comment"] == "edited"


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("payment.success_rate", 0.5, {"function:shop-ProcessPayment"}),
        ("queue.visibility_timeout", 120, {"queue:shop-orders"}),
        # the consumer dead-letters a message itself on its last allowed receive
        ("queue.max_receive_count", 3, {"queue:shop-orders", "function:shop-StartOrderWorkflow"}),
        ("log_retention_days", 30, {f"log_group:/aws/lambda/shop-{f}" for f in FUNCTIONS}),
        # the trigger's ScalingConfig.MaximumConcurrency, planned and applied in place
        ("queue.max_concurrency", 7, {"event_source_mapping:shop-orders->shop-StartOrderWorkflow"}),
        # every Task's TimeoutSeconds follows the functions' timeout
        (
            "lambda.timeout",
            20,
            {f"function:shop-{f}" for f in FUNCTIONS}
            | {"state_machine:shop-OrderProcessingWorkflow"},
        ),
    ],
)
def test_config_change_updates_only_what_it_touches(
    make_ctx: MakeCtx, key: str, value: Any, expected: set[str]
) -> None:
    engine.up(make_ctx("shop"))
    result = engine.up(make_ctx("shop", **{key: value}))
    assert {k for k, v in actions(result).items() if v != "noop"} == expected
    assert set(actions(engine.up(make_ctx("shop", **{key: value}))).values()) == {"noop"}


def test_failure_midway_then_rerun_converges(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = function_kind.create

    def broken(aws: Any, spec: Any) -> None:
        if spec.name.endswith("SendNotification"):
            raise RuntimeError("injected failure")
        real_create(aws, spec)

    monkeypatch.setattr(function_kind, "create", broken)
    with pytest.raises(ApplyError) as err:
        engine.up(make_ctx("shop"))
    statuses = {r.action.spec.name: r.status for r in err.value.results}
    assert statuses["shop-SendNotification"] == "failed"
    assert statuses["shop-OrderProcessingWorkflow"] == "skipped"  # it depends on the failed one
    assert "injected failure" in err.value.message
    monkeypatch.setattr(function_kind, "create", real_create)
    rerun = engine.up(make_ctx("shop"))
    assert {k for k, v in actions(rerun).items() if v == "create"} >= {
        "function:shop-SendNotification",
        "state_machine:shop-OrderProcessingWorkflow",
    }
    assert set(actions(engine.up(make_ctx("shop"))).values()) == {"noop"}


def test_teardown_of_a_full_stack_leaves_nothing(make_ctx: MakeCtx) -> None:
    engine.up(make_ctx("shop"))
    engine.up(make_ctx("other"))
    result = engine.teardown(make_ctx("shop"))
    web = {k: v for k, v in actions(result).items() if is_web(k)}
    assert set(web.values()) == {"noop"} and len(web) == 5  # never deployed: already gone
    assert {v for k, v in actions(result).items() if not is_web(k)} == {"delete"}
    assert leftovers("shop") == {}
    assert leftovers("other"), "teardown must touch only its own stack"


def test_teardown_of_a_partial_and_an_empty_stack(make_ctx: MakeCtx) -> None:
    engine.up(make_ctx("shop"))
    _client("lambda").delete_function(FunctionName="shop-ValidateOrder")
    _client("sqs").delete_queue(
        QueueUrl=_client("sqs").get_queue_url(QueueName="shop-orders")["QueueUrl"]
    )
    result = engine.teardown(make_ctx("shop"))
    assert actions(result)["function:shop-ValidateOrder"] == "noop"
    assert leftovers("shop") == {}
    again = engine.teardown(make_ctx("shop"))
    assert set(actions(again).values()) == {"noop"} and again.results == []


def test_function_create_retries_while_the_new_role_is_not_assumable(make_ctx: MakeCtx) -> None:
    from botocore.exceptions import ClientError

    ctx = make_ctx("shop")
    spec = next(s for s in engine.desired(ctx) if s.kind == "function")
    engine.up(ctx)  # roles exist
    _client("lambda").delete_function(FunctionName=spec.name)
    lam = ctx.aws.client("lambda")
    calls = {"n": 0}
    real = lam.create_function

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameterValueException",
                        "Message": "The role defined for the function cannot be assumed by Lambda.",
                    }
                },
                "CreateFunction",
            )
        return real(**kwargs)

    lam.create_function = flaky
    function_kind.create(ctx.aws, spec)
    assert calls["n"] == 3
    assert _client("lambda").get_function(FunctionName=spec.name)


def test_dry_run_changes_nothing(make_ctx: MakeCtx, call_log: Any) -> None:
    ctx = make_ctx("shop")
    log = call_log(ctx)
    result = engine.up(ctx, dry_run=True)
    assert set(actions(result).values()) == {"create"} and log.mutating == []
    assert leftovers("shop") == {}


# -- each stage alone: the planner on an in-memory remote state, the executor on a fake client
def _remote_matching(specs: list[Any]) -> dict[str, object]:
    """An in-memory remote state equal to the specs (what AWS would hold after a clean `up`)."""
    from ordercli.deploy.resources import (
        alarm,
        dashboard,
        event_source_mapping,
        function,
        log_group,
        queue,
        role,
        state_machine,
        table,
        topic,
    )

    remote: dict[str, object] = {}
    for s in specs:
        state: object
        if s.kind == "queue":
            state = queue.QueueState(f"https://q/{s.name}", dict(s.attributes), dict(s.tags))
        elif s.kind == "topic":
            state = topic.TopicState(dict(s.tags), [])
        elif s.kind == "role":
            state = role.RoleState(
                "arn", s.trust, s.policy, tuple(sorted(s.managed_policies)), s.tags
            )
        elif s.kind == "log_group":
            state = log_group.LogGroupState(s.retention, dict(s.tags), "arn")
        elif s.kind == "function":
            cfg = {
                "Handler": s.handler,
                "Runtime": s.runtime,
                "Timeout": s.timeout,
                "MemorySize": s.memory,
                "Role": s.role_arn,
                "Environment": {"Variables": dict(s.environment)},
                "CodeSha256": s.code_sha256,
                "FunctionArn": f"arn:{s.name}",
            }
            state = function.FunctionState(cfg, dict(s.tags))
        elif s.kind == "state_machine":
            state = state_machine.MachineState(s.definition, s.role_arn, dict(s.tags))
        elif s.kind == "event_source_mapping":
            m = event_source_mapping.Mapping(
                "u-1", s.queue_arn, "Enabled", s.batch_size, s.response_types, s.max_concurrency
            )
            state = event_source_mapping.MappingState(m, (m,))
        elif s.kind == "dashboard":
            state = dashboard.DashboardState(s.body)
        elif s.kind == "table":
            state = table.TableState(s.arn, "ACTIVE", dict(s.tags))
        else:
            state = alarm.AlarmState(dict(s.alarm))
        remote[s.key] = state
    return remote


def test_planner_alone_decides_from_an_in_memory_remote_state(make_ctx: MakeCtx) -> None:
    from dataclasses import replace

    from ordercli.deploy.plan import decide_teardown, decide_up
    from ordercli.deploy.resources import function

    specs = engine.desired(make_ctx("shop"))
    remote = _remote_matching(specs)
    assert {decide_up(s, remote[s.key]).action for s in specs} == {"noop"}

    fn = "function:shop-ProcessPayment"
    old = remote[fn]
    assert isinstance(old, function.FunctionState)
    remote[fn] = replace(old, config={**old.config, "Timeout": 99, "CodeSha256": "old"})
    mapping_key = next(s.key for s in specs if s.kind == "event_source_mapping")
    del remote[mapping_key]  # gone, or only Deleting: the kind's read says None
    actions = {s.key: decide_up(s, remote.get(s.key)) for s in specs}
    changed = {k: a for k, a in actions.items() if a.action != "noop"}
    assert set(changed) == {fn, mapping_key}
    assert changed[mapping_key].action == "create"
    update = changed[fn]
    assert update.action == "update"
    assert [(c.what, c.have, c.want) for c in update.changes] == [
        ("code", None, None),
        ("timeout", 99, 10),
    ]
    assert update.reason == "code changed; timeout: live 99, config 10"
    assert decide_teardown(specs[0], None).action == "noop"
    assert decide_teardown(specs[0], remote[specs[0].key]).action == "delete"


class FakeClient:
    """Records every call; answers from `answers` (operation -> response or exception)."""

    def __init__(self, log: list[str], answers: dict[str, Any]) -> None:
        self.log, self.answers = log, answers

    def __getattr__(self, op: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.log.append(f"{op} {kwargs.get('QueueName') or kwargs.get('RoleName') or ''}")
            answer = self.answers.get(op, {})
            if isinstance(answer, list):
                answer = answer.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call


def test_executor_alone_runs_actions_in_dependency_order_on_a_fake_client() -> None:
    from botocore.exceptions import ClientError

    from ordercli.aws import Aws, Target
    from ordercli.deploy.apply import apply
    from ordercli.deploy.plan import Action, Plan
    from ordercli.deploy.resources.role import RoleState
    from ordercli.deploy.specs import QueueSpec, RoleSpec

    log: list[str] = []
    held = ClientError(
        {"Error": {"Code": "AWS.SimpleQueueService.QueueDeletedRecently", "Message": "wait"}},
        "CreateQueue",
    )
    clients = {
        "sqs": FakeClient(log, {"create_queue": [held, held, {}, {}]}),
        "iam": FakeClient(
            log,
            {
                "list_role_policies": {"PolicyNames": ["p"]},
                "list_attached_role_policies": {"AttachedPolicies": []},
                "list_instance_profiles_for_role": {"InstanceProfiles": []},
            },
        ),
    }
    aws = Aws(Target("aws", "us-east-1"), sleep=lambda s: None)
    aws.client = clients.__getitem__  # type: ignore[method-assign]
    dlq = QueueSpec("s-dlq", attributes={}, tags={})
    queue = QueueSpec("s-q", attributes={}, tags={}, depends_on=(dlq.key,))
    old_role = RoleSpec("s-old", trust={}, policy=None, managed_policies=(), tags={})
    plan = Plan(
        [
            Action(queue, "create", "does not exist"),
            Action(dlq, "create", "does not exist"),
            Action(old_role, "delete", "gone", RoleState("arn", None, None, (), {})),
        ]
    )
    events: list[tuple[str, str]] = []
    results = apply(aws, plan, lambda ev, a, r: events.append((ev, a.spec.name)), threads=1)
    assert [r.status for r in results] == ["done", "done", "done"]
    queue_calls = [c for c in log if c.startswith("create_queue")]
    assert queue_calls == ["create_queue s-dlq"] * 3 + ["create_queue s-q"]  # held, then in order
    assert ("waiting", "s-dlq") in events
    role_calls = [c for c in log if c.endswith("s-old")]
    assert role_calls[1] == "delete_role_policy s-old" and role_calls[-1] == "delete_role s-old"
