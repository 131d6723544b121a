"""Lambda functions: code by content hash, configuration by value."""

from __future__ import annotations

from typing import Any

from ordercli.aws import error_code, error_message, retry
from ordercli.deploy.resources._common import changed, env_diff, missing, tag_diff


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
        + env_diff(p["environment"], env)
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


def _wait(aws: Any, spec: Any, waiter: str, state: dict[str, Any]) -> None:
    done = state.get("State", "Active") == "Active" and state.get(
        "LastUpdateStatus", "Successful"
    ) in ("Successful", None)
    if not done:
        aws.client("lambda").get_waiter(waiter).wait(
            FunctionName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )


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
    _wait(aws, spec, "function_active_v2", made)


def update(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    lam = aws.client("lambda")
    cfg = current["config"]
    if cfg.get("CodeSha256") != spec.props["code_sha256"]:
        out = lam.update_function_code(FunctionName=spec.name, ZipFile=spec.props["zip"])
        _wait(aws, spec, "function_updated_v2", out)
    if _config_diff(spec, cfg):
        out = retry(
            lambda: lam.update_function_configuration(**_config_args(spec)),
            when=lambda e: _role_not_ready(e) or error_code(e) == "ResourceConflictException",
            sleep=aws.sleep,
        )
        _wait(aws, spec, "function_updated_v2", out)
    if tag_diff(spec.props["tags"], current["tags"]):
        lam.tag_resource(Resource=cfg["FunctionArn"], Tags=spec.props["tags"])


def delete(aws: Any, spec: Any, current: dict[str, Any]) -> None:
    try:
        aws.client("lambda").delete_function(FunctionName=spec.name)
    except Exception as exc:
        if not missing(exc, "ResourceNotFoundException"):
            raise
