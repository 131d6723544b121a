"""Quiet points in the emulator's life: drain, save, and go on (a checkpoint) or stop.

A snapshot taken under load can fail (a dict changing size mid-pickle) or be inconsistent,
so saving first stops new deliveries, lets batches in flight and running executions finish
(bounded by a timeout), then holds new requests at the door while it pickles. The front
also serves ordercli's own control requests under /_ordercli/ (never held)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("ordercli.lifecycle")
CONTROL_PREFIX = "/_ordercli/"
COMPACT_BYTES = 64 * 1024 * 1024  # journal size that triggers a checkpoint
COMPACT_DRAIN = 5.0  # seconds a compaction waits for running executions
GONE = b'{"__type":"ServiceUnavailable","message":"The emulator is stopping."}'


@dataclass(frozen=True)
class DrainReport:
    drained: bool  # nothing was running when the state was saved
    unfinished: int  # executions saved as running: restarted from their input next start
    drain_seconds: float
    save_seconds: float
    bytes: int
    timeout: float


class Gate:
    """Counts requests in progress; when closed, new ones wait (or, once gone, get 503)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self._gone = False

    def enter(self) -> bool:
        with self._cond:
            while self._closed and not self._gone:
                self._cond.wait()
            if self._gone:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def close(self, timeout: float) -> bool:
        with self._cond:
            self._closed = True
            return self._cond.wait_for(lambda: self._active == 0, timeout=timeout)

    def open(self) -> None:
        with self._cond:
            self._closed = False
            self._cond.notify_all()

    def gone(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()


class Front:
    """The WSGI app the server runs: moto behind the gate, plus the control requests."""

    def __init__(self, app: Any, poller: Any, store: Any) -> None:
        self.app = app
        self.poller = poller
        self.store = store
        self.gate = Gate()
        from ordercli.local import moto_hooks

        self._sync = moto_hooks.sync_request_writes
        self.on_stop: Callable[[], None] = lambda: None
        self._save_lock = threading.Lock()
        self._stopping = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path[len(CONTROL_PREFIX) :], environ, start_response)
        if not self.gate.enter():
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [GONE]
        try:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
                self._sync()  # what it accepted is on disk first
        finally:
            self.gate.leave()

    def _control(self, action: str, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or action not in ("checkpoint", "stop"):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error":"unknown control request"}']
        try:
            timeout = float(_query(environ).get("timeout", "10"))
        except ValueError:
            timeout = 10.0
        try:
            report = self.stop(timeout) if action == "stop" else self.checkpoint(timeout)
        except Exception as exc:  # the journal still holds everything since the last snapshot
            log.exception("saving the emulator's state failed")
            if action == "stop":
                self.gate.gone()
                self.on_stop()
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [json.dumps({"error": f"saving failed ({exc.__class__.__name__})"}).encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(asdict(report)).encode()]

    def checkpoint(self, timeout: float) -> DrainReport:
        """Drain, save, and carry on."""
        return self._drain_and_save(timeout, stopping=False)

    def stop(self, timeout: float) -> DrainReport:
        """Drain, save, turn every later request away, and ask the server to stop."""
        report = self._drain_and_save(timeout, stopping=True)
        self.on_stop()
        return report

    def _drain_and_save(self, timeout: float, stopping: bool) -> DrainReport:
        from ordercli.local import moto_hooks

        with self._save_lock:
            if self._stopping:  # a second stop (SIGTERM after the request): already saved
                return DrainReport(True, 0, 0.0, 0.0, 0, timeout)
            t0 = time.monotonic()
            deadline = t0 + timeout
            self.poller.pause()
            try:
                idle = self.poller.wait_idle(deadline)
                while moto_hooks.running_executions() and time.monotonic() < deadline:
                    time.sleep(0.02)
                drained = idle and not moto_hooks.running_executions()
                quiet = self.gate.close(max(1.0, deadline - time.monotonic()))
                drain_seconds = time.monotonic() - t0
                if not quiet and not stopping:
                    # a request is still inside moto: a snapshot now could miss what it is
                    # writing to the journal it would replace; the next checkpoint will do
                    self.gate.open()
                    log.warning("checkpoint skipped: a request did not finish in time")
                    return DrainReport(False, 0, drain_seconds, 0.0, 0, timeout)
                try:
                    saved = self.store.save()
                finally:
                    if stopping:
                        self._stopping = True
                        self.gate.gone()
                    else:
                        self.gate.open()
            finally:
                if not stopping:
                    self.poller.resume()
            log.info(
                "saved %d bytes in %.2f s after draining %.2f s (%d running)",
                saved.bytes,
                saved.seconds,
                drain_seconds,
                saved.running,
            )
            return DrainReport(
                drained, saved.running, drain_seconds, saved.seconds, saved.bytes, timeout
            )

    def compact_when_large(self, stop: threading.Event) -> None:
        """Checkpoint whenever the journal outgrows COMPACT_BYTES (runs in its own thread)."""
        while not stop.wait(1.0):
            if self._stopping:
                return
            if self.store.journal_size() > COMPACT_BYTES:
                try:
                    self.checkpoint(COMPACT_DRAIN)
                except Exception:
                    log.exception("compacting the journal failed; it keeps growing")


def _query(environ: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(environ.get("QUERY_STRING", "")))
