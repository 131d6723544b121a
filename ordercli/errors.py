"""The project's own errors. Each carries its exit code; the CLI edge prints and exits."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class OrderCliError(Exception):
    """A foreseeable failure: printed as one clear message, never as a traceback."""

    exit_code = EXIT_FAILURE

    def __init__(
        self, message: str, *, hint: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # per-item objects (e.g. a file's invalid rows) for --json


class UsageError(OrderCliError):
    """Bad input from the user: flags, config, an order. Nothing was changed."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    def __init__(self, key: str, message: str, source: str | None = None) -> None:
        where = f" (in {source})" if source else ""
        super().__init__(f"config key '{key}'{where}: {message}")
        self.key = key
        self.source = source


class AwsError(OrderCliError):
    """An AWS call failed in a way the user must act on."""


class NotFound(OrderCliError):
    """Something the user named does not exist."""


class Conflict(OrderCliError):
    """What was asked clashes with the state something is in (busy, in use, already there)."""
