"""The Elastic Beanstalk environment that runs the web app. `up` waits for Ready and Green,
showing the environment's events as they come; a failed or unhealthy environment ends with
its last events and health causes, not a bare timeout."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ordercli.aws import Aws, error_code, error_message, retry, wait_for
from ordercli.deploy.resources._common import Change, tag_list
from ordercli.deploy.specs import EbEnvironmentSpec
from ordercli.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_elasticbeanstalk import ElasticBeanstalkClient

POLL = 10.0  # seconds between looks at a changing environment
PLATFORM_RE = re.compile(r"Amazon Linux 2023 v([\d.]+) running Python 3\.(\d+)")


@dataclass(frozen=True)
class EnvironmentState:
    version: str | None
    status: str
    health: str | None
    options: dict[tuple[str, str], str | None]
    url: str | None


def newest_python_stack(eb: ElasticBeanstalkClient) -> str:
    """The newest "Amazon Linux 2023 ... Python 3.x" solution stack."""
    stacks = eb.list_available_solution_stacks()["SolutionStacks"]
    ranked = []
    for name in stacks:
        m = PLATFORM_RE.search(name)
        if m:
            ranked.append((tuple(int(x) for x in m.group(1).split(".")), int(m.group(2)), name))
    if not ranked:
        raise AwsError(
            "No Amazon Linux 2023 Python platform is offered in this region.",
            hint="Set webapp.solution_stack in ordercli.yaml.",
        )
    return max(ranked)[2]


def _environment(aws: Aws, spec: EbEnvironmentSpec) -> dict[str, str] | None:
    envs = aws.client("elasticbeanstalk").describe_environments(
        ApplicationName=spec.application,
        EnvironmentNames=[spec.name],
        IncludeDeleted=False,
    )
    live = [e for e in envs["Environments"] if e["Status"] not in ("Terminated", "Terminating")]
    return live[0] if live else None


def read(aws: Aws, spec: EbEnvironmentSpec) -> EnvironmentState | None:
    eb = aws.client("elasticbeanstalk")
    env = _environment(aws, spec)
    if env is None:
        return None
    settings = eb.describe_configuration_settings(
        ApplicationName=spec.application, EnvironmentName=spec.name
    )
    options = {
        (o["Namespace"], o["OptionName"]): o.get("Value")
        for o in settings["ConfigurationSettings"][0].get("OptionSettings", [])
    }
    return EnvironmentState(
        env.get("VersionLabel"), env["Status"], env.get("Health"), options, env.get("CNAME")
    )


def diff(spec: EbEnvironmentSpec, current: EnvironmentState) -> list[Change]:
    changes = []
    if current.version != spec.version_label:
        changes.append(
            Change(
                "version",
                current.version,
                spec.version_label,
                note=f"version: live {current.version}, config {spec.version_label}",
            )
        )
    for o in spec.options:
        have = current.options.get((o["Namespace"], o["OptionName"]))
        if have != o["Value"]:
            changes.append(Change(o["OptionName"], have, o["Value"], f"{o['OptionName']} changed"))
    return changes


def _profile_not_ready(exc: BaseException) -> bool:
    """A just-made instance profile is refused until IAM has propagated it."""
    return error_code(exc) == "InvalidParameterValue" and "instance profile" in (
        error_message(exc).lower()
    )


def create(aws: Aws, spec: EbEnvironmentSpec) -> None:
    eb = aws.client("elasticbeanstalk")
    started = datetime.now(UTC)
    stack = spec.solution_stack or newest_python_stack(eb)
    retry(
        lambda: eb.create_environment(
            ApplicationName=spec.application,
            EnvironmentName=spec.name,
            SolutionStackName=stack,
            VersionLabel=spec.version_label,
            OptionSettings=list(spec.options),
            Tags=tag_list(spec.tags),
        ),
        when=_profile_not_ready,
        sleep=aws.sleep,
    )
    wait_ready(aws, spec, started)


def _wait_settled(aws: Aws, spec: EbEnvironmentSpec) -> None:
    """An environment accepts an update only when Ready (not Launching/Updating)."""

    def look() -> bool | None:
        status = _environment_status(aws, spec)
        if status in (None, "Terminated", "Terminating"):
            raise AwsError(f"Environment {spec.name} is {status or 'gone'}; run `up` again.")
        return True if status == "Ready" else None

    wait_for(
        aws,
        look,
        what=f"environment {spec.name} to be Ready before updating it",
        timeout=spec.timeout,
        every=POLL,
        why=f"environment {spec.name} is busy (an earlier change is still running); waiting.",
    )


def update(
    aws: Aws, spec: EbEnvironmentSpec, current: EnvironmentState, changes: Sequence[Change]
) -> None:
    if current.status != "Ready":
        _wait_settled(aws, spec)
    started = datetime.now(UTC)
    aws.client("elasticbeanstalk").update_environment(
        ApplicationName=spec.application,
        EnvironmentName=spec.name,
        VersionLabel=spec.version_label,
        OptionSettings=list(spec.options),
    )
    wait_ready(aws, spec, started)


def delete(aws: Aws, spec: EbEnvironmentSpec, current: EnvironmentState) -> None:
    eb = aws.client("elasticbeanstalk")
    eb.terminate_environment(EnvironmentName=spec.name, ForceTerminate=True)
    # Waited out: the roles it uses go next, and an environment losing them mid-way can fail.
    wait_for(
        aws,
        lambda: True if _environment_status(aws, spec) in (None, "Terminated") else None,
        what=f"environment {spec.name} to terminate",
        timeout=spec.timeout,
        every=POLL,
    )


def _environment_status(aws: Aws, spec: EbEnvironmentSpec) -> str | None:
    envs = aws.client("elasticbeanstalk").describe_environments(
        ApplicationName=spec.application,
        EnvironmentNames=[spec.name],
        IncludeDeleted=False,
    )
    return envs["Environments"][0]["Status"] if envs["Environments"] else None


def wait_ready(aws: Aws, spec: EbEnvironmentSpec, started: datetime) -> None:
    """Until Ready and Green; events are passed to `aws.note` as they arrive."""
    eb = aws.client("elasticbeanstalk")
    deadline = aws.now() + spec.timeout
    seen: set[tuple[str, str]] = set()
    recent: list[str] = []
    while True:
        env = _environment(aws, spec)
        events = eb.describe_events(
            ApplicationName=spec.application, EnvironmentName=spec.name, StartTime=started
        )["Events"]
        for ev in reversed(events):  # oldest first
            key = (str(ev["EventDate"]), ev["Message"])
            if key not in seen:
                seen.add(key)
                line = f"{ev.get('Severity', 'INFO')}: {ev['Message']}"
                recent = [*recent[-4:], line]
                if aws.note:
                    aws.note(f"{spec.name}: {line}")
        status = env["Status"] if env else "Terminated"
        health = env.get("Health") if env else None
        if status == "Ready" and health == "Green":
            return
        if status == "Terminated" or (status == "Ready" and health == "Red"):
            _fail(aws, spec, f"is {status}, health {health}", recent)
        if aws.now() > deadline:
            _fail(
                aws,
                spec,
                f"was not Ready and Green after {spec.timeout} s "
                f"(webapp.timeout): {status}, health {health}",
                recent,
            )
        aws.sleep(POLL)


def _fail(aws: Aws, spec: EbEnvironmentSpec, what: str, recent: list[str]) -> None:
    eb = aws.client("elasticbeanstalk")
    causes: list[str] = []
    try:
        health = eb.describe_environment_health(
            EnvironmentName=spec.name, AttributeNames=["Causes", "HealthStatus"]
        )
        causes = health.get("Causes", [])
    except Exception:  # the health API needs enhanced health; the events still tell a lot
        pass
    lines = [f"Environment {spec.name} {what}."]
    if causes:
        lines.append("Health causes: " + "; ".join(causes))
    if recent:
        lines.append("Last events: " + " | ".join(recent))
    raise AwsError(
        " ".join(lines),
        hint="Fix the cause and run `ordercli up` again; "
        "`ordercli teardown` removes the environment.",
    )
