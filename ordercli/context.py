"""The one object every command gets: settings, target, AWS clients, output mode."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ordercli.config import Settings, load_settings

if TYPE_CHECKING:
    from ordercli.aws import Aws, Target
    from ordercli.errors import OrderCliError
    from ordercli.names import Names


TARGETS = ("local", "aws")
# A command a hint suggests: up to a backquote, ;, a comma, a line end or a full stop.
HINT_COMMAND = re.compile(
    r"ordercli (?:up|teardown|submit|status|tail|dlq|cost|policy)\b(?:[^`;,.\n]|\.(?!\s|$))*"
)


@dataclass
class Options:
    """The global options (declared once, on the root command), as given (None: not given)."""

    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    config: str | None = None
    json: bool = False
    local: bool = False
    debug: bool = False
    endpoint_url: str | None = None
    port: int | None = None
    verbose: bool = False

    @property
    def wants_local(self) -> bool:
        return self.local or env_target() == "local"

    def validate(self) -> None:
        """Checks that need no AWS call: a wrong target or endpoint is exit 2 up front."""
        from ordercli.errors import UsageError

        env_target()
        if self.endpoint_url is not None:
            if self.wants_local:
                raise UsageError(
                    "--endpoint-url is for the aws target; the local emulator's address is "
                    "set with --port (or ORDERCLI_LOCAL_PORT)"
                )
            if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.endpoint_url):
                raise UsageError(
                    f"--endpoint-url must be an http:// or https:// URL, got {self.endpoint_url!r}"
                )

    def flags(self, *, local: bool | None = None) -> str:
        """The options that pick the target and stack, as the user gave them, for hints:
        ` --local --stack fresh --region eu-west-1` (empty when all are defaults)."""
        return "".join(" " + p for p in self.flag_parts(local=local))

    def flag_parts(self, *, local: bool | None = None) -> list[str]:
        parts = []
        if self.local if local is None else local:
            parts.append("--local")
        if self.port is not None:
            parts.append(f"--port {self.port}")
        for flag, value in (
            ("--stack", self.stack),
            ("--region", self.region),
            ("--profile", self.profile),
            ("--config", self.config),
            ("--endpoint-url", self.endpoint_url),
        ):
            if value is not None:
                parts.append(f"{flag} {shlex.quote(value)}")
        return parts

    def command(self, words: str, *, local: bool | None = None) -> str:
        """`ordercli <words>` with the flags that matter, e.g. for "deploy it first" hints."""
        return f"ordercli {words}{self.flags(local=local)}"


def env_target() -> str | None:
    """ORDERCLI_TARGET, checked: only `local` or `aws` (empty: not set)."""
    from ordercli.errors import UsageError

    value = os.environ.get("ORDERCLI_TARGET", "").strip().lower()
    if not value:
        return None
    if value not in TARGETS:
        raise UsageError(
            f"ORDERCLI_TARGET must be one of {', '.join(TARGETS)}, "
            f"got {os.environ['ORDERCLI_TARGET']!r}"
        )
    return value


@dataclass
class Context:
    settings: Settings
    options: Options
    target: Target
    _aws: Aws | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.options.json

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            from ordercli.aws import Aws

            self._aws = Aws(self.target)
        return self._aws

    @property
    def names(self) -> Names:
        return self.aws.names(self.settings.stack)

    def command(self, words: str) -> str:
        """A command to suggest, with the flags that reach this same target and stack."""
        return self.options.command(words, local=self.target.is_local)

    def with_flags(self, hint: str) -> str:
        """Every `ordercli <command>` a hint suggests, completed with the flags that reach
        this target and stack (those it does not name already)."""
        parts = self.options.flag_parts(local=self.target.is_local)

        def complete(m: re.Match[str]) -> str:
            text = m.group(0).rstrip(" ")
            extra = [p for p in parts if p.split()[0] not in text]
            return text + "".join(" " + p for p in extra) + m.group(0)[len(text) :]

        return HINT_COMMAND.sub(complete, hint)

    def target_json(self) -> dict[str, Any]:
        """The target as every --json output names it (account only where already known)."""
        aws = self._aws
        account = aws._account if aws is not None else None
        if self.target.is_local:
            from ordercli.aws import LOCAL_ACCOUNT

            account = LOCAL_ACCOUNT
        return {
            "kind": self.target.kind,
            "endpoint": self.target.endpoint_url,
            "region": self.target.region,
            "account": account,
        }

    def translate(self, exc: BaseException) -> OrderCliError | None:
        """aws.translate_error with this target; hints for a stopped emulator carry the
        flags that reach this stack."""
        import botocore.exceptions as bex

        from ordercli.aws import translate_error

        err = translate_error(exc, self.target)
        unreachable = isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError)
        if err is not None and self.target.is_local and unreachable:
            err.hint = f"Start it and deploy the stack: {self.command('up')}"
        return err

    def require_stack(self) -> str:
        """The stack's queue URL, or NotFound (exit 1) saying the stack is not deployed here."""
        from ordercli.deploy.resources.queue import find_url
        from ordercli.errors import NotFound

        url = find_url(self.aws.client("sqs"), self.names.queue)
        if url is None:
            raise NotFound(
                f"Stack '{self.settings.stack}' is not deployed on {self.target.label} "
                f"(no queue {self.names.queue}).",
                hint=f"Deploy it first: {self.command('up')}",
            )
        return str(url)


def offline_target(options: Options, settings: Settings) -> tuple[dict[str, Any], str]:
    """The target a command that makes no AWS call names (cost): as --json's `target` and as
    the header's label, from the flags and settings alone (no emulator or credentials needed;
    a region nobody set is null)."""
    if options.wants_local:
        from ordercli.aws import LOCAL_ACCOUNT, LOCAL_REGION
        from ordercli.local.control import port_from_env

        local = f"http://127.0.0.1:{port_from_env()}"
        target = {"kind": "local", "endpoint": local, "region": LOCAL_REGION}
        return {**target, "account": LOCAL_ACCOUNT}, f"local ({local})"
    import botocore.exceptions
    import botocore.session

    try:
        configured = botocore.session.Session(profile=options.profile).get_config_variable("region")
    except botocore.exceptions.ProfileNotFound:
        configured = None
    region = (
        settings.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or configured
    )
    endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    aws: dict[str, Any] = {"kind": "aws", "endpoint": endpoint, "region": region, "account": None}
    where = (region or "region not set") + (f", endpoint {endpoint}" if endpoint else "")
    return aws, f"aws ({where})"


def build_context(options: Options, *, start_local: bool = False, **overrides: Any) -> Context:
    """Settings first (a config error must come before any AWS call), then the target."""
    settings = load_settings(
        {"stack": options.stack, "region": options.region},
        options.config,
        overrides=overrides or None,
    )
    if options.wants_local:
        from ordercli.errors import OrderCliError
        from ordercli.local.control import local_target, port_from_env, running

        port = port_from_env()
        if not start_local and running(port) is None:
            raise OrderCliError(
                f"The local emulator is not running (port {port}).",
                hint=f"Start it and deploy the stack: {options.command('up', local=True)}",
            )
        target = local_target(start_if_needed=start_local)
        if start_local and settings.sources.get("local.quotas", "default") != "default":
            from ordercli.local.quotas import apply  # `up --local` puts the config's in force

            value = settings["local.quotas"]
            apply(target.endpoint_url, "off" if value is False else str(value))
        ctx = Context(settings, options, target)
        ctx.aws.on("needs-retry", _refused_is_final)
        return ctx
    else:
        from ordercli.aws import resolve_aws_target

        target = resolve_aws_target(settings.region, options.profile)
        if options.endpoint_url:
            target = replace(target, endpoint_url=options.endpoint_url)
    return Context(settings, options, target)


def _refused_is_final(caught_exception: BaseException | None = None, **_: Any) -> None:
    """On the local target a refused connection means the emulator has stopped: end the
    call at once (the caller says so, with `ordercli up --local`), not after the SDK's
    retries. Raising from botocore's needs-retry hook ends its retry loop with this error."""
    import botocore.exceptions as bex

    if isinstance(caught_exception, bex.EndpointConnectionError):
        raise caught_exception
