"""One module per resource kind, each with the same five plain functions:
read (current state or None), diff (reasons it differs), create, update, delete."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol

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


class ResourceKind(Protocol):
    def read(self, aws: Any, spec: Any) -> dict[str, Any] | None: ...
    def diff(self, spec: Any, current: dict[str, Any]) -> list[str]: ...
    def create(self, aws: Any, spec: Any) -> None: ...
    def update(self, aws: Any, spec: Any, current: dict[str, Any]) -> None: ...
    def delete(self, aws: Any, spec: Any, current: dict[str, Any]) -> None: ...


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
