"""SQS queues: the order queue and its dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ordercli.aws import Aws, absent_is_none, create_when_free
from ordercli.deploy.resources._common import Change, tag_diff
from ordercli.deploy.specs import QueueSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

NAME_HOLD = 60.0  # "You must wait 60 seconds after deleting a queue" (SQS DeleteQueue docs)
RECENTLY = ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently")


@dataclass(frozen=True)
class QueueState:
    url: str
    attributes: dict[str, str]
    tags: dict[str, str]


def find_url(sqs: SQSClient, name: str) -> str | None:
    """A queue's URL, or None if there is no such queue."""
    got = absent_is_none(lambda: sqs.get_queue_url(QueueName=name))
    return None if got is None else str(got["QueueUrl"])


def read(aws: Aws, spec: QueueSpec) -> QueueState | None:
    sqs = aws.client("sqs")
    url = find_url(sqs, spec.name)
    if url is None:
        return None
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    return QueueState(url, attrs, tags)


def _norm(name: str, value: str) -> object:
    return json.loads(value) if name == "RedrivePolicy" else str(value)


def diff(spec: QueueSpec, current: QueueState) -> list[Change]:
    changes = []
    for name, want in spec.attributes.items():
        have = current.attributes.get(name)
        if have is None or _norm(name, have) != _norm(name, want):
            changes.append(Change(name, have, want, note=f"{name}: live {have}, config {want}"))
    return changes + tag_diff(spec.tags, current.tags)


def create(aws: Aws, spec: QueueSpec) -> None:
    """Create; if the name was deleted less than a minute ago, wait until SQS frees it."""
    sqs = aws.client("sqs")
    create_when_free(
        aws,
        lambda: sqs.create_queue(QueueName=spec.name, Attributes=spec.attributes, tags=spec.tags),
        RECENTLY,
        what=f"SQS to free the name {spec.name}",
        timeout=NAME_HOLD + 30,
        expected=NAME_HOLD,
        why=(
            f"queue {spec.name} was deleted less than a minute ago; SQS holds a deleted "
            f"queue's name for {NAME_HOLD:.0f} s, so this waits and then creates it."
        ),
    )


def update(aws: Aws, spec: QueueSpec, current: QueueState, changes: Sequence[Change]) -> None:
    sqs = aws.client("sqs")
    if any(c.what != "tags" for c in changes):
        sqs.set_queue_attributes(QueueUrl=current.url, Attributes=spec.attributes)
    if any(c.what == "tags" for c in changes):
        sqs.tag_queue(QueueUrl=current.url, Tags=spec.tags)


def delete(aws: Aws, spec: QueueSpec, current: QueueState) -> str | None:
    if absent_is_none(lambda: aws.client("sqs").delete_queue(QueueUrl=current.url)) is None:
        return None
    return f"deleted; SQS holds the name for {NAME_HOLD:.0f} s (a new `up` waits for it)"
