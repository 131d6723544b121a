"""A submitted order, from a form or a JSON body, checked field by field: every field's error
is reported at once, each naming its field. Hostile bodies (malformed, nested without end,
duplicate keys, exponent amounts) are refused here, before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_src.order import Order, OrderInvalid, parse_order

FIELDS = ("customerName", "product", "amount", "orderId")
_VALID = {"orderId": "x", "customerName": "x", "product": "x", "amount": 1}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class BadBody(Exception):
    """The body as a whole is unusable (not the fields in it)."""


class FloatText(str):
    """A JSON number with a fraction or exponent, kept as written: `1e3` is refused as the
    string form is, and `12.30000000000000001` is not rounded into something valid."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadBody(f"duplicate key {key!r} in the JSON body")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise BadBody(f"{name} is not a JSON number")


def read_json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(
            raw.decode("utf-8") if raw else "",
            parse_float=FloatText,
            parse_constant=_no_constants,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise BadBody("the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadBody("malformed JSON (send one UTF-8 JSON object, no BOM)") from None
    if not isinstance(data, dict):
        raise BadBody("the JSON body must be an object")
    return data


def read_form(form: Mapping[str, str]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k in FIELDS and v != ""}


def _one_field(field: str, value: Any) -> str | None:
    """The error of one field alone (the others set to valid values), or None."""
    if field == "amount" and isinstance(value, FloatText):
        if "e" in value.lower():
            return "must be a plain decimal number (no exponent)"
        value = str(value)
    elif isinstance(value, FloatText):
        value = float(value)  # a number where text belongs: "must be a string"
    try:
        parse_order({**_VALID, field: value}, person=True)
    except OrderInvalid as exc:
        return exc.message
    return None


def field_errors(data: Mapping[str, Any]) -> dict[str, str]:
    errors = {k: "unknown field" for k in data if k not in FIELDS}
    for field in FIELDS:
        if field == "orderId" and data.get(field) is None:
            continue  # issued here when absent
        if field not in data and field != "orderId":
            errors[field] = "is required"
            continue
        problem = _one_field(field, data.get(field))
        if problem:
            errors[field] = problem
    return errors


def _ulid_time(order_id: str) -> str | None:
    """The creation time a ULID carries (its first 10 characters), if it is one."""
    if len(order_id) != 26 or any(c not in _CROCKFORD for c in order_id):
        return None
    ms = 0
    for c in order_id[:10]:
        ms = ms * 32 + _CROCKFORD.index(c)
    when = datetime.fromtimestamp(ms / 1000, UTC)
    if not 2020 <= when.year < 2100:
        return None
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Submission:
    order: Order
    id_given: bool  # the client named the order (a retry may repeat it)


def build(data: Mapping[str, Any], new_id: str, now: str) -> Submission:
    """The order to send. An order whose id the client gave gets a createdAt that depends
    only on that id, so a repeated POST sends the same message: one order, not a conflict."""
    given = data.get("orderId")
    amount = data["amount"]
    fields = {
        "orderId": given or new_id,
        "customerName": data["customerName"],
        "product": data["product"],
        "amount": str(amount) if isinstance(amount, FloatText) else amount,
    }
    created = _ulid_time(str(given)) if given else now
    if created is not None:
        fields["createdAt"] = created
    return Submission(parse_order(fields, person=True), given is not None)
