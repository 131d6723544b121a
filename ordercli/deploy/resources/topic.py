"""The SNS topic the notifier publishes to, with an optional email subscription."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none
from ordercli.deploy.resources._common import Change, tag_diff, tag_list
from ordercli.deploy.specs import TopicSpec


@dataclass(frozen=True)
class TopicState:
    tags: dict[str, str]
    emails: list[str]


def read(aws: Aws, spec: TopicSpec) -> TopicState | None:
    sns = aws.client("sns")
    if absent_is_none(lambda: sns.get_topic_attributes(TopicArn=spec.arn)) is None:
        return None
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=spec.arn)["Tags"]}
    emails = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=spec.arn):
        emails += [s["Endpoint"] for s in page["Subscriptions"] if s["Protocol"] == "email"]
    return TopicState(tags, emails)


def diff(spec: TopicSpec, current: TopicState) -> list[Change]:
    changes = tag_diff(spec.tags, current.tags)
    if spec.email and spec.email not in current.emails:
        changes.append(Change("email", None, spec.email, note=f"subscribe {spec.email}"))
    return changes


def create(aws: Aws, spec: TopicSpec) -> None:
    sns = aws.client("sns")
    sns.create_topic(Name=spec.name, Tags=tag_list(spec.tags))
    if spec.email:
        sns.subscribe(TopicArn=spec.arn, Protocol="email", Endpoint=spec.email)


def update(aws: Aws, spec: TopicSpec, current: TopicState, changes: Sequence[Change]) -> None:
    sns = aws.client("sns")
    for change in changes:
        if change.what == "tags":
            sns.tag_resource(ResourceArn=spec.arn, Tags=tag_list(spec.tags))
        elif change.what == "email" and spec.email:
            sns.subscribe(TopicArn=spec.arn, Protocol="email", Endpoint=spec.email)


def delete(aws: Aws, spec: TopicSpec, current: TopicState) -> None:
    # Deleting a topic deletes its subscriptions too.
    aws.client("sns").delete_topic(TopicArn=spec.arn)
