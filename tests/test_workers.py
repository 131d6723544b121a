"""The warm worker pool: reuse, the per-function cap with waiters served in turn, a worker
that died while idle replaced without failing the invocation, retirement on a code change."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ordercli.local.workers import FunctionVersion, WorkerPool, worker_environment

HANDLER = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "version": VERSION}
"""


def code_zip(version: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", f"VERSION = {version}\n" + HANDLER)
    return buf.getvalue()


def version_of(zip_bytes: bytes, timeout: int = 10) -> FunctionVersion:
    return FunctionVersion(
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "f",
        "h.handler",
        hashlib.sha256(zip_bytes).hexdigest(),
        timeout,
        128,
        "us-east-1",
        (),
    )


@pytest.fixture
def pool(tmp_path: Path):  # type: ignore[no-untyped-def]
    p = WorkerPool(tmp_path / "code", "http://127.0.0.1:9", cap=2)
    yield p
    p.shutdown()


def call(pool: WorkerPool, code: bytes, **event: float) -> dict[str, int]:
    outcome = pool.invoke(version_of(code), code, json.dumps(event))
    assert not outcome.errored, outcome.payload
    result: dict[str, int] = json.loads(outcome.payload)
    return result


def test_a_warm_worker_serves_the_next_invocation(pool: WorkerPool) -> None:
    code = code_zip(1)
    assert call(pool, code)["pid"] == call(pool, code)["pid"]


def test_concurrent_invocations_share_at_most_cap_workers_and_all_complete(
    pool: WorkerPool,
) -> None:
    code = code_zip(1)
    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(lambda _: call(pool, code, sleep=0.1), range(8)))
    assert len(results) == 8
    assert len({r["pid"] for r in results}) == 2


def test_a_worker_that_died_while_idle_is_replaced_without_an_error(pool: WorkerPool) -> None:
    code = code_zip(1)
    pid = call(pool, code)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the process is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    again = call(pool, code)
    assert again["pid"] != pid


def test_new_code_gets_new_workers(pool: WorkerPool) -> None:
    first = call(pool, code_zip(1))
    second = call(pool, code_zip(2))
    assert second["version"] == 2 and second["pid"] != first["pid"]


def test_a_timed_out_invocation_frees_its_slot_for_the_next(pool: WorkerPool) -> None:
    code = code_zip(1)
    fv = version_of(code, timeout=1)
    outcomes = [pool.invoke(fv, code, json.dumps({"sleep": 3})) for _ in range(3)]
    assert all(
        o.errored and json.loads(o.payload)["errorType"] == "Sandbox.Timedout" for o in outcomes
    )
    assert not pool.invoke(fv, code, "{}").errored


def test_a_burst_starts_its_cold_workers_side_by_side(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from ordercli.local import workers

    starting, most = [0], [0]
    lock = threading.Lock()

    class CountedWorker(workers.Worker):
        def __init__(self, *args: object) -> None:
            with lock:
                starting[0] += 1
                most[0] = max(most[0], starting[0])
            time.sleep(0.2)  # widen the window in which starts could overlap
            super().__init__(*args)  # type: ignore[arg-type]
            with lock:
                starting[0] -= 1

    monkeypatch.setattr(workers, "Worker", CountedWorker)
    code = code_zip(1)
    with ThreadPoolExecutor(max_workers=6) as ex:
        results = list(ex.map(lambda _: call(pool, code, sleep=0.3), range(6)))
    assert len(results) == 6
    assert most[0] == 2  # not one at a time, and never past the cap
    assert len({r["pid"] for r in results}) == 2


def test_a_worker_slower_to_init_than_the_init_wait_still_answers(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ordercli.local import workers

    monkeypatch.setattr(workers, "INIT_TIMEOUT", 0.05)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "import time\ntime.sleep(0.5)\nVERSION = 3\n" + HANDLER)
    assert call(pool, buf.getvalue())["version"] == 3


def test_any_failed_invocation_gives_its_slot_back(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ordercli.local import workers

    code = code_zip(1)
    real = workers.Worker.invoke

    def garbled(self: workers.Worker, event: str, request_id: str) -> workers.Outcome | None:
        raise ValueError("garbled reply")

    monkeypatch.setattr(workers.Worker, "invoke", garbled)
    for _ in range(pool.cap + 1):
        with pytest.raises(ValueError):
            pool.invoke(version_of(code), code, "{}")
    monkeypatch.setattr(workers.Worker, "invoke", real)
    assert call(pool, code)["version"] == 1


def test_a_call_waiting_for_a_busy_function_gives_up_at_its_deadline(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ordercli.local import workers

    monkeypatch.setattr(workers, "ACQUIRE_GRACE", 0.1)
    code = code_zip(1)
    fv = version_of(code, timeout=0)
    held = [pool._acquire(fv, code) for _ in range(pool.cap)]
    with pytest.raises(workers.PoolBusy):
        pool.invoke(fv, code, "{}")
    for w in held:
        pool._release(fv, w)
    assert not pool._waiting[fv.arn]  # the one that gave up left the line
    assert call(pool, code)["version"] == 1


def test_a_prewarmed_worker_serves_the_first_call_and_a_change_replaces_it(
    pool: WorkerPool,
) -> None:
    v1, v2 = code_zip(1), code_zip(2)
    assert pool.prewarm(version_of(v1), v1)
    (ready,) = pool._idle[version_of(v1)]
    assert not pool.prewarm(version_of(v1), v1)  # one is enough
    assert call(pool, v1)["pid"] == ready.proc.pid
    assert pool.prewarm(version_of(v2), v2)  # new code: the old worker goes, a new one waits
    assert ready.dead and not pool._idle.get(version_of(v1))
    (fresh,) = pool._idle[version_of(v2)]
    assert call(pool, v2) == {"pid": fresh.proc.pid, "version": 2}


def test_workers_fork_from_the_zygote_with_their_own_environment(pool: WorkerPool) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "h.py",
            "import os, sys\n"
            "def handler(e, c):\n"
            "    return [dict(os.environ), 'boto3' in sys.modules, os.getppid()]\n",
        )
    code = buf.getvalue()
    fv = version_of(code)
    outcome = pool.invoke(fv, code, "{}")
    env, preloaded, parent = json.loads(outcome.payload)
    zygote = pool.zygote()
    assert zygote is not None and parent == zygote.proc.pid
    assert preloaded  # boto3 came with the fork, not from the handler
    code_dir = pool.code_dir(fv.code_sha256, code)
    expected = worker_environment(fv, code_dir, pool.endpoint)
    assert env.pop("AWS_LAMBDA_LOG_STREAM_NAME") == outcome.stream
    assert env == expected  # exactly the environment built for the version, nothing else


def test_a_dead_zygote_costs_a_slow_start_once_and_is_replaced(pool: WorkerPool) -> None:
    code = code_zip(1)
    zygote = pool.zygote()
    assert zygote is not None
    zygote.proc.kill()
    zygote.proc.wait()
    assert call(pool, code)["version"] == 1  # started as a new interpreter instead
    replacement = pool.zygote()
    assert replacement is not None and replacement is not zygote
    assert replacement.proc.poll() is None


def test_workers_die_with_the_zygote(pool: WorkerPool) -> None:
    code = code_zip(1)
    pid = call(pool, code)["pid"]
    zygote = pool.zygote()
    assert zygote is not None
    zygote.proc.kill()  # as the emulator's kill of its direct children after a crash
    zygote.proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        raise AssertionError(f"worker {pid} outlived its zygote")


def test_every_session_after_the_zygote_preload_shares_its_parsed_models_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import botocore.session

    from ordercli.local import zygote

    monkeypatch.setattr(botocore.session, "create_loader", botocore.session.create_loader)
    zygote._preload()
    first, second = botocore.session.Session(), botocore.session.Session()
    shared = first.get_component("data_loader")
    assert second.get_component("data_loader") is shared
    # the models are already parsed: a client's model comes from the loader's cache
    assert any("dynamodb" in str(key) for key in shared._cache)
    # credentials and region still come from each session's own environment
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "worker-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    third = botocore.session.Session()
    assert third.get_credentials().access_key == "worker-key"
    assert third.create_client("sns").meta.region_name == "eu-west-1"
    # a function with models of its own (AWS_DATA_PATH) gets a loader of its own
    monkeypatch.setenv("AWS_DATA_PATH", "/nonexistent-models")
    assert botocore.session.Session().get_component("data_loader") is not shared
