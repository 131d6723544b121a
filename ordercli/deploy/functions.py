"""The one table of the stack's Lambda functions: handler module, environment, the policy
statements beyond writing their own logs, and whether the workflow invokes them. Adding a
workflow step is the ASL, the handler and one row here. (ordercli.names.FUNCTIONS, the
logical names every other module iterates, is read from this table: this module imports
nothing heavy and nothing of ordercli's at run time but the policy templates.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ordercli.deploy import policies
from ordercli.deploy.policies import Statement

if TYPE_CHECKING:  # names.py reads the table (its FUNCTIONS), and config.py reads names.py
    from ordercli.config import Settings
    from ordercli.names import Names


@dataclass(frozen=True)
class FunctionRow:
    logical: str  # the name in the ASL and in physical names: {stack}-{logical}
    module: str  # lambda_src/{module}.py, whose `handler` Lambda calls
    environment: Callable[[Settings, Names], dict[str, str]]
    statements: Callable[[Names], list[Statement]]
    in_workflow: bool  # invoked by the state machine (else: the queue's consumer)


def queue_url(names: Names, queue: str | None = None) -> str:
    return f"https://sqs.{names.region}.amazonaws.com/{names.account}/{queue or names.queue}"


def execution_prefix(names: Names) -> str:
    return names.state_machine_arn.replace(":stateMachine:", ":execution:")


def _payment_env(settings: Settings, names: Names) -> dict[str, str]:
    seed = settings["payment.seed"]
    return {
        "PAYMENT_SUCCESS_RATE": str(float(settings["payment.success_rate"])),
        "PAYMENT_SEED": "" if seed is None else str(seed),
        "PAYMENTS_TABLE": names.payments_table,
    }


def _consumer_env(settings: Settings, names: Names) -> dict[str, str]:
    return {
        "STATE_MACHINE_ARN": names.state_machine_arn,
        "QUEUE_URL": queue_url(names),
        "DLQ_URL": queue_url(names, names.dlq),
        "MAX_RECEIVE_COUNT": str(settings["queue.max_receive_count"]),
    }


def _none(settings: Settings, names: Names) -> dict[str, str]:
    return {}


def _no_statements(names: Names) -> list[Statement]:
    return []


TABLE: tuple[FunctionRow, ...] = (
    FunctionRow("ValidateOrder", "validate_order", _none, _no_statements, True),
    FunctionRow(
        "ProcessPayment",
        "process_payment",
        _payment_env,
        lambda n: policies.render_statements("payments", TableArn=n.payments_table_arn),
        True,
    ),
    FunctionRow(
        "SendNotification",
        "send_notification",
        lambda s, n: {"TOPIC_ARN": n.topic_arn},
        lambda n: policies.render_statements("notifier", TopicArn=n.topic_arn),
        True,
    ),
    FunctionRow(
        "StartOrderWorkflow",
        "start_order_workflow",
        _consumer_env,
        lambda n: policies.render_statements(
            "consumer",
            QueueArn=n.queue_arn(),
            DlqArn=n.dlq_arn,
            StateMachineArn=n.state_machine_arn,
            ExecutionArnPrefix=execution_prefix(n),
        ),
        False,
    ),
)
CONSUMER = next(r for r in TABLE if not r.in_workflow)
WORKFLOW = tuple(r for r in TABLE if r.in_workflow)


def row(logical: str) -> FunctionRow:
    return next(r for r in TABLE if r.logical == logical)
