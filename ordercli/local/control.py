"""Start, stop and inspect the emulator process (and the local web app started with it).

State lives under ORDERCLI_HOME (default ~/.ordercli): a JSON pid file and a log file per
port, so several emulators and test runs can live side by side."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ordercli.errors import OrderCliError, UsageError

DEFAULT_PORT = 4566
READY_TIMEOUT = 30.0


def home() -> Path:
    return Path(os.environ.get("ORDERCLI_HOME") or Path.home() / ".ordercli")


def port_from_env() -> int:
    text = os.environ.get("ORDERCLI_LOCAL_PORT", str(DEFAULT_PORT))
    try:
        port = int(text)
    except ValueError:
        raise UsageError(f"ORDERCLI_LOCAL_PORT must be a port number, got {text!r}") from None
    if not 0 < port < 65536:
        raise UsageError(f"ORDERCLI_LOCAL_PORT must be 1-65535, got {port}")
    return port


@dataclass
class EmulatorState:
    pid: int
    port: int
    started_at: float
    log_file: str
    webapp: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _state_file(port: int) -> Path:
    return home() / f"emulator-{port}.json"


def read_state(port: int) -> EmulatorState | None:
    try:
        data = json.loads(_state_file(port).read_text())
        return EmulatorState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: EmulatorState) -> None:
    path = _state_file(state.port)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether the process has exited but its parent (not us) has not reaped it yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def port_open(port: int, timeout: float = 0.2) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex(("127.0.0.1", port)) == 0


def port_taken(port: int) -> bool:
    """Whether a server could not listen on this port: something listens there, or an open
    connection holds it as its local port (ports in the ephemeral range can be)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def running(port: int) -> EmulatorState | None:
    """The state of a live emulator on this port, cleaning a stale pid file."""
    state = read_state(port)
    if state is None:
        return None
    if not pid_alive(state.pid):
        reap_leftovers(state)
        _state_file(port).unlink(missing_ok=True)
        return None
    return state


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (exited ones not yet reaped by their
    parent do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _stop_group(pgid: int, grace: float = 5.0) -> None:
    """SIGTERM a process group we started (its own session: pgid = the leader's pid), then
    SIGKILL what is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reap_leftovers(state: EmulatorState) -> None:
    """What a crashed emulator leaves behind: its Lambda workers (in its process group) and
    the web app `up --local` started (its own group, recorded in the pid file, which only
    the CLI writes, so a crash cannot lose it)."""
    if state.webapp and state.webapp.get("pid"):
        _stop_group(int(state.webapp["pid"]))
    _stop_group(state.pid)


def _require_moto() -> None:
    """Whether moto is installed, without importing it (0.35-0.9 s of the start)."""
    from importlib.util import find_spec

    try:
        found = find_spec("moto") is not None
    except (ImportError, ValueError):  # a broken or blocked install
        found = False
    if not found:
        raise OrderCliError(
            "The local target needs the emulator, which is not installed.",
            hint="pip install 'ordercli[local]'",
        )


def start(port: int | None = None) -> tuple[EmulatorState, bool]:
    """Start the emulator in the background unless it runs; (state, started_now)."""
    port = port or port_from_env()
    state = running(port)
    if state is not None:
        return state, False
    _require_moto()
    if port_taken(port):
        raise OrderCliError(
            f"Port {port} is in use by another program, not an ordercli emulator.",
            hint="Set ORDERCLI_LOCAL_PORT to a free port, or stop that program.",
        )
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    log_file = root / f"emulator-{port}.log"
    cmd = [sys.executable, "-m", "ordercli.local.server", "--port", str(port), "--home", str(root)]
    proc = spawn(cmd, log_file)
    state = EmulatorState(proc.pid, port, time.time(), str(log_file))
    write_state(state)
    try:
        if wait_ready(proc, lambda: port_open(port, 0.05), READY_TIMEOUT, "The emulator", log_file):
            return state, True
    except OrderCliError:
        _state_file(port).unlink(missing_ok=True)
        raise
    stop(port)
    raise OrderCliError(
        f"The emulator did not answer within {READY_TIMEOUT:.0f} s.",
        hint=f"See its log: {log_file}",
    )


def spawn(cmd: list[str], log_file: Path, env: dict[str, str] | None = None) -> Any:
    """A background process of ours: its own session (a Ctrl-C in the user's shell does not
    reach it), output to its log file."""
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )


def wait_ready(
    proc: Any, ready: Callable[[], bool], timeout: float, what: str, log_file: Path
) -> bool:
    """Poll `ready` until it holds (True) or time runs out (False); a process that exits
    first is an error pointing at its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OrderCliError(
                f"{what} exited during start (code {proc.returncode}).",
                hint=f"See its log: {log_file}",
            )
        if ready():
            return True
        time.sleep(0.02)
    return False


def terminate(pid: int, grace: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


DRAIN_TIMEOUT = 10.0  # seconds `local stop` lets running executions finish


def control_request(port: int, action: str, timeout: float) -> dict[str, Any] | None:
    """POST one of the emulator's own control requests (drain and save); its JSON answer,
    or None if the emulator did not answer."""
    import urllib.request

    url = f"http://127.0.0.1:{port}/_ordercli/{action}?timeout={timeout:g}"
    try:
        req = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=timeout + 60) as resp:
            answer = json.loads(resp.read())
            return answer if isinstance(answer, dict) else None
    except (OSError, ValueError):
        return None


def checkpoint(port: int | None = None, timeout: float = DRAIN_TIMEOUT) -> dict[str, Any] | None:
    """Save the emulator's state now (after `up` and `teardown`); None if none runs."""
    port = port or port_from_env()
    if running(port) is None:
        return None
    return control_request(port, "checkpoint", timeout)


@dataclass(frozen=True)
class Stopped:
    state: EmulatorState
    saved: dict[str, Any] | None  # the emulator's drain report; None if it did not answer


def stop_saving(port: int | None = None, timeout: float = DRAIN_TIMEOUT) -> Stopped | None:
    """Drain and save the emulator's state, then stop it and the web app it serves."""
    port = port or port_from_env()
    state = running(port)
    if state is None:
        return None
    if state.webapp and state.webapp.get("pid"):
        _stop_group(int(state.webapp["pid"]))  # no new orders from the app while draining
    saved = control_request(port, "stop", timeout)
    terminate(state.pid, grace=5.0 if saved else timeout + 30.0)
    reap_leftovers(state)
    _state_file(port).unlink(missing_ok=True)
    return Stopped(state, saved)


def stop(port: int | None = None) -> EmulatorState | None:
    """Stop the emulator (and web app) this state dir started, saving its state; fine when
    nothing runs."""
    stopped = stop_saving(port)
    return stopped.state if stopped else None


def state_info(port: int) -> dict[str, Any]:
    """Where the emulator's state is kept, its size, and what the last start found."""
    from ordercli.local import store

    root = store.state_dir(home(), port)
    report = store.read_start_report(root)
    return {
        "state_dir": str(root),
        "state_bytes": store.disk_usage(root),
        "last_start": asdict(report) if report else None,
    }


def reset(port: int | None = None) -> int:
    """Stop the emulator if it runs (without saving) and forget its saved state."""
    from ordercli.local import store

    port = port or port_from_env()
    state = running(port)
    if state is not None:
        if state.webapp and state.webapp.get("pid"):
            _stop_group(int(state.webapp["pid"]))
        try:  # SIGKILL: a SIGTERM would make it save what is being forgotten
            os.killpg(state.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + 10
        while pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _state_file(port).unlink(missing_ok=True)
    return store.reset(store.state_dir(home(), port))


def status(port: int | None = None) -> dict[str, Any]:
    port = port or port_from_env()
    state = running(port)
    if state is None:
        return {
            "running": False,
            "pid": None,
            "port": port,
            "endpoint": f"http://127.0.0.1:{port}",
            "webapp": None,
            "started_at": None,
            "home": str(home()),
            **state_info(port),
        }
    web = state.webapp
    return {
        "running": True,
        "pid": state.pid,
        "port": port,
        "endpoint": state.endpoint,
        "webapp": web.get("url") if web and web.get("pid") and pid_alive(int(web["pid"])) else None,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.started_at)),
        "uptime_seconds": round(time.time() - state.started_at, 1),
        "log_file": state.log_file,
        "home": str(home()),
        **state_info(port),
    }


def local_target(start_if_needed: bool = False) -> Any:
    """The local target for a command; `up` starts the emulator, others need it running."""
    from ordercli.aws import LOCAL_REGION, Target

    port = port_from_env()
    state = running(port)
    if state is None:
        if not start_if_needed:
            raise OrderCliError(
                f"The local emulator is not running (port {port}).",
                hint="`ordercli up --local` starts it and deploys the stack; "
                "`ordercli local start` only starts it.",
            )
        state, _ = start(port)
    return Target("local", LOCAL_REGION, state.endpoint)
