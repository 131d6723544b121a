"""Desired state as data: the settings become a list of resource specs. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ordercli.config import Settings
from ordercli.deploy import policies
from ordercli.deploy.package import function_zip
from ordercli.names import FUNCTIONS, TAG_KEY, WORKFLOW_FUNCTIONS, Names

RUNTIME = "python3.12"
HANDLER_MODULES = {
    "ValidateOrder": "validate_order",
    "ProcessPayment": "process_payment",
    "SendNotification": "send_notification",
    "StartOrderWorkflow": "start_order_workflow",
}
DLQ_RETENTION = 1_209_600  # 14 days, SQS's maximum: time to look at what failed
QUEUE_RETENTION = 345_600  # 4 days, SQS's default
BATCH_SIZE = 10


@dataclass(frozen=True)
class Spec:
    """One resource as it should be. `depends_on` holds the keys of specs made before it."""

    kind: str
    name: str
    props: dict[str, Any] = field(default_factory=dict, compare=False)
    depends_on: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def key(kind: str, name: str) -> str:
    return f"{kind}:{name}"


TASK_TIMEOUT_MARGIN = 5  # seconds a task waits past its function's own timeout


def workflow_definition(names: Names, lambda_timeout: int | None = None) -> str:
    """The ASL from definitions/, every function placeholder filled with its ARN; with
    `lambda_timeout`, every Task's TimeoutSeconds set from it (`with_task_timeout`)."""
    text = (policies.definitions_dir() / "workflow.asl.json").read_text(encoding="utf-8")
    filled = policies.fill(text, {f"{f}Arn": names.function_arn(f) for f in WORKFLOW_FUNCTIONS})
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


def _function_policy(names: Names, logical: str) -> dict[str, Any]:
    statements: list[Any] = [
        policies.render("lambda-logs", LogGroupArn=names.log_group_arn(logical))
    ]
    if logical == "SendNotification":
        statements.append(policies.render("notifier", TopicArn=names.topic_arn))
    if logical == "ProcessPayment":
        statements.append(policies.render("payments", TableArn=names.payments_table_arn))
    if logical == "StartOrderWorkflow":
        statements.append(
            policies.render(
                "consumer",
                QueueArn=names.queue_arn(),
                DlqArn=names.dlq_arn,
                StateMachineArn=names.state_machine_arn,
                ExecutionArnPrefix=names.state_machine_arn.replace(":stateMachine:", ":execution:"),
            )
        )
    return policies.document(*statements)


def _function_env(settings: Settings, names: Names, logical: str) -> dict[str, str]:
    if logical == "ProcessPayment":
        seed = settings["payment.seed"]
        return {
            "PAYMENT_SUCCESS_RATE": str(float(settings["payment.success_rate"])),
            "PAYMENT_SEED": "" if seed is None else str(seed),
            "PAYMENTS_TABLE": names.payments_table,
        }
    if logical == "SendNotification":
        return {"TOPIC_ARN": names.topic_arn}
    if logical == "StartOrderWorkflow":
        return {
            "STATE_MACHINE_ARN": names.state_machine_arn,
            "QUEUE_URL": queue_url(names),
            "DLQ_URL": queue_url(names, names.dlq),
            "MAX_RECEIVE_COUNT": str(settings["queue.max_receive_count"]),
        }
    return {}


def build_specs(settings: Settings, names: Names, *, webapp: bool = False) -> list[Spec]:
    """Every resource of the stack, in an order where each spec follows its dependencies.
    `webapp`: include the Elastic Beanstalk web app (the aws target)."""
    tags = {TAG_KEY: names.stack}
    specs: list[Spec] = [
        Spec(
            "queue",
            names.dlq,
            {"attributes": {"MessageRetentionPeriod": str(DLQ_RETENTION)}, "tags": tags},
        ),
        Spec(
            "queue",
            names.queue,
            {
                "attributes": {
                    "VisibilityTimeout": str(settings["queue.visibility_timeout"]),
                    "MessageRetentionPeriod": str(QUEUE_RETENTION),
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": names.dlq_arn,
                            "maxReceiveCount": settings["queue.max_receive_count"],
                        }
                    ),
                },
                "tags": tags,
            },
            (key("queue", names.dlq),),
        ),
        Spec(
            "topic",
            names.topic,
            {"arn": names.topic_arn, "email": settings["notify.email"], "tags": tags},
        ),
        Spec("table", names.payments_table, {"arn": names.payments_table_arn, "tags": tags}),
    ]
    for logical in FUNCTIONS:
        fn = names.function(logical)
        role = names.function_role(logical)
        group = names.log_group(logical)
        specs.append(
            Spec(
                "role",
                role,
                {
                    "trust": policies.trust("lambda"),
                    "policy_name": "least-privilege",
                    "policy": _function_policy(names, logical),
                    "tags": tags,
                },
            )
        )
        specs.append(
            Spec("log_group", group, {"retention": settings["log_retention_days"], "tags": tags})
        )
        bundle = function_zip(HANDLER_MODULES[logical])
        specs.append(
            Spec(
                "function",
                fn,
                {
                    "role_arn": names.role_arn(role),
                    "handler": f"lambda_src.{HANDLER_MODULES[logical]}.handler",
                    "runtime": RUNTIME,
                    "timeout": settings["lambda.timeout"],
                    "memory": settings["lambda.memory"],
                    "environment": _function_env(settings, names, logical),
                    "zip": bundle.data,
                    "code_sha256": bundle.sha256_b64,
                    "tags": tags,
                },
                (key("role", role), key("log_group", group)),
            )
        )
    specs.append(
        Spec(
            "role",
            names.workflow_role,
            {
                "trust": policies.trust("states"),
                "policy_name": "least-privilege",
                "policy": policies.document(
                    policies.render(
                        "workflow", **{f"{f}Arn": names.function_arn(f) for f in WORKFLOW_FUNCTIONS}
                    )
                ),
                "tags": tags,
            },
        )
    )
    specs.append(
        Spec(
            "state_machine",
            names.state_machine,
            {
                "arn": names.state_machine_arn,
                "definition": workflow_definition(names, settings["lambda.timeout"]),
                "role_arn": names.role_arn(names.workflow_role),
                "tags": tags,
            },
            (
                key("role", names.workflow_role),
                *(key("function", names.function(f)) for f in WORKFLOW_FUNCTIONS),
            ),
        )
    )
    consumer = names.function("StartOrderWorkflow")
    specs.append(
        Spec(
            "event_source_mapping",
            f"{names.queue}->{consumer}",
            {
                "queue_arn": names.queue_arn(),
                "function": consumer,
                "batch_size": BATCH_SIZE,
                "response_types": ["ReportBatchItemFailures"],
                "max_concurrency": settings["queue.max_concurrency"],
            },
            (
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


def queue_url(names: Names, queue: str | None = None) -> str:
    return f"https://sqs.{names.region}.amazonaws.com/{names.account}/{queue or names.queue}"


def webapp_specs(settings: Settings, names: Names, tags: dict[str, str]) -> list[Spec]:
    """Instance role and profile, service role, application with a content-addressed version,
    and the environment. Every name is known in advance, so the environment (the slow part)
    needs only these, not the rest of the stack, and is built alongside it."""
    from ordercli.deploy.package import webapp_bundle

    bundle = webapp_bundle()
    label = f"ordercli-{bundle.sha256_hex[:16]}"
    p = names.partition
    execution_prefix = names.state_machine_arn.replace(":stateMachine:", ":execution:")
    instance_role, service_role = names.webapp_instance_role, names.webapp_service_role
    app = names.webapp_application
    env_vars = {
        "ORDERS_QUEUE_URL": queue_url(names),
        "STATE_MACHINE_ARN": names.state_machine_arn,
        "AWS_REGION": names.region,
        "ORDERCLI_CURRENCY": settings["webapp.currency"],
    }
    options = [
        {
            "Namespace": "aws:autoscaling:launchconfiguration",
            "OptionName": "IamInstanceProfile",
            "Value": instance_role,
        },
        {
            "Namespace": "aws:ec2:instances",
            "OptionName": "InstanceTypes",
            "Value": settings["webapp.instance_type"],
        },
        {
            "Namespace": "aws:elasticbeanstalk:environment",
            "OptionName": "EnvironmentType",
            "Value": "SingleInstance",
        },
        {
            "Namespace": "aws:elasticbeanstalk:environment",
            "OptionName": "ServiceRole",
            "Value": service_role,
        },
        {
            "Namespace": "aws:elasticbeanstalk:healthreporting:system",
            "OptionName": "SystemType",
            "Value": "enhanced",
        },
        *(
            {
                "Namespace": "aws:elasticbeanstalk:application:environment",
                "OptionName": k,
                "Value": v,
            }
            for k, v in env_vars.items()
        ),
    ]
    return [
        Spec(
            "role",
            instance_role,
            {
                "trust": policies.trust("ec2"),
                "policy_name": "least-privilege",
                "policy": policies.document(
                    policies.render(
                        "webapp", QueueArn=names.queue_arn(), ExecutionArnPrefix=execution_prefix
                    )
                ),
                "managed_policies": [EB_WEB_TIER.format(p=p)],
                "tags": tags,
            },
        ),
        Spec(
            "instance_profile",
            instance_role,
            {"role": instance_role, "tags": tags},
            (key("role", instance_role),),
        ),
        Spec(
            "role",
            service_role,
            {
                "trust": policies.trust("elasticbeanstalk"),
                "policy_name": "least-privilege",
                "policy": None,
                "managed_policies": [a.format(p=p) for a in EB_SERVICE],
                "tags": tags,
            },
        ),
        Spec("eb_application", app, {"version_label": label, "bundle": bundle.data, "tags": tags}),
        Spec(
            "eb_environment",
            names.webapp_environment,
            {
                "application": app,
                "version_label": label,
                "options": options,
                "solution_stack": settings["webapp.solution_stack"],
                "timeout": settings["webapp.timeout"],
                "tags": tags,
            },
            (
                key("eb_application", app),
                key("instance_profile", instance_role),
                key("role", service_role),
            ),
        ),
    ]


def dashboard_body(names: Names) -> str:
    """Orders per hour, payment success rate, mean processing latency, Lambda errors, queue and
    DLQ depth: what the original README said to watch, as one dashboard."""
    region, sm = names.region, names.state_machine_arn

    def widget(
        title: str, metrics: list[Any], stat: str = "Sum", period: int = 300, **extra: Any
    ) -> dict[str, Any]:
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
            [["AWS/Lambda", "Errors", "FunctionName", names.function(f)] for f in FUNCTIONS],
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


def monitoring_specs(names: Names, tags: dict[str, str]) -> list[Spec]:
    return [
        Spec("dashboard", names.dashboard, {"body": dashboard_body(names)}),
        Spec(
            "alarm",
            names.dlq_alarm,
            {
                "tags": tags,
                "alarm": {
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
            },
            (key("queue", names.dlq), key("topic", names.topic)),
        ),
    ]
