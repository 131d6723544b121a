"""The one AWS SDK boundary: targets, clients, retries, and AWS errors turned into ours.

Clients come from botocore directly: boto3's extra layer (resources, s3transfer) costs a
tenth of a second of imports on every command and buys nothing here."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ordercli.errors import AwsError, OrderCliError, UsageError
from ordercli.names import Names

LOCAL_ACCOUNT = "123456789012"  # moto's interpreter calls back with its default account
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
NO_CREDENTIALS_HINT = (
    "Configure credentials (`aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID/"
    "AWS_SECRET_ACCESS_KEY), or run against the embedded emulator with --local."
)


@dataclass(frozen=True)
class Target:
    """Where commands act: a real AWS account (maybe behind an endpoint) or the local emulator."""

    kind: Literal["aws", "local"]
    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    session: Any = field(default=None, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def label(self) -> str:
        if self.is_local:
            return f"local ({self.endpoint_url})"
        where = self.region + (f", endpoint {self.endpoint_url}" if self.endpoint_url else "")
        return f"aws ({where}{', profile ' + self.profile if self.profile else ''})"


def resolve_aws_target(region: str | None, profile: str | None) -> Target:
    """The aws target from flags/config plus the standard AWS settings."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=profile)
    try:
        configured = session.get_config_variable("region")
    except botocore.exceptions.ProfileNotFound as exc:
        raise UsageError(f"AWS profile not found: {exc.kwargs.get('profile')}") from None
    resolved = (
        region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or configured
    )
    if not resolved:
        raise OrderCliError(
            "No AWS region is set.",
            hint="Pass --region, set AWS_REGION, put `region:` in ordercli.yaml, or use --local.",
        )
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return Target("aws", resolved, endpoint, profile, session)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def translate_error(exc: BaseException, target: Target | None = None) -> OrderCliError | None:
    """Turn a botocore failure into one of ours, or None if it is not an AWS failure."""
    import botocore.exceptions as bex

    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return AwsError("No AWS credentials found.", hint=NO_CREDENTIALS_HINT)
    if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError):
        if target and target.is_local:
            return AwsError(
                f"The local emulator is not running (nothing answers at {target.endpoint_url}).",
                hint="Start it and deploy the stack: ordercli up --local",
            )
        where = target.label if target else "AWS"
        hint = "Check the network, the region and AWS_ENDPOINT_URL."
        return AwsError(f"Cannot reach {where}: {exc}", hint=hint)
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        op = getattr(exc, "operation_name", "call")
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidSignatureException",
            "AuthFailure",
        ):
            return AwsError(f"AWS rejected the credentials ({code}).", hint=NO_CREDENTIALS_HINT)
        if code in ("AccessDenied", "AccessDeniedException"):
            return AwsError(f"Access denied for {op}: {error_message(exc)}")
        return AwsError(f"AWS {op} failed ({code}): {error_message(exc)}")
    if isinstance(exc, bex.BotoCoreError):
        return AwsError(f"AWS SDK error: {exc}")
    return None


def retry(
    fn: Callable[[], Any],
    *,
    when: Callable[[BaseException], bool],
    attempts: int = 8,
    first_delay: float = 0.5,
    max_delay: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Call fn, retrying with exponential backoff while `when(exc)` holds (bounded)."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not when(exc):
                raise
            sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")  # pragma: no cover


class Aws:
    """Clients for one target, created once and shared across threads."""

    def __init__(self, target: Target, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.target = target
        self.sleep = sleep
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        self._account: str | None = None
        self._hooks: list[tuple[str, Callable[..., Any]]] = []
        # Where slow resources report progress lines (set by the renderer; None: quiet).
        self.note: Callable[[str], None] | None = None

    def _make_session(self) -> Any:
        import botocore.session

        if self.target.is_local:
            # Built from scratch: nothing of the user's AWS settings reaches the emulator's calls.
            core = botocore.session.Session(
                session_vars={
                    "profile": (None, None, None, None),
                    "config_file": (None, None, os.devnull, None),
                    "credentials_file": (None, None, os.devnull, None),
                }
            )
            core.set_credentials(
                LOCAL_CREDENTIALS["aws_access_key_id"], LOCAL_CREDENTIALS["aws_secret_access_key"]
            )
            return core
        if self.target.session is not None:
            return self.target.session
        return botocore.session.Session(profile=self.target.profile)

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                if self._session is None:
                    self._session = self._make_session()
                config = Config(
                    retries={"mode": "adaptive", "max_attempts": 10},
                    max_pool_connections=64,
                    connect_timeout=5,
                    read_timeout=70,
                )
                client = self._session.create_client(
                    service,
                    region_name=self.target.region,
                    endpoint_url=self.target.endpoint_url,
                    config=config,
                )
                for event, handler in self._hooks:
                    client.meta.events.register(event, handler)
                self._clients[service] = client
            return self._clients[service]

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client, present and future."""
        with self._lock:
            self._hooks.append((event, handler))
            for client in self._clients.values():
                client.meta.events.register(event, handler)

    def account_id(self) -> str:
        if self._account is None:
            if self.target.is_local:
                self._account = LOCAL_ACCOUNT
            else:
                self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    def names(self, stack: str) -> Names:
        partition = (
            "aws-cn"
            if self.target.region.startswith("cn-")
            else ("aws-us-gov" if self.target.region.startswith("us-gov-") else "aws")
        )
        return Names(stack, self.target.region, self.account_id(), partition)


MUTATING_PREFIXES = (
    "Get",
    "Describe",
    "List",
    "Head",
    "Check",
    "Validate",
    "Test",
    "Receive",
    "Filter",
    "Lookup",
)


def is_mutating(operation: str) -> bool:
    """Whether an API operation changes anything (used to prove a no-op `up` makes no change)."""
    return not operation.startswith(MUTATING_PREFIXES)
