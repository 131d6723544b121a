"""IAM policy documents rendered from the templates in definitions/policies, and the
least-privilege check every document ordercli writes must pass."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

VERSION = "2012-10-17"

# A JSON document as parsed (policies, trust documents): its shape is AWS's, checked where read.
Document = dict[str, object]
Statement = dict[str, object]


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


def render(name: str, **values: str) -> Document:
    """A whole document template (a trust policy) filled in."""
    doc = json.loads(fill(_template(name), values))
    if not isinstance(doc, dict):
        raise ValueError(f"policy template {name} is not a JSON object")
    return doc


def render_statements(name: str, **values: str) -> list[Statement]:
    """A statement template (one statement or a list of them) filled in."""
    got = json.loads(fill(_template(name), values))
    items = got if isinstance(got, list) else [got]
    return [s for s in items if isinstance(s, dict)]


def statement(sid: str, actions: list[str], resources: list[str]) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def document(*statements: Statement | list[Statement]) -> Document:
    flat: list[Statement] = []
    for s in statements:
        flat.extend(s if isinstance(s, list) else [s])
    return {"Version": VERSION, "Statement": flat}


def trust(service: str) -> Document:
    return render(f"trust-{service}")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def statements_of(doc: Document) -> list[Statement]:
    got = doc.get("Statement", [])
    items = got if isinstance(got, list) else [got]
    return [s for s in items if isinstance(s, dict)]


def wildcards(doc: Document) -> list[str]:
    """Every Allow statement's `*` action, `service:*` action or `*` resource."""
    found = []
    for s in statements_of(doc):
        if s.get("Effect") != "Allow":
            continue
        for a in _strings(s.get("Action", [])):
            if a == "*" or a.endswith(":*"):
                found.append(f"action {a}")
        for r in _strings(s.get("Resource", [])):
            if r == "*":
                found.append("resource *")
    return found


def canonical(doc: object) -> str:
    """A stable text form so two documents compare by meaning, not by key order."""
    if isinstance(doc, str):
        from urllib.parse import unquote

        doc = json.loads(unquote(doc) if doc.startswith("%") else doc)
    return json.dumps(_normalise(doc), sort_keys=True)


def _normalise(x: object) -> object:
    if isinstance(x, dict):
        return {k: _normalise(v) for k, v in x.items()}
    if isinstance(x, list):
        items = [_normalise(v) for v in x]
        return items[0] if len(items) == 1 and not isinstance(items[0], dict) else items
    return x
