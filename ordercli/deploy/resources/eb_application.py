"""The Elastic Beanstalk application and its versions. A version's label is its bundle's
content hash, so an unchanged app creates no new version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, wait_for
from ordercli.deploy.resources._common import Change, tag_list
from ordercli.deploy.specs import EbApplicationSpec
from ordercli.errors import AwsError

PROCESS_TIMEOUT = 600.0
POLL = 5.0


@dataclass(frozen=True)
class ApplicationState:
    has_version: bool  # the spec's version (its label is the bundle's hash) is there


def read(aws: Aws, spec: EbApplicationSpec) -> ApplicationState | None:
    eb = aws.client("elasticbeanstalk")
    apps = eb.describe_applications(ApplicationNames=[spec.name])["Applications"]
    if not apps:
        return None
    versions = eb.describe_application_versions(
        ApplicationName=spec.name, VersionLabels=[spec.version_label]
    )["ApplicationVersions"]
    return ApplicationState(bool(versions))


def diff(spec: EbApplicationSpec, current: ApplicationState) -> list[Change]:
    if current.has_version:
        return []
    return [Change("version", None, spec.version_label, note=f"new version {spec.version_label}")]


def _bucket(aws: Aws) -> str:
    return str(aws.client("elasticbeanstalk").create_storage_location()["S3Bucket"])


def _upload_version(aws: Aws, spec: EbApplicationSpec) -> None:
    bucket = _bucket(aws)
    key = f"{spec.name}/{spec.version_label}.zip"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=spec.bundle)
    aws.client("elasticbeanstalk").create_application_version(
        ApplicationName=spec.name,
        VersionLabel=spec.version_label,
        Description="Built by ordercli",
        SourceBundle={"S3Bucket": bucket, "S3Key": key},
        Process=True,
    )
    wait_processed(aws, spec)


def wait_processed(aws: Aws, spec: EbApplicationSpec) -> None:
    """A version made with Process=True is usable only once PROCESSED (it is validated and
    unpacked asynchronously); FAILED ends here with EB's reason."""
    eb = aws.client("elasticbeanstalk")
    label = spec.version_label

    def look() -> bool | None:
        got = eb.describe_application_versions(ApplicationName=spec.name, VersionLabels=[label])
        status = (got["ApplicationVersions"] or [{}])[0].get("Status", "PROCESSED")
        if status == "FAILED":
            raise AwsError(
                f"Elastic Beanstalk could not process version {label} of {spec.name}.",
                hint="Its events (`aws elasticbeanstalk describe-events`) say why.",
            )
        return True if status == "PROCESSED" else None

    wait_for(
        aws, look, what=f"version {label} to be processed", timeout=PROCESS_TIMEOUT, every=POLL
    )


def create(aws: Aws, spec: EbApplicationSpec) -> None:
    aws.client("elasticbeanstalk").create_application(
        ApplicationName=spec.name, Description="ordercli web app", Tags=tag_list(spec.tags)
    )
    _upload_version(aws, spec)


def update(
    aws: Aws, spec: EbApplicationSpec, current: ApplicationState, changes: Sequence[Change]
) -> None:
    _upload_version(aws, spec)


def delete(aws: Aws, spec: EbApplicationSpec, current: ApplicationState) -> None:
    """The application with every version, and the bundles ordercli uploaded."""
    aws.client("elasticbeanstalk").delete_application(
        ApplicationName=spec.name, TerminateEnvByForce=True
    )
    bucket = _bucket(aws)
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{spec.name}/").get("Contents", [])
    if listed:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})
