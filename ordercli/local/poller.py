"""Queue polling as Lambda's service does it: sends return at once; batches up to the
mapping's size; failed batch items come back after their visibility timeout and move to the
DLQ after maxReceiveCount receives; a disabled or deleted mapping stops."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ordercli.local import moto_hooks

log = logging.getLogger("ordercli.poller")
IDLE_WAIT = 0.5  # seconds; a send wakes the poller at once, this only bounds retries' latency
MAX_BATCHES_IN_FLIGHT = 8  # per mapping, like Lambda scaling out its pollers
MAX_RUNNING_EXECUTIONS = 300  # beyond this, deliveries wait for executions to finish
PRUNE_EVERY = 5.0  # seconds between sweeps of the interpreter's finished threads


def failed_ids(payload: str, errored: bool, records: list[dict[str, Any]]) -> set[str]:
    """Which records to leave on the queue, from the function's answer."""
    every = {r["messageId"] for r in records}
    if errored:
        return every
    if not payload.strip():
        return set()  # an empty response is a complete success
    try:
        answer = json.loads(payload)
    except ValueError:
        return every  # invalid JSON fails the whole batch, as Lambda does
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return set()
    failures = answer["batchItemFailures"]
    ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
    if not ids <= every or None in ids:
        return every  # a malformed report fails the whole batch, as Lambda does
    return {i for i in ids if i is not None}


class Poller:
    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._idle = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="esm")
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counted_at = 0.0  # when running executions were last counted exactly
        self._thread = threading.Thread(target=self._run, name="esm-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def pause(self) -> None:
        """Start no new batches (those in flight go on); see wait_idle."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def wait_idle(self, deadline: float) -> bool:
        """Wait until no batch is in flight or the monotonic deadline passes; whether idle."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not any(self._in_flight.values()),
                timeout=max(0.0, deadline - time.monotonic()),
            )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        last_prune = time.monotonic()
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait(IDLE_WAIT)
                continue
            self._wake.clear()
            if time.monotonic() - last_prune > PRUNE_EVERY:
                moto_hooks.prune_finished_threads()
                moto_hooks.trim_sns_history()
                last_prune = time.monotonic()
            try:
                busy = self.poll_once()
            except Exception:  # keep polling whatever one round hit
                log.exception("poll round failed")
                busy = False
            if not busy:
                self._wake.wait(IDLE_WAIT)

    def _too_many_running(self) -> bool:
        """Whether enough executions run already: the queue then holds the rest. The
        interpreter keeps threads for every running execution, so a burst of 5,000 orders
        started at once grew the emulator to 18,000 threads and all but stalled it; on AWS
        the executions would simply run, here they wait in the queue, the durable buffer."""
        from ordercli.local import metrics

        if metrics.running_estimate() < MAX_RUNNING_EXECUTIONS:
            return False
        now = time.monotonic()
        if now - self._counted_at >= 0.1:  # a count walks every execution: not on every send
            self._counted_at = now
            metrics.correct_running(len(moto_hooks.running_executions()))
        return metrics.running_estimate() >= MAX_RUNNING_EXECUTIONS

    def poll_once(self) -> bool:
        """Start batches for every mapping with room; True if any batch started."""
        started = False
        if self._too_many_running():
            return False
        for esm, fn, queue in moto_hooks.sqs_event_source_mappings():
            cap = min(MAX_BATCHES_IN_FLIGHT, moto_hooks.mapping_max_concurrency(esm) or 1 << 30)
            while self._running.is_set():
                with self._lock:
                    if self._in_flight.get(esm.uuid, 0) >= cap:
                        break
                messages = moto_hooks.receive(queue, int(esm.batch_size or 10))
                if not messages:
                    break
                with self._lock:
                    self._in_flight[esm.uuid] = self._in_flight.get(esm.uuid, 0) + 1
                self._pool.submit(self._deliver, esm, fn, queue, messages)
                started = True
        return started

    def _deliver(self, esm: Any, fn: Any, queue: Any, messages: list[Any]) -> None:
        try:
            records = [moto_hooks.sqs_record(m, queue) for m in messages]
            payload, errored, _ = moto_hooks.invoke_from_mapping(fn, {"Records": records})
            reports = "ReportBatchItemFailures" in (esm.function_response_types or [])
            failed = failed_ids(payload, errored, records) if (reports or errored) else set()
            for m in messages:
                if m.id not in failed:
                    moto_hooks.delete(queue, m)
        except Exception:
            log.exception("delivering a batch failed; its messages return after their timeout")
        finally:
            with self._lock:
                self._in_flight[esm.uuid] -= 1
            with self._idle:
                self._idle.notify_all()
            self._wake.set()
