"""`ordercli --help` against `aws --version` (awscli from PyPI), same run. Bar: <= 0.4x.

usage: python benchmarks/cli_speed.py [--aws PATH]   (default: `aws` on PATH, else a venv with
awscli is made in a temporary directory)"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ORDERCLI, median_of, row


def find_aws(given: str | None) -> str:
    if given:
        return given
    found = shutil.which("aws")
    if found:
        return found
    venv = Path(tempfile.mkdtemp()) / "awscli"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "awscli"], check=True)
    return str(venv / "bin" / "aws")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aws")
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    aws = find_aws(args.aws)
    median_of(2, [ORDERCLI, "--help"])  # warm the file cache for both
    median_of(2, [aws, "--version"])
    ours = median_of(args.n, [ORDERCLI, "--help"])
    theirs = median_of(args.n, [aws, "--version"])
    row("ordercli --help (median)", f"{ours * 1000:.0f} ms")
    row("aws --version (median)", f"{theirs * 1000:.0f} ms")
    row("ratio (bar: <= 0.4)", f"{ours / theirs:.2f}")


if __name__ == "__main__":
    main()
