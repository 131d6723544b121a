"""Shared fixtures: fake credentials first, then moto, then clients (moto's own advice)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ordercli.aws import Aws, Target, is_mutating
from ordercli.config import load_settings
from ordercli.context import Context, Options
from ordercli.local import control

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No test may reach a real account, whatever the developer's shell has set."""
    for key in [k for k in os.environ if k.startswith(("AWS_", "ORDERCLI_"))]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("ORDERCLI_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def mocked() -> Iterator[None]:
    from moto import mock_aws

    from ordercli.local import moto_hooks

    moto_hooks.thread_safe_iam_reads()  # as the emulator: ordercli makes roles in parallel

    with mock_aws():
        yield


MakeCtx = Callable[..., Context]


@pytest.fixture
def make_ctx(mocked: None) -> MakeCtx:
    """A Context on the aws target inside moto, with retries that never really sleep."""

    def make(stack: str = "t", **overrides: Any) -> Context:
        # moto lacks most of Elastic Beanstalk: the web app's deployment is pinned with the
        # Stubber in test_elasticbeanstalk.py, and left out here unless a test asks for it.
        overrides.setdefault("webapp.enabled", False)
        settings = load_settings({"stack": stack}, environ={}, overrides=overrides or None)
        target = Target("aws", REGION)
        return Context(settings, Options(stack=stack), target, Aws(target, sleep=lambda s: None))

    return make


class CallLog:
    """Every AWS operation a context made, via a botocore event hook."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **kwargs: Any) -> None:
        self.calls.append(model.name)

    @property
    def mutating(self) -> list[str]:
        return [c for c in self.calls if is_mutating(c)]


@pytest.fixture
def call_log() -> Callable[[Context], CallLog]:
    def attach(ctx: Context) -> CallLog:
        log = CallLog()
        ctx.aws.on("before-call", log)
        return log

    return attach


# -- the real emulator process, shared by the end-to-end and browser tests ----------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One emulator for the session, started the way a user starts it, with a user's real
    AWS settings in its environment (which must never reach the Lambda workers)."""
    env = {
        "ORDERCLI_HOME": str(tmp_path_factory.mktemp("home")),
        "ORDERCLI_LOCAL_PORT": str(free_port()),
    }
    user_settings = {
        "AWS_PROFILE": "users-real-profile",
        "AWS_ACCESS_KEY_ID": "AKIAUSERREALKEY",
        "AWS_SECRET_ACCESS_KEY": "user-secret",
        "AWS_ENDPOINT_URL": "https://example.invalid",
    }
    saved = {k: os.environ.get(k) for k in [*env, *user_settings]}
    os.environ.update({**env, **user_settings})
    try:
        state, started = control.start()
        assert started
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield {**env, "endpoint": state.endpoint}
    os.environ.update(env)
    try:
        control.stop()
    finally:
        for k in env:
            os.environ.pop(k, None)


@pytest.fixture
def local(emulator: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ORDERCLI_HOME", emulator["ORDERCLI_HOME"])
    monkeypatch.setenv("ORDERCLI_LOCAL_PORT", emulator["ORDERCLI_LOCAL_PORT"])
    return emulator
