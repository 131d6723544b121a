"""Plan: read what exists (reads only, concurrently) and decide one action per spec, with why."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ordercli.deploy.resources import kind
from ordercli.deploy.resources._common import Change
from ordercli.deploy.specs import Spec

if TYPE_CHECKING:
    from ordercli.aws import Aws

ActionName = Literal["create", "update", "noop", "delete"]


@dataclass
class Action:
    spec: Spec
    action: ActionName
    reason: str
    current: object | None = None  # the kind's own state class, as read
    changes: tuple[Change, ...] = ()  # for an update: what differs, as data

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


def read_all(aws: Aws, specs: Sequence[Spec], threads: int = 16) -> list[object | None]:
    """Every spec's current state, concurrently; a spec whose `only_with` partner is absent is
    absent too, and is not read."""
    got: dict[str, object | None] = {}

    def read_into(batch: list[Spec]) -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for spec, current in zip(
                batch, pool.map(lambda s: kind(s.kind).read(aws, s), batch), strict=True
            ):
                got[spec.key] = current

    read_into([s for s in specs if s.only_with is None])
    read_into([s for s in specs if s.only_with is not None and got.get(s.only_with) is not None])
    return [got.get(s.key) for s in specs]


def decide_up(spec: Spec, current: object | None) -> Action:
    """One spec's action from what was read: the planner's whole rule, with no I/O."""
    if current is None:
        return Action(spec, "create", "does not exist")
    changes = tuple(kind(spec.kind).diff(spec, current))
    if changes:
        return Action(spec, "update", "; ".join(map(str, changes)), current, changes)
    return Action(spec, "noop", "no change", current)


def decide_teardown(spec: Spec, current: object | None) -> Action:
    if current is None:
        return Action(spec, "noop", "already gone")
    return Action(spec, "delete", "part of the stack", current)


def plan_up(aws: Aws, specs: Sequence[Spec]) -> Plan:
    states = read_all(aws, specs)
    return Plan([decide_up(s, c) for s, c in zip(specs, states, strict=True)])


def plan_teardown(aws: Aws, specs: Sequence[Spec]) -> Plan:
    states = read_all(aws, specs)
    actions = [decide_teardown(s, c) for s, c in zip(specs, states, strict=True)]
    return Plan(actions[::-1], teardown=True)
