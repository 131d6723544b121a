"""Desired state as data: the settings become a list of typed resource specs. No I/O here.

One frozen dataclass per resource kind holds exactly what that kind needs; `depends_on`
names the specs made before it (and deleted after it)."""

from __future__ import annotations

import json
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar

from ordercli.config import Settings
from ordercli.deploy import policies
from ordercli.deploy.functions import CONSUMER, TABLE, WORKFLOW, execution_prefix, queue_url
from ordercli.deploy.package import function_zip
from ordercli.deploy.policies import Document
from ordercli.names import TAG_KEY, Names

RUNTIME = "python3.12"
HANDLER_MODULES = {r.logical: r.module for r in TABLE}
DLQ_RETENTION = 1_209_600  # 14 days, SQS's maximum: time to look at what failed
QUEUE_RETENTION = 345_600  # 4 days, SQS's default
BATCH_SIZE = 10
Tags = dict[str, str]


@dataclass(frozen=True)
class Spec:
    """One resource as it should be. `only_with` is the key of a spec made (and deleted)
    with it: if that one is absent, this one is taken as absent without being read (so a stack
    that never had a web app is never asked of Elastic Beanstalk, whose permissions its user
    may lack)."""

    kind: ClassVar[str] = ""
    name: str
    _: KW_ONLY
    depends_on: tuple[str, ...] = ()
    only_with: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class QueueSpec(Spec):
    kind: ClassVar[str] = "queue"
    attributes: dict[str, str]
    tags: Tags


@dataclass(frozen=True)
class TopicSpec(Spec):
    kind: ClassVar[str] = "topic"
    arn: str
    email: str | None
    tags: Tags


@dataclass(frozen=True)
class TableSpec(Spec):
    """The payments table (ProcessPayment's idempotency record, keyed by orderId)."""

    kind: ClassVar[str] = "table"
    arn: str
    tags: Tags


@dataclass(frozen=True)
class RoleSpec(Spec):
    kind: ClassVar[str] = "role"
    trust: Document
    policy: Document | None  # the one inline policy, named POLICY_NAME
    managed_policies: tuple[str, ...]
    tags: Tags


POLICY_NAME = "least-privilege"


@dataclass(frozen=True)
class LogGroupSpec(Spec):
    kind: ClassVar[str] = "log_group"
    retention: int
    tags: Tags


@dataclass(frozen=True)
class FunctionSpec(Spec):
    kind: ClassVar[str] = "function"
    role_arn: str
    handler: str
    runtime: str
    timeout: int
    memory: int
    environment: dict[str, str]
    zip: bytes
    code_sha256: str
    tags: Tags


@dataclass(frozen=True)
class StateMachineSpec(Spec):
    kind: ClassVar[str] = "state_machine"
    arn: str
    definition: str
    role_arn: str
    tags: Tags


@dataclass(frozen=True)
class MappingSpec(Spec):
    kind: ClassVar[str] = "event_source_mapping"
    queue_arn: str
    function: str
    batch_size: int
    response_types: tuple[str, ...]
    max_concurrency: int | None


@dataclass(frozen=True)
class DashboardSpec(Spec):
    kind: ClassVar[str] = "dashboard"
    body: str


@dataclass(frozen=True)
class AlarmSpec(Spec):
    """A metric alarm; `alarm` holds PutMetricAlarm's arguments but the name and tags."""

    kind: ClassVar[str] = "alarm"
    alarm: dict[str, object]
    tags: Tags


@dataclass(frozen=True)
class InstanceProfileSpec(Spec):
    kind: ClassVar[str] = "instance_profile"
    role: str
    tags: Tags


@dataclass(frozen=True)
class EbApplicationSpec(Spec):
    kind: ClassVar[str] = "eb_application"
    version_label: str
    bundle: bytes
    tags: Tags


@dataclass(frozen=True)
class EbEnvironmentSpec(Spec):
    kind: ClassVar[str] = "eb_environment"
    application: str
    version_label: str
    options: tuple[dict[str, str], ...]
    solution_stack: str | None
    timeout: int
    tags: Tags


def key(kind: str, name: str) -> str:
    return f"{kind}:{name}"


TASK_TIMEOUT_MARGIN = 5  # seconds a task waits past its function's own timeout


def workflow_definition(names: Names, lambda_timeout: int | None = None) -> str:
    """The ASL from definitions/, every function placeholder filled with its ARN; with
    `lambda_timeout`, every Task's TimeoutSeconds set from it (`with_task_timeout`)."""
    text = (policies.definitions_dir() / "workflow.asl.json").read_text(encoding="utf-8")
    filled = policies.fill(
        text, {f"{r.logical}Arn": names.function_arn(r.logical) for r in WORKFLOW}
    )
    definition = json.dumps(json.loads(filled), separators=(",", ":"), sort_keys=True)
    return definition if lambda_timeout is None else with_task_timeout(definition, lambda_timeout)


def with_task_timeout(definition: str, lambda_timeout: int) -> str:
    """Each Task's TimeoutSeconds a little over the functions' own timeout: the function's
    timeout (Sandbox.Timedout) fires first; the task's catches an invocation that hangs."""
    asl = json.loads(definition)
    for state in asl["States"].values():
        if state["Type"] == "Task":
            state["TimeoutSeconds"] = lambda_timeout + TASK_TIMEOUT_MARGIN
    return json.dumps(asl, separators=(",", ":"), sort_keys=True)


def _lambda_trust_role(names: Names, logical: str, tags: Tags) -> RoleSpec:
    row = next(r for r in TABLE if r.logical == logical)
    logs = policies.render_statements("lambda-logs", LogGroupArn=names.log_group_arn(logical))
    return RoleSpec(
        names.function_role(logical),
        trust=policies.trust("lambda"),
        policy=policies.document(logs, row.statements(names)),
        managed_policies=(),
        tags=tags,
    )


def build_specs(settings: Settings, names: Names, *, webapp: bool = False) -> list[Spec]:
    """Every resource of the stack, in an order where each spec follows its dependencies.
    `webapp`: include the Elastic Beanstalk web app (the aws target)."""
    tags = {TAG_KEY: names.stack}
    redrive = {
        "deadLetterTargetArn": names.dlq_arn,
        "maxReceiveCount": settings["queue.max_receive_count"],
    }
    specs: list[Spec] = [
        QueueSpec(names.dlq, attributes={"MessageRetentionPeriod": str(DLQ_RETENTION)}, tags=tags),
        QueueSpec(
            names.queue,
            attributes={
                "VisibilityTimeout": str(settings["queue.visibility_timeout"]),
                "MessageRetentionPeriod": str(QUEUE_RETENTION),
                "RedrivePolicy": json.dumps(redrive),
            },
            tags=tags,
            depends_on=(key("queue", names.dlq),),
        ),
        TopicSpec(names.topic, arn=names.topic_arn, email=settings["notify.email"], tags=tags),
        TableSpec(names.payments_table, arn=names.payments_table_arn, tags=tags),
    ]
    for row in TABLE:
        role = _lambda_trust_role(names, row.logical, tags)
        group = LogGroupSpec(
            names.log_group(row.logical), retention=settings["log_retention_days"], tags=tags
        )
        bundle = function_zip(row.module)
        specs += [
            role,
            group,
            FunctionSpec(
                names.function(row.logical),
                role_arn=names.role_arn(role.name),
                handler=f"lambda_src.{row.module}.handler",
                runtime=RUNTIME,
                timeout=settings["lambda.timeout"],
                memory=settings["lambda.memory"],
                environment=row.environment(settings, names),
                zip=bundle.data,
                code_sha256=bundle.sha256_b64,
                tags=tags,
                depends_on=(role.key, group.key),
            ),
        ]
    invoke = policies.statement(
        "InvokeOrderFunctions",
        ["lambda:InvokeFunction"],
        [names.function_arn(r.logical) for r in WORKFLOW],
    )
    specs += [
        RoleSpec(
            names.workflow_role,
            trust=policies.trust("states"),
            policy=policies.document(invoke),
            managed_policies=(),
            tags=tags,
        ),
        StateMachineSpec(
            names.state_machine,
            arn=names.state_machine_arn,
            definition=workflow_definition(names, settings["lambda.timeout"]),
            role_arn=names.role_arn(names.workflow_role),
            tags=tags,
            depends_on=(
                key("role", names.workflow_role),
                *(key("function", names.function(r.logical)) for r in WORKFLOW),
            ),
        ),
    ]
    consumer = names.function(CONSUMER.logical)
    specs.append(
        MappingSpec(
            f"{names.queue}->{consumer}",
            queue_arn=names.queue_arn(),
            function=consumer,
            batch_size=BATCH_SIZE,
            response_types=("ReportBatchItemFailures",),
            max_concurrency=settings["queue.max_concurrency"],
            depends_on=(
                key("queue", names.queue),
                key("function", consumer),
                key("state_machine", names.state_machine),
            ),
        )
    )
    specs += monitoring_specs(names, tags)
    if webapp:
        specs += webapp_specs(settings, names, tags)
    return specs


EB_WEB_TIER = "arn:{p}:iam::aws:policy/AWSElasticBeanstalkWebTier"
EB_SERVICE = (
    "arn:{p}:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth",
    "arn:{p}:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
)


def _option(namespace: str, name: str, value: str) -> dict[str, str]:
    return {"Namespace": namespace, "OptionName": name, "Value": value}


def webapp_specs(settings: Settings, names: Names, tags: Tags) -> list[Spec]:
    """Instance role and profile, service role, application with a content-addressed version,
    and the environment. Every name is known in advance, so the environment (the slow part)
    needs only these, not the rest of the stack, and is built alongside it."""
    from ordercli.deploy.package import webapp_bundle

    bundle = webapp_bundle()
    label = f"ordercli-{bundle.sha256_hex[:16]}"
    p = names.partition
    instance_role, service_role = names.webapp_instance_role, names.webapp_service_role
    app = names.webapp_application
    env_vars = {
        "ORDERS_QUEUE_URL": queue_url(names),
        "STATE_MACHINE_ARN": names.state_machine_arn,
        "AWS_REGION": names.region,
        "ORDERCLI_CURRENCY": settings["webapp.currency"],
    }
    options = (
        _option("aws:autoscaling:launchconfiguration", "IamInstanceProfile", instance_role),
        _option("aws:ec2:instances", "InstanceTypes", settings["webapp.instance_type"]),
        _option("aws:elasticbeanstalk:environment", "EnvironmentType", "SingleInstance"),
        _option("aws:elasticbeanstalk:environment", "ServiceRole", service_role),
        _option("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
        *(
            _option("aws:elasticbeanstalk:application:environment", k, v)
            for k, v in env_vars.items()
        ),
    )
    web_statements = policies.render_statements(
        "webapp", QueueArn=names.queue_arn(), ExecutionArnPrefix=execution_prefix(names)
    )
    return [
        RoleSpec(
            instance_role,
            trust=policies.trust("ec2"),
            policy=policies.document(web_statements),
            managed_policies=(EB_WEB_TIER.format(p=p),),
            tags=tags,
        ),
        InstanceProfileSpec(
            instance_role,
            role=instance_role,
            tags=tags,
            depends_on=(key("role", instance_role),),
            only_with=key("role", instance_role),
        ),
        RoleSpec(
            service_role,
            trust=policies.trust("elasticbeanstalk"),
            policy=None,
            managed_policies=tuple(a.format(p=p) for a in EB_SERVICE),
            tags=tags,
        ),
        EbApplicationSpec(
            app,
            version_label=label,
            bundle=bundle.data,
            tags=tags,
            depends_on=(key("role", service_role),),
            only_with=key("role", service_role),
        ),
        EbEnvironmentSpec(
            names.webapp_environment,
            application=app,
            version_label=label,
            options=options,
            solution_stack=settings["webapp.solution_stack"],
            timeout=settings["webapp.timeout"],
            tags=tags,
            depends_on=(
                key("eb_application", app),
                key("instance_profile", instance_role),
                key("role", service_role),
            ),
            only_with=key("role", service_role),
        ),
    ]


def dashboard_body(names: Names) -> str:
    """Orders per hour, payment success rate, mean processing latency, Lambda errors, queue and
    DLQ depth: what the original README said to watch, as one dashboard."""
    region, sm = names.region, names.state_machine_arn

    def widget(
        title: str, metrics: list[object], stat: str = "Sum", period: int = 300, **extra: object
    ) -> dict[str, object]:
        return {
            "type": "metric",
            "width": 8,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": period,
                "metrics": metrics,
                "view": "timeSeries",
                **extra,
            },
        }

    widgets = [
        widget(
            "Orders per hour",
            [["AWS/SQS", "NumberOfMessagesSent", "QueueName", names.queue]],
            period=3600,
        ),
        widget(
            "Payment success rate (%)",
            [
                [
                    "AWS/States",
                    "ExecutionsSucceeded",
                    "StateMachineArn",
                    sm,
                    {"id": "ok", "visible": False},
                ],
                [
                    "AWS/States",
                    "ExecutionsFailed",
                    "StateMachineArn",
                    sm,
                    {"id": "failed", "visible": False},
                ],
                [{"expression": "100 * ok / (ok + failed)", "label": "success rate", "id": "rate"}],
            ],
        ),
        widget(
            "Mean processing latency (ms)",
            [["AWS/States", "ExecutionTime", "StateMachineArn", sm]],
            stat="Average",
        ),
        widget(
            "Lambda errors",
            [
                ["AWS/Lambda", "Errors", "FunctionName", names.function(f)]
                for f in (r.logical for r in TABLE)
            ],
        ),
        widget(
            "Queue depth",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", names.queue]],
            stat="Maximum",
        ),
        widget(
            "DLQ depth",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", names.dlq]],
            stat="Maximum",
        ),
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def monitoring_specs(names: Names, tags: Tags) -> list[Spec]:
    return [
        DashboardSpec(names.dashboard, body=dashboard_body(names)),
        AlarmSpec(
            names.dlq_alarm,
            alarm={
                "AlarmDescription": f"Orders of stack {names.stack} are being dead-lettered",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": names.dlq}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [names.topic_arn],
            },
            tags=tags,
            depends_on=(key("queue", names.dlq), key("topic", names.topic)),
        ),
    ]
