"""A moto server that enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT from the environment), for
tests/test_deployer_policy.py. Adjustments, each so that a scoped policy is judged the
way AWS judges it where moto cannot, or that a call moto lacks is served at all:

- moto names the resource of most requests `*` (it knows the ARN only for SQS, IAM, STS and
  S3); a statement with a scoped Resource is then taken to match, so for those services the
  check is on actions only;
- moto never checks iam:PassRole; AWS does when CreateFunction, UpdateFunctionConfiguration,
  CreateStateMachine, UpdateStateMachine or AddRoleToInstanceProfile hands a role to a
  service ("Granting a user permissions to pass a role to an AWS service", IAM User Guide),
  so this server checks it there, with iam:PassedToService set;
- moto's signature check hashes a bodiless request (Lambda's GETs and DELETEs) as if its
  parsed parameters were the body, so every signed Lambda read fails; it hashes the empty
  body that was signed instead;
- moto names a role that does not exist yet `*`; AWS authorizes on the ARN the name makes;
  and moto names the role of Add/RemoveRoleFromInstanceProfile where AWS authorizes on the
  instance profile (the Service Authorization Reference's resource type for every
  *InstanceProfile action), so a request naming an instance profile is judged on it;
- moto names CloudWatch's actions by its endpoint (`monitoring:`); IAM's prefix is
  `cloudwatch:`; and it asks for `sqs:SendMessageBatch` (and other *Batch actions), which IAM
  authorizes as the single-message action ("Amazon SQS API permissions" reference);
- moto has no SQS message move task (StartMessageMoveTask, ListMessageMoveTasks: its server
  answers HTTP 500 "The start_message_move_task action has not been implemented"; an open
  pull request, getmoto/moto#10265, adds them), so `dlq --redrive` could not be proven; this
  server adds both, moving every message at once and listing the task COMPLETED (AWS runs
  the move in the background, "StartMessageMoveTask", Amazon SQS API Reference). IAM is
  checked before the action runs, as for any other;
- an action moto lacks raises NotImplementedError, which its server turns into a bare HTTP
  500; this server answers 501 with the error code NotImplemented and moto's message (in the
  query protocol's XML, which Elastic Beanstalk speaks), so a test can tell "authorized, then
  not served" from a failure. IAM has allowed the call by then.

usage: python -m tests.iam_moto_server PORT"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any
from xml.sax.saxutils import escape

PASSES_ROLE = {
    "lambda:CreateFunction": ("Role", "lambda.amazonaws.com"),
    "lambda:UpdateFunctionConfiguration": ("Role", "lambda.amazonaws.com"),
    "states:CreateStateMachine": ("roleArn", "states.amazonaws.com"),
    "states:UpdateStateMachine": ("roleArn", "states.amazonaws.com"),
    # "Dependent actions: iam:PassRole" (Service Authorization Reference, IAM): the instance
    # profile hands its role to EC2.
    "iam:AddRoleToInstanceProfile": ("RoleName", "ec2.amazonaws.com"),
}


def _passed_role(request: Any, param: str) -> str | None:
    """The role a request hands over: a JSON body's field, or a query parameter (IAM's
    AddRoleToInstanceProfile takes a role name; AWS authorizes the role's ARN)."""
    try:
        body = json.loads(request._body or b"{}")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get(param):
        return str(body[param])
    value = request._data.get(param) if isinstance(request._data, dict) else None
    name = value[0] if isinstance(value, list) else value
    if not name:
        return None
    account = request._access_key.account_id
    return f"arn:aws:iam::{account}:role/{name}" if not str(name).startswith("arn:") else name


def _statements(policy: Any) -> list[dict[str, Any]]:
    from moto.iam import access_control as ac

    doc = ac.IAMPolicy(policy)._policy_json
    got = doc.get("Statement", [])
    return got if isinstance(got, list) else [got]


def _grants_pass_role(statement: dict[str, Any], role: str, service: str) -> bool:
    """An Allow for iam:PassRole on `role` whose conditions hold for `service` (a condition
    that does not hold makes the statement not apply; moto's own check would deny)."""
    from moto.iam import access_control as ac

    s = ac.IAMPolicyStatement(statement)
    return (
        statement.get("Effect") == "Allow"
        and s._check_element_matches("Action", "iam:PassRole")
        and s._check_element_matches("Resource", role)
        and s._check_conditions({"iam:PassedToService": service})
    )


MOVE_TASKS: dict[str, list[dict[str, Any]]] = {}  # by source ARN, newest first


def _queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def start_message_move_task(self: Any) -> Any:
    """Move every message of SourceArn to DestinationArn (attributes kept), now."""
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import InvalidParameterValue

    source, destination = self._get_param("SourceArn"), self._get_param("DestinationArn")
    if not destination:
        raise InvalidParameterValue("this test server needs a DestinationArn")
    backend = self.sqs_backend
    src, dst = _queue_name(source), _queue_name(destination)
    backend.get_queue(dst)  # QueueDoesNotExist before anything moves
    moved = 0
    while got := backend.receive_message(src, 10, 0, 30, message_attribute_names=["All"]):
        for message in got:
            backend.send_message(
                dst, message.body, message_attributes=message.message_attributes or None
            )
            backend.delete_message(src, message.receipt_handle)
            moved += 1
    handle = str(uuid.uuid4())
    MOVE_TASKS.setdefault(source, []).insert(
        0,
        {
            "TaskHandle": handle,
            "Status": "COMPLETED",
            "SourceArn": source,
            "DestinationArn": destination,
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": moved,
            "StartedTimestamp": int(time.time() * 1000),
        },
    )
    return ActionResult({"TaskHandle": handle})


def list_message_move_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    tasks = MOVE_TASKS.get(self._get_param("SourceArn"), [])
    return ActionResult({"Results": tasks[: int(self._get_param("MaxResults") or 1)]})


def _not_implemented_answered(call_action: Any) -> Any:
    def call(self: Any) -> Any:
        try:
            return call_action(self)
        except NotImplementedError as exc:
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code>"
                f"<Message>{escape(str(exc))}</Message></Error></ErrorResponse>"
            )
            return 501, {"Content-Type": "text/xml"}, body

    return call


def patch_moto() -> None:
    from moto.core.responses import BaseResponse
    from moto.iam import access_control as ac
    from moto.sqs.responses import SQSResponse

    BaseResponse.call_action = _not_implemented_answered(BaseResponse.call_action)  # type: ignore[method-assign]

    SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
    SQSResponse.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]

    matches = ac.IAMPolicyStatement._check_element_matches

    def check_element_matches(self: Any, element: Any, value: str) -> bool:
        if element == "Resource" and value == "*":
            return True  # moto could not tell the resource
        return bool(matches(self, element, value))

    ac.IAMPolicyStatement._check_element_matches = check_element_matches  # type: ignore[method-assign]

    from moto.iam import responses as iam_responses

    def role_arn(self: Any, role_name: str) -> str:
        return f"arn:aws:iam::{self.current_account}:role/{role_name}"

    iam_responses.IamResponse._resolve_resource_arn = role_arn  # type: ignore[method-assign]
    determine = iam_responses.IamResponse._determine_resource

    def determine_resource(self: Any) -> str:
        profile = self.data.get("InstanceProfileName")
        if profile:
            return f"arn:aws:iam::{self.current_account}:instance-profile/{profile[0]}"
        return str(determine(self))

    iam_responses.IamResponse._determine_resource = determine_resource  # type: ignore[method-assign]

    make_request = ac.IAMRequestBase._create_aws_request

    def create_aws_request(self: Any) -> Any:
        if self._method in ("GET", "DELETE", "HEAD") and not self._body:
            saved, self._data = self._data, b""
            try:
                return make_request(self)
            finally:
                self._data = saved
        return make_request(self)

    ac.IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]

    permitted = ac.IAMRequest.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        if self._action.startswith("monitoring:"):
            self._action = "cloudwatch:" + self._action.split(":", 1)[1]
        if self._action.startswith("sqs:") and self._action.endswith("Batch"):
            self._action = self._action.removesuffix("Batch")
        permitted(self, resource)
        passed = PASSES_ROLE.get(self._action)
        if passed is None:
            return
        role = _passed_role(self, passed[0])
        if not role:
            return
        allowed = any(
            _grants_pass_role(statement, role, passed[1])
            for policy in self._access_key.collect_policies()
            for statement in _statements(policy)
        )
        if not allowed:
            raise ac.AccessDeniedError(user_arn=self._access_key.arn, action="iam:PassRole")

    ac.IAMRequest.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def main() -> None:
    patch_moto()
    from moto.server import main as serve

    serve(["-H", "127.0.0.1", "-p", sys.argv[1]])


if __name__ == "__main__":
    main()
