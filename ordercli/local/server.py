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
from pathlib import Path
from typing import Any


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
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from ordercli.local import moto_hooks, quotas
    from ordercli.local.poller import Poller
    from ordercli.local.workers import WorkerPool

    # A failed execution is business as usual here (a declined payment); moto's interpreter
    # logs each at length, which would fill the log file under load.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    moto_hooks.check_core_hook_points()
    moto_hooks.enable_state_machine_execution()
    moto_hooks.speed_up_sqs()
    moto_hooks.speed_up_dispatch()
    pool = WorkerPool(home / "lambda-code", f"http://127.0.0.1:{port}")
    moto_hooks.install_lambda_executor(pool, moto_hooks.LogWriter())
    moto_hooks.warm_functions_ahead(pool)
    poller = Poller()
    moto_hooks.replace_sqs_dispatch(poller.wake)
    quotas.from_environment(os.environ)
    app = quotas.with_control(DomainDispatcherApplication(create_backend_app))
    return app, poller, pool


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ordercli-emulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    clean_environment(args.port)

    from ordercli.local.http_server import WSGIServer

    app, poller, pool = build_app(args.port, args.home)
    server = WSGIServer("127.0.0.1", args.port, app)
    poller.start()
    from ordercli.local import moto_hooks

    # Listening already: the interpreter's heavy import and hooks land while the first
    # requests (queues, roles, functions) are served.
    threading.Thread(
        target=moto_hooks.speed_up_stepfunctions, name="sfn-hooks", daemon=True
    ).start()
    # Many long-lived objects (messages, executions): collect the old generation less often.
    gc.set_threshold(50_000, 20, 100)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ordercli emulator listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.close_connections()  # before the workers go: see close_connections
        poller.stop()
        pool.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
