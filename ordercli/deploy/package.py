"""Deterministic zips: same sources, same bytes, same hash, so an unchanged function is a no-op."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Bundle:
    data: bytes

    @property
    def sha256_b64(self) -> str:
        """Lambda's CodeSha256 form."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_zip(files: Iterable[tuple[str, bytes]]) -> Bundle:
    """Zip (archive name, content) pairs in name order with fixed times and modes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, content, compresslevel=9)
    return Bundle(buf.getvalue())


def lambda_source_dir() -> Path:
    import lambda_src

    return Path(lambda_src.__file__).resolve().parent


def function_zip(module: str) -> Bundle:
    """One handler module plus the shared order model, as package `lambda_src`."""
    src = lambda_source_dir()
    names = ("__init__.py", "order.py", f"{module}.py")
    return build_zip((f"lambda_src/{n}", (src / n).read_bytes()) for n in names)


def webapp_bundle() -> Bundle:
    """webapp/ as Elastic Beanstalk runs it, plus the shared order model and history reader."""
    import webapp

    app = Path(webapp.__file__).resolve().parent
    files = [
        (p.relative_to(app).as_posix(), p.read_bytes())
        for p in sorted(app.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"
    ]
    src = lambda_source_dir()
    files += [
        (f"lambda_src/{n}", (src / n).read_bytes())
        for n in ("__init__.py", "order.py", "history.py")
    ]
    root = Path(__file__).resolve().parents[1]  # the /dashboard page's metrics reader
    files += [
        (f"ordercli/{n}", (root / n).read_bytes())
        for n in ("__init__.py", "names.py", "operate/__init__.py", "operate/metrics.py")
    ]
    return build_zip(files)
