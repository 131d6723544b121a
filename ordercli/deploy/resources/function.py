"""Lambda functions: code by content hash, configuration by value.

A function is Pending after create and its LastUpdateStatus InProgress after an update
(Lambda's "function states"); it refuses another update meanwhile, so each step waits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ordercli.aws import Aws, absent_is_none, error_code, error_message, retry, wait_for
from ordercli.deploy.resources._common import Change, changed, env_note, tag_diff, whats
from ordercli.deploy.specs import FunctionSpec
from ordercli.errors import AwsError, Conflict

SETTLE_TIMEOUT = 300.0
CODE, TAGS = "code", "tags"


@dataclass(frozen=True)
class FunctionState:
    config: dict[str, object]  # GetFunction's Configuration
    tags: dict[str, str]

    @property
    def arn(self) -> str:
        return str(self.config["FunctionArn"])


def read(aws: Aws, spec: FunctionSpec) -> FunctionState | None:
    got = absent_is_none(lambda: aws.client("lambda").get_function(FunctionName=spec.name))
    return None if got is None else FunctionState(got["Configuration"], got.get("Tags", {}))


def _config_diff(spec: FunctionSpec, cfg: dict[str, object]) -> list[Change]:
    env_block = cfg.get("Environment")
    env = env_block.get("Variables") if isinstance(env_block, dict) else None
    return (
        changed("handler", spec.handler, cfg.get("Handler"))
        + changed("runtime", spec.runtime, cfg.get("Runtime"))
        + changed("timeout", spec.timeout, cfg.get("Timeout"))
        + changed("memory", spec.memory, cfg.get("MemorySize"))
        + changed("role", spec.role_arn, cfg.get("Role"))
        + (
            [Change("environment", note=env_note(spec.environment, env or {}))]
            if (env or {}) != spec.environment
            else []
        )
    )


def diff(spec: FunctionSpec, current: FunctionState) -> list[Change]:
    code = (
        []
        if current.config.get("CodeSha256") == spec.code_sha256
        else [Change(CODE, note="code changed")]
    )
    return code + _config_diff(spec, current.config) + tag_diff(spec.tags, current.tags)


def _role_not_ready(exc: BaseException) -> bool:
    """IAM is eventually consistent: a new role is not assumable by Lambda for a few seconds."""
    return error_code(exc) == "InvalidParameterValueException" and (
        "assume" in error_message(exc).lower() or "role" in error_message(exc).lower()
    )


def _busy(exc: BaseException) -> bool:
    """An update while the previous one is InProgress is refused (ResourceConflict)."""
    return isinstance(exc, Conflict)


def _ready(cfg: dict[str, object]) -> bool:
    return cfg.get("State", "Active") == "Active" and cfg.get("LastUpdateStatus") in (
        "Successful",
        None,
    )


def _failed(cfg: dict[str, object]) -> str | None:
    if cfg.get("State") == "Failed":
        return str(cfg.get("StateReason") or "state Failed")
    if cfg.get("LastUpdateStatus") == "Failed":
        return str(cfg.get("LastUpdateStatusReason") or "update Failed")
    return None


def _wait(aws: Aws, spec: FunctionSpec, state: dict[str, object]) -> None:
    """Until the function is Active with its last update done (polled with the injected sleep)."""
    if _ready(state):
        return
    lam = aws.client("lambda")

    def look() -> bool | None:
        cfg = lam.get_function_configuration(FunctionName=spec.name)
        reason = _failed(cfg)
        if reason:
            raise AwsError(f"Lambda function {spec.name}: {reason}")
        return True if _ready(cfg) else None

    wait_for(aws, look, what=f"function {spec.name} to be Active", timeout=SETTLE_TIMEOUT)


def _config_args(spec: FunctionSpec) -> dict[str, object]:
    return {
        "FunctionName": spec.name,
        "Role": spec.role_arn,
        "Handler": spec.handler,
        "Runtime": spec.runtime,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory,
        "Environment": {"Variables": spec.environment},
    }


def create(aws: Aws, spec: FunctionSpec) -> None:
    lam = aws.client("lambda")
    args = {
        **_config_args(spec),
        "Code": {"ZipFile": spec.zip},
        "Tags": spec.tags,
        "Description": "Managed by ordercli",
    }
    made = retry(lambda: lam.create_function(**args), when=_role_not_ready, sleep=aws.sleep)
    _wait(aws, spec, made)


def update(aws: Aws, spec: FunctionSpec, current: FunctionState, changes: Sequence[Change]) -> None:
    lam = aws.client("lambda")
    what = whats(changes)
    _wait(aws, spec, current.config)
    if CODE in what:
        out = retry(
            lambda: lam.update_function_code(FunctionName=spec.name, ZipFile=spec.zip),
            when=_busy,
            sleep=aws.sleep,
        )
        _wait(aws, spec, out)
    if what - {CODE, TAGS}:
        out = retry(
            lambda: lam.update_function_configuration(**_config_args(spec)),
            when=lambda e: _role_not_ready(e) or _busy(e),
            sleep=aws.sleep,
        )
        _wait(aws, spec, out)
    if TAGS in what:
        lam.tag_resource(Resource=current.arn, Tags=spec.tags)


def delete(aws: Aws, spec: FunctionSpec, current: FunctionState) -> None:
    absent_is_none(lambda: aws.client("lambda").delete_function(FunctionName=spec.name))
