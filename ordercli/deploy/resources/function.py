"""Lambda functions: code by content hash, configuration by value."""

from __future__ import annotations

from typing import Any

from ordercli.aws import error_code, error_message, retry, wait_for
from ordercli.deploy.resources._common import changed, missing, tag_diff
from ordercli.errors import AwsError


def read(aws: Any, spec: Any) -> dict[str, Any] | None:
    try:
        got = aws.client("lambda").get_function(FunctionName=spec.name)
    except Exception as exc:
        if missing(exc, "ResourceNotFoundException"):
            return None
        raise
    return {"config": got["Configuration"], "tags": got.get("Tags", {})}


def _config_diff(spec: Any, cfg: dict[str, Any]) -> list[str]:
    p = spec.props
    env = (cfg.get("Environment") or {}).get("Variables") or {}
    return (
        changed("handler", p["handler"], cfg.get("Handler"))
        + changed("runtime", p["runtime"], cfg.get("Runtime"))
        + changed("timeout", p["timeout"], cfg.get("Timeout"))
        + changed("memory", p["memory"], cfg.get("MemorySize"))
        + changed("role", p["role_arn"], cfg.get("Role"))
        + (["environment changed"] if env != p["environment"] else [])
    )


def diff(spec: Any, current: dict[str, Any]) -> list[str]:
    cfg = current["config"]
    code = [] if cfg.get("CodeSha256") == spec.props["code_sha256"] else ["code changed"]
    return code + _config_diff(spec, cfg) + tag_diff(spec.props["tags"], current["tags"])


def _role_not_ready(exc: BaseException) -> bool:
    """IAM is eventually consistent: a new role is not assumable by Lambda for a few seconds."""
    return error_code(exc) == "InvalidParameterValueException" and (
        "assume" in error_message(exc).lower() or "role" in error_message(exc).lower()
    )


SETTLE_TIMEOUT = 300.0


def _ready(cfg: dict[str, Any]) -> bool:
    """Active and not mid-update (Lambda's function states: Pending after create,
    LastUpdateStatus InProgress after an update; both refuse further updates)."""
    return cfg.get("State", "Active") == "Active" and cfg.get("LastUpdateStatus") in (
        "Successful",
        None,
    )


def _failed(cfg: dict[str, Any]) -> str | None:
    if cfg.get("State") == "Failed":
        return str(cfg.get("StateReason") or "state Failed")
    if cfg.get("LastUpdateStatus") == "Failed":
        return str(cfg.get("LastUpdateStatusReason") or "update Failed")
    return None


def _wait(aws: Any, spec: Any, state: dict[str, Any]) -> None:
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


def _config_args(spec: Any) -> dict[str, Any]:
    p = spec.props
    return {
        "FunctionName": spec.name,
        "Role": p["role_arn"],
        "Handler": p["handler"],
        "Runtime": p["runtime"],
        "Timeout": p["timeout"],
        "MemorySize": p["memory"],
        "Environment": {"Variables": p["environment"]},
    }


def create(aws: Any, spec: Any) -> None:
    lam = aws.client("lambda")
    args = {
        **_config_args(spec),
        "Code": {"ZipFile": spec.props["zip"]},
        "Tags": spec.props["tags"],
        "Description": "Managed by ordercli",
    }
    made = retry(lambda: lam.create_function(**args), when=_role_not_ready, sleep=aws.sleep)
    _wait(aws, spec, made)


def _busy(exc: BaseException) -> bool:
    """An update while the previous one is InProgress is refused with ResourceConflict."""
    return error_code(exc) == "ResourceConflictException"


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    lam = aws.client("lambda")
    cfg = current["config"]
    _wait(aws, spec, cfg)
    if cfg.get("CodeSha256") != spec.props["code_sha256"]:
        out = retry(
            lambda: lam.update_function_code(FunctionName=spec.name, ZipFile=spec.props["zip"]),
            when=_busy,
            sleep=aws.sleep,
        )
        _wait(aws, spec, out)
    if _config_diff(spec, cfg):
        out = retry(
            lambda: lam.update_function_configuration(**_config_args(spec)),
            when=lambda e: _role_not_ready(e) or _busy(e),
            sleep=aws.sleep,
        )
        _wait(aws, spec, out)
    if tag_diff(spec.props["tags"], current["tags"]):
        lam.tag_resource(Resource=cfg["FunctionArn"], Tags=spec.props["tags"])


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("lambda").delete_function(FunctionName=spec.name)
    except Exception as exc:
        if not missing(exc, "ResourceNotFoundException"):
            raise
