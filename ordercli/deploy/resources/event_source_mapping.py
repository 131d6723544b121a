"""The queue -> consumer trigger: batches of 10 with partial batch failures reported.

A mapping changes state asynchronously (Lambda's "event source mapping states": Creating,
Enabling, Updating, Disabling, Deleting); AWS refuses to update or delete one in transition
(ResourceInUseException), so every change waits for a settled state first. A Deleting mapping
is not present: AWS removes it by itself."""

from __future__ import annotations

from functools import partial
from typing import Any

from ordercli.aws import error_code, error_message, retry, wait_for
from ordercli.deploy.resources._common import changed, missing

SETTLED = ("Enabled", "Disabled")
GOING = "Deleting"
TRANSITION_TIMEOUT = 300.0  # AWS documents no bound; minutes would mean something is wrong
POLL = 1.0


def _mappings(aws: Any, function: str) -> list[dict[str, Any]]:
    lam = aws.client("lambda")
    try:
        pages = lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function)
        return [m for page in pages for m in page["EventSourceMappings"]]
    except Exception as exc:
        if missing(exc, "ResourceNotFoundException"):
            return []
        raise


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    """The function's mappings that are not on their way out; None when there are none."""
    live = [m for m in _mappings(aws, spec.props["function"]) if m.get("State") != GOING]
    if not live:
        return None
    ours = [m for m in live if m.get("EventSourceArn") == spec.props["queue_arn"]]
    return {"mapping": ours[0] if ours else None, "all": live}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    m = current["mapping"]
    if m is None:
        return ["mapping from the queue missing"]
    reasons = changed("batch size", spec.props["batch_size"], m.get("BatchSize")) + changed(
        "response types", spec.props["response_types"], m.get("FunctionResponseTypes") or []
    )
    reasons += changed(
        "maximum concurrency",
        spec.props.get("max_concurrency"),
        (m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
    )
    if m.get("State") not in ("Enabled", "Enabling", "Creating", "Updating"):
        reasons.append(f"state {m.get('State')} -> Enabled")
    strays = [x["UUID"] for x in current["all"] if x is not m]
    if strays:
        reasons.append(f"stray mappings {', '.join(strays)}")
    return reasons


def _state(aws: Any, uuid: str) -> str | None:
    try:
        return str(aws.client("lambda").get_event_source_mapping(UUID=uuid)["State"])
    except Exception as exc:
        if missing(exc, "ResourceNotFoundException"):
            return None
        raise


def _settled(aws: Any, uuid: str) -> str | None:
    """Wait until the mapping is Enabled, Disabled, Deleting or gone (None); returns which."""

    def look() -> tuple[str | None] | None:
        state = _state(aws, uuid)
        return (state,) if state is None or state in (*SETTLED, GOING) else None

    return wait_for(
        aws, look, what=f"mapping {uuid} to settle", timeout=TRANSITION_TIMEOUT, every=POLL
    )[0]


def _gone(aws: Any, uuid: str) -> bool | None:
    return True if _state(aws, uuid) is None else None


def _wait_gone(aws: Any, spec: Any) -> None:
    """A new mapping for the same queue and function is refused while the old one is Deleting."""
    going = [m["UUID"] for m in _mappings(aws, spec.props["function"]) if m.get("State") == GOING]
    for uuid in going:
        wait_for(
            aws,
            partial(_gone, aws, uuid),
            what=f"the previous mapping {uuid} to finish Deleting",
            timeout=TRANSITION_TIMEOUT,
            every=POLL,
            why=f"The previous trigger {uuid} is still Deleting; AWS removes it in seconds.",
        )


def _role_not_ready(exc: BaseException) -> bool:
    """CreateEventSourceMapping checks the function's role can read the queue; a role (or its
    policy) made seconds ago may not have propagated through IAM yet."""
    return error_code(exc) == "InvalidParameterValueException" and (
        "role" in error_message(exc).lower() or "permission" in error_message(exc).lower()
    )


def _in_use(exc: BaseException) -> bool:
    return error_code(exc) in ("ResourceInUseException", "ResourceConflictException")


def _extra(spec: Any) -> dict[str, Any]:
    concurrency = spec.props.get("max_concurrency")
    return {"ScalingConfig": {"MaximumConcurrency": concurrency}} if concurrency else {}


def create(aws: Any, spec: Any) -> None:
    _wait_gone(aws, spec)
    made = retry(
        lambda: aws.client("lambda").create_event_source_mapping(
            EventSourceArn=spec.props["queue_arn"],
            FunctionName=spec.props["function"],
            BatchSize=spec.props["batch_size"],
            FunctionResponseTypes=spec.props["response_types"],
            Enabled=True,
            **_extra(spec),
        ),
        when=lambda e: _role_not_ready(e) or _in_use(e),
        sleep=aws.sleep,
    )
    _settled(aws, made["UUID"])


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    m = current["mapping"]
    for stray in current["all"]:
        if stray is not m:
            _delete_one(aws, stray["UUID"])
    if m is None:
        create(aws, spec)
        return
    if _settled(aws, m["UUID"]) in (None, GOING):
        create(aws, spec)
        return
    retry(
        lambda: aws.client("lambda").update_event_source_mapping(
            UUID=m["UUID"],
            FunctionName=spec.props["function"],
            BatchSize=spec.props["batch_size"],
            FunctionResponseTypes=spec.props["response_types"],
            Enabled=True,
            **_extra(spec),
        ),
        when=_in_use,
        sleep=aws.sleep,
    )
    _settled(aws, m["UUID"])


def _delete_one(aws: Any, uuid: str) -> bool:
    """Disable, wait for Disabled, delete. True if AWS is still Deleting it."""
    lam = aws.client("lambda")
    state = _settled(aws, uuid)
    if state is None:
        return False
    if state == GOING:
        return True
    try:
        if state == "Enabled":
            # Disabled first: no batch is handed to a function that is about to go.
            lam.update_event_source_mapping(UUID=uuid, Enabled=False)
            if _settled(aws, uuid) in (None, GOING):
                return _state(aws, uuid) == GOING
        out = retry(
            lambda: lam.delete_event_source_mapping(UUID=uuid), when=_in_use, sleep=aws.sleep
        )
    except Exception as exc:
        if missing(exc, "ResourceNotFoundException"):
            return False
        raise
    return bool(out.get("State") == GOING and _state(aws, uuid) == GOING)


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> str | None:
    going = []
    for m in current["all"]:
        if _delete_one(aws, m["UUID"]):
            going.append(m["UUID"])
    return f"Deleting ({', '.join(going)}); AWS finishes this by itself" if going else None
