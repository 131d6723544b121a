"""IAM policy documents rendered from the templates in definitions/policies, and the
least-privilege check every document ordercli writes must pass."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

VERSION = "2012-10-17"


def definitions_dir() -> Path:
    import definitions

    return Path(definitions.__file__).resolve().parent


@cache
def _template(name: str) -> str:
    return (definitions_dir() / "policies" / f"{name}.json").read_text(encoding="utf-8")


PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def fill(text: str, values: dict[str, str]) -> str:
    """Replace every `${Name}`; a name with no value is an error, never left in silently.
    (ASL's own `$.path` syntax is left alone.)"""

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"no value for placeholder ${{{match.group(1)}}}")
        return values[match.group(1)]

    return PLACEHOLDER.sub(one, text)


def render(name: str, **values: str) -> Any:
    """A policy template filled in."""
    return json.loads(fill(_template(name), values))


def document(*statements: Any) -> dict[str, Any]:
    flat: list[Any] = []
    for s in statements:
        flat.extend(s if isinstance(s, list) else [s])
    return {"Version": VERSION, "Statement": flat}


def trust(service: str) -> dict[str, Any]:
    return render(f"trust-{service}")


def wildcards(doc: Any) -> list[str]:
    """Every Allow statement's `*` action, `service:*` action or `*` resource."""
    found = []
    statements = doc.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        if s.get("Effect") != "Allow":
            continue
        actions = s.get("Action", [])
        resources = s.get("Resource", [])
        for a in [actions] if isinstance(actions, str) else actions:
            if a == "*" or a.endswith(":*"):
                found.append(f"action {a}")
        for r in [resources] if isinstance(resources, str) else resources:
            if r == "*":
                found.append("resource *")
    return found


def canonical(doc: Any) -> str:
    """A stable text form so two documents compare by meaning, not by key order."""
    if isinstance(doc, str):
        from urllib.parse import unquote

        doc = json.loads(unquote(doc) if doc.startswith("%") else doc)
    return json.dumps(_normalise(doc), sort_keys=True)


def _normalise(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _normalise(v) for k, v in x.items()}
    if isinstance(x, list):
        items = [_normalise(v) for v in x]
        return items[0] if len(items) == 1 and not isinstance(items[0], dict) else items
    return x
