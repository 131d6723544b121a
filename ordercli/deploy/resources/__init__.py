"""One module per resource kind, each with the same five plain functions, typed with its own
spec and state classes: read (current state or None), diff (a list of structured Changes),
create, update (given the changes, so it acts on data), delete (which may return what AWS
still finishes by itself, e.g. a mapping still Deleting)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from ordercli.deploy.resources import (
    alarm,
    dashboard,
    eb_application,
    eb_environment,
    event_source_mapping,
    function,
    instance_profile,
    log_group,
    queue,
    role,
    state_machine,
    table,
    topic,
)
from ordercli.deploy.resources._common import Change

if TYPE_CHECKING:
    from ordercli.aws import Aws
    from ordercli.deploy.specs import Spec


class ResourceKind(Protocol):
    """The registry's view: a kind module is called with its own spec and state types."""

    def read(self, aws: Aws, spec: Spec) -> object | None: ...
    def diff(self, spec: Spec, current: object) -> list[Change]: ...
    def create(self, aws: Aws, spec: Spec) -> None: ...
    def update(self, aws: Aws, spec: Spec, current: object, changes: Sequence[Change]) -> None: ...
    def delete(self, aws: Aws, spec: Spec, current: object) -> str | None: ...


KINDS: dict[str, ModuleType] = {
    "queue": queue,
    "topic": topic,
    "table": table,
    "role": role,
    "log_group": log_group,
    "function": function,
    "state_machine": state_machine,
    "event_source_mapping": event_source_mapping,
    "dashboard": dashboard,
    "alarm": alarm,
    "instance_profile": instance_profile,
    "eb_application": eb_application,
    "eb_environment": eb_environment,
}


def kind(name: str) -> ResourceKind:
    return KINDS[name]
