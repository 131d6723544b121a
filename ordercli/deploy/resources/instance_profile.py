"""The EC2 instance profile of the web app's environment, holding its instance role."""

from __future__ import annotations

from typing import Any

from ordercli.deploy.resources._common import missing


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    try:
        got = aws.client("iam").get_instance_profile(InstanceProfileName=spec.name)
    except Exception as exc:
        if missing(exc, "NoSuchEntity"):
            return None
        raise
    return {"roles": [r["RoleName"] for r in got["InstanceProfile"].get("Roles", [])]}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    return (
        []
        if current["roles"] == [spec.props["role"]]
        else [f"roles: live {current['roles']}, config [{spec.props['role']}]"]
    )


def create(aws: Any, spec: Any) -> None:
    iam = aws.client("iam")
    iam.create_instance_profile(
        InstanceProfileName=spec.name,
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )
    iam.add_role_to_instance_profile(InstanceProfileName=spec.name, RoleName=spec.props["role"])


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for role in current["roles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=spec.name, RoleName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=spec.name, RoleName=spec.props["role"])


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    iam = aws.client("iam")
    for role in current["roles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=spec.name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=spec.name)
