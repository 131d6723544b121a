"""The web app on the local target: gunicorn on 127.0.0.1 in place of Elastic Beanstalk,
started by `up --local` and stopped with the emulator (or by `teardown --local`)."""

from __future__ import annotations

import importlib.util
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ordercli.errors import OrderCliError, UsageError
from ordercli.local import control

DEFAULT_PORT = 8000
READY_TIMEOUT = 20.0


def web_port() -> int:
    text = os.environ.get("ORDERCLI_WEB_PORT", str(DEFAULT_PORT))
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"ORDERCLI_WEB_PORT must be a port number, got {text!r}") from None


def app_dir() -> Path:
    import webapp

    return Path(webapp.__file__).resolve().parent


def environment(
    endpoint: str, queue_url: str, state_machine_arn: str, currency: str = "USD"
) -> dict[str, str]:
    """Built from scratch, like the Lambda workers': the app can only reach the emulator.
    The receipt secret is new for each start and shared by the app's workers."""
    import secrets

    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "ORDERS_QUEUE_URL": queue_url,
            "STATE_MACHINE_ARN": state_machine_arn,
            "ORDERCLI_CURRENCY": currency,
            "ORDERCLI_WEB_SECRET": secrets.token_hex(32),
        }
    )
    return env


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except Exception:
        return False


def ensure(stack: str, queue_url: str, state_machine_arn: str, currency: str = "USD") -> str:
    """Start the app for this stack unless it already serves it; its URL."""
    missing = [m for m in ("flask", "gunicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise OrderCliError(
            f"The local web app needs {' and '.join(missing)}, not installed.",
            hint="pip install 'ordercli[web]', or skip the app with --no-web.",
        )
    state = control.running(control.port_from_env())
    if state is None:
        raise OrderCliError("The emulator is not running.", hint="ordercli local start")
    current = state.webapp or {}
    if (
        current.get("stack") == stack
        and current.get("queue_url") == queue_url
        and current.get("currency", "USD") == currency
        and control.pid_alive(int(current.get("pid", 0) or 0))
        and healthy(current["url"])
    ):
        return str(current["url"])
    stop(state)
    port = web_port()
    if control.port_taken(port):
        raise OrderCliError(
            f"Port {port} for the local web app is in use by another program.",
            hint="Set ORDERCLI_WEB_PORT to a free port, or use --no-web.",
        )
    log_file = control.home() / f"webapp-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(app_dir()),
        "application:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "8",
        "--timeout",
        "60",
    ]
    proc = control.spawn(
        cmd, log_file, environment(state.endpoint, queue_url, state_machine_arn, currency)
    )
    url = f"http://127.0.0.1:{port}"
    state.webapp = {
        "pid": proc.pid,
        "url": url,
        "port": port,
        "stack": stack,
        "queue_url": queue_url,
        "currency": currency,
        "log_file": str(log_file),
    }
    control.write_state(state)
    if control.wait_ready(
        proc, lambda: healthy(url, 0.5), READY_TIMEOUT, "The local web app", log_file
    ):
        return url
    raise OrderCliError(
        "The local web app did not become healthy in time.", hint=f"See its log: {log_file}"
    )


def stop(state: Any, stack: str | None = None) -> bool:
    """Stop the app (only if it serves `stack`, when given); whether one was stopped."""
    current = state.webapp or {}
    if not current.get("pid") or (stack is not None and current.get("stack") != stack):
        return False
    control.terminate(int(current["pid"]))
    state.webapp = None
    control.write_state(state)
    return True
