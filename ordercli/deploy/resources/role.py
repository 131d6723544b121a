"""IAM roles: one per function, one for the state machine and two for the web app, each with
at most one inline policy and any AWS-managed policies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none
from ordercli.deploy.policies import canonical
from ordercli.deploy.resources._common import Change, tag_diff, tag_list, whats
from ordercli.deploy.specs import POLICY_NAME, RoleSpec

TRUST, INLINE, MANAGED, TAGS = "trust policy", "inline policy", "managed policies", "tags"


@dataclass(frozen=True)
class RoleState:
    arn: str
    trust: object  # the document as IAM returns it (URL-encoded text or parsed)
    policy: object | None
    attached: tuple[str, ...]
    tags: dict[str, str]


def read(aws: Aws, spec: RoleSpec) -> RoleState | None:
    iam = aws.client("iam")
    got = absent_is_none(lambda: iam.get_role(RoleName=spec.name))
    if got is None:
        return None
    role = got["Role"]
    policy = None
    if spec.policy is not None:
        found = absent_is_none(
            lambda: iam.get_role_policy(RoleName=spec.name, PolicyName=POLICY_NAME)
        )
        policy = None if found is None else found["PolicyDocument"]
    attached: tuple[str, ...] = ()
    if spec.managed_policies:
        listed = iam.list_attached_role_policies(RoleName=spec.name)["AttachedPolicies"]
        attached = tuple(sorted(p["PolicyArn"] for p in listed))
    return RoleState(
        role["Arn"],
        role.get("AssumeRolePolicyDocument"),
        policy,
        attached,
        {t["Key"]: t["Value"] for t in role.get("Tags", [])},
    )


def diff(spec: RoleSpec, current: RoleState) -> list[Change]:
    changes = []
    if current.trust is None or canonical(current.trust) != canonical(spec.trust):
        changes.append(Change(TRUST, note="trust policy differs"))
    if spec.policy is not None:
        if current.policy is None:
            changes.append(Change(INLINE, note=f"inline policy {POLICY_NAME} missing"))
        elif canonical(current.policy) != canonical(spec.policy):
            changes.append(Change(INLINE, note=f"inline policy {POLICY_NAME} differs"))
    want = tuple(sorted(spec.managed_policies))
    if want and current.attached != want:
        changes.append(Change(MANAGED, current.attached, want, note="managed policies differ"))
    return changes + tag_diff(spec.tags, current.tags)


def create(aws: Aws, spec: RoleSpec) -> None:
    iam = aws.client("iam")
    iam.create_role(
        RoleName=spec.name,
        AssumeRolePolicyDocument=json.dumps(spec.trust),
        Description="Managed by ordercli",
        Tags=tag_list(spec.tags),
    )
    _put_policy(aws, spec)
    for arn in spec.managed_policies:
        iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)


def _put_policy(aws: Aws, spec: RoleSpec) -> None:
    if spec.policy is None:
        return
    aws.client("iam").put_role_policy(
        RoleName=spec.name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(spec.policy)
    )


def update(aws: Aws, spec: RoleSpec, current: RoleState, changes: Sequence[Change]) -> None:
    iam = aws.client("iam")
    what = whats(changes)
    if TRUST in what:
        iam.update_assume_role_policy(RoleName=spec.name, PolicyDocument=json.dumps(spec.trust))
    if INLINE in what:
        _put_policy(aws, spec)
    if MANAGED in what:
        want, have = set(spec.managed_policies), set(current.attached)
        for arn in sorted(want - have):
            iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)
        for arn in sorted(have - want):
            iam.detach_role_policy(RoleName=spec.name, PolicyArn=arn)
    if TAGS in what:
        iam.tag_role(RoleName=spec.name, Tags=tag_list(spec.tags))


def delete(aws: Aws, spec: RoleSpec, current: RoleState) -> None:
    iam = aws.client("iam")
    for name in iam.list_role_policies(RoleName=spec.name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=spec.name, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=spec.name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=spec.name, PolicyArn=attached["PolicyArn"])
    for profile in iam.list_instance_profiles_for_role(RoleName=spec.name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=spec.name
        )
    absent_is_none(lambda: iam.delete_role(RoleName=spec.name))
