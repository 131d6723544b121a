"""The queue -> consumer trigger: batches of 10 with partial batch failures reported.

A mapping changes state asynchronously (Lambda's event source mapping states: Creating,
Enabling, Updating, Disabling, Deleting); AWS refuses to update or delete one in transition
(ResourceInUseException), so every change waits for a settled state first. A Deleting mapping
is not present: AWS removes it by itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from ordercli.aws import Aws, absent_is_none, error_code, error_message, retry, wait_for
from ordercli.deploy.resources._common import Change, changed
from ordercli.deploy.specs import MappingSpec
from ordercli.errors import Conflict

SETTLED = ("Enabled", "Disabled")
GOING = "Deleting"
TRANSITION_TIMEOUT = 300.0  # AWS documents no bound; minutes would mean something is wrong
POLL = 1.0


@dataclass(frozen=True)
class Mapping:
    uuid: str
    queue_arn: str
    state: str
    batch_size: int | None
    response_types: tuple[str, ...]
    max_concurrency: int | None


@dataclass(frozen=True)
class MappingState:
    mapping: Mapping | None  # the one from our queue
    all: tuple[Mapping, ...]  # every live mapping of the function (strays included)


def _mappings(aws: Aws, function: str) -> list[Mapping]:
    lam = aws.client("lambda")

    def listed() -> list[Mapping]:
        pages = lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function)
        return [
            Mapping(
                m["UUID"],
                m.get("EventSourceArn", ""),
                m.get("State", ""),
                m.get("BatchSize"),
                tuple(m.get("FunctionResponseTypes") or ()),
                (m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            )
            for page in pages
            for m in page["EventSourceMappings"]
        ]

    return absent_is_none(listed) or []


def read(aws: Aws, spec: MappingSpec) -> MappingState | None:
    """The function's mappings that are not on their way out; None when there are none."""
    live = tuple(m for m in _mappings(aws, spec.function) if m.state != GOING)
    if not live:
        return None
    ours = [m for m in live if m.queue_arn == spec.queue_arn]
    return MappingState(ours[0] if ours else None, live)


def diff(spec: MappingSpec, current: MappingState) -> list[Change]:
    m = current.mapping
    if m is None:
        return [Change("mapping", note="mapping from the queue missing")]
    changes = (
        changed("batch size", spec.batch_size, m.batch_size)
        + changed("response types", spec.response_types, m.response_types)
        + changed("maximum concurrency", spec.max_concurrency, m.max_concurrency)
    )
    if m.state not in ("Enabled", "Enabling", "Creating", "Updating"):
        changes.append(Change("state", m.state, "Enabled"))
    strays = [x.uuid for x in current.all if x is not m]
    if strays:
        changes.append(Change("strays", note=f"stray mappings {', '.join(strays)}"))
    return changes


def _state(aws: Aws, uuid: str) -> str | None:
    got = absent_is_none(lambda: aws.client("lambda").get_event_source_mapping(UUID=uuid))
    return None if got is None else str(got["State"])


def _settled(aws: Aws, uuid: str) -> str | None:
    """Wait until the mapping is Enabled, Disabled, Deleting or gone (None); returns which."""

    def look() -> tuple[str | None] | None:
        state = _state(aws, uuid)
        return (state,) if state is None or state in (*SETTLED, GOING) else None

    return wait_for(
        aws, look, what=f"mapping {uuid} to settle", timeout=TRANSITION_TIMEOUT, every=POLL
    )[0]


def _gone(aws: Aws, uuid: str) -> bool | None:
    return True if _state(aws, uuid) is None else None


def _wait_gone(aws: Aws, spec: MappingSpec) -> None:
    """A new mapping for the same queue and function is refused while the old one is Deleting."""
    for m in _mappings(aws, spec.function):
        if m.state != GOING:
            continue
        wait_for(
            aws,
            partial(_gone, aws, m.uuid),
            what=f"the previous mapping {m.uuid} to finish Deleting",
            timeout=TRANSITION_TIMEOUT,
            every=POLL,
            why=f"The previous trigger {m.uuid} is still Deleting; AWS removes it in seconds.",
        )


def _role_not_ready(exc: BaseException) -> bool:
    """CreateEventSourceMapping checks the function's role can read the queue; a role (or its
    policy) made seconds ago may not have propagated through IAM yet."""
    return error_code(exc) == "InvalidParameterValueException" and (
        "role" in error_message(exc).lower() or "permission" in error_message(exc).lower()
    )


def _in_use(exc: BaseException) -> bool:
    return isinstance(exc, Conflict)


def _settings(spec: MappingSpec) -> dict[str, object]:
    args: dict[str, object] = {
        "FunctionName": spec.function,
        "BatchSize": spec.batch_size,
        "FunctionResponseTypes": list(spec.response_types),
        "Enabled": True,
    }
    if spec.max_concurrency:
        args["ScalingConfig"] = {"MaximumConcurrency": spec.max_concurrency}
    return args


def create(aws: Aws, spec: MappingSpec) -> None:
    _wait_gone(aws, spec)
    made = retry(
        lambda: aws.client("lambda").create_event_source_mapping(
            EventSourceArn=spec.queue_arn, **_settings(spec)
        ),
        when=lambda e: _role_not_ready(e) or _in_use(e),
        sleep=aws.sleep,
    )
    _settled(aws, made["UUID"])


def update(aws: Aws, spec: MappingSpec, current: MappingState, changes: Sequence[Change]) -> None:
    m = current.mapping
    for stray in current.all:
        if stray is not m:
            _delete_one(aws, stray.uuid)
    if m is None or _settled(aws, m.uuid) in (None, GOING):
        create(aws, spec)
        return
    retry(
        lambda: aws.client("lambda").update_event_source_mapping(UUID=m.uuid, **_settings(spec)),
        when=_in_use,
        sleep=aws.sleep,
    )
    _settled(aws, m.uuid)


def _delete_one(aws: Aws, uuid: str) -> bool:
    """Disable, wait for Disabled, delete. True if AWS is still Deleting it."""
    lam = aws.client("lambda")
    state = _settled(aws, uuid)
    if state is None:
        return False
    if state == GOING:
        return True
    # Disabled first: no batch is handed to a function that is about to go.
    disable = partial(lam.update_event_source_mapping, UUID=uuid, Enabled=False)
    if state == "Enabled" and absent_is_none(disable) is not None:
        state = _settled(aws, uuid)
        if state in (None, GOING):
            return state == GOING
    out = absent_is_none(
        lambda: retry(
            lambda: lam.delete_event_source_mapping(UUID=uuid), when=_in_use, sleep=aws.sleep
        )
    )
    return out is not None and _state(aws, uuid) == GOING


def delete(aws: Aws, spec: MappingSpec, current: MappingState) -> str | None:
    going = [m.uuid for m in current.all if _delete_one(aws, m.uuid)]
    return f"Deleting ({', '.join(going)}); AWS finishes this by itself" if going else None
