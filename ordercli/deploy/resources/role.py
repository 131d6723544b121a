"""IAM roles: one per function and one for the state machine, each with one inline policy."""

from __future__ import annotations

import json
from typing import Any

from ordercli.deploy.policies import canonical
from ordercli.deploy.resources._common import missing, tag_diff


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    iam = aws.client("iam")
    try:
        role = iam.get_role(RoleName=spec.name)["Role"]
    except Exception as exc:
        if missing(exc, "NoSuchEntity"):
            return None
        raise
    policy = None
    if spec.props.get("policy") is not None:
        try:
            policy = iam.get_role_policy(RoleName=spec.name, PolicyName=spec.props["policy_name"])[
                "PolicyDocument"
            ]
        except Exception as exc:
            if not missing(exc, "NoSuchEntity"):
                raise
    attached = None
    if spec.props.get("managed_policies"):
        attached = sorted(
            p["PolicyArn"]
            for p in iam.list_attached_role_policies(RoleName=spec.name)["AttachedPolicies"]
        )
    return {
        "arn": role["Arn"],
        "trust": role.get("AssumeRolePolicyDocument"),
        "policy": policy,
        "attached": attached,
        "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
    }


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    reasons = []
    if current["trust"] is None or canonical(current["trust"]) != canonical(spec.props["trust"]):
        reasons.append("trust policy differs")
    if spec.props.get("policy") is not None:
        if current["policy"] is None:
            reasons.append(f"inline policy {spec.props['policy_name']} missing")
        elif canonical(current["policy"]) != canonical(spec.props["policy"]):
            reasons.append(f"inline policy {spec.props['policy_name']} differs")
    managed = sorted(spec.props.get("managed_policies") or [])
    if managed and current.get("attached") != managed:
        reasons.append("managed policies differ")
    return reasons + tag_diff(spec.props["tags"], current["tags"])


def create(aws: Any, spec: Any) -> None:
    iam = aws.client("iam")
    iam.create_role(
        RoleName=spec.name,
        AssumeRolePolicyDocument=json.dumps(spec.props["trust"]),
        Description="Managed by ordercli",
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )
    _put_policy(iam, spec)
    for arn in spec.props.get("managed_policies") or []:
        iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)


def _put_policy(iam: Any, spec: Any) -> None:
    if spec.props.get("policy") is None:
        return
    iam.put_role_policy(
        RoleName=spec.name,
        PolicyName=spec.props["policy_name"],
        PolicyDocument=json.dumps(spec.props["policy"]),
    )


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    iam = aws.client("iam")
    reasons = diff(spec, current)
    if any(r.startswith("trust") for r in reasons):
        iam.update_assume_role_policy(
            RoleName=spec.name, PolicyDocument=json.dumps(spec.props["trust"])
        )
    if any(r.startswith("inline") for r in reasons):
        _put_policy(iam, spec)
    if any(r.startswith("managed") for r in reasons):
        want = set(spec.props.get("managed_policies") or [])
        have = set(current.get("attached") or [])
        for arn in sorted(want - have):
            iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)
        for arn in sorted(have - want):
            iam.detach_role_policy(RoleName=spec.name, PolicyArn=arn)
    if any(r.startswith("tags") for r in reasons):
        iam.tag_role(
            RoleName=spec.name, Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()]
        )


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for name in iam.list_role_policies(RoleName=spec.name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=spec.name, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=spec.name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=spec.name, PolicyArn=attached["PolicyArn"])
    for profile in iam.list_instance_profiles_for_role(RoleName=spec.name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=spec.name
        )
    try:
        iam.delete_role(RoleName=spec.name)
    except Exception as exc:
        if not missing(exc, "NoSuchEntity"):
            raise
