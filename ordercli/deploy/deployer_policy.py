"""The IAM policy a person or CI role needs to run `up`, `status`, `submit`, `tail`, `dlq` and
`teardown` for one stack: every action those commands call, each on the stack's own resources.

Where AWS authorizes an action on no resource (List*/Describe* across an account, Elastic
Beanstalk's storage bucket lookup, ...), the statement has `Resource: *` and the output says
so: `unscoped` lists those statements with the reason. `sts:GetCallerIdentity` needs no
permission at all (AWS always allows it)."""

from __future__ import annotations

from dataclasses import dataclass

from ordercli.deploy.functions import TABLE
from ordercli.deploy.policies import VERSION, Document
from ordercli.names import Names


@dataclass(frozen=True)
class Grant:
    """One statement: `why` says which commands need it; `unscoped` why it has no resource."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    why: str
    unscoped: str = ""
    condition: dict[str, dict[str, str | list[str]]] | None = None

    def statement(self) -> dict[str, object]:
        out: dict[str, object] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            out["Condition"] = self.condition
        return out


@dataclass(frozen=True)
class DeployerPolicy:
    stack: str
    grants: tuple[Grant, ...]

    def document(self) -> Document:
        return {"Version": VERSION, "Statement": [g.statement() for g in self.grants]}

    @property
    def unscoped(self) -> tuple[Grant, ...]:
        """The statements AWS lets name no (stack-specific) resource, each saying why."""
        return tuple(g for g in self.grants if g.unscoped)

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "policy": self.document(),
            "unscoped": [{"sid": g.sid, "why": g.unscoped} for g in self.unscoped],
            "statements": [{"sid": g.sid, "for": g.why} for g in self.grants],
        }


ANY = ("*",)


def deployer_policy(names: Names, *, web: bool = True) -> DeployerPolicy:
    """The least-privilege policy for the stack `names` describes (with `web`: its Elastic
    Beanstalk web app too; without, no elasticbeanstalk permission at all)."""
    p, region, account = names.partition, names.region, names.account
    functions = tuple(names.function_arn(r.logical) for r in TABLE)
    fn_roles = tuple(names.role_arn(names.function_role(r.logical)) for r in TABLE)
    workflow_role = names.role_arn(names.workflow_role)
    web_roles = (
        (names.role_arn(names.webapp_instance_role), names.role_arn(names.webapp_service_role))
        if web
        else ()
    )
    log_groups = tuple(names.log_group_arn(r.logical) for r in TABLE)
    executions = names.state_machine_arn.replace(":stateMachine:", ":execution:") + ":*"
    grants = [
        Grant(
            "Queues",
            (
                "sqs:CreateQueue",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes",
                "sqs:ListQueueTags",
                "sqs:TagQueue",
                "sqs:DeleteQueue",
            ),
            (names.queue_arn(), names.dlq_arn),
            "up, status, teardown",
        ),
        Grant(
            "SendAndReadOrders",
            (
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
            ),
            (names.queue_arn(), names.dlq_arn),
            "submit, dlq (reading without consuming; --redrive's receive, send and delete)",
        ),
        Grant(
            "RedriveDeadLetters",
            ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"),
            (names.dlq_arn,),
            "dlq --redrive (SQS's move task, authorized on its source queue)",
        ),
        Grant(
            "Topic",
            (
                "sns:CreateTopic",
                "sns:GetTopicAttributes",
                "sns:ListTagsForResource",
                "sns:TagResource",
                "sns:ListSubscriptionsByTopic",
                "sns:Subscribe",
                "sns:DeleteTopic",
            ),
            (names.topic_arn,),
            "up, status, teardown",
        ),
        Grant(
            "PaymentsTable",
            (
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:TagResource",
                "dynamodb:DeleteTable",
            ),
            (names.payments_table_arn,),
            "up, status, teardown",
        ),
        Grant(
            "Roles",
            (
                "iam:CreateRole",
                "iam:GetRole",
                "iam:TagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:DeleteRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:DeleteRole",
                *(("iam:AttachRolePolicy", "iam:DetachRolePolicy") if web else ()),
            ),
            (*fn_roles, workflow_role, *web_roles),
            "up, status, teardown",
        ),
        Grant(
            "PassFunctionRoles",
            ("iam:PassRole",),
            fn_roles,
            "up (each function runs as its own role)",
            condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        Grant(
            "PassWorkflowRole",
            ("iam:PassRole",),
            (workflow_role,),
            "up (the state machine runs as its role)",
            condition={"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}},
        ),
        Grant(
            "LogGroups",
            (
                "logs:CreateLogGroup",
                "logs:PutRetentionPolicy",
                "logs:ListTagsForResource",
                "logs:TagResource",
                "logs:FilterLogEvents",
                "logs:DeleteLogGroup",
            ),
            (*log_groups, *(f"{g}:*" for g in log_groups)),
            "up, status, tail, teardown",
        ),
        Grant(
            "FindLogGroups",
            ("logs:DescribeLogGroups",),
            (f"arn:{p}:logs:{region}:{account}:log-group:*",),
            "up, status, teardown",
            unscoped="CloudWatch Logs authorizes DescribeLogGroups on every log group of the "
            "account (the listing is filtered by name afterwards)",
        ),
        Grant(
            "Functions",
            (
                "lambda:CreateFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:TagResource",
                "lambda:ListTags",
                "lambda:DeleteFunction",
            ),
            functions,
            "up, status, teardown",
        ),
        Grant(
            "TriggerByUuid",
            (
                "lambda:GetEventSourceMapping",
                "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
            ),
            (f"arn:{p}:lambda:{region}:{account}:event-source-mapping:*",),
            "up, status, teardown",
            unscoped="a trigger's ARN holds a UUID AWS picks at creation, so only the "
            "account's event-source-mapping:* pattern can name it in advance",
        ),
        Grant(
            "TriggerCreateAndList",
            ("lambda:CreateEventSourceMapping", "lambda:ListEventSourceMappings"),
            ANY,
            "up, status, teardown",
            unscoped="Lambda authorizes CreateEventSourceMapping and ListEventSourceMappings "
            "on no resource",
        ),
        Grant(
            "StateMachine",
            (
                "states:CreateStateMachine",
                "states:DescribeStateMachine",
                "states:UpdateStateMachine",
                "states:TagResource",
                "states:ListTagsForResource",
                "states:ListExecutions",
                "states:DeleteStateMachine",
            ),
            (names.state_machine_arn,),
            "up, status, tail, teardown",
        ),
        Grant(
            "Executions",
            ("states:DescribeExecution", "states:GetExecutionHistory"),
            (executions,),
            "status <order>, submit --wait, tail",
        ),
        Grant(
            "Monitoring",
            ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"),
            (f"arn:{p}:cloudwatch:{region}:{account}:alarm:{names.dlq_alarm}",),
            "up, teardown",
        ),
        Grant(
            "Dashboard",
            ("cloudwatch:GetDashboard", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"),
            (f"arn:{p}:cloudwatch::{account}:dashboard/{names.dashboard}",),
            "up, status, teardown",
        ),
        Grant(
            "ReadAlarms",
            ("cloudwatch:DescribeAlarms",),
            ANY,
            "up, status, teardown",
            unscoped="CloudWatch authorizes DescribeAlarms on no resource",
        ),
    ]
    if web:
        grants += _web_grants(names)
    else:
        grants.append(
            Grant(
                "FindWebApp",
                ("iam:GetRole",),
                (
                    names.role_arn(names.webapp_instance_role),
                    names.role_arn(names.webapp_service_role),
                ),
                "status, teardown: whether the stack has a web app (without its roles nothing "
                "else of it, and nothing of Elastic Beanstalk, is read)",
            )
        )
    return DeployerPolicy(names.stack, tuple(grants))


def _web_grants(names: Names) -> list[Grant]:
    p, region, account = names.partition, names.region, names.account
    eb = f"arn:{p}:elasticbeanstalk:{region}:{account}"
    app = names.webapp_application
    bucket = f"elasticbeanstalk-{region}-{account}"
    instance_role = names.role_arn(names.webapp_instance_role)
    service_role = names.role_arn(names.webapp_service_role)
    return [
        Grant(
            "WebApp",
            (
                "elasticbeanstalk:CreateApplication",
                "elasticbeanstalk:DescribeApplications",
                "elasticbeanstalk:DeleteApplication",
                "elasticbeanstalk:CreateApplicationVersion",
                "elasticbeanstalk:DescribeApplicationVersions",
                "elasticbeanstalk:CreateEnvironment",
                "elasticbeanstalk:DescribeEnvironments",
                "elasticbeanstalk:UpdateEnvironment",
                "elasticbeanstalk:TerminateEnvironment",
                "elasticbeanstalk:DescribeConfigurationSettings",
                "elasticbeanstalk:DescribeEvents",
                "elasticbeanstalk:DescribeEnvironmentHealth",
                "elasticbeanstalk:AddTags",  # Tags given to CreateApplication/Environment
            ),
            (
                f"{eb}:application/{app}",
                f"{eb}:applicationversion/{app}/*",
                f"{eb}:environment/{app}/{names.webapp_environment}",
                f"arn:{p}:elasticbeanstalk:{region}::platform/*",
                f"arn:{p}:elasticbeanstalk:{region}::solutionstack/*",
            ),
            "up, status, teardown (web app)",
        ),
        Grant(
            "WebAppLookups",
            (
                "elasticbeanstalk:CreateStorageLocation",
                "elasticbeanstalk:ListAvailableSolutionStacks",
            ),
            ANY,
            "up, teardown (web app)",
            unscoped="Elastic Beanstalk authorizes these on no resource",
        ),
        Grant(
            "WebAppBundles",
            ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"),
            (f"arn:{p}:s3:::{bucket}", f"arn:{p}:s3:::{bucket}/{app}/*"),
            "up, teardown (web app)",
        ),
        Grant(
            "WebAppInstanceProfile",
            (
                "iam:CreateInstanceProfile",
                "iam:TagInstanceProfile",  # CreateInstanceProfile with Tags needs it too
                "iam:GetInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ),
            (f"arn:{p}:iam::{account}:instance-profile/{names.webapp_instance_role}",),
            "up, status, teardown (web app)",
        ),
        Grant(
            "PassWebAppRoles",
            ("iam:PassRole",),
            (instance_role, service_role),
            "up (the environment runs with its instance and service roles)",
            condition={
                "StringEquals": {
                    "iam:PassedToService": ["ec2.amazonaws.com", "elasticbeanstalk.amazonaws.com"]
                }
            },
        ),
        Grant(
            "WebAppProvisioning",
            (
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:GetTemplate",
                "ec2:RunInstances",
                "ec2:TerminateInstances",
                "ec2:DescribeInstances",
                "ec2:DescribeImages",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "ec2:DescribeAccountAttributes",
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:DescribeSecurityGroups",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:DeleteLaunchTemplate",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:AllocateAddress",
                "ec2:AssociateAddress",
                "ec2:ReleaseAddress",
                "ec2:DescribeAddresses",
                "ec2:CreateTags",
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:SuspendProcesses",
                "autoscaling:ResumeProcesses",
            ),
            ANY,
            "up, teardown (web app)",
            unscoped="Elastic Beanstalk builds the environment through CloudFormation, EC2 and "
            "Auto Scaling with the caller's permissions, under names it picks at run time, so "
            "these cannot name the stack's resources in advance",
        ),
    ]
