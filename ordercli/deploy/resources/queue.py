"""SQS queues: the order queue and its dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from ordercli.deploy.resources._common import missing, tag_diff

NOT_FOUND = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def find_url(sqs: Any, name: str) -> str | None:
    """A queue's URL, or None if there is no such queue."""
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except Exception as exc:
        if missing(exc, *NOT_FOUND):
            return None
        raise


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    sqs = aws.client("sqs")
    url = find_url(sqs, spec.name)
    if url is None:
        return None
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    return {"url": url, "attributes": attrs, "tags": tags}


def _norm(name: str, value: str) -> Any:
    return json.loads(value) if name == "RedrivePolicy" else str(value)


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    reasons = []
    for name, want in spec.props["attributes"].items():
        have = current["attributes"].get(name)
        if have is None or _norm(name, have) != _norm(name, want):
            reasons.append(f"{name}: live {have}, config {want}")
    return reasons + tag_diff(spec.props["tags"], current["tags"])


def create(aws: Any, spec: Any) -> None:
    aws.client("sqs").create_queue(
        QueueName=spec.name, Attributes=spec.props["attributes"], tags=spec.props["tags"]
    )


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(QueueUrl=current["url"], Attributes=spec.props["attributes"])
    sqs.tag_queue(QueueUrl=current["url"], Tags=spec.props["tags"])


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("sqs").delete_queue(QueueUrl=current["url"])
    except Exception as exc:
        if not missing(exc, *NOT_FOUND):
            raise
