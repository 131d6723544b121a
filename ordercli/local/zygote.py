"""A pre-imported parent for Lambda workers: one process per emulator that has the worker
runtime, boto3 and botocore imported and forks a worker on request.

Why: a worker started as a new interpreter spent 10-20 ms on Python and worker_main and
85-150 ms on the handler's `import boto3` before it could serve (issue 14); a fork of this
process has both already, so only the handler's own module is imported in the child (fresh
per worker: Lambda's init phase, its own globals). The child's environment is replaced
whole by the one the pool built for the function version; this process itself runs with
dummy credentials only, so nothing of the user's AWS settings can reach a worker.

Protocol, over a SOCK_SEQPACKET socket pair (one datagram per message):
  parent -> JSON {"env": {...}, "cwd": str} with two fds: the worker's request pipe (read
            end) and reply pipe (write end)
  zygote -> JSON {"pid": int} with one fd, a pidfd of the child (so the parent can signal
            and wait for it although it is not the parent's child), or {"error": str}
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

MAX_MESSAGE = 1 << 20  # an environment is at most 4 KB on Lambda; this is ample
# What the stack's Lambdas call (the consumer, the payment table, the topic; sqs for the
# consumer's dead-letter sends).
PRELOADED_SERVICES = ("sqs", "stepfunctions", "sns", "dynamodb")


class ZygoteGone(Exception):
    """The zygote could not fork a worker (it exited, or never started)."""


def wait_readable(fd: int, timeout: float | None) -> bool:
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        return bool(sel.select(None if timeout is None else max(0.0, timeout)))


class ForkedProcess:
    """What Worker uses of a Popen (kill, wait), for a child of the zygote, through its
    pidfd: a pid alone could name another process once the zygote has reaped it."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd: int | None = pidfd

    def kill(self) -> None:
        if self._pidfd is None:
            return
        try:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        if self._pidfd is None:
            return 0
        if not wait_readable(self._pidfd, timeout):  # a pidfd reads ready once it exits
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
        os.close(self._pidfd)
        self._pidfd = None
        return 0


class Zygote:
    """The emulator's side: starts the zygote and asks it for workers, one fork at a time
    (a fork takes a few milliseconds; the lock only orders the requests)."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ordercli.local.zygote", str(theirs.fileno())],
                env=dict(env),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                cwd=str(cwd),
            )
        finally:
            theirs.close()

    def spawn(self, env: Mapping[str, str], cwd: Path, in_fd: int, out_fd: int) -> ForkedProcess:
        request = json.dumps({"env": dict(env), "cwd": str(cwd)}).encode()
        with self._lock:
            try:
                socket.send_fds(self._sock, [request], [in_fd, out_fd])
                data, fds, _, _ = socket.recv_fds(self._sock, MAX_MESSAGE, 1)
            except OSError as exc:
                raise ZygoteGone(str(exc)) from None
        if not data:
            raise ZygoteGone("the zygote exited")
        reply = json.loads(data)
        if "pid" not in reply or not fds:
            for fd in fds:
                os.close(fd)
            raise ZygoteGone(reply.get("error", "no pid in the zygote's reply"))
        return ForkedProcess(reply["pid"], fds[0])

    def close(self) -> None:
        """The zygote exits when its socket closes; its workers live on until the pool
        closes their pipes."""
        self._sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---- the zygote process -----------------------------------------------------------------


def _preload() -> None:
    """Import what every worker needs, and what botocore imports only when a first client
    is made; and parse, once, the service models and endpoint data the stack's Lambdas
    load. A worker's first `boto3.client(...)` spent most of its 150-420 ms (2-core machine,
    under load) decoding botocore's JSON files and listing its data directories; every
    session in a worker now takes this process's loader, its caches already full (the
    models only: no credentials, region or endpoint; boto3's default session is left
    unmade, so a worker's first client still reads the worker's own environment)."""
    import boto3  # noqa: F401
    import botocore.loaders
    import botocore.session

    from ordercli.local import worker_main  # noqa: F401

    loader = botocore.loaders.create_loader()
    session = botocore.session.Session()
    session.register_component("data_loader", loader)
    for service in PRELOADED_SERVICES:
        session.create_client(
            service,
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",
        )
    make_loader = botocore.loaders.create_loader

    def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        # AWS_DATA_PATH (a function's own models) gets a loader of its own, as before
        return loader if search_path_string is None else make_loader(search_path_string)

    botocore.session.create_loader = shared_loader


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _die_with_parent(parent: int) -> None:
    """A worker dies with the zygote (Linux's parent-death signal): the emulator stops, or
    kills its direct children after a crash, and a worker stuck in a handler must not
    outlive it. Workers started as new interpreters are the emulator's own children."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the zygote was already gone before the signal was armed
        os._exit(1)


def _become_worker(
    sock: socket.socket, env: dict[str, str], cwd: str, in_fd: int, out_fd: int, parent: int
) -> None:
    from ordercli.local import worker_main

    _die_with_parent(parent)
    sock.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = True
    worker_main.run(in_fd, out_fd)


def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    # -m put the launch directory first on sys.path; a handler's imports must not see it.
    if sys.path and sys.path[0] == os.getcwd():
        del sys.path[0]
    _preload()
    zygote_pid = os.getpid()
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except ConnectionError:
            return
        if not data:  # the emulator closed its end (or exited)
            return
        try:
            request = json.loads(data)
            if len(fds) != 2:
                raise ValueError("a request carries two pipe fds")
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # no reap before pidfd
            try:
                pid = os.fork()
                if pid == 0:
                    code = 0
                    try:
                        _become_worker(
                            sock, request["env"], request["cwd"], fds[0], fds[1], zygote_pid
                        )
                    except BaseException:
                        traceback.print_exc()
                        code = 1
                    finally:
                        os._exit(code)
                pidfd = os.pidfd_open(pid)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            try:
                socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
            finally:
                os.close(pidfd)
        except Exception as exc:
            sock.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            for f in fds:
                os.close(f)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
