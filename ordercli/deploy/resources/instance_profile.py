"""The EC2 instance profile of the web app's environment, holding its instance role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none
from ordercli.deploy.resources._common import Change, tag_list
from ordercli.deploy.specs import InstanceProfileSpec


@dataclass(frozen=True)
class ProfileState:
    roles: list[str]


def read(aws: Aws, spec: InstanceProfileSpec) -> ProfileState | None:
    iam = aws.client("iam")
    got = absent_is_none(lambda: iam.get_instance_profile(InstanceProfileName=spec.name))
    if got is None:
        return None
    return ProfileState([r["RoleName"] for r in got["InstanceProfile"].get("Roles", [])])


def diff(spec: InstanceProfileSpec, current: ProfileState) -> list[Change]:
    want = [spec.role]
    return [] if current.roles == want else [Change("roles", current.roles, want)]


def create(aws: Aws, spec: InstanceProfileSpec) -> None:
    iam = aws.client("iam")
    iam.create_instance_profile(InstanceProfileName=spec.name, Tags=tag_list(spec.tags))
    iam.add_role_to_instance_profile(InstanceProfileName=spec.name, RoleName=spec.role)


def update(
    aws: Aws, spec: InstanceProfileSpec, current: ProfileState, changes: Sequence[Change]
) -> None:
    iam = aws.client("iam")
    for role in current.roles:
        iam.remove_role_from_instance_profile(InstanceProfileName=spec.name, RoleName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=spec.name, RoleName=spec.role)


def delete(aws: Aws, spec: InstanceProfileSpec, current: ProfileState) -> None:
    iam = aws.client("iam")
    for role in current.roles:
        iam.remove_role_from_instance_profile(InstanceProfileName=spec.name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=spec.name)
