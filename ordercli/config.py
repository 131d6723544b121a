"""ordercli.yaml + environment + flags -> validated settings.

Precedence: flags beat environment beat file beat defaults. Every error names the key and
where it came from, and is raised before any AWS call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ordercli.errors import ConfigError
from ordercli.names import stack_name_problem

DEFAULT_FILE = "ordercli.yaml"
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Key:
    """One config key: its type, default, the check on its value, and its documentation."""

    kind: type | tuple[type, ...]
    default: Any
    check: Callable[[Any], str | None] | None = None
    doc: str = ""
    nullable: bool = False


def _range(lo: float, hi: float) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}, got {v}"


def _stack(v: str) -> str | None:
    return stack_name_problem(v)


def _retention(v: int) -> str | None:
    return (
        None
        if v in LOG_RETENTION_DAYS
        else (
            "must be one of CloudWatch's retention periods "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}; got {v}"
        )
    )


def _email(v: str) -> str | None:
    return None if EMAIL_RE.match(v) else f"'{v}' is not an email address"


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


# AWS region names: a two-letter area, words, a number (us-east-1, us-gov-west-1, cn-north-1).
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _region(v: str) -> str | None:
    """A region name's form, checked before any call (an unknown name would otherwise spend
    the SDK's retries on an endpoint that does not exist)."""
    if REGION_NAME.fullmatch(v):
        return None
    return f"must be an AWS region name such as us-east-1 or eu-west-1; got {v!r}"


def _quotas(v: str | bool) -> str | None:
    """YAML reads a bare `off` or `false` as a boolean: false means no quotas."""
    if isinstance(v, bool):
        return None if v is False else "must be false, aws, or name=value pairs; got true"
    from ordercli.local.quotas import problem

    return problem(v)


SCHEMA: dict[str, Key] = {
    "stack": Key(str, "orders", _stack, "stack name; every resource name derives from it"),
    "region": Key(str, None, _region, "AWS region (default: the standard AWS settings)", True),
    "queue.visibility_timeout": Key(
        int, 60, _range(0, 43200), "seconds a received order stays hidden"
    ),
    "queue.max_receive_count": Key(
        int, 5, _range(1, 1000), "receives before a message goes to the DLQ"
    ),
    "queue.max_concurrency": Key(
        int, 2, _range(2, 1000), "consumer invocations at once (keeps StartExecution in quota)"
    ),
    "payment.success_rate": Key(
        (int, float), 0.9, _range(0, 1), "share of payments approved (0-1)"
    ),
    "payment.seed": Key(
        int,
        None,
        None,
        "integer: decline decisions become a pure function of seed and orderId",
        True,
    ),
    "lambda.timeout": Key(int, 10, _range(1, 900), "seconds each function may run"),
    "lambda.memory": Key(int, 128, _range(128, 10240), "MB of memory per function"),
    "log_retention_days": Key(int, 14, _retention, "days the functions' logs are kept"),
    "notify.email": Key(
        str, None, _email, "optional: subscribe this address to the notifications topic", True
    ),
    "webapp.enabled": Key(
        bool, True, None, "deploy the web app (Elastic Beanstalk / local process)"
    ),
    "webapp.currency": Key(
        str,
        "USD",
        lambda v: (
            None
            if re.fullmatch(r"[A-Z]{3}", v)
            else f"must be an ISO 4217 code like USD, got {v!r}"
        ),
        "currency the web app shows amounts in",
    ),
    "webapp.instance_type": Key(str, "t3.micro", _nonempty, "EC2 instance type of the environment"),
    "webapp.solution_stack": Key(
        str, None, _nonempty, "default: the newest Amazon Linux 2023 Python stack", True
    ),
    "webapp.timeout": Key(
        int, 900, _range(60, 7200), "seconds `up` waits for the environment to be Ready and Green"
    ),
    "local.quotas": Key(
        (str, bool),
        False,
        _quotas,
        "emulated AWS quotas on the local target: false (none), aws, or name=value pairs",
    ),
}

ENV_VARS = {"stack": "ORDERCLI_STACK", "region": "ORDERCLI_REGION"}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    config_file: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def stack(self) -> str:
        return str(self.values["stack"])

    @property
    def region(self) -> str | None:
        return self.values["region"]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        is_group = any(s.startswith(key + ".") for s in SCHEMA)
        if v is None and is_group:
            continue  # a group whose keys are all commented out
        if isinstance(v, Mapping) and key not in SCHEMA:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _coerce(key: str, value: Any, source: str) -> Any:
    spec = SCHEMA[key]
    if value is None:
        if spec.nullable:
            return None
        raise ConfigError(key, "must have a value", source)
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, str) and source.startswith("env") and str not in kinds:
        value = _from_text(key, value, kinds, source)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(key, f"must be {_kind_name(kinds)}, got a boolean", source)
    if not isinstance(value, kinds):
        raise ConfigError(
            key, f"must be {_kind_name(kinds)}, got {type(value).__name__} {value!r}", source
        )
    if spec.check:
        problem = spec.check(value)
        if problem:
            raise ConfigError(key, problem, source)
    return value


def _from_text(key: str, text: str, kinds: tuple[type, ...], source: str) -> Any:
    try:
        if bool in kinds:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if int in kinds:
            try:
                return int(text)
            except ValueError:
                if float in kinds:
                    return float(text)
                raise
    except ValueError:
        raise ConfigError(key, f"must be {_kind_name(kinds)}, got {text!r}", source) from None
    return text


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds if not (k is int and float in kinds))


def read_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("(file)", f"is not UTF-8 text (byte {exc.start})", str(path)) from None
    except RecursionError:
        raise ConfigError("(file)", "is nested too deeply", str(path)) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(
            "(file)", f"holds a value that cannot be read: {exc}"[:160], str(path)
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError("(file)", f"is not valid YAML{where}", str(path)) from None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("(file)", "must be a mapping of keys to values", str(path))
    flat = _flatten(raw)
    for key in flat:
        if key not in SCHEMA:
            close = suggest(key)
            hint = f" (did you mean '{close}'?)" if close else ""
            raise ConfigError(key, f"unknown key{hint}", str(path))
    return flat


def suggest(key: str) -> str | None:
    """The known key a misspelled one most likely meant: the same last part in another
    group (`max_receive_count` -> `queue.max_receive_count`), or the closest spelling."""
    import difflib

    leaf = key.split(".")[-1]
    same_leaf = [k for k in SCHEMA if k.split(".")[-1] == leaf]
    if same_leaf:
        return same_leaf[0]
    close = difflib.get_close_matches(key, list(SCHEMA), n=1, cutoff=0.6)
    if close:
        return close[0]
    by_leaf = difflib.get_close_matches(leaf, [k.split(".")[-1] for k in SCHEMA], n=1, cutoff=0.6)
    return next((k for k in SCHEMA if by_leaf and k.split(".")[-1] == by_leaf[0]), None)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the validated settings. `flags` hold only the options the user actually gave."""
    env = os.environ if environ is None else environ
    path: Path | None
    if config_path:
        path = Path(config_path)
        if path.is_dir():
            raise ConfigError("--config", f"{config_path} is a directory, not a config file")
        if not path.is_file():
            raise ConfigError("--config", f"file {config_path} does not exist")
    else:
        path = Path(DEFAULT_FILE) if Path(DEFAULT_FILE).is_file() else None
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if path is not None:
        layers.append((str(path), read_file(path)))
    env_layer = {k: env[var] for k, var in ENV_VARS.items() if env.get(var)}
    if env_layer:
        layers.append(("env", env_layer))
    if overrides:
        layers.append(("override", overrides))
    flag_layer = {k: v for k, v in (flags or {}).items() if v is not None}
    if flag_layer:
        layers.append(("flag", flag_layer))

    values = {k: spec.default for k, spec in SCHEMA.items()}
    sources = dict.fromkeys(SCHEMA, "default")
    for source, layer in layers:
        for key, value in layer.items():
            label = (
                f"env {ENV_VARS[key]}"
                if source == "env"
                else (f"--{key}" if source == "flag" else source)
            )
            values[key] = _coerce(key, value, label)
            sources[key] = label
    if values["stack"] is None or stack_name_problem(values["stack"]):
        raise ConfigError(
            "stack", stack_name_problem(values["stack"] or "") or "", sources["stack"]
        )
    if values["queue.visibility_timeout"] < values["lambda.timeout"]:
        raise ConfigError(
            "queue.visibility_timeout",
            f"must be at least lambda.timeout ({values['lambda.timeout']} s): SQS refuses a "
            "queue trigger whose function may outlive the message's visibility",
            sources["queue.visibility_timeout"],
        )
    return Settings(values, sources, str(path) if path else None)


def template() -> str:
    """The commented ordercli.yaml that `ordercli init` writes."""
    lines = [
        "# ordercli configuration. Every key is optional: these are the defaults.",
        "# Precedence: command-line flags > environment > this file > defaults.",
        "",
    ]
    groups: dict[str, list[tuple[str, Key]]] = {}
    for key, spec in SCHEMA.items():
        head, _, leaf = key.rpartition(".")
        groups.setdefault(head, []).append((leaf, spec))
    for head, items in groups.items():
        indent = ""
        if head:
            lines.append(f"{head}:")
            indent = "  "
        for leaf, spec in items:
            lines.append(f"{indent}# {spec.doc}")
            value = _yaml_value(spec.default)
            comment = "# " if spec.default is None else ""
            lines.append(f"{indent}{comment}{leaf}: {value}")
        lines.append("")
    return "\n".join(lines)


def _yaml_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
