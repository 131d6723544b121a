"""Every physical name and ARN, derived from the stack name alone: AWS is the state."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ordercli.deploy.functions import TABLE

# The functions' logical names, from the one table that describes them (deploy/functions.py).
FUNCTIONS = tuple(r.logical for r in TABLE)
STACK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
TAG_KEY = "ordercli:stack"


@dataclass(frozen=True)
class Names:
    stack: str
    region: str
    account: str
    partition: str = "aws"

    # -- names -----------------------------------------------------------------
    @property
    def queue(self) -> str:
        return f"{self.stack}-orders"

    @property
    def dlq(self) -> str:
        return f"{self.stack}-orders-dlq"

    @property
    def payments_table(self) -> str:
        return f"{self.stack}-payments"

    @property
    def topic(self) -> str:
        return f"{self.stack}-notifications"

    @property
    def state_machine(self) -> str:
        return f"{self.stack}-OrderProcessingWorkflow"

    @property
    def workflow_role(self) -> str:
        return f"{self.stack}-OrderProcessingWorkflow-role"

    def function(self, logical: str) -> str:
        return f"{self.stack}-{logical}"

    def function_role(self, logical: str) -> str:
        return f"{self.stack}-{logical}-role"

    def log_group(self, logical: str) -> str:
        return f"/aws/lambda/{self.function(logical)}"

    @property
    def dashboard(self) -> str:
        return f"{self.stack}-orders"

    @property
    def dlq_alarm(self) -> str:
        return f"{self.stack}-orders-dlq-not-empty"

    @property
    def webapp_application(self) -> str:
        return f"{self.stack}-webapp"

    @property
    def webapp_environment(self) -> str:
        return f"{self.stack}-web"

    @property
    def webapp_instance_role(self) -> str:
        return f"{self.stack}-webapp"

    @property
    def webapp_service_role(self) -> str:
        return f"{self.stack}-webapp-service"

    # -- ARNs ------------------------------------------------------------------
    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        reg = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{reg}:{self.account}:{resource}"

    def queue_arn(self, name: str | None = None) -> str:
        return self._arn("sqs", name or self.queue)

    @property
    def dlq_arn(self) -> str:
        return self.queue_arn(self.dlq)

    @property
    def payments_table_arn(self) -> str:
        return self._arn("dynamodb", f"table/{self.payments_table}")

    @property
    def topic_arn(self) -> str:
        return self._arn("sns", self.topic)

    @property
    def state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.state_machine}")

    def execution_arn(self, order_id: str) -> str:
        return self._arn("states", f"execution:{self.state_machine}:{order_id}")

    def function_arn(self, logical: str) -> str:
        return self._arn("lambda", f"function:{self.function(logical)}")

    def log_group_arn(self, logical: str) -> str:
        return self._arn("logs", f"log-group:{self.log_group(logical)}")

    def role_arn(self, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role_name}"

    # -- limits ----------------------------------------------------------------
    def limits(self) -> list[tuple[str, str, int]]:
        """(what, name, AWS's limit) for every derived name that has a length limit."""
        out = [
            ("SQS queue", self.dlq, 80),
            ("SNS topic", self.topic, 256),
            ("DynamoDB table", self.payments_table, 255),
            ("state machine", self.state_machine, 80),
            ("IAM role", self.workflow_role, 64),
            ("Elastic Beanstalk environment", self.webapp_environment, 40),
            ("IAM role", self.webapp_service_role, 64),
            ("CloudWatch alarm", self.dlq_alarm, 255),
        ]
        for fn in FUNCTIONS:
            out.append(("Lambda function", self.function(fn), 64))
            out.append(("IAM role", self.function_role(fn), 64))
        return out


def stack_name_problem(stack: str) -> str | None:
    """Why a stack name cannot be used, or None. Checked before any AWS call."""
    if not stack:
        return "must not be empty"
    if not STACK_RE.match(stack):
        return "must start with a letter and contain only letters, digits and '-'"
    for what, name, limit in Names(stack, "us-east-1", "000000000000").limits():
        if len(name) > limit:
            room = limit - (len(name) - len(stack))
            return (
                f"'{stack}' is too long: the {what} name '{name}' would be {len(name)} characters,"
                f" over AWS's limit of {limit} (use at most {room} characters)"
            )
    return None
