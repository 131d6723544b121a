"""The SNS topic the notifier publishes to, with an optional email subscription."""

from __future__ import annotations

from typing import Any

from ordercli.deploy.resources._common import missing, tag_diff


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    sns = aws.client("sns")
    try:
        sns.get_topic_attributes(TopicArn=spec.props["arn"])
    except Exception as exc:
        if missing(exc, "NotFound", "NotFoundException"):
            return None
        raise
    tags = {
        t["Key"]: t["Value"]
        for t in sns.list_tags_for_resource(ResourceArn=spec.props["arn"])["Tags"]
    }
    emails = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
        TopicArn=spec.props["arn"]
    ):
        emails += [s["Endpoint"] for s in page["Subscriptions"] if s["Protocol"] == "email"]
    return {"tags": tags, "emails": emails}


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    reasons = tag_diff(spec.props["tags"], current["tags"])
    email = spec.props["email"]
    if email and email not in current["emails"]:
        reasons.append(f"subscribe {email}")
    return reasons


def create(aws: Any, spec: Any) -> None:
    sns = aws.client("sns")
    tags = [{"Key": k, "Value": v} for k, v in spec.props["tags"].items()]
    sns.create_topic(Name=spec.name, Tags=tags)
    if spec.props["email"]:
        sns.subscribe(TopicArn=spec.props["arn"], Protocol="email", Endpoint=spec.props["email"])


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    sns = aws.client("sns")
    sns.tag_resource(
        ResourceArn=spec.props["arn"],
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )
    email = spec.props["email"]
    if email and email not in current["emails"]:
        sns.subscribe(TopicArn=spec.props["arn"], Protocol="email", Endpoint=email)


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    # Deleting a topic deletes its subscriptions too.
    aws.client("sns").delete_topic(TopicArn=spec.props["arn"])
