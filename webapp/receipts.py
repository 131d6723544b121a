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


def receipt(order_id: str) -> str:
    mac = hmac.new(_secret(), b"accepted:" + order_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def valid(order_id: str, token: str | None) -> bool:
    # bytes, so a token with non-ASCII characters is simply wrong, not a TypeError
    return bool(token) and hmac.compare_digest(receipt(order_id).encode(), str(token).encode())
