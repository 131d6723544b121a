"""The one AWS SDK boundary: targets, clients, retries, and AWS errors turned into ours.

Clients come from botocore directly: boto3's extra layer (resources, s3transfer) costs a
tenth of a second of imports on every command and buys nothing here."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ordercli.errors import AwsError, Conflict, NotFound, OrderCliError, UsageError
from ordercli.names import Names

LOCAL_ACCOUNT = "123456789012"  # moto's interpreter calls back with its default account
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
T = TypeVar("T")
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


# AWS's many spellings of "there is no such thing" and "not now / already there".
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NoSuchEntity",
        "NotFound",
        "NotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "StateMachineDoesNotExist",
        "DashboardNotFoundError",
    }
)
CONFLICT_CODES = frozenset(
    {
        "ResourceConflictException",
        "ResourceInUseException",
        "ResourceAlreadyExistsException",
        "EntityAlreadyExists",
        "StateMachineDeleting",
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "QueueDeletedRecently",
    }
)


def _boundary_errors() -> tuple[type[Exception], type[Exception]]:
    """AwsNotFound and AwsConflict: the project's NotFound/Conflict that are still botocore
    ClientErrors (so `error_code` and callers catching ClientError keep working)."""
    global _BOUNDARY
    if _BOUNDARY is None:
        from botocore.exceptions import ClientError

        def init(self: Any, response: Any, operation: str) -> None:
            ClientError.__init__(self, response, operation)
            err = response.get("Error", {})
            self.message = f"AWS {operation} failed ({err.get('Code')}): {err.get('Message')}"
            self.hint = None

        _BOUNDARY = (
            type("AwsNotFound", (ClientError, NotFound), {"__init__": init}),
            type("AwsConflict", (ClientError, Conflict), {"__init__": init}),
        )
    return _BOUNDARY


_BOUNDARY: tuple[type[Exception], type[Exception]] | None = None


def _raise_ours(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
    """after-call: an AWS error meaning "not there" or "in the way" leaves the client as the
    project's NotFound or Conflict (botocore would raise its generic ClientError next)."""
    if http_response is None or getattr(http_response, "status_code", 200) < 300:
        return
    code = str((parsed or {}).get("Error", {}).get("Code", ""))
    not_found, conflict = _boundary_errors()
    if code in NOT_FOUND_CODES:
        raise not_found(parsed, model.name)
    if code in CONFLICT_CODES:
        raise conflict(parsed, model.name)


def absent_is_none(call: Callable[[], T]) -> T | None:
    """The call's result, or None if AWS says the thing is not there (also from a client made
    outside `Aws`, whose errors are botocore's own)."""
    try:
        return call()
    except Exception as exc:
        if isinstance(exc, NotFound) or error_code(exc) in NOT_FOUND_CODES:
            return None
        raise


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
        message = error_message(exc)
        if code in ("AccessDenied", "AccessDeniedException") or (
            code == "403" and "not authorized to perform" in message
        ):
            # (an error body the SDK could not parse keeps AWS's message inside its XML)
            inner = re.search(r"<Message>(.*?)</Message>", message, re.S)
            text = " ".join((inner.group(1) if inner else message).split())
            return AwsError(f"Access denied for {op}: {text}")
        return AwsError(f"AWS {op} failed ({code}): {error_message(exc)}")
    if isinstance(exc, bex.BotoCoreError):
        return AwsError(f"AWS SDK error: {exc}")
    return None


def wait_for(
    aws: Aws,
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    every: float = 1.0,
    why: str | None = None,
    expected: float | None = None,
) -> T:
    """Poll `check` until it returns something; a countdown (from `expected`, AWS's documented
    time, else `timeout`) goes to the progress display and `why`, once, to the output.
    Raises AwsError after `timeout` seconds."""
    start = aws.now()
    said = False
    while True:
        got = check()
        if got is not None:
            return got
        waited = aws.now() - start
        if waited >= timeout:
            raise AwsError(f"Gave up after {timeout:.0f} s waiting for {what}.")
        if why and not said:
            aws.say(why)
            said = True
        aws.countdown(what, (expected if expected is not None else timeout) - waited)
        aws.sleep(min(every, timeout - waited))


def create_when_free(
    aws: Aws,
    create: Callable[[], Any],
    held: Collection[str],
    *,
    what: str,
    timeout: float,
    why: str,
    expected: float | None = None,
) -> None:
    """Call `create` until AWS stops refusing it with one of the `held` error codes (a
    name AWS still holds after a delete), waiting as `wait_for` does; any other error raises."""

    def attempt() -> bool | None:
        try:
            create()
        except Exception as exc:
            if error_code(exc) in held:
                return None
            raise
        return True

    wait_for(aws, attempt, what=what, timeout=timeout, why=why, expected=expected)


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
    """Clients for one target, created once and shared across threads.

    Waits go through `sleep` and `now` so tests inject both: with a fake `sleep` and no
    `clock`, time is virtual (it advances by what was slept) and every wait ends at once."""

    def __init__(
        self,
        target: Target,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.target = target
        self._sleep = sleep
        self._clock = clock or (time.monotonic if sleep is time.sleep else None)
        self._slept = 0.0
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        self._account: str | None = None
        self._hooks: list[tuple[str, Callable[..., Any], bool]] = []
        # Where slow resources report progress lines (set by the renderer; None: quiet).
        self.note: Callable[[str], None] | None = None
        # Where a wait reports its countdown, (what, seconds left) (set by apply; None: quiet).
        self._waiting = threading.local()

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        with self._lock:
            self._slept += seconds

    def now(self) -> float:
        return self._clock() if self._clock is not None else self._slept

    def say(self, line: str) -> None:
        if self.note is not None:
            self.note(line)

    def set_countdown(self, report: Callable[[str, float], None] | None) -> None:
        """Where this thread's waits report (what, seconds left)."""
        self._waiting.report = report

    def countdown(self, what: str, seconds_left: float) -> None:
        report = getattr(self._waiting, "report", None)
        if report is not None:
            report(what, max(0.0, seconds_left))

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
                client.meta.events.register("after-call", _raise_ours)
                for event, handler, first in self._hooks:
                    _register(client, event, handler, first)
                self._clients[service] = client
            return self._clients[service]

    def on(self, event: str, handler: Callable[..., Any], *, first: bool = False) -> None:
        """Register a botocore event handler on every client, present and future
        (`first`: ahead of botocore's own handlers, e.g. to answer a request before it is sent)."""
        with self._lock:
            self._hooks.append((event, handler, first))
            for client in self._clients.values():
                _register(client, event, handler, first)

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


def _register(client: Any, event: str, handler: Callable[..., Any], first: bool) -> None:
    if first:
        client.meta.events.register_first(event, handler)
    else:
        client.meta.events.register(event, handler)


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
