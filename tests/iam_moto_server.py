"""A moto server that enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT from the environment), for
tests/test_deployer_policy.py. Two adjustments, both so that a scoped policy is judged the
way AWS judges it where moto cannot:

- moto names the resource of most requests `*` (it knows the ARN only for SQS, IAM, STS and
  S3); a statement with a scoped Resource is then taken to match, so for those services the
  check is on actions only;
- moto never checks iam:PassRole; AWS does when CreateFunction, UpdateFunctionConfiguration,
  CreateStateMachine or UpdateStateMachine hands a role to a service ("Granting a user
  permissions to pass a role to an AWS service", IAM User Guide), so this server checks it
  there, with iam:PassedToService set;
- moto's signature check hashes a bodiless request (Lambda's GETs and DELETEs) as if its
  parsed parameters were the body, so every signed Lambda read fails; it hashes the empty
  body that was signed instead;
- moto names a role that does not exist yet `*`; AWS authorizes on the ARN the name makes;
- moto names CloudWatch's actions by its endpoint (`monitoring:`); IAM's prefix is
  `cloudwatch:`; and it asks for `sqs:SendMessageBatch` (and other *Batch actions), which IAM
  authorizes as the single-message action ("Amazon SQS API permissions" reference).

usage: python -m tests.iam_moto_server PORT"""

from __future__ import annotations

import json
import sys
from typing import Any

PASSES_ROLE = {
    "lambda:CreateFunction": ("Role", "lambda.amazonaws.com"),
    "lambda:UpdateFunctionConfiguration": ("Role", "lambda.amazonaws.com"),
    "states:CreateStateMachine": ("roleArn", "states.amazonaws.com"),
    "states:UpdateStateMachine": ("roleArn", "states.amazonaws.com"),
}


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


def patch_moto() -> None:
    from moto.iam import access_control as ac

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
        try:
            body = json.loads(self._body or b"{}")
        except ValueError:
            return
        role = body.get(passed[0]) if isinstance(body, dict) else None
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
