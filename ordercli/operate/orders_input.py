"""Orders from flags, files (CSV, JSON, JSONL) or a generator, validated by the one order model.

A file is validated whole before anything is sent: the caller decides what to do with the
rejected rows (refuse everything, or --skip-invalid)."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_src.order import Order, OrderInvalid, new_order, new_order_id, now_iso, parse_order
from ordercli.errors import UsageError

CUSTOMERS = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "John Doe",
)
PRODUCTS = ("Laptop", "Keyboard", "Monitor", "Headphones", "Book", "Mug", "Desk Lamp", "Backpack")
FIELDS = ("orderId", "customerName", "product", "amount")


@dataclass
class Rejected:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class Batch:
    orders: list[Order]
    rejected: list[Rejected]


def from_flags(
    customer: str | None, product: str | None, amount: str | None, order_id: str | None
) -> Order:
    missing = [
        f
        for f, v in (("--customer", customer), ("--product", product), ("--amount", amount))
        if v is None
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or use --file or --count)")
    try:
        return new_order(customer or "", product or "", amount, order_id)
    except OrderInvalid as exc:
        raise UsageError(f"invalid order: {exc.field}: {exc.message}") from None


def _row_to_order(row: Any, line: int, seen: set[str]) -> Order | Rejected:
    if not isinstance(row, dict):
        return Rejected(line, "order", "must be an object")
    data = {k: v for k, v in row.items() if k in FIELDS and v not in (None, "")}
    unknown = [k for k in row if k not in (*FIELDS, "createdAt") and k is not None]
    if unknown:
        return Rejected(line, str(unknown[0]), "unknown field")
    data.setdefault("orderId", new_order_id())
    data["createdAt"] = now_iso()
    try:
        order = parse_order(data, person=True)
    except OrderInvalid as exc:
        return Rejected(line, exc.field, exc.message)
    if order.order_id in seen:
        return Rejected(line, "orderId", f"duplicate orderId {order.order_id} in the file")
    seen.add(order.order_id)
    return order


def from_file(path: Path) -> Batch:
    """Read and validate every row; rows are numbered by their line in the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is fine
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    if not text.strip():
        raise UsageError(f"{path} is empty: no orders to send")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(text, path)
    elif suffix == ".jsonl":
        rows = _jsonl_rows(text, path)
    elif suffix == ".json":
        rows = _json_rows(text, path)
    else:
        raise UsageError(f"{path}: unknown file type '{suffix}' (use .csv, .json or .jsonl)")
    orders: list[Order] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for line, row in rows:
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        result = _row_to_order(row, line, seen)
        (rejected if isinstance(result, Rejected) else orders).append(result)  # type: ignore[arg-type]
    if not orders and not rejected:
        raise UsageError(f"{path} holds no orders")
    return Batch(orders, rejected)


def _csv_rows(text: str, path: Path) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    lacking = [f for f in ("customerName", "product", "amount") if f not in header]
    if lacking:
        raise UsageError(
            f"{path}: the header lacks column(s) {', '.join(lacking)} "
            f"(expected {', '.join(FIELDS)}; orderId optional)"
        )
    rows: list[tuple[int, Any]] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            rows.append((line, Rejected(line, "row", "has more cells than the header")))
            continue
        if all(v in (None, "") for v in row.values()):
            continue  # blank line
        rows.append((line, row))
    return rows


def _jsonl_rows(text: str, path: Path) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            rows.append((n, Rejected(n, "row", f"not valid JSON ({exc.msg})")))
    return rows


def _json_rows(text: str, path: Path) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        data = data["orders"]
    if not isinstance(data, list):
        raise UsageError(f'{path}: expected a JSON array of orders (or {{"orders": [...]}})')
    # JSON has no reliable line per element; number rows as 1-based positions.
    return [(i, row) for i, row in enumerate(data, start=1)]


def generate(count: int, seed: int | None = None) -> list[Order]:
    """A generated load: plausible, valid orders with fresh ids."""
    rng = random.Random(seed)
    created = now_iso()
    return [
        Order(new_order_id(), _amount(rng), rng.choice(CUSTOMERS), rng.choice(PRODUCTS), created)
        for _ in range(count)
    ]


def _amount(rng: random.Random) -> Any:
    from decimal import Decimal

    return Decimal(rng.randint(100, 250_000)) / 100
