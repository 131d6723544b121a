"""The queue -> consumer trigger: batches of 10 with partial batch failures reported."""

from __future__ import annotations

from typing import Any

from ordercli.deploy.resources._common import changed, missing


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
    found = _mappings(aws, spec.props["function"])
    ours = [m for m in found if m.get("EventSourceArn") == spec.props["queue_arn"]]
    if not found:
        return None
    return {"mapping": ours[0] if ours else None, "all": found}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    m = current["mapping"]
    if m is None:
        return ["mapping from the queue missing"]
    reasons = changed("batch size", spec.props["batch_size"], m.get("BatchSize")) + changed(
        "response types", spec.props["response_types"], m.get("FunctionResponseTypes") or []
    )
    reasons += changed(
        "maximum concurrency",
        spec.props["max_concurrency"],
        (m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
    )
    if m.get("State") not in ("Enabled", "Enabling", "Creating", "Updating"):
        reasons.append(f"state: live {m.get('State')}, config Enabled")
    strays = [x["UUID"] for x in current["all"] if x is not m]
    if strays:
        reasons.append(f"stray mappings {', '.join(strays)}")
    return reasons


def create(aws: Any, spec: Any) -> None:
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=spec.props["queue_arn"],
        FunctionName=spec.props["function"],
        BatchSize=spec.props["batch_size"],
        FunctionResponseTypes=spec.props["response_types"],
        ScalingConfig={"MaximumConcurrency": spec.props["max_concurrency"]},
        Enabled=True,
    )


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    lam = aws.client("lambda")
    m = current["mapping"]
    for stray in current["all"]:
        if stray is not m:
            _delete_one(aws, stray["UUID"])
    if m is None:
        create(aws, spec)
        return
    lam.update_event_source_mapping(
        UUID=m["UUID"],
        FunctionName=spec.props["function"],
        BatchSize=spec.props["batch_size"],
        FunctionResponseTypes=spec.props["response_types"],
        ScalingConfig={"MaximumConcurrency": spec.props["max_concurrency"]},
        Enabled=True,
    )


def _delete_one(aws: Any, uuid: str) -> None:
    lam = aws.client("lambda")
    try:
        # Disable first: some emulators keep firing a deleted mapping that was still enabled.
        lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        lam.delete_event_source_mapping(UUID=uuid)
    except Exception as exc:
        if not missing(exc, "ResourceNotFoundException"):
            raise


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    for m in current["all"]:
        _delete_one(aws, m["UUID"])
