"""The order model: one set of rules shared by the Lambdas, the CLI and the web app.

Kept free of third-party imports so it ships inside every Lambda zip as is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Rules are matched whole (fullmatch): `$` alone would let a trailing newline through.
ORDER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
# Text may hold letters of every script, and the zero-width (non-)joiners some scripts need
# (Persian, Sinhala, emoji sequences); never control characters, line/paragraph separators,
# bidi overrides/isolates/marks or other invisible format characters.
JOINERS = frozenset("\u200c\u200d")
BANNED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
FORMULA_START = ("=", "+", "-", "@")  # a spreadsheet would run the cell as a formula
MAX_AMOUNT = Decimal("10000")
MAX_TEXT = 100
PERSON_FIELDS = ("customerName", "product")


class OrderInvalid(Exception):
    """An order broke a rule; the workflow catches this class name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PaymentDeclined(Exception):
    """The (simulated) payment was declined; the workflow catches this class name."""


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: Decimal
    customer_name: str | None = None
    product: str | None = None
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: the queue message body's and the workflow input's `order`."""
        out: dict[str, Any] = {"orderId": self.order_id}
        if self.customer_name is not None:
            out["customerName"] = self.customer_name
        if self.product is not None:
            out["product"] = self.product
        # At most 2 decimals and under 10000: the float's repr round-trips exactly.
        out["amount"] = (
            int(self.amount) if self.amount == self.amount.to_integral() else float(self.amount)
        )
        if self.created_at is not None:
            out["createdAt"] = self.created_at
        return out

    def message(self) -> dict[str, Any]:
        return {"order": self.to_dict()}


def parse_amount(value: Any) -> Decimal:
    """A JSON number or decimal string, 0 < amount < 10000, at most 2 decimal places."""
    if isinstance(value, bool) or value is None:
        raise OrderInvalid("amount", "must be a number")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise OrderInvalid("amount", "must be a finite number")
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        raise OrderInvalid("amount", "must be a number")
    if text.startswith("-"):
        raise OrderInvalid("amount", "must be greater than 0")
    if not AMOUNT_RE.fullmatch(text):
        if re.fullmatch(r"[0-9]*\.[0-9]{3,}", text):
            raise OrderInvalid("amount", "must have at most 2 decimal places")
        raise OrderInvalid(
            "amount", f"must be a plain decimal number (no exponent), got {text[:40]!r}"
        )
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise OrderInvalid("amount", "must be a number") from exc
    if amount <= 0:
        raise OrderInvalid("amount", "must be greater than 0")
    if amount >= MAX_AMOUNT:
        raise OrderInvalid("amount", "must be less than 10000")
    return amount


def _parse_text(data: Mapping[str, Any], field: str, required: bool) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise OrderInvalid(field, "is required")
        return None
    if not isinstance(value, str):
        raise OrderInvalid(field, "must be a string")
    value = value.strip(" ")  # spaces only: a newline or separator at an end is refused below
    if not value:
        raise OrderInvalid(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise OrderInvalid(field, f"must be at most {MAX_TEXT} characters")
    bad = next((c for c in value if _banned(c)), None)
    if bad is not None:
        raise OrderInvalid(
            field,
            f"must not contain control or invisible formatting characters (U+{ord(bad):04X})",
        )
    if value.startswith(FORMULA_START):
        raise OrderInvalid(field, f"must not start with {value[0]!r} (a spreadsheet formula)")
    return value


def _banned(c: str) -> bool:
    return c not in JOINERS and unicodedata.category(c) in BANNED_CATEGORIES


def parse_order_id(value: Any) -> str:
    if not isinstance(value, str) or not ORDER_ID_RE.fullmatch(value):
        raise OrderInvalid("orderId", "must be 1-80 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


def parse_order(data: Any, *, person: bool) -> Order:
    """Validate one order. `person=True` where a person enters it (CLI, web form): the
    customer name and product are then required; inside the pipeline they are optional."""
    if not isinstance(data, Mapping):
        raise OrderInvalid("order", "must be an object")
    order_id = parse_order_id(data.get("orderId"))
    customer = _parse_text(data, "customerName", person)
    product = _parse_text(data, "product", person)
    if "amount" not in data:
        raise OrderInvalid("amount", "is required")
    amount = parse_amount(data["amount"])
    created = data.get("createdAt")
    if created is not None and not isinstance(created, str):
        raise OrderInvalid("createdAt", "must be a string")
    return Order(order_id, amount, customer, product, created)


class DuplicateKey(ValueError):
    """A JSON object names one key twice (which value wins differs between parsers)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_strict(text: str | bytes) -> Any:
    """JSON as orders are read everywhere: numbers kept as written (Decimal), so `1e3` or
    `12.30000000000000001` meet the amount rule as their text does; duplicate keys, NaN and
    Infinity refused (ValueError); deep nesting raises RecursionError."""
    return json.loads(
        text,
        parse_float=Decimal,
        parse_int=Decimal,
        parse_constant=_no_constant,
        object_pairs_hook=_unique_keys,
    )


def order_from_message(message: Any) -> Order:
    """The workflow input / queue body `{"order": {...}}`, validated as inside the pipeline."""
    if not isinstance(message, Mapping) or "order" not in message:
        raise OrderInvalid("order", "is required")
    return parse_order(message["order"], person=False)


def new_order(customer_name: str, product: str, amount: Any, order_id: str | None = None) -> Order:
    """An order a person entered: id generated unless given, timestamp now."""
    return parse_order(
        {
            "orderId": order_id or new_order_id(),
            "customerName": customer_name,
            "product": product,
            "amount": amount,
            "createdAt": now_iso(),
        },
        person=True,
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_id: tuple[int, int] = (0, 0)


def new_order_id() -> str:
    """A ULID: 26 characters, sortable by creation time, unique (monotonic in a process)."""
    global _last_id
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _last_id
        rand = last_rand + 1 if ms <= last_ms else random.getrandbits(80)
        ms = max(ms, last_ms)
        _last_id = (ms, rand)
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def payment_approved(order_id: str, success_rate: float, seed: int | None) -> bool:
    """The payment simulation. With a seed it is a pure function of seed and orderId."""
    if seed is None:
        draw = random.random()
    else:
        digest = hashlib.sha256(f"{seed}:{order_id}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
    return draw < success_rate


def payment_settings_from_env() -> tuple[float, int | None]:
    rate = float(os.environ.get("PAYMENT_SUCCESS_RATE", "0.9"))
    seed_text = os.environ.get("PAYMENT_SEED", "")
    return rate, (int(seed_text) if seed_text else None)


def handler_log() -> logging.Logger:
    """The root logger a handler writes its JSON lines to, at INFO, with the SDK's own
    loggers at WARNING so that lines like "Found credentials in environment variables." do
    not reach the function's log group (and `ordercli tail`), on AWS as locally."""
    for sdk in ("boto3", "botocore", "urllib3"):
        logging.getLogger(sdk).setLevel(logging.WARNING)
    log = logging.getLogger()
    log.setLevel(logging.INFO)
    return log


def on_lambda() -> bool:
    """Whether this code runs as a Lambda function (the runtime sets the function's name;
    tests that import a handler do not). There a handler makes its SDK client during the
    init phase, as AWS advises: a provisioned or pre-warmed worker then has it before its
    first event (locally, a new worker's first order waited 150-300 ms for it under load)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
