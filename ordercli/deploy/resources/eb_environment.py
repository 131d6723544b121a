"""The Elastic Beanstalk environment that runs the web app. `up` waits for Ready and Green,
showing the environment's events as they come; a failed or unhealthy environment ends with
its last events and health causes, not a bare timeout."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from ordercli.errors import AwsError

POLL = 10.0  # seconds between looks at a changing environment
PLATFORM_RE = re.compile(r"Amazon Linux 2023 v([\d.]+) running Python 3\.(\d+)")


def newest_python_stack(eb: Any) -> str:
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


def _environment(eb: Any, spec: Any) -> dict[str, Any] | None:
    envs = eb.describe_environments(
        ApplicationName=spec.props["application"],
        EnvironmentNames=[spec.name],
        IncludeDeleted=False,
    )
    live = [e for e in envs["Environments"] if e["Status"] not in ("Terminated", "Terminating")]
    return live[0] if live else None


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    eb = aws.client("elasticbeanstalk")
    env = _environment(eb, spec)
    if env is None:
        return None
    settings = eb.describe_configuration_settings(
        ApplicationName=spec.props["application"], EnvironmentName=spec.name
    )
    options = {
        (o["Namespace"], o["OptionName"]): o.get("Value")
        for o in settings["ConfigurationSettings"][0].get("OptionSettings", [])
    }
    return {
        "version": env.get("VersionLabel"),
        "status": env["Status"],
        "health": env.get("Health"),
        "options": options,
        "url": env.get("CNAME"),
    }


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    reasons = []
    if current["version"] != spec.props["version_label"]:
        reasons.append(f"version: live {current['version']}, config {spec.props['version_label']}")
    for o in spec.props["options"]:
        have = current["options"].get((o["Namespace"], o["OptionName"]))
        if have != o["Value"]:
            reasons.append(f"{o['OptionName']} changed")
    return reasons


def create(aws: Any, spec: Any) -> None:
    eb = aws.client("elasticbeanstalk")
    started = datetime.now(UTC)
    eb.create_environment(
        ApplicationName=spec.props["application"],
        EnvironmentName=spec.name,
        SolutionStackName=spec.props["solution_stack"] or newest_python_stack(eb),
        VersionLabel=spec.props["version_label"],
        OptionSettings=spec.props["options"],
        Tags=[{"Key": k, "Value": v} for k, v in spec.props["tags"].items()],
    )
    wait_ready(aws, spec, started)


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    started = datetime.now(UTC)
    aws.client("elasticbeanstalk").update_environment(
        ApplicationName=spec.props["application"],
        EnvironmentName=spec.name,
        VersionLabel=spec.props["version_label"],
        OptionSettings=spec.props["options"],
    )
    wait_ready(aws, spec, started)


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    eb = aws.client("elasticbeanstalk")
    eb.terminate_environment(EnvironmentName=spec.name, ForceTerminate=True)
    deadline = time.monotonic() + spec.props["timeout"]
    while _environment_status(eb, spec) not in (None, "Terminated"):
        if time.monotonic() > deadline:
            raise AwsError(
                f"Environment {spec.name} did not terminate in {spec.props['timeout']} s."
            )
        aws.sleep(POLL)


def _environment_status(eb: Any, spec: Any) -> str | None:
    envs = eb.describe_environments(
        ApplicationName=spec.props["application"],
        EnvironmentNames=[spec.name],
        IncludeDeleted=False,
    )
    return envs["Environments"][0]["Status"] if envs["Environments"] else None


def wait_ready(aws: Any, spec: Any, started: datetime) -> None:
    """Until Ready and Green; events are passed to `aws.note` as they arrive."""
    eb = aws.client("elasticbeanstalk")
    deadline = time.monotonic() + spec.props["timeout"]
    seen: set[tuple[str, str]] = set()
    recent: list[str] = []
    while True:
        env = _environment(eb, spec)
        events = eb.describe_events(
            ApplicationName=spec.props["application"], EnvironmentName=spec.name, StartTime=started
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
            _fail(eb, spec, f"is {status}, health {health}", recent)
        if time.monotonic() > deadline:
            _fail(
                eb,
                spec,
                f"was not Ready and Green after {spec.props['timeout']} s "
                f"(webapp.timeout): {status}, health {health}",
                recent,
            )
        aws.sleep(POLL)


def _fail(eb: Any, spec: Any, what: str, recent: list[str]) -> None:
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
