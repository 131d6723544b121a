"""Receipts: proof that this app accepted an order, so `/orders/<id>?submitted=<receipt>` may
say "queued" before the workflow has started, and only then (any other id is a 404).

An HMAC of the orderId under a secret every worker and instance shares: nothing to store, so
it holds across gunicorn workers and instances. The secret comes from ORDERCLI_WEB_SECRET;
without it, one per host is kept in a file (enough for a single-instance environment)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from functools import cache
from pathlib import Path

SECRET_ENV = "ORDERCLI_WEB_SECRET"


def _host_secret() -> bytes:
    path = Path(tempfile.gettempdir()) / f"ordercli-web-secret-{os.getuid()}"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # atomic, and fails if another worker got there first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


@cache
def _secret() -> bytes:
    text = os.environ.get(SECRET_ENV, "")
    return text.encode() if text else _host_secret()


def _mac(text: str) -> str:
    mac = hmac.new(_secret(), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def receipt(order_id: str, content: str) -> str:
    """Two parts: one for the orderId (the order may say "queued" before it has an
    execution) and one for the order's content (once it has one, the page can tell whether
    that execution is this very order, or another one sent under the same id)."""
    return _mac("accepted:" + order_id) + "." + _mac("content:" + order_id + "\0" + content)


def _parts(token: str | None) -> tuple[bytes, bytes]:
    head, _, tail = str(token or "").partition(".")
    return head.encode(), tail.encode()  # bytes: a non-ASCII token is simply wrong


def valid(order_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(
        _mac("accepted:" + order_id).encode(), _parts(token)[0]
    )


def same_content(order_id: str, token: str | None, content: str) -> bool:
    """Whether a valid receipt was issued for this content under this orderId."""
    expected = _mac("content:" + order_id + "\0" + content).encode()
    return valid(order_id, token) and hmac.compare_digest(expected, _parts(token)[1])
