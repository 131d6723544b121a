"""What the resource modules share: the structured change a diff returns, and tag helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One way a resource differs from its spec. `update` decides from `what`; the plan shows
    `str(change)`. `note` replaces the have -> want text where that would be noise (code,
    whole documents)."""

    what: str
    have: object = None
    want: object = None
    note: str = ""

    def __str__(self) -> str:
        return self.note or f"{self.what}: live {self.have!r}, config {self.want!r}"


def changed(what: str, want: object, have: object) -> list[Change]:
    return [] if want == have else [Change(what, have, want)]


SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE")


def env_note(want: dict[str, str], have: dict[str, str]) -> str:
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
    return "; ".join(out)


def tag_diff(want: dict[str, str], have: dict[str, str]) -> list[Change]:
    lost = {k: v for k, v in want.items() if have.get(k) != v}
    if not lost:
        return []
    text = ", ".join(f"{k}={v}" for k, v in lost.items())
    return [Change("tags", have, want, note=f"tags missing: {text}")]


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags as the [{Key, Value}] list most APIs take."""
    return [{key: k, value: v} for k, v in tags.items()]


def whats(changes: Sequence[Change]) -> set[str]:
    return {c.what for c in changes}
