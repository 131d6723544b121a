"""Small helpers the resource modules share."""

from __future__ import annotations

from typing import Any

from ordercli.aws import error_code


def missing(exc: BaseException, *codes: str) -> bool:
    """Whether an AWS error means 'not there'."""
    return error_code(exc) in codes


def changed(label: str, want: Any, have: Any) -> list[str]:
    return [] if want == have else [f"{label}: live {have!r}, config {want!r}"]


SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE")


def env_diff(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """Which environment variables differ, by name; values only of keys that do not look
    secret."""
    out = []
    for key in sorted(set(want) | set(have)):
        if want.get(key) == have.get(key):
            continue
        if any(w in key.upper() for w in SECRET_WORDS):
            out.append(f"environment {key} changed (value hidden)")
        else:
            out.append(f"environment {key}: live {have.get(key)!r}, config {want.get(key)!r}")
    return out


def tag_diff(want: dict[str, str], have: dict[str, str]) -> list[str]:
    lost = {k: v for k, v in want.items() if have.get(k) != v}
    return [f"tags missing: {', '.join(f'{k}={v}' for k, v in lost.items())}"] if lost else []
