"""Plan: read what exists (reads only, concurrently) and decide one action per spec, with why."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from ordercli.deploy.resources import kind
from ordercli.deploy.specs import Spec

ActionName = Literal["create", "update", "noop", "delete"]


@dataclass
class Action:
    spec: Spec
    action: ActionName
    reason: str
    current: dict[str, Any] | None = None

    def to_json(self) -> dict[str, str]:
        return {
            "resource": self.spec.name,
            "kind": self.spec.kind,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass
class Plan:
    actions: list[Action]
    teardown: bool = False

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.action != "noop"]


def read_all(aws: Any, specs: Sequence[Spec], threads: int = 16) -> list[dict[str, Any] | None]:
    """Every spec's current state, concurrently; a spec whose `only_with` partner is absent is
    absent too, and is not read."""
    got: dict[str, dict[str, Any] | None] = {}

    def read_into(batch: list[Spec]) -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for spec, current in zip(
                batch, pool.map(lambda s: kind(s.kind).read(aws, s), batch), strict=True
            ):
                got[spec.key] = current

    read_into([s for s in specs if s.only_with is None])
    read_into([s for s in specs if s.only_with is not None and got.get(s.only_with) is not None])
    return [got.get(s.key) for s in specs]


def plan_up(aws: Any, specs: Sequence[Spec]) -> Plan:
    actions = []
    for spec, current in zip(specs, read_all(aws, specs), strict=True):
        if current is None:
            actions.append(Action(spec, "create", "does not exist"))
            continue
        reasons = kind(spec.kind).diff(spec, current)
        if reasons:
            actions.append(Action(spec, "update", "; ".join(reasons), current))
        else:
            actions.append(Action(spec, "noop", "no change", current))
    return Plan(actions)


def plan_teardown(aws: Any, specs: Sequence[Spec]) -> Plan:
    actions = []
    for spec, current in zip(specs, read_all(aws, specs), strict=True):
        if current is None:
            actions.append(Action(spec, "noop", "already gone"))
        else:
            actions.append(Action(spec, "delete", "part of the stack", current))
    actions.reverse()
    return Plan(actions, teardown=True)
