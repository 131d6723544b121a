"""Warm Lambda workers: one long-lived process per concurrent invocation of a function
version, reused across invocations, replaced when the code or configuration changes.

Local code can never touch a real account: each worker's environment is built from scratch
(dummy credentials, the emulator's endpoint, no shared AWS config or credentials files)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ordercli.local.worker_main import FRAME, write_message
from ordercli.local.zygote import ForkedProcess, Zygote, ZygoteGone

MAX_WORKERS_PER_FUNCTION = 8
INIT_TIMEOUT = 10.0  # seconds, as Lambda limits a function's init phase
BASE_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
# A function's own variables that could send its SDK calls somewhere other than the
# emulator (AWS_ENDPOINT_URL_<SERVICE>, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, profiles,
# container or web-identity credentials, FIPS/dual-stack endpoints) or through a proxy.
# Lambda reserves the AWS_ prefix for itself; here every such variable is dropped.
ROUTING_PREFIXES = ("AWS_", "BOTO_", "BOTOCORE_")
ROUTING_NAMES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})
ACQUIRE_GRACE = 30.0  # seconds past a function's timeout with no slot freed: it is wedged


@dataclass(frozen=True)
class FunctionVersion:
    """What a worker is built from; a change to any field means a new worker."""

    arn: str
    name: str
    handler: str
    code_sha256: str
    timeout: int
    memory: int
    region: str
    environment: tuple[tuple[str, str], ...]


class WorkerGone(Exception):
    """The worker had exited before the request reached it: nothing ran."""


class PoolBusy(Exception):
    """No slot of the function freed up within the wait's deadline: nothing ran."""


class Throttled(Exception):
    """Past the emulated account's concurrency quota: nothing ran."""


class TaskDeadline(TimeoutError):
    """The caller's own deadline (a Task state's TimeoutSeconds) passed before the answer.
    An invocation already running runs on, as it does on AWS, and its worker comes back to
    the pool when it ends. A TimeoutError: the Step Functions interpreter reads it as
    States.Timeout, as when its own wait for a Task's thread runs out."""


class _GaveUp(Exception):
    def __init__(self, deadline: float) -> None:
        super().__init__(deadline)
        self.deadline = deadline  # the function's own: the invocation may run until then


def routes_sdk_calls(key: str) -> bool:
    """Whether a variable could steer an SDK call away from the emulator."""
    upper = key.upper()
    return upper.startswith(ROUTING_PREFIXES) or upper in ROUTING_NAMES


def wait_readable(fd: int, timeout: float) -> bool:
    """Whether `fd` has data (or EOF) within `timeout` seconds; any fd number, unlike select."""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        return bool(sel.select(max(0.0, timeout)))


@dataclass
class Outcome:
    payload: str
    errored: bool
    logs: list[str]
    stream: str


def worker_environment(
    fv: FunctionVersion, code_dir: Path, endpoint: str, parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of a worker: nothing of the user's AWS settings is inherited."""
    source = os.environ if parent is None else parent
    env = {k: source[k] for k in BASE_ENV_KEYS if k in source}
    env.update((k, v) for k, v in fv.environment if not routes_sdk_calls(k))
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": fv.region,
            "AWS_DEFAULT_REGION": fv.region,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": fv.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fv.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fv.name}",
            "ORDERCLI_FUNCTION_ARN": fv.arn,
            "ORDERCLI_CODE_DIR": str(code_dir),
            "_HANDLER": fv.handler,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def zygote_environment(parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The zygote's own environment: the base keys and dummy credentials, nothing else (a
    worker's is replaced whole after the fork; this only keeps the zygote's imports blind
    to the user's AWS settings)."""
    source = os.environ if parent is None else parent
    env = {k: source[k] for k in BASE_ENV_KEYS if k in source}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Worker:
    def __init__(
        self, fv: FunctionVersion, code_dir: Path, endpoint: str, zygote: Zygote | None = None
    ) -> None:
        self.fv = fv
        self.stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = worker_environment(fv, code_dir, endpoint)
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.stream
        self.proc: subprocess.Popen[bytes] | ForkedProcess
        try:
            if zygote is None:
                raise ZygoteGone("no zygote")
            self.proc = zygote.spawn(env, code_dir, to_child_r, from_child_w)
        except ZygoteGone:  # a new interpreter: slower to start, same worker
            self.proc = self._popen(env, code_dir, to_child_r, from_child_w)
        os.close(to_child_r)
        os.close(from_child_w)
        self.dead = False  # closed: its fds are gone, and their numbers may be reused
        self._pending = b""  # bytes read past the last message
        self._wait_ready()

    @staticmethod
    def _popen(
        env: dict[str, str], code_dir: Path, to_child_r: int, from_child_w: int
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ordercli.local.worker_main",
                str(to_child_r),
                str(from_child_w),
            ],
            env=env,
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            close_fds=True,
            cwd=str(code_dir),
        )

    def _wait_ready(self) -> None:
        """Until the handler is imported (Lambda's init phase, limited to INIT_TIMEOUT), so
        a cold start counts as one until the worker can serve. A worker that never says so
        is found out by its first invocation."""
        if wait_readable(self._from_child, INIT_TIMEOUT) and self._read_reply() is None:
            self.close(kill=True)

    def invoke(
        self, event: str, request_id: str, give_up_at: float | None = None
    ) -> Outcome | None:
        """One invocation; None if the worker had to be killed (timeout) or died during it.
        Raises WorkerGone if it was dead before the request reached it, and _GaveUp if
        `give_up_at` (epoch seconds) came before the answer and before the function's own
        timeout: the invocation runs on, and `finish` waits for it."""
        if self.dead:
            raise WorkerGone
        deadline = time.time() + self.fv.timeout
        try:
            write_message(
                self._to_child,
                {"id": request_id, "deadline_ms": int(deadline * 1000)},
                event.encode(),
            )
        except OSError:
            self.close(kill=True)
            raise WorkerGone from None
        return self.finish(deadline, give_up_at)

    def finish(self, deadline: float, give_up_at: float | None = None) -> Outcome | None:
        """The answer of the invocation under way, waited for until `deadline`."""
        stop = deadline if give_up_at is None else min(deadline, give_up_at)
        reply: tuple[dict[str, Any], bytes] | None = ({"ready": True}, b"")
        while reply is not None and "ready" in reply[0]:  # a late ready from a slow init
            remaining = stop - time.time()
            # the answer may have come in the same read as a late ready: it is buffered
            ready = self._frame_buffered() or wait_readable(self._from_child, remaining)
            if not ready and stop < deadline:
                raise _GaveUp(deadline)
            reply = self._read_reply() if ready else None
        if reply is None:
            self.close(kill=True)
            return None
        header, payload = reply
        return Outcome(payload.decode(), not header["ok"], header["logs"], self.stream)

    def _frame_buffered(self) -> bool:
        data = self._pending
        return len(data) >= FRAME.size and len(data) >= FRAME.size + sum(FRAME.unpack_from(data))

    def _read_reply(self) -> tuple[dict[str, Any], bytes] | None:
        """The next frame (header, body), usually in a single read (each read is a point
        where, under load, the server's thread waits for the interpreter lock again); bytes
        past it are kept for the next call. None if the worker closed its end."""
        data = self._pending
        while len(data) < FRAME.size or len(data) < FRAME.size + sum(FRAME.unpack_from(data)):
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                return None
            data += chunk
        head_size, body_size = FRAME.unpack_from(data)
        end = FRAME.size + head_size + body_size
        self._pending = data[end:]
        header: dict[str, Any] = json.loads(data[FRAME.size : FRAME.size + head_size])
        return header, data[FRAME.size + head_size : end]

    def close(self, kill: bool = False) -> None:
        """Idempotent: a pipe's fd number is reused by the next pipe made, so it must be
        closed once only."""
        if self.dead:
            return
        self.dead = True
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if kill:
            self.proc.kill()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


Handoff = queue.SimpleQueue["Worker | None"]  # a released worker, or None: a free slot


class WorkerPool:
    """Idle workers per function version, at most MAX_WORKERS_PER_FUNCTION per function."""

    def __init__(
        self,
        code_root: Path,
        endpoint: str,
        cap: int = MAX_WORKERS_PER_FUNCTION,
        use_zygote: bool = True,
    ) -> None:
        self.code_root = code_root
        self._zygote: Zygote | None = None
        self._zygote_lock = threading.Lock()
        self._use_zygote = use_zygote
        self.zygote()  # its imports run now, beside the emulator's start, not at first use
        self.endpoint = endpoint
        self.cap = cap
        self._idle: dict[FunctionVersion, list[Worker]] = {}
        self._busy: dict[str, int] = {}
        self._current: dict[str, FunctionVersion] = {}
        self._lock = threading.Lock()
        self._waiting: dict[str, deque[tuple[FunctionVersion, Handoff]]] = {}
        self._progress: dict[str, float] = {}  # when a slot of the function last came free

    def code_dir(self, sha_hex: str, zip_bytes: bytes) -> Path:
        """The zip extracted once per content hash (content-addressed, so reuse is safe)."""
        target = self.code_root / sha_hex
        if not target.is_dir():
            tmp = self.code_root / f".{sha_hex}.{uuid.uuid4().hex}"
            tmp.mkdir(parents=True)
            import io

            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
                zf.extractall(tmp)
            try:
                tmp.rename(target)
            except OSError:  # another thread won the race: same content
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _acquire(
        self, fv: FunctionVersion, zip_bytes: bytes, give_up_at: float | None = None
    ) -> Worker:
        """An idle warm worker; else a new one while under the cap; else the next one
        released (handed over directly, oldest waiter first), waiting no longer than the
        function's timeout plus ACQUIRE_GRACE without any slot coming free (then PoolBusy:
        a slot that never frees, say a worker wedged past every deadline, must not hang
        every later call)."""
        window = fv.timeout + ACQUIRE_GRACE
        retired: list[Worker] = []
        handoff: Handoff | None = None
        with self._lock:
            old = self._current.get(fv.arn)
            if old is not None and old != fv:  # code or configuration changed: retire
                retired = self._idle.pop(old, [])
            self._current[fv.arn] = fv
            idle = self._idle.get(fv)
            if idle:
                self._busy[fv.arn] = self._busy.get(fv.arn, 0) + 1
                return idle.pop()
            if self._busy.get(fv.arn, 0) < self.cap:
                self._busy[fv.arn] = self._busy.get(fv.arn, 0) + 1
            else:
                handoff = queue.SimpleQueue()
                self._waiting.setdefault(fv.arn, deque()).append((fv, handoff))
        for w in retired:
            w.close()
        if handoff is not None:
            handed = self._wait_for_handoff(fv, handoff, window, give_up_at)
            if handed is not None:
                return handed
        try:
            return self._start(fv, zip_bytes)
        except BaseException:
            self._free_slot(fv)
            raise

    def _start(self, fv: FunctionVersion, zip_bytes: bytes) -> Worker:
        sha_hex = hashlib.sha256(zip_bytes).hexdigest()
        code_dir = self.code_dir(sha_hex, zip_bytes)
        zygote = self.zygote()
        try:
            return Worker(fv, code_dir, self.endpoint, zygote)
        finally:
            if zygote is not None and zygote.proc.poll() is not None:
                self._drop_zygote(zygote)  # it exited: the next start makes a new one

    def zygote(self) -> Zygote | None:
        """The pool's zygote (started again if it exited)."""
        if not self._use_zygote:
            return None
        with self._zygote_lock:
            if self._zygote is None:
                self._zygote = Zygote(zygote_environment(), self.code_root)
            return self._zygote

    def _drop_zygote(self, zygote: Zygote) -> None:
        with self._zygote_lock:
            if self._zygote is zygote:
                self._zygote = None
        zygote.close()

    def _wait_for_handoff(
        self,
        fv: FunctionVersion,
        handoff: Handoff,
        window: float,
        give_up_at: float | None = None,
    ) -> Worker | None:
        """A worker of this version, or None (a free slot: start one). PoolBusy once no
        slot of the function has come free for `window` seconds (longer than any of its
        invocations may run: something is wedged); a long line that moves is waited out, as
        on AWS the function would simply scale. TaskDeadline once `give_up_at` passes.
        Hand-overs happen under the lock, so once this waiter is off the line under the
        lock, whatever was handed is in its queue."""
        while True:
            wait = window
            if give_up_at is not None:
                wait = max(0.0, min(window, give_up_at - time.time()))
            try:
                return handoff.get(timeout=wait)
            except queue.Empty:
                pass
            late = give_up_at is not None and time.time() >= give_up_at
            with self._lock:
                if not late and time.monotonic() - self._progress.get(fv.arn, 0.0) < window:
                    continue  # the line moved meanwhile: keep waiting
                waiters = self._waiting.get(fv.arn, deque())
                for i, (_, h) in enumerate(waiters):
                    if h is handoff:
                        del waiters[i]
                        if late:
                            raise TaskDeadline(fv.name)
                        raise PoolBusy(f"{fv.name}: no worker came free for {window:.0f} s")
            return handoff.get_nowait()

    def _free_slot(self, fv: FunctionVersion) -> None:
        """A busy slot ends without a worker to keep: it passes to the oldest waiter."""
        with self._lock:
            self._progress[fv.arn] = time.monotonic()
            waiters = self._waiting.get(fv.arn)
            if waiters:
                waiters.popleft()[1].put(None)
            else:
                self._busy[fv.arn] -= 1

    def _release(self, fv: FunctionVersion, worker: Worker) -> None:
        """Give the worker, if still good, to the oldest waiter, else keep it idle. Handing
        over directly keeps a released worker from sitting idle while waiters wake and
        contend for a lock, which under load took longer than the invocations."""
        closing: Worker | None = None
        with self._lock:
            self._progress[fv.arn] = time.monotonic()
            keep = not worker.dead and self._current.get(fv.arn) == fv
            waiters = self._waiting.get(fv.arn)
            if waiters and keep and waiters[0][0] == fv:
                waiters.popleft()[1].put(worker)
                return
            if waiters:
                waiters.popleft()[1].put(None)  # the slot passes on: the waiter starts one
            else:
                self._busy[fv.arn] -= 1
            if keep:
                self._idle.setdefault(fv, []).append(worker)
            else:
                closing = worker
        if closing is not None:
            closing.close()

    def prewarm(self, fv: FunctionVersion, zip_bytes: bytes) -> bool:
        """Have one ready worker of this version before anyone asks (as provisioned
        concurrency does): called when a function is created or its code or configuration
        changes, so the old version's idle workers go now and the first invocation of the
        new one finds a worker. False if one was already idle or the function is at its cap."""
        retired: list[Worker] = []
        with self._lock:
            old = self._current.get(fv.arn)
            if old is not None and old != fv:
                retired = self._idle.pop(old, [])
            self._current[fv.arn] = fv
            if self._idle.get(fv) or self._busy.get(fv.arn, 0) >= self.cap:
                started = False
            else:
                self._busy[fv.arn] = self._busy.get(fv.arn, 0) + 1
                started = True
        for w in retired:
            w.close()
        if not started:
            return False
        try:
            worker = self._start(fv, zip_bytes)
        except BaseException:
            self._free_slot(fv)
            raise
        self._release(fv, worker)
        return True

    def invoke(
        self,
        fv: FunctionVersion,
        zip_bytes: bytes,
        event: str,
        wait_for_quota: bool = False,
        give_up_at: float | None = None,
    ) -> Outcome:
        """Run one invocation. Lambda's concurrency quota (ordercli.local.quotas) counts
        only invocations running in a worker: a wait for one of this pool's workers is the
        emulator's own limit, which AWS would not have. Past the quota: Throttled, or with
        `wait_for_quota` a wait for a free slot (as a queue's poller does). With
        `give_up_at` (epoch seconds; a Task state's deadline), TaskDeadline once it passes,
        whether waiting for a worker or for the answer."""
        from ordercli.local.quotas import LIMITS

        request_id = str(uuid.uuid4())
        for _ in range(3):
            worker = self._acquire(fv, zip_bytes, give_up_at)
            if give_up_at is not None and time.time() >= give_up_at:  # a cold start ran late
                self._release(fv, worker)
                raise TaskDeadline(fv.name)
            started = time.time()
            admitted = False
            running_on = False
            try:
                admitted = LIMITS.enter_lambda(wait=wait_for_quota)
                if not admitted:
                    raise Throttled(fv.name)
                outcome = worker.invoke(event, request_id, give_up_at)
            except WorkerGone:  # it died while idle: nothing was run, so use another
                continue
            except Throttled:
                raise
            except _GaveUp as gave_up:  # the invocation runs on; its slot frees when it ends
                running_on = True
                threading.Thread(
                    target=self._finish_late,
                    args=(fv, worker, gave_up.deadline, admitted),
                    name=f"finish-{fv.name}",
                    daemon=True,
                ).start()
                raise TaskDeadline(fv.name) from None
            except BaseException:  # a garbled reply or an interrupt: never reuse it
                worker.close(kill=True)
                raise
            finally:  # on every outcome, or the slot is lost for good
                if not running_on:
                    if admitted:
                        LIMITS.exit_lambda()
                    self._release(fv, worker)
            break
        else:
            outcome, started = None, time.time()
        if outcome is not None:
            return outcome
        if time.time() - started >= fv.timeout - 0.05:
            message = f"Task timed out after {fv.timeout:.2f} seconds"
            error_type = "Sandbox.Timedout"
        else:
            message = "Runtime exited without providing a reason"
            error_type = "Runtime.ExitError"
        payload = json.dumps(
            {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
        )
        logs = [
            f"START RequestId: {request_id} Version: $LATEST",
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} {message}",
            f"END RequestId: {request_id}",
        ]
        return Outcome(payload, True, logs, worker.stream)

    def _finish_late(
        self, fv: FunctionVersion, worker: Worker, deadline: float, admitted: bool
    ) -> None:
        """An invocation its caller stopped waiting for: wait for its end (at most until
        the function's timeout, when it is killed as any other), then free its slot."""
        from ordercli.local.quotas import LIMITS

        try:
            worker.finish(deadline)
        except BaseException:
            worker.close(kill=True)
        finally:
            if admitted:
                LIMITS.exit_lambda()
            self._release(fv, worker)

    def shutdown(self) -> None:
        with self._lock:
            for workers in self._idle.values():
                for w in workers:
                    w.close()
            self._idle.clear()
        with self._zygote_lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
