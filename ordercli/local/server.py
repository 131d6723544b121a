"""The emulator process: moto's server with ordercli's hooks installed, on 127.0.0.1.

Run by `ordercli local start` as `python -m ordercli.local.server --port P --home DIR`."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

SIGNAL_DRAIN = 10.0  # seconds a SIGTERM lets executions finish before saving
# "1": moto's own interpreter and request handling, unsped (Lambda still runs in the workers,
# as moto's would in Docker): the baseline tests/test_interpreter_parity.py compares with.
STOCK_MOTO_ENV = "ORDERCLI_EMULATOR_STOCK_MOTO"


def clean_environment(port: int) -> None:
    """The emulator's own boto3 calls (the Step Functions interpreter's) must reach this
    server and nothing else, whatever the user's environment says."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        {
            "MOTO_PORT": str(port),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    os.environ.pop("MOTO_HOST", None)


def build_app(port: int, home: Path) -> tuple[Any, Any, Any]:
    """The WSGI app with hooks installed, plus the poller and worker pool it drives."""
    from ordercli.local import moto_hooks

    moto_hooks.defer_batch_package()  # before moto's Step Functions is imported
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from ordercli.local import closings, fast_lane, quotas
    from ordercli.local.poller import Poller
    from ordercli.local.workers import WorkerPool

    # A failed execution is business as usual here (a declined payment); moto's interpreter
    # logs each at length, which would fill the log file under load.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    moto_hooks.check_core_hook_points()
    moto_hooks.check_durability_hook_points()
    moto_hooks.enable_state_machine_execution()
    moto_hooks.speed_up_sqs()
    moto_hooks.thread_safe_iam_reads()
    stock = os.environ.get(STOCK_MOTO_ENV) == "1"
    if not stock:
        moto_hooks.speed_up_dispatch()
        moto_hooks.check_fast_lane_hook_points()
        moto_hooks.fast_backend_lookups()
    pool = WorkerPool(home / "lambda-code", f"http://127.0.0.1:{port}")
    moto_hooks.install_lambda_executor(pool, moto_hooks.LogWriter())
    moto_hooks.warm_functions_ahead(pool)
    from ordercli.local import metrics  # CloudWatch metrics and alarms, as AWS publishes them

    metrics.install()
    poller = Poller()
    moto_hooks.replace_sqs_dispatch(poller.wake)
    # Every patch lands before the first request, and before a snapshot is loaded (the
    # interpreter's import costs about a second of the start).
    if not stock:
        moto_hooks.speed_up_stepfunctions()
    moto_hooks.install_journal_hooks()  # last: it wraps the hooks above
    moto_hooks.report_closed_executions(closings.record)
    quotas.from_environment(os.environ)
    if stock:
        return quotas.with_control(DomainDispatcherApplication(create_backend_app)), poller, pool
    app = quotas.with_control(fast_lane.wrap(DomainDispatcherApplication(moto_hooks.backend_app)))
    return app, poller, pool


WORKERS_GRACE = 1.0  # seconds the Lambda workers get to exit on their own at stop


def kill_children() -> None:
    """SIGKILL every process this one started that is still running (Lambda workers)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if ppid == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ordercli-emulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    began = time.monotonic()
    clean_environment(args.port)

    from ordercli.local import closings, moto_hooks
    from ordercli.local.http_server import WSGIServer
    from ordercli.local.lifecycle import Front
    from ordercli.local.store import Store, state_dir

    app, poller, pool = build_app(args.port, args.home)
    built = time.monotonic()
    store = Store(state_dir(args.home, args.port))
    report = store.restore()  # before listening: no request sees a half-loaded state
    if report.reason:
        print(f"saved state set aside ({report.reason}): {report.set_aside}", flush=True)
    elif report.restored:
        print(
            f"restored {report.messages} messages and {report.executions} executions "
            f"in {report.seconds:.2f} s ({report.restarted} to restart)",
            flush=True,
        )
    store.open_journal()
    front = Front(app, poller, store)
    server = WSGIServer("127.0.0.1", args.port, closings.wrap(front))
    front.on_stop = lambda: threading.Thread(target=server.shutdown, daemon=True).start()
    poller.start()
    moto_hooks.restart_executions()  # their Lambdas call back: only once listening
    done = threading.Event()
    threading.Thread(
        target=front.compact_when_large, args=(done,), name="compactor", daemon=True
    ).start()
    # Many long-lived objects (messages, executions): collect the old generation less often.
    gc.set_threshold(50_000, 20, 100)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=front.stop, args=(SIGNAL_DRAIN,), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"ordercli emulator listening on http://127.0.0.1:{args.port} "
        f"({time.monotonic() - began:.2f} s after its start: {built - began:.2f} s imports "
        f"and hooks, {report.seconds:.2f} s restore)",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        done.set()
        server.close_connections()  # before the workers go: see close_connections
        poller.stop()
        closing = threading.Thread(target=pool.shutdown, daemon=True)
        closing.start()
        closing.join(WORKERS_GRACE)
        store.close()
        kill_children()  # workers still exiting after the grace: their state is not needed
    # Everything is saved and the journal closed: skip joining the delivery threads and
    # freeing a large state object by object (seconds, under load).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
