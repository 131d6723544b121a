"""Small helpers the resource modules share."""

from __future__ import annotations

from typing import Any

from ordercli.aws import error_code


def missing(exc: BaseException, *codes: str) -> bool:
    """Whether an AWS error means 'not there'."""
    return error_code(exc) in codes


def changed(label: str, want: Any, have: Any) -> list[str]:
    return [] if want == have else [f"{label}: {have!r} -> {want!r}"]


def tag_diff(want: dict[str, str], have: dict[str, str]) -> list[str]:
    lost = {k: v for k, v in want.items() if have.get(k) != v}
    return [f"tags missing: {', '.join(f'{k}={v}' for k, v in lost.items())}"] if lost else []
