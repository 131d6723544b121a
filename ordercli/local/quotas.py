"""AWS's default quotas, enforced by the emulator when asked, so a local load test meets the
throttling a real account would: Step Functions' StartExecution token bucket and Lambda's
concurrent executions. Off by default (moto enforces none).

Set by `local.quotas` in ordercli.yaml (applied by `up --local`), by ORDERCLI_LOCAL_QUOTAS
when the emulator starts, or at any time with PUT /_ordercli-quotas on the emulator.
Values: `off` (or `false`), `aws` (the defaults below), or `name=value` pairs separated by
commas, alone or after `aws`: `aws,start_rate=5`, `start_burst=20,start_rate=10,
lambda_concurrency=4`.

The facts (AWS documentation, "Step Functions service quotas" and "Lambda quotas"):
StartExecution of standard workflows is throttled with a token bucket of 1,300 tokens
refilled at 300 per second in us-east-1 (ThrottlingException, "Rate exceeded"); an account
runs at most 1,000 Lambda invocations at once, and a synchronous Invoke past that answers
HTTP 429 TooManyRequestsException with Reason ConcurrentInvocationLimitExceeded, while an
SQS event source mapping holds its batch and scales its pollers down instead."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger("ordercli.quotas")
CONTROL_PATH = "/_ordercli-quotas"  # beside the lifecycle front's /_ordercli/ requests
ENV_VAR = "ORDERCLI_LOCAL_QUOTAS"


@dataclass(frozen=True)
class Quotas:
    start_burst: int | None = None  # StartExecution bucket size; None: unlimited
    start_rate: float | None = None  # tokens added per second
    lambda_concurrency: int | None = None  # invocations running at once, account-wide

    def describe(self) -> dict[str, Any]:
        return {
            "start_burst": self.start_burst,
            "start_rate": self.start_rate,
            "lambda_concurrency": self.lambda_concurrency,
        }


OFF = Quotas()
AWS = Quotas(start_burst=1300, start_rate=300.0, lambda_concurrency=1000)
_FIELDS: dict[str, Callable[[str], float | int]] = {
    "start_burst": int,
    "start_rate": float,
    "lambda_concurrency": int,
}


def parse(text: str) -> Quotas:
    """`off`, `aws`, or name=value pairs (after `aws` or alone); ValueError names the part."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts in ([], ["off"], ["false"]):
        return OFF
    quotas = OFF
    if parts[0] == "aws":
        quotas, parts = AWS, parts[1:]
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in _FIELDS:
            raise ValueError(
                f"'{part}' is not a quota: use off, aws, or name=value with a name among "
                f"{', '.join(_FIELDS)}"
            )
        try:
            number = _FIELDS[name](value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a number, got '{value.strip()}'") from None
        if not (math.isfinite(number) and number > 0):  # nan passes `<= 0` and never throttles
            raise ValueError(f"{name} must be greater than 0 (and finite), got {value.strip()}")
        changes: dict[str, Any] = {name: number}
        quotas = replace(quotas, **changes)
    if (quotas.start_burst is None) != (quotas.start_rate is None):
        raise ValueError("start_burst and start_rate go together (a bucket and its refill)")
    return quotas


def problem(text: str) -> str | None:
    """For the config key's check: None if `text` parses."""
    try:
        parse(text)
    except ValueError as exc:
        return str(exc)
    return None


class Limiter:
    """The emulator's quotas in force: a token bucket and a concurrency count."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.quotas = OFF
        self._tokens = 0.0
        self._filled_at = time.monotonic()
        self._running = 0
        self.throttled = {"start_execution": 0, "lambda": 0}  # since the emulator started

    def set(self, quotas: Quotas) -> None:
        with self._cond:
            self.quotas = quotas
            self._tokens = float(quotas.start_burst or 0)  # a new bucket starts full
            self._filled_at = time.monotonic()
            self._cond.notify_all()

    def take_start(self) -> bool:
        """A StartExecution token, or False: throttled."""
        q = self.quotas
        if q.start_burst is None or q.start_rate is None:
            return True
        with self._cond:
            now = time.monotonic()
            self._tokens = min(
                float(q.start_burst), self._tokens + (now - self._filled_at) * q.start_rate
            )
            self._filled_at = now
            if self._tokens < 1:
                self.throttled["start_execution"] += 1
                return False
            self._tokens -= 1
            return True

    def enter_lambda(self, wait: bool) -> bool:
        """A concurrency slot; with `wait`, until one frees (as a queue's poller waits),
        else False at once (as a synchronous Invoke is throttled)."""
        with self._cond:
            while True:
                cap = self.quotas.lambda_concurrency
                if cap is None or self._running < cap:
                    self._running += 1
                    return True
                if not wait:
                    self.throttled["lambda"] += 1
                    return False
                self._cond.wait(1.0)  # woken by exit_lambda or set; the timeout re-reads cap

    def exit_lambda(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify()


LIMITS = Limiter()


def with_control(app: Any) -> Any:
    """The emulator's WSGI app plus GET/PUT CONTROL_PATH (the quotas in force and the
    calls throttled so far, as JSON)."""

    def control(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CONTROL_PATH:
            result: Iterable[bytes] = app(environ, start_response)
            return result
        status = "200 OK"
        if environ.get("REQUEST_METHOD") == "PUT":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            text = environ["wsgi.input"].read(size).decode("utf-8", "replace")
            try:
                LIMITS.set(parse(text))
                log.info("quotas now %s", LIMITS.quotas)
            except ValueError as exc:
                body = json.dumps({"error": f"local.quotas: {exc}"}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [body]
        body = json.dumps({**LIMITS.quotas.describe(), "throttled": LIMITS.throttled}).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return control


def apply(endpoint: str, text: str) -> None:
    """Put `text` in force on the emulator at `endpoint` (what `up --local` does with the
    config's `local.quotas`)."""
    import urllib.request

    request = urllib.request.Request(
        endpoint.rstrip("/") + CONTROL_PATH, data=text.encode(), method="PUT"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


def from_environment(environ: dict[str, str] | Any) -> None:
    """The quotas the emulator starts with (ORDERCLI_LOCAL_QUOTAS; off when unset)."""
    text = environ.get(ENV_VAR, "")
    try:
        LIMITS.set(parse(text))
    except ValueError as exc:
        log.error("%s ignored: %s", ENV_VAR, exc)
