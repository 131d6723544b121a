"""Orders from flags, files (CSV, JSON, JSONL) or a generator, validated by the one order model.

A file is validated whole before anything is sent: the caller decides what to do with the
rejected rows (refuse everything, or --skip-invalid)."""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_src.order import (
    DuplicateKey,
    Order,
    OrderInvalid,
    loads_strict,
    new_order,
    new_order_id,
    now_iso,
    parse_order,
)
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


MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_ORDERS = 100_000  # per submit, as --count


@dataclass(frozen=True)
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
    rejected: list[Rejected] = field(default_factory=list)
    source: str = "flags"
    explicit_ids: list[str] = field(default_factory=list)  # orderIds the user chose


class InvalidRows(UsageError):
    """A file with invalid rows: nothing is sent; --json lists each row as an object."""

    def __init__(self, source: str, rejected: list[Rejected]) -> None:
        shown = "\n  ".join(str(r) for r in rejected[:20])
        more = "\n  ..." if len(rejected) > 20 else ""
        super().__init__(
            f"{source}: {len(rejected)} invalid row(s); nothing was sent:\n  {shown}{more}",
            hint="--skip-invalid sends the valid rows",
            details=[r.to_json() for r in rejected],
        )


def choose(
    customer: str | None,
    product: str | None,
    amount: str | None,
    order_id: str | None,
    file: str | None,
    count: int | None,
) -> Batch:
    """The orders of one submit, from exactly one source (flags, a file, or a count)."""
    if order_id is not None and customer is None and product is None and amount is None:
        raise UsageError("--order-id goes with --customer/--product/--amount")
    sources = [
        s
        for s, given in (
            (
                "--customer/--product/--amount",
                any(v is not None for v in (customer, product, amount)),
            ),
            ("--file", file is not None),
            ("--count", count is not None),
        )
        if given
    ]
    if len(sources) != 1:
        raise UsageError(
            "give exactly one of --customer/--product/--amount, --file or --count"
            + (f" (got {' and '.join(sources)})" if sources else "")
        )
    if file is not None:
        return from_file(file)
    if count is not None:
        return Batch(generate(count), source="--count")
    order = from_flags(customer, product, amount, order_id)
    return Batch([order], source="flags", explicit_ids=[order.order_id] if order_id else [])


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
        flag = FLAG_OF.get(exc.field, exc.field)
        raise UsageError(f"invalid order: {flag}: {exc.message}") from None


FLAG_OF = {
    "customerName": "--customer",
    "product": "--product",
    "amount": "--amount",
    "orderId": "--order-id",
}


def _row_to_order(row: Any, line: int, seen: set[str], explicit: list[str]) -> Order | Rejected:
    if not isinstance(row, dict):
        return Rejected(line, "order", "must be an object")
    unknown = [k for k in row if k not in (*FIELDS, "createdAt") and k is not None]
    if unknown:
        return Rejected(line, str(unknown[0])[:40], "unknown field")
    data = {k: v for k, v in row.items() if k in FIELDS and v is not None and v != ""}
    given_id = "orderId" in data
    data.setdefault("orderId", new_order_id())
    data["createdAt"] = now_iso()
    try:
        order = parse_order(data, person=True)
    except OrderInvalid as exc:
        return Rejected(line, exc.field, exc.message)
    if order.order_id in seen:
        return Rejected(line, "orderId", f"duplicate orderId {order.order_id} in the file")
    seen.add(order.order_id)
    if given_id:
        explicit.append(order.order_id)
    return order


def _read(source: str) -> tuple[bytes, str]:
    """The raw bytes of a file or of standard input (`-`), at most MAX_FILE_BYTES."""
    if source == "-":
        raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        name = "standard input"
    else:
        path = Path(source)
        if path.is_dir():
            raise UsageError(f"--file {source} is a directory, not a file of orders")
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"--file: cannot read {source}: {exc.strerror}") from None
        name = source
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(
            f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it "
            f"(at most {MAX_ORDERS} orders per submit)"
        )
    return raw, name


def from_file(source: str | Path) -> Batch:
    """Read and validate every row; rows are numbered by their line in the file (by their
    position in a JSON array). `-` reads standard input and tells the format by its first
    character."""
    source = str(source)
    raw, name = _read(source)
    try:
        text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is fine
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UsageError(f"{name} is empty: no orders to send")
    kind = _sniff(text) if source == "-" else Path(source).suffix.lower().lstrip(".")
    if kind == "csv":
        rows = _csv_rows(text, name)
    elif kind == "jsonl":
        rows = _jsonl_rows(text)
    elif kind == "json":
        rows = _json_rows(text, name)
    else:
        raise UsageError(f"{name}: unknown file type '.{kind}' (use .csv, .json or .jsonl)")
    if len(rows) > MAX_ORDERS:
        raise UsageError(f"{name} holds {len(rows)} rows; at most {MAX_ORDERS} per submit")
    batch = Batch([], [], name)
    seen: set[str] = set()
    for line, row in rows:
        if isinstance(row, Rejected):
            batch.rejected.append(row)
            continue
        result = _row_to_order(row, line, seen, batch.explicit_ids)
        if isinstance(result, Rejected):
            batch.rejected.append(result)
        else:
            batch.orders.append(result)
    if not batch.orders and not batch.rejected:
        raise UsageError(f"{name} holds no orders")
    return batch


def _sniff(text: str) -> str:
    first = text.lstrip()[:1]
    if first == "[":
        return "json"
    if first == "{":
        try:
            data = loads_strict(text)
        except (ValueError, RecursionError):
            return "jsonl"
        return "json" if isinstance(data, dict) and "orders" in data else "jsonl"
    return "csv"


def _csv_rows(text: str, name: str) -> list[tuple[int, Any]]:
    csv.field_size_limit(MAX_FILE_BYTES)  # a long cell is the order rules' to refuse, by field
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, Any]] = []
    try:
        header = next(reader, [])
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise UsageError(f"{name}: line 1: column {dup[0]!r} appears twice in the header")
        lacking = [f for f in ("customerName", "product", "amount") if f not in header]
        if lacking:
            raise UsageError(
                f"{name}: the header lacks column(s) {', '.join(lacking)} "
                f"(expected {', '.join(FIELDS)}; orderId optional)"
            )
        for cells in reader:
            line = reader.line_num
            if all(c == "" for c in cells):
                continue  # blank line
            if len(cells) > len(header):
                rows.append((line, Rejected(line, "row", "has more cells than the header")))
                continue
            rows.append((line, dict(zip(header, cells, strict=False))))
            if len(rows) > MAX_ORDERS:
                break
    except csv.Error as exc:
        raise UsageError(f"{name}: line {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def _jsonl_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    # Lines end at \n only: U+2028 and friends are characters inside a JSON string.
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            rows.append((n, loads_strict(line)))
        except DuplicateKey as exc:
            rows.append((n, Rejected(n, exc.key[:40], "appears twice in the object")))
        except RecursionError:
            rows.append((n, Rejected(n, "row", "JSON nested too deeply")))
        except ValueError as exc:
            rows.append((n, Rejected(n, "row", f"not valid JSON ({_json_reason(exc)})")))
        if len(rows) > MAX_ORDERS:
            break
    return rows


def _json_rows(text: str, name: str) -> list[tuple[int, Any]]:
    try:
        data = loads_strict(text)
    except DuplicateKey as exc:
        raise UsageError(f"{name}: key {exc.key[:40]!r} appears twice in one object") from None
    except RecursionError:
        raise UsageError(f"{name}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:
        raise UsageError(f"{name}: not valid JSON ({_json_reason(exc)})") from None
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        data = data["orders"]
    if not isinstance(data, list):
        raise UsageError(f'{name}: expected a JSON array of orders (or {{"orders": [...]}})')
    # JSON has no reliable line per element; number rows as 1-based positions.
    return [(i, row) for i, row in enumerate(data, start=1)]


def _json_reason(exc: ValueError) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]


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
