"""The one object every command gets: settings, target, AWS clients, output mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ordercli.config import Settings, load_settings

if TYPE_CHECKING:
    from ordercli.aws import Aws, Target
    from ordercli.names import Names


@dataclass
class Options:
    """The global options every command takes, as given (None: not given)."""

    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    config: str | None = None
    json: bool = False
    local: bool = False
    debug: bool = False

    @property
    def wants_local(self) -> bool:
        return self.local or os.environ.get("ORDERCLI_TARGET", "").lower() == "local"


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


def build_context(options: Options, *, start_local: bool = False, **overrides: Any) -> Context:
    """Settings first (a config error must come before any AWS call), then the target."""
    settings = load_settings(
        {"stack": options.stack, "region": options.region},
        options.config,
        overrides=overrides or None,
    )
    if options.wants_local:
        from ordercli.local.control import local_target

        target = local_target(start_if_needed=start_local)
        if start_local and settings.sources.get("local.quotas", "default") != "default":
            from ordercli.local.quotas import apply  # `up --local` puts the config's in force

            value = settings["local.quotas"]
            apply(target.endpoint_url, "off" if value is False else str(value))
    else:
        from ordercli.aws import resolve_aws_target

        target = resolve_aws_target(settings.region, options.profile)
    return Context(settings, options, target)
