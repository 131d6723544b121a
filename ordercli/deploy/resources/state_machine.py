"""The Step Functions state machine (Standard) that runs each order."""

from __future__ import annotations

import json
from typing import Any

from ordercli.aws import error_code, retry, wait_for
from ordercli.deploy.resources._common import changed, missing, tag_diff


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    sfn = aws.client("stepfunctions")
    try:
        got = sfn.describe_state_machine(stateMachineArn=spec.props["arn"])
    except Exception as exc:
        if missing(exc, "StateMachineDoesNotExist"):
            return None
        raise
    if got.get("status") == DELETING:  # on its way out: AWS finishes it by itself
        return None
    tags = {
        t["key"]: t["value"]
        for t in sfn.list_tags_for_resource(resourceArn=spec.props["arn"]).get("tags", [])
    }
    return {"definition": got["definition"], "role_arn": got["roleArn"], "tags": tags}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    same = json.loads(current["definition"]) == json.loads(spec.props["definition"])
    return (
        ([] if same else ["definition changed"])
        + changed("role", spec.props["role_arn"], current["role_arn"])
        + tag_diff(spec.props["tags"], current["tags"])
    )


DELETING = "DELETING"
DELETE_TIMEOUT = 300.0


def _role_not_ready(exc: BaseException) -> bool:
    return error_code(exc) in ("AccessDeniedException", "InvalidArn")


def create(aws: Any, spec: Any) -> None:
    """Create; while a previous machine of this name is still DELETING (DeleteStateMachine is
    asynchronous), AWS refuses with StateMachineDeleting: wait for it to go."""
    sfn = aws.client("stepfunctions")

    def attempt() -> bool | None:
        try:
            retry(
                lambda: sfn.create_state_machine(
                    name=spec.name,
                    definition=spec.props["definition"],
                    roleArn=spec.props["role_arn"],
                    type="STANDARD",
                    tags=[{"key": k, "value": v} for k, v in spec.props["tags"].items()],
                ),
                when=_role_not_ready,
                sleep=aws.sleep,
            )
        except Exception as exc:
            if error_code(exc) == "StateMachineDeleting":
                return None
            raise
        return True

    wait_for(
        aws,
        attempt,
        what=f"the previous {spec.name} to finish DELETING",
        timeout=DELETE_TIMEOUT,
        why=f"state machine {spec.name} is still DELETING from a teardown; waiting for AWS.",
    )


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    sfn = aws.client("stepfunctions")
    retry(
        lambda: sfn.update_state_machine(
            stateMachineArn=spec.props["arn"],
            definition=spec.props["definition"],
            roleArn=spec.props["role_arn"],
        ),
        when=_role_not_ready,
        sleep=aws.sleep,
    )
    if tag_diff(spec.props["tags"], current["tags"]):
        sfn.tag_resource(
            resourceArn=spec.props["arn"],
            tags=[{"key": k, "value": v} for k, v in spec.props["tags"].items()],
        )


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> str | None:
    sfn = aws.client("stepfunctions")
    try:
        sfn.delete_state_machine(stateMachineArn=spec.props["arn"])
        status = sfn.describe_state_machine(stateMachineArn=spec.props["arn"]).get("status")
    except Exception as exc:
        if not missing(exc, "StateMachineDoesNotExist"):
            raise
        return None
    return "DELETING; AWS finishes this by itself" if status == DELETING else None
