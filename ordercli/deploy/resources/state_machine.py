"""The Step Functions state machine (Standard) that runs each order.

DeleteStateMachine is asynchronous: the machine stays DELETING for a while, and a new one of
the same name is refused (StateMachineDeleting) until it is gone. A DELETING machine is not
present; `up` waits for it to go."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import (
    Aws,
    absent_is_none,
    create_when_free,
    error_code,
    error_message,
    retry,
)
from ordercli.deploy.resources._common import Change, changed, tag_diff, tag_list, whats
from ordercli.deploy.specs import StateMachineSpec

DELETING = "DELETING"
DELETE_TIMEOUT = 300.0


@dataclass(frozen=True)
class MachineState:
    definition: str
    role_arn: str
    tags: dict[str, str]


def read(aws: Aws, spec: StateMachineSpec) -> MachineState | None:
    sfn = aws.client("stepfunctions")
    got = absent_is_none(lambda: sfn.describe_state_machine(stateMachineArn=spec.arn))
    if got is None or got.get("status") == DELETING:  # on its way out: AWS finishes it
        return None
    listed = sfn.list_tags_for_resource(resourceArn=spec.arn).get("tags", [])
    return MachineState(got["definition"], got["roleArn"], {t["key"]: t["value"] for t in listed})


def diff(spec: StateMachineSpec, current: MachineState) -> list[Change]:
    same = json.loads(current.definition) == json.loads(spec.definition)
    return (
        ([] if same else [Change("definition", note="definition changed")])
        + changed("role", spec.role_arn, current.role_arn)
        + tag_diff(spec.tags, current.tags)
    )


def _role_not_ready(exc: BaseException) -> bool:
    """A role made seconds ago is not yet assumable by states.amazonaws.com (IAM propagates
    eventually); the caller's own missing permission is not retried."""
    text = error_message(exc).lower()
    return error_code(exc) in ("AccessDeniedException", "InvalidArn") and (
        "assume" in text or ("not authorized to perform" not in text and "role" in text)
    )


def create(aws: Aws, spec: StateMachineSpec) -> None:
    """Create; while a previous machine of this name is DELETING, wait for it to go."""
    sfn = aws.client("stepfunctions")
    create_when_free(
        aws,
        lambda: retry(
            lambda: sfn.create_state_machine(
                name=spec.name,
                definition=spec.definition,
                roleArn=spec.role_arn,
                type="STANDARD",
                tags=tag_list(spec.tags, "key", "value"),
            ),
            when=_role_not_ready,
            sleep=aws.sleep,
        ),
        ("StateMachineDeleting",),
        what=f"the previous {spec.name} to finish DELETING",
        timeout=DELETE_TIMEOUT,
        why=f"state machine {spec.name} is still DELETING from a teardown; waiting for AWS.",
    )


def update(
    aws: Aws, spec: StateMachineSpec, current: MachineState, changes: Sequence[Change]
) -> None:
    sfn = aws.client("stepfunctions")
    if whats(changes) - {"tags"}:
        retry(
            lambda: sfn.update_state_machine(
                stateMachineArn=spec.arn, definition=spec.definition, roleArn=spec.role_arn
            ),
            when=_role_not_ready,
            sleep=aws.sleep,
        )
    if "tags" in whats(changes):
        sfn.tag_resource(resourceArn=spec.arn, tags=tag_list(spec.tags, "key", "value"))


def delete(aws: Aws, spec: StateMachineSpec, current: MachineState) -> str | None:
    sfn = aws.client("stepfunctions")
    if absent_is_none(lambda: sfn.delete_state_machine(stateMachineArn=spec.arn)) is None:
        return None
    after = absent_is_none(lambda: sfn.describe_state_machine(stateMachineArn=spec.arn))
    if after is not None and after.get("status") == DELETING:
        return "DELETING; AWS finishes this by itself"
    return None
