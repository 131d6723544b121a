"""The only module that touches moto's internals. Tested against moto >=5.2.5,<5.3
(`check_hook_points` fails loudly, at server start and in the tests, if one moves).

What it changes, and why (facts measured on moto 5.2.5):
- Lambda code runs through `LambdaFunction._invoke_lambda(event) -> (payload, errored, logs)`
  for every path (Invoke API, queue mappings, the workflow's Task states); moto's own runs
  Docker. We run the uploaded zip in warm worker processes instead.
- SQS dispatches event source mappings inside `Queue.add_message` (the sender waits for the
  Lambda, one record per invocation, batchItemFailures ignored, no polling). We turn that
  off and let our poller consume the queue as Lambda's service does.
- Step Functions runs executions only with `execute_state_machine` switched on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ordercli.local.workers import FunctionVersion, WorkerPool

TESTED_MOTO = ">=5.2.5,<5.3"


def check_hook_points() -> None:
    """Raise if any moto internal we rely on has moved."""
    from moto.awslambda.models import LambdaFunction, lambda_backends
    from moto.core.config import default_user_config
    from moto.logs.models import logs_backends
    from moto.sqs.models import Queue, sqs_backends

    problems = []
    for owner, attr in (
        (LambdaFunction, "_invoke_lambda"),
        (Queue, "add_message"),
        (Queue, "messages"),
    ):
        if not hasattr(owner, attr):
            problems.append(f"{owner.__name__}.{attr}")
    if "stepfunctions" not in default_user_config:
        problems.append("default_user_config['stepfunctions']")
    for backends in (lambda_backends, sqs_backends, logs_backends):
        if not hasattr(backends, "__getitem__"):
            problems.append(f"{backends!r} is not indexable by account")
    if problems:
        raise RuntimeError(
            "moto internals moved (ordercli's local target was tested with moto "
            f"{TESTED_MOTO}): {', '.join(problems)}"
        )


def enable_state_machine_execution() -> None:
    """Must run before any state machine is created: machines made before vanish after."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = True


def function_version(fn: Any) -> FunctionVersion:
    env = fn.environment_vars or {}
    return FunctionVersion(
        arn=fn.function_arn,
        name=fn.function_name,
        handler=fn.handler,
        code_sha256=fn.code_sha_256,
        timeout=int(fn.timeout),
        memory=int(fn.memory_size),
        region=fn.region,
        environment=tuple(sorted((str(k), str(v)) for k, v in env.items())),
    )


class LogWriter:
    """Writes a function's log lines to the emulator's CloudWatch Logs, in-process."""

    def __init__(self) -> None:
        self._streams: set[tuple[int, str, str]] = set()
        self._lock = threading.Lock()

    def write(self, fn: Any, stream: str, lines: list[str]) -> None:
        import time

        backend = fn.logs_backend
        group = fn.logs_group_name
        with self._lock:
            backend.ensure_log_group(group)  # Lambda makes the group on first write, too
            key = (id(backend.groups[group]), group, stream)
            if key not in self._streams:
                try:
                    backend.create_log_stream(group, stream)
                except Exception:  # already there
                    pass
                self._streams.add(key)
            now = int(time.time() * 1000)
            backend.put_log_events(
                group, stream, [{"timestamp": now, "message": line} for line in lines if line]
            )


def install_lambda_executor(pool: WorkerPool, logs: LogWriter) -> None:
    from moto.awslambda.models import LambdaFunction

    def invoke_in_worker(self: Any, event: Any = None) -> tuple[str, bool, str]:
        text = event if isinstance(event, str) else json.dumps({} if event is None else event)
        outcome = pool.invoke(function_version(self), self.code_bytes, text)
        logs.write(self, outcome.stream, outcome.logs)
        return outcome.payload, outcome.errored, "\n".join(outcome.logs)

    LambdaFunction._invoke_lambda = invoke_in_worker  # type: ignore[method-assign]


def replace_sqs_dispatch(on_message: Callable[[], None]) -> None:
    """Stop moto running mappings inside SendMessage; tell our poller a message arrived."""
    from moto.sqs.models import Queue

    def no_mappings(self: Any) -> dict[str, Any]:
        return {}

    def ignore(self: Any, value: Any) -> None:
        pass

    Queue.lambda_event_source_mappings = property(no_mappings, ignore)  # type: ignore[assignment]
    original = Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        original(self, message)
        on_message()

    Queue.add_message = add_message  # type: ignore[method-assign]


def sqs_event_source_mappings() -> Iterator[tuple[Any, Any, Any]]:
    """(mapping, function, queue) for every enabled mapping whose source is an SQS queue."""
    from moto.awslambda.models import lambda_backends
    from moto.sqs.models import sqs_backends

    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            for esm in list(backend._event_source_mappings.values()):
                arn = esm.event_source_arn
                if not esm.enabled or not arn.startswith("arn:aws:sqs:"):
                    continue
                _, _, _, q_region, q_account, q_name = arn.split(":", 5)
                queue = sqs_backends[q_account][q_region].queues.get(q_name)
                try:
                    fn = backend.get_function(esm.function_arn)
                except Exception:
                    continue
                if queue is not None:
                    yield esm, fn, queue


def receive(queue: Any, count: int) -> list[Any]:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[queue.account_id][queue.region]
    return backend.receive_message(queue.name, count, 0, int(queue.visibility_timeout))


def delete(queue: Any, receipt_handle: str) -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends[queue.account_id][queue.region].delete_message(queue.name, receipt_handle)


def sqs_record(message: Any, queue: Any) -> dict[str, Any]:
    """One record of an SQS event, as Lambda builds it."""
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "SentTimestamp": str(message.sent_timestamp),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        },
        "messageAttributes": {},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }
