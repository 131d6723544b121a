"""The only module that touches moto's internals. Tested against moto >=5.2.5,<5.3
(`check_hook_points` fails loudly, at server start and in the tests, if one moves).

What it changes, and why (facts measured on moto 5.2.5):
- Lambda code runs through `LambdaFunction._invoke_lambda(event) -> (payload, errored, logs)`
  for every path (Invoke API, queue mappings, the workflow's Task states); moto's own runs
  Docker. We run the uploaded zip in warm worker processes instead.
- SQS dispatches event source mappings inside `Queue.add_message` (the sender waits for the
  Lambda, one record per invocation, batchItemFailures ignored, no polling). We turn that
  off and let our poller consume the queue as Lambda's service does.
- Step Functions runs executions only with `execute_state_machine` switched on, and names an
  execution started without a name `None` (the next such one collides).
- Speed (see benchmarks/): moto's SQS recomputes every approximate count, scanning every
  message with a datetime-based clock, on each send and receive, and deletes by rebuilding the
  whole list; its Step Functions interpreter parses the definition again for each execution,
  builds a new boto3 client for each Task state and calls Lambda back over HTTP, starts a
  thread per execution, program and Task state with `Thread.start` (which waits for the new
  thread to run), deep-copies state data at every step, and keeps every thread it started in
  a list that is never emptied. Its request handling redoes fixed work on every request
  (service lookup by host, method lists, action names, request ids).
- Durability (see store.py): every backend is pickled in one snapshot and restored into
  moto's own module-level backend objects; what happens to orders in between (messages
  added and removed, PutItem, executions started and ended) is journaled from hooks on
  moto's SQS, DynamoDB and Step Functions models, and replayed idempotently.
"""

from __future__ import annotations

import _thread
import copy
import functools
import io
import json
import logging
import pickle
import string
import threading
import time
import types
import weakref
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from ordercli.local.workers import FunctionVersion, WorkerPool

TESTED_MOTO = ">=5.2.5,<5.3"
log = logging.getLogger("ordercli.moto_hooks")


def _missing(pairs: tuple[tuple[Any, str], ...]) -> list[str]:
    return [
        f"{getattr(owner, '__name__', owner)}.{attr}"
        for owner, attr in pairs
        if not hasattr(owner, attr)
    ]


def _not_one_of(
    owner: Any, attr: str, allowed: tuple[Any, ...], label: str | None = None
) -> list[str]:
    """[owner.attr] unless it is one of `allowed` (moto's original or our replacement)."""
    if getattr(owner, attr, None) in allowed:
        return []
    return [label or f"{getattr(owner, '__name__', owner)}.{attr}"]


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise RuntimeError(
            "moto internals moved (ordercli's local target was tested with moto "
            f"{TESTED_MOTO}): {', '.join(problems)}"
        )


def check_core_hook_points() -> None:
    """Raise if a moto internal the server needs at start (Lambda, SQS, Logs) has moved."""
    import moto.backends
    import moto.core.responses
    import moto.sqs.models
    from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends
    from moto.core.config import default_user_config
    from moto.logs.models import logs_backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import Queue, sqs_backends

    problems = _missing(
        (
            (LambdaFunction, "_invoke_lambda"),
            (LambdaBackend, "create_function"),
            (LambdaBackend, "update_function_code"),
            (LambdaBackend, "update_function_configuration"),
            (Queue, "add_message"),
            (Queue, "messages"),
            (Queue, "approximate_number_of_messages"),
            (moto.sqs.models, "generate_receipt_handle"),
            (moto.backends, "list_of_moto_modules"),
            (moto.core.responses, "method_names_from_class"),
            (moto.core.responses, "camelcase_to_underscores"),
            (moto.core.responses, "gen_amzn_requestid_long"),
            (DomainDispatcherApplication, "get_backend_for_host"),
        )
    )
    if "stepfunctions" not in default_user_config:
        problems.append("default_user_config['stepfunctions']")
    for backends in (lambda_backends, sqs_backends, logs_backends):
        if not hasattr(backends, "__getitem__"):
            problems.append(f"{backends!r} is not indexable by account")
    _raise_if(problems)


def check_stepfunctions_hook_points() -> None:
    """Raise if a Step Functions interpreter internal we speed up has moved."""
    from moto.stepfunctions.models import StateMachine, StepFunctionBackend
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.parser.utils import TMP_THREADS

    problems = _missing(
        (
            (Execution, "start"),
            (Execution, "status"),
            (StepFunctionsParserBackend, "start_execution"),
            (StateMachine, "_handle_name_input_idempotency"),
            (StepFunctionBackend, "describe_execution"),
            (BaseExecutionWorkerCommunication, "terminated"),
            (AmazonStateLanguageParser, "parse"),
            (ExecutionState, "_evaluate_with_timeout"),
            (lambda_eval_utils, "boto_client_for"),
            (result_path, "parse"),
            (json_path, "parse"),
        )
    )
    if not isinstance(TMP_THREADS, list):
        problems.append("moto.stepfunctions.parser.utils.TMP_THREADS")
    program, execute_state, execution_worker = _thread_starting_modules()
    threads = (threading.Thread, QuickThread, JoinedThread, TaskThread)
    problems += _not_one_of(
        getattr(program, "threading", None),
        "Thread",
        threads,
        f"{program.__name__}.threading.Thread",
    )
    for m in (execute_state, execution_worker):
        problems += _not_one_of(m, "Thread", threads)
    for m in _copy_using_modules():
        problems += _not_one_of(m, "copy", (copy, FAST_COPY))
    from moto.stepfunctions.parser import models as parser_models

    if not hasattr(getattr(parser_models, "copy", None), "deepcopy"):
        problems.append("moto.stepfunctions.parser.models.copy.deepcopy")
    _raise_if(problems)


def check_hook_points() -> None:
    """Raise if any moto internal we rely on has moved."""
    check_core_hook_points()
    check_stepfunctions_hook_points()
    check_durability_hook_points()
    check_fast_lane_hook_points()


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


_MAPPING = threading.local()  # set while a queue's poller invokes (see invoke_from_mapping)


def lambda_throttled(reason: str) -> Exception:
    """Lambda's answer to an Invoke past the account's concurrency: HTTP 429
    TooManyRequestsException with its Reason (AWS documents the shape in the Invoke API)."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    error.description = json.dumps({"Reason": reason, "Type": "User", "message": "Rate Exceeded."})
    return error


def invoke_from_mapping(fn: Any, event: Any) -> tuple[str, bool, str]:
    """An invocation by a queue's event source mapping: past the concurrency quota it waits
    for a slot (Lambda's pollers scale down and keep their batch) instead of being
    throttled, so a quota never costs a message a receive."""
    _MAPPING.active = True
    try:
        result: tuple[str, bool, str] = fn._invoke_lambda(event=event)
        return result
    finally:
        _MAPPING.active = False


def install_lambda_executor(pool: WorkerPool, logs: LogWriter) -> None:
    from moto.awslambda.models import LambdaFunction

    from ordercli.local.workers import PoolBusy, Throttled

    def invoke_in_worker(self: Any, event: Any = None) -> tuple[str, bool, str]:
        text = event if isinstance(event, str) else json.dumps({} if event is None else event)
        mapping = getattr(_MAPPING, "active", False)
        try:
            outcome = pool.invoke(
                function_version(self), self.code_bytes, text, mapping, task_give_up_at()
            )
        except Throttled:
            raise lambda_throttled("ConcurrentInvocationLimitExceeded") from None
        except PoolBusy:  # every worker of the function stayed busy past the wait
            raise lambda_throttled("ReservedFunctionConcurrentInvocationLimitExceeded") from None
        logs.write(self, outcome.stream, outcome.logs)
        return outcome.payload, outcome.errored, "\n".join(outcome.logs)

    LambdaFunction._invoke_lambda = invoke_in_worker  # type: ignore[method-assign]


def warm_functions_ahead(pool: WorkerPool) -> None:
    """A created or changed function gets a ready worker at once, in the background (its
    handler's init runs while `up` carries on), so the first invocation after `up --local`
    or after a change does not wait for a cold start (issue 14: seconds before, under a
    burst; a fork from the zygote and the handler's import, ~10-50 ms, now happen ahead)."""
    from moto.awslambda.models import LambdaBackend

    def warm(backend: Any, name: str) -> None:
        def run() -> None:
            try:
                fn = backend.get_function(name)
                pool.prewarm(function_version(fn), fn.code_bytes)
            except Exception:  # a function gone again, or code that will not start
                log.debug("pre-warming %s failed", name, exc_info=True)

        threading.Thread(target=run, name=f"prewarm-{name}", daemon=True).start()

    create = LambdaBackend.create_function
    update_code = LambdaBackend.update_function_code
    update_config = LambdaBackend.update_function_configuration

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        fn = create(self, spec)
        warm(self, fn.function_name)
        return fn

    def update_function_code(self: Any, function_name: str, *args: Any, **kwargs: Any) -> Any:
        answer = update_code(self, function_name, *args, **kwargs)
        warm(self, function_name)
        return answer

    def update_function_configuration(
        self: Any, function_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        answer = update_config(self, function_name, *args, **kwargs)
        warm(self, function_name)
        return answer

    LambdaBackend.create_function = create_function  # type: ignore[method-assign]
    LambdaBackend.update_function_code = update_function_code  # type: ignore[method-assign]
    LambdaBackend.update_function_configuration = update_function_configuration  # type: ignore[method-assign]


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


def mapping_max_concurrency(esm: Any) -> int | None:
    """An SQS mapping's ScalingConfig.MaximumConcurrency (None: not set). Lambda's pollers
    run at most that many batches of the queue at once (AWS: "Configuring maximum
    concurrency for Amazon SQS event sources")."""
    config = getattr(esm, "scaling_config", None) or {}
    value = config.get("MaximumConcurrency") if isinstance(config, dict) else None
    return value if type(value) is int and value > 0 else None


def _now_ms() -> float:
    return time.time() * 1000


def receive(queue: Any, count: int) -> list[Any]:
    """Receive up to `count` visible messages, as SQS does (receive count, visibility timeout,
    redrive to the DLQ after maxReceiveCount receives), scanning only until `count` are found:
    in-flight messages sit at the front, so the cost does not grow with the queue's depth.
    Holds moto's lock on the queue, as its own receive does."""
    visibility = int(queue.visibility_timeout or 0)
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
    max_receives = int(redrive["maxReceiveCount"]) if redrive else None
    now = _now_ms()
    out: list[Any] = []
    with queue._messages_lock:
        for message in list(queue._messages):
            if message.visible_at >= now or message.delayed_until > now:
                continue
            if max_receives is not None and message.approximate_receive_count >= max_receives:
                queue.dead_letter_queue.add_message(message)  # journaled before the removal
                _remove(queue, message)
                journal_deleted(queue, message)
                continue
            message.mark_received(visibility_timeout=visibility)
            queue.pending_messages.add(message)
            out.append(message)
            if len(out) >= count:
                break
    return out


def _remove(queue: Any, message: Any) -> None:
    try:
        queue._messages.remove(message)  # by identity; near the front, so cheap
    except ValueError:
        pass


def delete(queue: Any, message: Any) -> None:
    """DeleteMessage for a message we received, without moto's rebuild of the whole list
    (and without moto's record of every receipt handle ever deleted: only the poller deletes
    what it received, so nothing needs that record and it would only grow)."""
    with queue._messages_lock:
        _remove(queue, message)
        queue.pending_messages.discard(message)
    journal_deleted(queue, message)


COUNT_TTL = 0.25  # seconds; SQS's own counts are approximate and lag too


def _counts(queue: Any) -> tuple[int, int, int]:
    """(visible, not visible, delayed) in one pass, at most every COUNT_TTL seconds."""
    cached = queue.__dict__.get("_ordercli_counts")
    now = time.monotonic()
    if cached and now - cached[0] < COUNT_TTL:
        return cached[1]
    ms = _now_ms()
    visible = not_visible = delayed = 0
    for m in list(queue._messages):
        is_delayed = m.delayed_until > ms
        if m.visible_at >= ms:
            not_visible += 1
        elif not is_delayed:
            visible += 1
        delayed += is_delayed
    result = (visible, not_visible, delayed)
    queue.__dict__["_ordercli_counts"] = (now, result)
    return result


def speed_up_sqs() -> None:
    """A plain clock instead of a datetime round trip per message, cached counts, and
    receipt handles drawn in one call."""
    import moto.sqs.models as sqs_models

    sqs_models.unix_time_millis = _now_ms  # type: ignore[assignment]
    # Every send builds the queue's attribute map, converting each name with a regex.
    sqs_models.camelcase_to_underscores = functools.lru_cache(maxsize=256)(
        sqs_models.camelcase_to_underscores
    )
    sqs_models.unix_time = time.time  # type: ignore[assignment]
    # A receipt handle is 185 random letters, drawn one random.choice at a time.
    sqs_models.generate_receipt_handle = lambda: random_text(string.ascii_lowercase, 185)
    Queue = sqs_models.Queue
    Queue.approximate_number_of_messages = property(lambda q: _counts(q)[0])  # type: ignore[assignment]
    Queue.approximate_number_of_messages_not_visible = property(lambda q: _counts(q)[1])  # type: ignore[assignment]
    Queue.approximate_number_of_messages_delayed = property(lambda q: _counts(q)[2])  # type: ignore[assignment]


class DirectLambdaClient:
    """What the interpreter's Task states need of a Lambda client, calling the backend
    in-process instead of a new boto3 client and an HTTP round trip per Task."""

    def __init__(self, region: str) -> None:
        self.region = region

    def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        from moto.awslambda.models import lambda_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        account = (
            FunctionName.split(":")[4] if FunctionName.startswith("arn:") else DEFAULT_ACCOUNT_ID
        )
        backend = lambda_backends[account][self.region]
        try:
            fn = backend.get_function(FunctionName)
        except Exception as exc:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": str(exc)}}, "Invoke"
            ) from None
        if isinstance(Payload, bytes | bytearray):
            event = Payload.decode()
        elif isinstance(Payload, str):
            event = Payload
        else:
            event = json.dumps({} if Payload is None else Payload)
        try:
            out, errored, _logs = fn._invoke_lambda(event=event)
        except Exception as exc:
            if getattr(exc, "error_type", None) != "TooManyRequestsException":
                raise
            # Step Functions names a throttled Lambda task's error Lambda.TooManyRequestsException
            # (AWS: "Handling errors in Step Functions workflows", the Lambda retrier).
            out = json.dumps(
                {"errorType": "Lambda.TooManyRequestsException", "errorMessage": "Rate Exceeded."}
            )
            errored = True
        answer: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(str(out).encode()),
        }
        if errored:
            answer["FunctionError"] = "Unhandled"
        return answer


def _shareable(definition: str) -> bool:
    """Whether one evaluated program can serve every execution of a definition: its
    components keep per-execution state in the Environment, except Map and Parallel states'
    run records, so definitions with those are parsed afresh each time."""
    try:
        states = json.loads(definition).get("States", {})
    except ValueError:
        return False
    return all(s.get("Type") not in ("Map", "Parallel") for s in states.values())


def random_text(alphabet: str, length: int) -> str:
    """What moto draws one random.choice per character for, in one call to the same
    generator (so moto's seeding still governs it)."""
    from moto.moto_api._internal import mock_random

    return "".join(mock_random.choices(alphabet, k=length))


def speed_up_dispatch() -> None:
    """Per-request work in moto's server that gives the same answer every time: listing its
    package directory, finding the backend for a host by trying every service's URL
    patterns, listing the response class's methods, converting the action's name with
    regexes, and drawing a request id one random character at a time."""
    import moto.backends
    import moto.core.responses as responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    method_names = responses.method_names_from_class
    responses.method_names_from_class = functools.lru_cache(maxsize=512)(  # type: ignore[assignment]
        lambda cls: frozenset(method_names(cls))
    )
    responses.camelcase_to_underscores = functools.lru_cache(maxsize=2048)(
        responses.camelcase_to_underscores
    )
    backend_for_host = DomainDispatcherApplication.get_backend_for_host
    backends_by_host: dict[str | None, Any] = {}

    def cached_backend_for_host(self: Any, host: str | None) -> Any:
        found = backends_by_host.get(host)
        if found is None:
            found = backend_for_host(self, host)
            if found is not None and len(backends_by_host) < 1024:
                backends_by_host[host] = found
        return found

    DomainDispatcherApplication.get_backend_for_host = cached_backend_for_host  # type: ignore[method-assign]

    def request_id(headerdict: dict[str, Any] | None = None) -> str:
        rid = new_request_id()
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = rid
        return rid

    responses.gen_amzn_requestid_long = request_id


_ATOMIC = (str, int, float, bool, type(None))


def plain_deepcopy(value: Any, memo: Any = None) -> Any:
    """copy.deepcopy for the interpreter's JSON-like values (state input and output, the
    context object, history events): a pickle round trip runs in C, several times faster.
    What pickle cannot take, and any call with a memo, goes to copy.deepcopy."""
    if memo is None:
        if type(value) in _ATOMIC:
            return value
        try:
            return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:
            pass
    return copy.deepcopy(value, memo)


FAST_COPY = types.SimpleNamespace(**{**vars(copy), "deepcopy": plain_deepcopy})


def _copy_using_modules() -> list[Any]:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.eval import environment, states
    from moto.stepfunctions.parser.asl.eval.event import event_manager

    return [states, environment, event_manager, string_expression, result_path, execute_state]


def fast_state_copies() -> None:
    """The interpreter deep-copies state data at every step (about a third of the
    emulator's time per order, measured); give its modules the faster copy."""
    for module in _copy_using_modules():
        module.copy = FAST_COPY


class BareThreads:
    """Bare threads kept for the next body once theirs is done: the interpreter runs every
    execution and every Task state on a thread of its own, four starts per order, and a
    thread's creation and first switch-in on the emulator's busy interpreter lock was about
    4% of its GIL time (py-spy, 500 warm orders). A body handed to an idle thread costs one
    lock release instead; a thread idle for IDLE seconds ends. No thread-local state is
    carried from one body to the next (the interpreter keeps none; ours is reset by its
    users)."""

    IDLE = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parked = threading.Condition(self._lock)  # the idle list changed
        self._idle: list[BareThreads._Slot] = []

    class _Slot:
        __slots__ = ("body", "wake")

        def __init__(self) -> None:
            self.body: Callable[[], None] | None = None
            self.wake = _thread.allocate_lock()
            self.wake.acquire()  # released by run() with a body to do

    def run(self, body: Callable[[], None]) -> None:
        with self._lock:
            slot = self._idle.pop() if self._idle else None
        if slot is None:
            _thread.start_new_thread(self._serve, (body,))
            return
        slot.body = body
        slot.wake.release()

    def _serve(self, body: Callable[[], None]) -> None:
        slot = BareThreads._Slot()
        while True:
            body()
            body = _nothing  # what it held is not kept alive while this thread waits
            with self._lock:
                self._idle.append(slot)
                self._parked.notify_all()
            if not slot.wake.acquire(timeout=self.IDLE):
                with self._lock:
                    if slot in self._idle:
                        self._idle.remove(slot)
                        self._parked.notify_all()
                        return
                slot.wake.acquire()  # handed a body just as the wait ran out
            assert slot.body is not None
            body, slot.body = slot.body, None

    def wait_idle(self, count: int, timeout: float) -> bool:
        """Whether exactly `count` threads are idle within `timeout` seconds."""
        with self._parked:
            return self._parked.wait_for(lambda: len(self._idle) == count, timeout)


BARE_THREADS = BareThreads()


def _nothing() -> None:
    pass


class QuickThread:
    """What the interpreter uses of threading.Thread (start, join, is_alive), on a bare
    thread. threading.Thread.start waits until the new thread runs, and the interpreter
    starts one per execution, per program and per Task state: on the emulator's busy
    interpreter lock that wait was most of each StartExecution (p50 29 ms, p90 114 ms)."""

    def __init__(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        daemon: bool | None = None,
        name: str | None = None,
    ) -> None:
        self._call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None = (
            target,
            args,
            kwargs or {},
        )
        self._started = False
        self._done = threading.Event()
        self.daemon = True  # a bare thread never holds up the process's exit
        self.name = name or "sfn-interpreter"

    def start(self) -> None:
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        BARE_THREADS.run(self._run)

    def _run(self) -> None:
        assert self._call is not None
        target, args, kwargs = self._call
        self._call = None  # the finished thread keeps no frames or state alive
        try:
            target(*args, **kwargs)
        except Exception:
            log.exception("an interpreter thread failed")
        finally:
            self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return self._started and not self._done.is_set()


class JoinedThread(QuickThread):
    """The program's thread: moto starts it and at once joins it, with the state machine's
    TimeoutSeconds or, when there is none, with no timeout. With no timeout the caller
    would only wait for it, so the body runs right there on the execution's own thread (one
    thread start and one interpreter-lock hand-off fewer per execution; issue 14 measured
    0.4-0.55 ms per order for the five thread starts of an execution). With a timeout it
    runs on its own thread, as before, so the timeout still cuts it short."""

    def start(self) -> None:
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True  # deferred to join: how it runs depends on the timeout

    def join(self, timeout: float | None = None) -> None:
        if self._call is not None:
            if timeout is None:
                self._run()
                return
            BARE_THREADS.run(self._run)
        self._done.wait(timeout)


_TASK = threading.local()  # a Lambda Task state's TimeoutSeconds while it runs inline


class TaskThread(QuickThread):
    """A Task state's thread. moto runs each Task on a thread of its own and waits for it
    with the state's TimeoutSeconds, so that the timeout can cut it short. A Lambda Task
    with a TimeoutSeconds written in the definition runs right on its execution's thread
    instead (one thread per execution, three thread hand-offs per order fewer), and the
    timeout is kept by the worker pool: the call gives up at the deadline, whether waiting
    for a worker or for the answer, with a TimeoutError, which the interpreter reads as
    States.Timeout exactly as when its own wait runs out; the invocation itself runs on, as
    it would on AWS."""

    def start(self) -> None:
        seconds = getattr(_TASK, "seconds", None)
        if seconds is None:
            super().start()
            return
        _TASK.seconds = None  # only the Task's own body
        self._started = True
        _TASK.give_up_at = time.time() + seconds
        try:
            self._run()
        finally:
            _TASK.give_up_at = None


def task_give_up_at() -> float | None:
    """The deadline (epoch seconds) of the Lambda Task running inline on this thread."""
    deadline: float | None = getattr(_TASK, "give_up_at", None)
    return deadline


def inline_lambda_tasks() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )

    evaluate = ExecutionState._evaluate_with_timeout

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        seconds = getattr(getattr(self, "timeout", None), "timeout_seconds", None)
        inline = isinstance(self, StateTaskLambda) and type(seconds) is int  # not a path's
        _TASK.seconds = seconds if inline else None
        try:
            evaluate(self, env)
        finally:
            _TASK.seconds = None

    ExecutionState._evaluate_with_timeout = evaluate_with_timeout  # type: ignore[method-assign]


def _thread_starting_modules() -> tuple[Any, Any, Any]:
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.backend import execution_worker

    return program, execute_state, execution_worker


def quick_thread_starts() -> None:
    """Executions run on QuickThreads; a program without TimeoutSeconds on its execution's
    thread (JoinedThread), and so does a Lambda Task that its TimeoutSeconds cannot cut
    short (TaskThread); other Task states on threads of their own."""
    program, execute_state, execution_worker = _thread_starting_modules()
    program.threading = types.SimpleNamespace(**{**vars(threading), "Thread": JoinedThread})
    execute_state.Thread = TaskThread
    execution_worker.Thread = QuickThread
    inline_lambda_tasks()


def name_unnamed_executions() -> None:
    """moto names an execution started without a name `None`, so the next unnamed one
    collides with it; AWS names each with a new UUID, and so does this."""
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *a: Any, **k: Any
    ) -> Any:
        return start(self, state_machine_arn, name or str(uuid.uuid4()), *a, **k)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def enforce_start_execution_quota() -> None:
    """StartExecution takes a token from the emulated bucket (ordercli.local.quotas); when
    it is empty the call answers as Step Functions does: ThrottlingException, "Rate exceeded",
    HTTP 400 (AWS: "Step Functions service quotas", throttling by token bucket)."""
    from moto.core.exceptions import JsonRESTError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from ordercli.local.quotas import LIMITS

    start = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not LIMITS.take_start():
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return start(self, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def running_from_creation() -> None:
    """moto lists a new execution before `start()` sets its status, so a ListExecutions or
    DescribeExecution in that window fails on a None status (HTTP 500; seen about once in 32
    runs, hidden by botocore's retry). On AWS an execution is RUNNING from the moment
    StartExecution returns it: give it that status when it is made."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    init = Execution.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.exec_status is None:
            self.exec_status = ExecutionStatus.RUNNING

    Execution.__init__ = __init__  # type: ignore[method-assign]


def speed_up_stepfunctions() -> None:
    """Name unnamed executions as AWS does; parse each definition once; call Lambda
    in-process; start threads without waiting; copy state data faster; index executions by
    name; keep finished executions small.
    Importing the interpreter costs about a second (it pulls in moto's EC2 and Batch), so
    the server does this right after it starts listening, not before."""
    check_stepfunctions_hook_points()
    name_unnamed_executions()
    enforce_start_execution_quota()
    running_from_creation()
    fast_state_copies()
    quick_thread_starts()
    share_state_machine_snapshots()
    index_executions()
    compact_finished_executions()
    cache_json_paths()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse import asl_parser

    original_parse = asl_parser.AmazonStateLanguageParser.parse
    parsed: dict[str, tuple[Any, Any]] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        hit = parsed.get(definition)
        if hit is not None:
            return hit
        program, tree = original_parse(definition)  # raises on a syntax error, as before
        if _shareable(definition):
            with lock:
                if len(parsed) > 256:
                    parsed.clear()
                parsed[definition] = (program, tree)
        return program, tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]
    original_client = lambda_eval_utils.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return DirectLambdaClient(region)
        return original_client(region=region, service=service, state_credentials=state_credentials)

    lambda_eval_utils.boto_client_for = client_for


_INDEXES: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], int]] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def _execution_index(state_machine: Any) -> dict[str, Any]:
    """Executions by name, kept up to date incrementally (the list only grows). Held outside
    the state machine: moto deep-copies the machine for every execution."""
    executions = state_machine.executions
    with _INDEX_LOCK:
        index, done = _INDEXES.get(state_machine, ({}, 0))
        if done > len(executions):
            index, done = {}, 0
        for e in executions[done:]:
            index.setdefault(e.name, e)
        _INDEXES[state_machine] = (index, len(executions))
    return index


def index_executions() -> None:
    """Find an execution by name in O(1), not by scanning every execution ever run: starting
    and describing executions must not slow down as a stack's history grows."""
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions.exceptions import ExecutionAlreadyExists, ExecutionDoesNotExist

    def idempotency(self: Any, name: str, execution_input: str) -> Any:
        existing = _execution_index(self).get(name)
        if existing is None:
            return None
        if execution_input == existing.execution_input and existing.status == "RUNNING":
            return existing
        raise ExecutionAlreadyExists(f"Execution Already Exists: '{existing.execution_arn}'")

    def describe_execution(self: Any, execution_arn: str) -> Any:
        self._validate_execution_arn(execution_arn)
        state_machine = self._get_state_machine_for_execution(execution_arn)
        found = _execution_index(state_machine).get(execution_arn.split(":", 7)[-1])
        if found is None or found.execution_arn != execution_arn:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        return found

    sfn_models.StateMachine._handle_name_input_idempotency = idempotency  # type: ignore[method-assign]
    sfn_models.StepFunctionBackend.describe_execution = describe_execution  # type: ignore[method-assign]


def cache_json_paths() -> None:
    """The interpreter builds a new JSONPath parser (a yacc table) for every path it reads;
    parsed paths are immutable, so parse each expression once."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    result_path.parse = functools.lru_cache(maxsize=1024)(result_path.parse)
    json_path.parse = functools.lru_cache(maxsize=1024)(json_path.parse)


class _FinishedEnv:
    """What a finished execution still needs of its environment: its history, compressed.
    The rest (states, context objects, frames) is dropped, so memory stays flat."""

    def __init__(self, history: Any) -> None:
        self._blob = zlib.compress(pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL))
        self.event_manager = self

    def get_event_history(self) -> Any:
        return pickle.loads(zlib.decompress(self._blob))


class _FinishedWorker:
    def __init__(self, env: _FinishedEnv) -> None:
        self.env = env

    def stop(self, *args: Any, **kwargs: Any) -> None:
        pass  # stopping a finished execution changes nothing, as on AWS


def compact_finished_executions() -> None:
    """moto keeps every finished execution's whole interpreter environment alive; keep only
    its (compressed) history, which is all that describe and get-history still read."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        worker = execution.exec_worker
        try:
            history = worker.env.event_manager.get_event_history()
            execution.exec_worker = _FinishedWorker(_FinishedEnv(history))
        except Exception:  # anything unpicklable: keep the live environment, as moto does
            log.debug("kept a finished execution's environment", exc_info=True)

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


SNS_KEPT = 1000


def trim_sns_history(keep: int = SNS_KEPT) -> None:
    """moto keeps every message ever published to a topic for inspection; SNS keeps none.
    Keep the newest `keep` so a long local run stays flat."""
    from moto.sns.models import sns_backends

    for regions in list(sns_backends.values()):
        for backend in list(regions.values()):
            for topic in list(backend.topics.values()):
                sent = topic.sent_notifications
                if len(sent) > keep:
                    del sent[: len(sent) - keep]


def prune_finished_threads() -> None:
    """Empty the interpreter's list of every thread it ever started of the finished ones."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    TMP_THREADS[:] = [t for t in list(TMP_THREADS) if t.is_alive()]


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


# -- durability: one snapshot of every backend, a journal of orders (see durability.py) ----
# Facts (moto 5.2.5): every backend pickles in one go with the reducers below (an SQS queue's
# `_messages_lock` Condition, Lambda's WeakValueDictionary indexes and `defaultdict(lambda:
# {})` aliases, the interpreter's locks and events); Lambda's `__getstate__` drops the Docker
# client, which must be set again. Backends point at each other (a function's logs backend,
# a mapping held by a queue and by Lambda), so all of them go into one pickle and come back
# into moto's existing module-level BackendDicts, keyed by backend class (two backends are
# called "stepfunctions").


def check_durability_hook_points() -> None:
    """Raise if a moto internal the snapshot and the journal rely on has moved."""
    from moto.awslambda.models import LambdaFunction
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.core.base_backend import AccountSpecificBackend, BackendDict
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.logs.models import LogEvent, LogStream
    from moto.sqs.models import Message, Queue, SQSBackend
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    problems = _missing(
        (
            (LogEvent, "_event_id"),
            (LimitedSizeDict, "__setitem__"),
            (BackendDict, "_instances"),
            (Queue, "delete_message"),
            (Queue, "add_message"),
            (SQSBackend, "purge_queue"),
            (Message, "had_receipt_handle"),
            (Execution, "start"),
            (StepFunctionsParserBackend, "start_execution"),
            (StepFunctionsParserBackend, "describe_state_machine"),
            (DynamoDBBackend, "put_item"),
            (BaseExecutionWorkerCommunication, "terminated"),
            (LambdaFunction, "__getstate__"),
        )
    )
    needs = (
        (Queue.__init__, ("_messages_lock", "_messages", "_pending_messages")),
        (BackendDict.__init__, ("backend",)),
        (
            Execution.__init__,
            ("exec_worker", "exec_status", "execution_input", "stop_date", "state_machine"),
        ),
        (AccountSpecificBackend.__init__, ("backend", "account_id")),
        (DynamoDBBackend.__init__, ("tables",)),
        (LogStream.__init__, ("events",)),  # packed as columns in a snapshot
        (LogEvent.__init__, ("ingestion_time", "timestamp", "message", "event_id")),
        (CloudWatchBackend.__init__, ("metric_data",)),
    )
    for init, names in needs:
        problems += [
            f"{init.__qualname__} sets no {n}" for n in names if n not in init.__code__.co_names
        ]
    if not isinstance(getattr(BackendDict, "_instances", None), list):
        problems.append("BackendDict._instances")
    _raise_if(problems)
    check_start_hook_points()


def _backend_dicts(live: bool = False) -> list[Any]:
    """moto's list of the BackendDicts in use (a copy unless `live`)."""
    from moto.core.base_backend import BackendDict

    instances: list[Any] = getattr(BackendDict, "_instances")  # noqa: B009 (generic)
    return instances if live else list(instances)


def _fresh(factory: Callable[[], Any]) -> Any:
    return factory()


def _existing_backends(module: str, qualname: str) -> Any:
    """moto's module-level BackendDict for a backend class (what a snapshot refers to)."""
    import importlib
    import sys

    from moto.core.base_backend import BackendDict

    owner = importlib.import_module(module)
    cls: Any = owner
    for part in qualname.split("."):
        cls = getattr(cls, part)
    for name in sorted(sys.modules):
        mod = sys.modules[name]
        if name != module and not name.startswith("moto."):
            continue
        for value in list(vars(mod).values()) if mod is not None else []:
            if isinstance(value, BackendDict) and value.backend is cls:
                return value
    raise LookupError(f"no BackendDict for {module}.{qualname}")


def _backends_key(backend_dict: Any) -> tuple[str, str]:
    cls = backend_dict.backend
    return (cls.__module__, cls.__qualname__)


def _reduce_backend_dict(obj: Any) -> Any:
    return (_existing_backends, _backends_key(obj))


def _reduce_weak_values(obj: Any) -> Any:
    return (weakref.WeakValueDictionary, (), None, None, iter(list(obj.items())))


def _reduce_defaultdict(obj: Any) -> Any:
    factory = obj.default_factory
    if factory is not None and getattr(factory, "__name__", "") == "<lambda>":
        factory = type(factory())  # moto's `lambda: {}` (and kin): the same as dict
    return (type(obj), (factory,), None, None, iter(list(obj.items())))


def _reduce_execution(obj: Any) -> Any:
    """A running execution is kept as its input and restarted on restore: its interpreter
    (threads, frames) cannot be saved, and the workflow is safe to rerun (idempotent payment)."""
    state = dict(obj.__dict__)
    if state.get("exec_status") is not None and state["exec_status"].value == "RUNNING":
        state["exec_worker"] = None
    if state.get("state_machine") is not None:
        state["state_machine"] = _one_copy(state["state_machine"])
    return (object.__new__, (type(obj),), state)


_COPIES: dict[Any, Any] = {}  # one dump's state machine copies, by what they hold


def _one_copy(machine: Any) -> Any:
    """moto gives each execution its own deep copy of its state machine as it was at the
    start (a definition snapshot nobody changes): executions started from the same version
    share one copy in the snapshot (10,000 orders: 30,000 fewer objects to load)."""
    try:
        return _COPIES.setdefault((type(machine), _machine_key(machine)), machine)
    except TypeError:  # an attribute that cannot be a key: keep its own copy
        return machine


def _machine_key(machine: Any) -> tuple[Any, ...]:
    """What a state machine holds, as a key (TypeError if an attribute cannot be one)."""
    return tuple(
        (k, json.dumps(v, sort_keys=True, default=repr) if isinstance(v, dict | list) else v)
        for k, v in sorted(vars(machine).items())
        if k not in ("executions", "backend")
    )


def share_state_machine_snapshots() -> None:
    """moto's StartExecution deep-copies the state machine for each execution, as a
    snapshot of its definition nobody changes: 10,000 orders held 10,000 copies. Executions
    started while the machine is unchanged now share one copy (a changed machine gets a new
    one, as each execution keeps the definition it started with); after a restore they
    share one already (_one_copy)."""
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser import models as parser_models

    snapshots: dict[int, tuple[Any, tuple[Any, ...], Any]] = {}
    lock = threading.Lock()

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if type(value) is not StateMachine or memo is None:
            return copy.deepcopy(value, memo)
        try:
            key = _machine_key(value)
        except TypeError:
            return copy.deepcopy(value, memo)
        with lock:
            hit = snapshots.get(id(value))
            if hit is not None and hit[0] is value and hit[1] == key:
                return hit[2]
        clone = copy.deepcopy(value, memo)
        with lock:
            snapshots[id(value)] = (value, key, clone)
        return clone

    parser_models.copy = types.SimpleNamespace(**{**vars(copy), "deepcopy": deepcopy})  # type: ignore[assignment]


class _Columns:
    """A long list of small moto objects of one class with the same attributes (a log
    stream's events, CloudWatch's points), pickled as one list per attribute and rebuilt as
    the list it was: unpickling 135,000 log events (what 10,000 orders leave) as objects
    took 0.28 s of CPU, as columns 0.04 s plus 0.17 s to rebuild, and log events are rebuilt
    only when read (_LazyEvents). An attribute holding lists of such objects (a point's
    dimensions) is packed the same way, one level down."""

    def __init__(self, cls: type, keys: tuple[str, ...], columns: list[list[Any]]) -> None:
        self.cls, self.keys, self.columns = cls, keys, columns

    def __reduce__(self) -> Any:
        return (_unpack_objects, (self.cls, self.keys, self.columns))


def _same_shape(items: list[Any]) -> tuple[type, tuple[str, ...]] | None:
    if not items:
        return None
    cls = type(items[0])
    keys = tuple(getattr(items[0], "__dict__", ()))
    if not keys:
        return None
    for o in items:
        if type(o) is not cls or tuple(o.__dict__) != keys:
            return None
    return cls, keys


def _pack_objects(items: list[Any]) -> Any:
    """`items` as _Columns, or unchanged when they are not all alike."""
    items = list(items)  # one length for every column: metrics sampling appends meanwhile
    shape = _same_shape(items)
    if shape is None:
        return items
    cls, keys = shape
    columns = []
    for k in keys:
        column = [o.__dict__[k] for o in items]
        if column and all(type(v) is list for v in column):
            inner = _pack_objects([x for v in column for x in v])
            if isinstance(inner, _Columns):
                column = _Nested(inner, [len(v) for v in column])  # type: ignore[assignment]
        columns.append(column)
    return _Columns(cls, keys, columns)


class _Nested:
    """A column of lists of small objects: all of them as one _Columns, and each list's
    length."""

    def __init__(self, flat: _Columns, lengths: list[int]) -> None:
        self.flat, self.lengths = flat, lengths

    def __reduce__(self) -> Any:
        return (_unpack_nested, (self.flat, self.lengths))


def _unpack_nested(flat: list[Any], lengths: list[int]) -> list[list[Any]]:
    out = []
    at = 0
    for n in lengths:
        out.append(flat[at : at + n])
        at += n
    return out


class _Packed:
    """A restored log stream's events, still as columns: rebuilt on first use (see
    _LazyEvents), so a start does not build 135,000 objects that `tail` may never read."""

    def __init__(self, cls: type, keys: tuple[str, ...], columns: list[list[Any]]) -> None:
        self.cls, self.keys, self.columns = cls, keys, columns
        _number_after(cls, keys, columns)

    def __reduce__(self) -> Any:
        return (_Packed, (self.cls, self.keys, self.columns))

    def unpack(self) -> list[Any]:
        return _unpack_objects(self.cls, self.keys, self.columns)


class _LazyColumns(_Columns):
    def __reduce__(self) -> Any:
        return (_Packed, (self.cls, self.keys, self.columns))


class _LazyEvents:
    """Installed as LogStream.events (a data descriptor: it comes before the instance's
    own attribute): hands out the stream's list, rebuilding a restored one on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            value = obj.__dict__["events"]
        except KeyError:
            raise AttributeError("events") from None
        if type(value) is _Packed:
            with self._lock:  # two first readers: one rebuild, one list
                value = obj.__dict__["events"]
                if type(value) is _Packed:
                    value = obj.__dict__["events"] = value.unpack()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["events"] = value


def lazy_log_events() -> None:
    """Let restored log streams keep their events packed until first read."""
    from moto.logs.models import LogStream

    if not isinstance(LogStream.__dict__.get("events"), _LazyEvents):
        LogStream.events = _LazyEvents()  # type: ignore[assignment]


def _unpack_objects(cls: type, keys: tuple[str, ...], columns: list[list[Any]]) -> list[Any]:
    new = object.__new__
    out: list[Any] = []
    for values in zip(*columns, strict=True):
        o: Any = new(cls)
        o.__dict__.update(zip(keys, values, strict=True))
        out.append(o)
    _number_after(cls, keys, columns)
    return out


def _number_after(cls: type, keys: tuple[str, ...], columns: list[list[Any]]) -> None:
    """moto numbers log events from a class counter: new ones follow the restored ones."""
    if cls.__name__ == "LogEvent" and "event_id" in keys and columns[keys.index("event_id")]:
        floor = max(columns[keys.index("event_id")]) + 1
        cls._event_id = max(getattr(cls, "_event_id", 0), floor)  # type: ignore[attr-defined]


def _reduce_checked_dict(obj: Any) -> Any:
    """DynamoDB's LimitedSizeDict re-sums the item's size on every key set, which unpickling
    does once per attribute (0.3-0.5 s of CPU for 9,000 payments): an item that was within
    the limit when saved is restored with plain dict updates."""
    return (_checked_dict, (type(obj), dict(obj), dict(getattr(obj, "__dict__", {}))))


def _checked_dict(cls: type, items: dict[str, Any], attrs: dict[str, Any]) -> Any:
    out: Any = dict.__new__(cls)
    dict.update(out, items)
    out.__dict__.update(attrs)
    return out


def _packing_reducer(*attributes: str, lazy: bool = False) -> Callable[[Any], Any]:
    """A reducer that pickles an object as usual, its `attributes` (lists) as _Columns
    (`lazy`: restored as _Packed, for an attribute behind a _LazyEvents)."""

    def reduce(obj: Any) -> Any:
        state = dict(obj.__dict__)
        for name in attributes:
            if type(state.get(name)) is list:
                packed = _pack_objects(state[name])
                if lazy and type(packed) is _Columns:
                    packed = _LazyColumns(packed.cls, packed.keys, packed.columns)
                state[name] = packed
        return (object.__new__, (type(obj),), state)

    return reduce


def _state_dispatch_table() -> dict[type, Callable[[Any], Any]]:
    import collections

    from moto.cloudwatch.models import CloudWatchBackend
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.logs.models import LogStream
    from moto.stepfunctions.parser.backend.execution import Execution

    lock_type = type(threading.Lock())
    rlock_type = type(threading.RLock())
    table: dict[type, Callable[[Any], Any]] = {
        lock_type: lambda o: (_fresh, (threading.Lock,)),
        rlock_type: lambda o: (_fresh, (threading.RLock,)),
        threading.Condition: lambda o: (_fresh, (threading.Condition,)),
        threading.Event: lambda o: (_fresh, (threading.Event,)),
        weakref.WeakValueDictionary: _reduce_weak_values,
        collections.defaultdict: _reduce_defaultdict,
        BackendDict: _reduce_backend_dict,
        Execution: _reduce_execution,
        LogStream: _packing_reducer("events", lazy=True),
        LimitedSizeDict: _reduce_checked_dict,
        CloudWatchBackend: _packing_reducer("metric_data"),
    }
    return table


def dump_backends(out: Any) -> None:
    """Pickle every backend in use into the file `out` (call only when the emulator is
    quiet: a dict changing size mid-pickle fails it)."""
    import copyreg

    # a service nobody touched has no account in its dict: leaving it out keeps a restore
    # from importing its module (EC2's alone costs most of a second)
    everything = {_backends_key(bd): dict(bd) for bd in _backend_dicts() if len(bd)}
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **_state_dispatch_table()}
    _COPIES.clear()
    try:
        pickler.dump(everything)
    finally:
        _COPIES.clear()


def load_backends(data: bytes) -> None:
    """Put a snapshot's backends into moto's existing BackendDicts, then repair what pickling
    dropped. Raises (and changes nothing) if the snapshot cannot be unpickled."""

    lazy_log_events()
    everything = pickle.loads(data)
    targets = {key: _existing_backends(*key) for key in everything}
    for key, accounts in everything.items():
        target = targets[key]
        dict.clear(target)
        dict.update(target, accounts)
        instances = _backend_dicts(live=True)
        if target not in instances:
            instances.append(target)
    for backend in _all_backends("awslambda"):
        for fn in _lambda_functions(backend):
            fn.__dict__.setdefault("_DockerModel__docker_client", None)
    release_received_messages()


def release_received_messages() -> None:
    """Messages received by a batch that the stop or crash cut off come back at once: the
    poller that held them is gone (their receive count keeps the receive)."""
    for queue in _all_queues():
        queue.__dict__.pop("_ordercli_counts", None)  # a monotonic time from another boot
        with queue._messages_lock:
            for message in queue._messages:
                message.visible_at = 0.0
            queue._pending_messages = set()


def _all_backends(service: str) -> list[Any]:

    return [
        b
        for bd in _backend_dicts()
        if bd.backend.__module__.startswith(f"moto.{service}.")
        for regions in list(bd.values())
        for b in list(regions.values())
    ]


def _lambda_functions(backend: Any) -> list[Any]:
    storage = getattr(backend, "_lambdas", None)
    found = getattr(storage, "_functions", {}) if storage is not None else {}
    out: list[Any] = []
    for versions in found.values():
        if isinstance(versions, dict):
            out += [v for v in versions.get("versions", []) if v is not None]
            if versions.get("latest") is not None:
                out.append(versions["latest"])
    return out


def _all_queues() -> list[Any]:
    from moto.sqs.models import sqs_backends

    return [
        q
        for regions in list(sqs_backends.values())
        for backend in list(regions.values())
        for q in list(backend.queues.values())
    ]


def _state_machines() -> list[Any]:
    return [
        sm
        for backend in _all_backends("stepfunctions")
        for sm in list(getattr(backend, "state_machines", []))
    ]


def running_executions() -> list[Any]:
    return [
        e
        for sm in _state_machines()
        for e in list(sm.executions)
        if e.exec_status is not None and e.exec_status.value == "RUNNING"
    ]


def restart_executions() -> int:
    """Start again, from its input, every execution restored as RUNNING; how many."""
    restarted = 0
    for execution in running_executions():
        if execution.exec_worker is None:
            execution.start()
            restarted += 1
    return restarted


def count_restartable() -> int:
    return sum(1 for e in running_executions() if e.exec_worker is None)


def clear_backends() -> None:
    """Forget every backend's state (a snapshot that failed to load halfway)."""

    for bd in _backend_dicts():
        dict.clear(bd)


def counts() -> dict[str, int]:
    """What the emulator holds, for the start report: messages and executions."""
    messages = sum(len(q._messages) for q in _all_queues())
    executions = sum(len(sm.executions) for sm in _state_machines())
    return {"messages": messages, "executions": executions}


def _batch_package_source() -> str:
    import importlib.util

    spec = importlib.util.find_spec("moto.batch")
    origin = spec.origin if spec is not None else None
    if origin is None:
        return ""
    with open(origin) as f:
        return f.read()


BATCH_INIT = "from .models import batch_backends"


def check_start_hook_points() -> None:
    """Raise if `defer_batch_package` no longer fits moto.batch's package."""
    lines = [
        line.split("#")[0].strip()
        for line in _batch_package_source().splitlines()
        if line.split("#")[0].strip()
    ]
    _raise_if([] if lines == [BATCH_INIT] else ["moto/batch/__init__.py changed"])


def defer_batch_package() -> None:
    """Make `moto.batch` a package whose __init__ has not run, its one name loaded on first
    use. Why: moto's Step Functions parser imports `moto.batch.utils` (an enum, for Batch
    tasks); the package's __init__ imports moto.batch.models and with it all of EC2 (three
    boto3 sessions loading the EC2 model for region lists, 91 instance-type files): 0.8-1.2 s
    of CPU, more than half of an empty emulator's start, for a service the stack never
    calls. Call before anything imports moto's Step Functions."""
    import importlib.util
    import sys

    import moto

    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)  # not executed: __init__ waits

    def load_on_use(name: str) -> Any:
        if name == "batch_backends":
            from moto.batch.models import batch_backends

            package.batch_backends = batch_backends  # type: ignore[attr-defined]
            return batch_backends
        raise AttributeError(f"module 'moto.batch' has no attribute {name!r}")

    vars(package)["__getattr__"] = load_on_use  # PEP 562: asked for names it lacks
    sys.modules["moto.batch"] = package
    vars(moto)["batch"] = package


# Journal hooks: each takes the journal via `_JOURNAL` (None while replaying or when off).
_JOURNAL: list[Any] = [None]


def _journal() -> Any:
    return _JOURNAL[0]


def set_journal(journal: Any) -> None:
    _JOURNAL[0] = journal


def install_journal_hooks() -> None:
    """Record, as they happen, what a crash must not lose: messages added to and removed
    from queues, executions started and ended. Install after the other hooks (these wrap
    theirs)."""
    from moto.sqs.models import Queue, SQSBackend
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    add = Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        add(self, message)
        j = _journal()
        if j is not None:  # acknowledged only once on disk: see sync_request_writes
            j.append(("add", self.queue_arn, message))
            _REQUEST.unsynced = j

    Queue.add_message = add_message  # type: ignore[method-assign]
    delete_by_handle = Queue.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        j = _journal()
        gone = (
            [m.id for m in list(self._messages) if m.had_receipt_handle(receipt_handle)]
            if j is not None
            else []
        )
        delete_by_handle(self, receipt_handle)
        for message_id in gone:
            j.barrier_append(("del", self.queue_arn, message_id))

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    purge = SQSBackend.purge_queue

    def purge_queue(self: Any, queue_name: str) -> None:
        purge(self, queue_name)
        j = _journal()
        if j is not None:
            j.barrier_append(("purge", self.get_queue(queue_name).queue_arn))

    SQSBackend.purge_queue = purge_queue  # type: ignore[method-assign]
    start = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, *a: Any, **k: Any) -> Any:
        execution = start(self, state_machine_arn, *a, **k)
        j = _journal()
        if j is not None and not execution.__dict__.get("_ordercli_journaled"):
            execution.__dict__["_ordercli_journaled"] = True
            j.append(
                (
                    "start",
                    state_machine_arn,
                    execution.name,
                    execution.execution_input,
                    execution.start_date,
                )
            )
        return execution

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    _journal_dynamodb_puts()
    terminated = BaseExecutionWorkerCommunication.terminated

    def journal_terminated(self: Any) -> None:
        terminated(self)
        j = _journal()
        if j is not None:
            e = self.execution
            j.append(
                (
                    "end",
                    e.state_machine_arn,
                    e.name,
                    e.exec_status.value,
                    e.output,
                    e.error,
                    e.cause,
                    e.stop_date,
                    _history_blob(e),
                )
            )

    BaseExecutionWorkerCommunication.terminated = journal_terminated  # type: ignore[method-assign]


_REQUEST = threading.local()  # the journal a request thread wrote an acknowledgment to


def sync_request_writes() -> None:
    """Called as a request ends, before its response: one fsync (shared with concurrent
    requests) for every message the request added, e.g. the ten of a SendMessageBatch."""
    j = getattr(_REQUEST, "unsynced", None)
    if j is not None:
        _REQUEST.unsynced = None
        j.sync()


def _journal_dynamodb_puts() -> None:
    """Items written with PutItem (the payments recorded by orderId): a crash must not
    forget a charge that outlives it, or a restarted execution would charge again. Written
    without an fsync of its own, as execution ends are: the journal is read up to its first
    missing record and every acknowledged send's fsync covers all written before it, so a
    charge is lost only together with the end of its execution, which then reruns from its
    input and charges once (an fsync here cost every payment a disk flush)."""
    from moto.dynamodb.models import DynamoDBBackend

    put = DynamoDBBackend.put_item

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *a: Any, **k: Any) -> Any:
        item = put(self, table_name, item_attrs, *a, **k)
        j = _journal()
        if j is not None:
            j.append(("ddb-put", self.account_id, self.region_name, table_name, item_attrs))
        return item

    DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]


def journal_deleted(queue: Any, message: Any) -> None:
    """Our poller's own removals (deleted after a batch, moved to the DLQ)."""
    j = _journal()
    if j is not None:
        j.barrier_append(("del", queue.queue_arn, message.id))


def _history_blob(execution: Any) -> bytes | None:
    env = getattr(execution.exec_worker, "env", None)
    blob = getattr(env, "_blob", None)
    if isinstance(blob, bytes):
        return blob
    try:
        history = env.event_manager.get_event_history()  # type: ignore[union-attr]
        return zlib.compress(pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return None


class _RestoredHistory:
    """A finished execution's environment, rebuilt from the journal: its history only."""

    def __init__(self, blob: bytes | None) -> None:
        self._blob = blob
        self.event_manager = self
        self.env = self

    def get_event_history(self) -> Any:
        return pickle.loads(zlib.decompress(self._blob)) if self._blob else []

    def stop(self, *args: Any, **kwargs: Any) -> None:
        pass


class Replay:
    """Applies journal records over a restored snapshot, idempotently: a message is added
    once by id (and lives in one queue: moto's own receive moves a message to the DLQ with
    no record of the removal), an execution created once by name and ended once."""

    def __init__(self) -> None:
        self._queues: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._home: dict[str, str] = {}  # message id -> arn of the queue holding it
        for queue in _all_queues():
            messages = {m.id: m for m in queue._messages}
            self._queues[queue.queue_arn] = (queue, messages)
            self._home.update(dict.fromkeys(messages, queue.queue_arn))
        self.applied = 0

    def _queue(self, arn: str) -> dict[str, Any] | None:
        found = self._queues.get(arn)
        return found[1] if found else None

    def apply(self, record: tuple[Any, ...]) -> None:
        kind = record[0]
        if kind == "add":
            messages = self._queue(record[1])
            message = record[2]
            if messages is None or message.id in messages:
                return
            previous = self._home.get(message.id)
            if previous is not None and previous != record[1]:
                (self._queue(previous) or {}).pop(message.id, None)
            messages[message.id] = message
            self._home[message.id] = record[1]
            self.applied += 1
        elif kind == "del":
            messages = self._queue(record[1])
            if messages is not None and messages.pop(record[2], None) is not None:
                self._home.pop(record[2], None)
                self.applied += 1
        elif kind == "purge":
            messages = self._queue(record[1])
            if messages is not None:
                messages.clear()
        elif kind == "ddb-put":
            self._put(*record[1:])
        elif kind == "start":
            self._start(*record[1:])
        elif kind == "end":
            self._end(*record[1:])

    def _put(self, account: str, region: str, table: str, item: dict[str, Any]) -> None:
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[account][region]
        if table in backend.tables:
            backend.put_item(table, item)  # the same item again: no change
            self.applied += 1

    def _machine(self, arn: str) -> Any:
        for sm in _state_machines():
            if sm.arn == arn and hasattr(sm, "executions"):
                return sm
        return None

    def _start(self, sm_arn: str, name: str, execution_input: str, start_date: Any) -> None:
        from moto.stepfunctions.parser.backend.execution import Execution, ExecutionStatus

        sm = self._machine(sm_arn)
        if sm is None or _execution_index(sm).get(name) is not None:
            return
        backend = sm.backend

        def created_not_started(self: Any) -> None:
            self.exec_status = ExecutionStatus.RUNNING  # restart_executions runs it

        real_start = Execution.start
        Execution.start = created_not_started  # type: ignore[method-assign]
        try:
            execution = backend.start_execution(sm_arn, name, execution_input)
        finally:
            Execution.start = real_start  # type: ignore[method-assign]
        execution.start_date = start_date
        execution.__dict__["_ordercli_journaled"] = True
        self.applied += 1

    def _end(
        self,
        sm_arn: str,
        name: str,
        status: str,
        output: Any,
        error: Any,
        cause: Any,
        stop_date: Any,
        blob: bytes | None,
    ) -> None:
        from moto.stepfunctions.parser.backend.execution import ExecutionStatus

        sm = self._machine(sm_arn)
        execution = _execution_index(sm).get(name) if sm is not None else None
        if execution is None or execution.exec_status.value != "RUNNING":
            return
        execution.exec_status = ExecutionStatus(status)
        execution.output = output
        execution.error = error
        execution.cause = cause
        execution.stop_date = stop_date
        execution.exec_worker = _RestoredHistory(blob)
        self.applied += 1

    def finish(self) -> None:
        for queue, messages in self._queues.values():
            with queue._messages_lock:
                queue._messages = list(messages.values())
        release_received_messages()


# -- CloudWatch metrics (the webapp helper's; the recording itself is in metrics.py) --------
def record_metrics(
    on_invoke: Callable[[Any, bool, float], None],
    on_send: Callable[[str, str], None],
    on_start: Callable[[Any], None],
    on_close: Callable[[Any], None],
) -> None:
    """Report each Lambda invocation (errored, ms), each SendMessage (batch entries too),
    and each execution's start and close. Wraps whatever is installed when it runs, so it
    composes with the other hooks on these methods in either order."""
    from moto.awslambda.models import LambdaFunction
    from moto.sqs.models import SQSBackend
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        Execution,
    )

    invoke = LambdaFunction._invoke_lambda

    def timed_invoke(self: Any, event: Any = None) -> Any:
        started, errored = time.perf_counter(), True
        try:
            out = invoke(self, event)
            errored = bool(out[1])
            return out
        finally:
            on_invoke(self, errored, (time.perf_counter() - started) * 1000)

    LambdaFunction._invoke_lambda = timed_invoke  # type: ignore[method-assign]
    send = SQSBackend.send_message

    def counted_send(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        message = send(self, queue_name, *args, **kwargs)
        on_send(self.region_name, queue_name)
        return message

    SQSBackend.send_message = counted_send  # type: ignore[method-assign]
    start = Execution.start

    def counted_start(self: Any) -> None:
        start(self)
        on_start(self)

    Execution.start = counted_start  # type: ignore[method-assign]
    terminated = BaseExecutionWorkerCommunication.terminated

    def counted_close(self: Any) -> None:
        terminated(self)
        on_close(self.execution)

    BaseExecutionWorkerCommunication.terminated = counted_close  # type: ignore[method-assign]


def _statistic(points: list[Any], stat: str) -> float | None:
    """Sum, Average, Minimum, Maximum, SampleCount or a percentile (p50, p99.9) of points."""
    from moto.cloudwatch.models import MetricAggregatedDatum

    values = sorted(p.value for p in points if not isinstance(p, MetricAggregatedDatum))
    aggregated = [p for p in points if isinstance(p, MetricAggregatedDatum)]
    count = len(values) + sum(a.sample_count for a in aggregated)
    if not count:
        return None
    if stat.startswith("p") and values:
        try:
            rank = float(stat[1:]) / 100 * len(values)
        except ValueError:
            return None
        return float(values[max(0, min(len(values) - 1, int(-(-rank // 1)) - 1))])
    total = sum(values) + sum(a.sum for a in aggregated)
    found: dict[str, float] = {
        "Sum": total,
        "SampleCount": float(count),
        "Average": total / count,
        "Minimum": min([*values, *(a.min for a in aggregated)]),
        "Maximum": max([*values, *(a.max for a in aggregated)]),
    }
    return found.get(stat)


def utc_naive(t: Any) -> Any:
    """moto keeps metric times as naive UTC (its utcnow) or as given (aware): compare as naive."""
    from datetime import UTC

    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo is not None else t


def _series_key(namespace: str, name: str, dims: Any) -> tuple[str, str, frozenset[Any]]:
    return namespace, name, frozenset(dims)


def metric_statistic(
    backend: Any,
    namespace: str,
    name: str,
    dims: dict[str, str],
    stat: str,
    start: Any,
    end: Any,
) -> float | None:
    """One statistic of one metric (exactly these dimensions) over [start, end)."""
    from datetime import timedelta

    want = _series_key(namespace, name, dims.items())
    start, end = utc_naive(start), utc_naive(end)
    # Points are appended as they are recorded, so the newest are at the end: read backwards
    # and stop well before the window (a minute's slack for points put with a timestamp).
    stop = start - timedelta(minutes=1)
    points = []
    for m in reversed(list(backend.metric_data)):
        when = utc_naive(m.timestamp)
        if when < stop:
            break
        if start <= when < end and want == _series_key(
            m.namespace, m.name, ((d.name, d.value) for d in m.dimensions)
        ):
            points.append(m)
    return _statistic(points, stat)


def fast_metric_data() -> None:
    """GetMetricData in one pass over the window's points (moto scans every point once per
    period per query), matching dimensions exactly as CloudWatch does, and with percentile
    statistics (moto answers them with nothing). Metric-math ids are resolved as moto does;
    Metrics Insights queries still go to moto."""
    from datetime import timedelta

    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: Any,
        end_time: Any,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        if any(str(q.get("Expression", "")).startswith("SELECT") for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        start = utc_naive(start_time).replace(microsecond=0)
        end = utc_naive(end_time).replace(microsecond=0)
        if start >= end:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        series: dict[tuple[str, str, frozenset[Any]], list[Any]] = {}
        for m in self.get_all_metrics():
            if start <= utc_naive(m.timestamp) < end:
                key = _series_key(m.namespace, m.name, ((d.name, d.value) for d in m.dimensions))
                series.setdefault(key, []).append(m)
        results: list[dict[str, Any]] = []
        for q in queries:
            if "MetricStat" not in q:
                continue
            ms = q["MetricStat"]
            metric, period = ms["Metric"], int(ms["Period"])
            dims = ((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            points = series.get(_series_key(metric["Namespace"], metric["MetricName"], dims), [])
            if ms.get("Unit"):
                points = [p for p in points if p.unit == ms["Unit"]]
            buckets: dict[int, list[Any]] = {}
            for p in points:
                buckets.setdefault(int((p.timestamp - start).total_seconds() // period), []).append(
                    p
                )
            values, stamps = [], []
            for i in sorted(buckets):
                value = _statistic(buckets[i], ms["Stat"])
                if value is not None:
                    values.append(value)
                    stamps.append(start + timedelta(seconds=i * period))
            results.append(
                {
                    "id": q["Id"],
                    "label": q.get("Label") or f"{metric['MetricName']} {ms['Stat']}",
                    "values": values,
                    "timestamps": stamps,
                    "status_code": "Complete",
                    "return": q.get("ReturnData", True),
                }
            )
        for q in queries:
            if "Expression" in q:
                found, when = parse_expression(q["Expression"], results)
                label = q.get("Label") or q["Id"]
                results.append(
                    {
                        "id": q["Id"],
                        "label": label,
                        "values": found,
                        "timestamps": when,
                        "status_code": "Complete",
                        "return": q.get("ReturnData", True),
                    }
                )
        out = [{k: v for k, v in r.items() if k != "return"} for r in results if r["return"]]
        if scan_by == "TimestampDescending":
            for r in out:
                r["values"], r["timestamps"] = r["values"][::-1], r["timestamps"][::-1]
        return out

    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]


# --- The workers' per-order calls without Flask (used by ordercli.local.fast_lane) ---------


def fast_backend_lookups() -> None:
    """`backends[account]` takes moto's global backend lock and scans the list of every
    BackendDict in use (an `==` per entry) on every call, even when the account is there: in
    a warm 500-order run that was 3.8% of the emulator's GIL time, and 300 execution threads
    queued on that one lock. A present account needs neither: the dict's own lookup answers,
    and only a missing account takes moto's path (which creates it under the lock)."""
    from moto.core.base_backend import BackendDict

    slow = BackendDict.__getitem__
    present = dict.get

    def __getitem__(self: Any, account_id: str) -> Any:
        found = present(self, account_id)
        return found if found is not None else slow(self, account_id)

    BackendDict.__getitem__ = __getitem__  # type: ignore[method-assign]


def check_fast_lane_hook_points() -> None:
    """Raise if a moto internal the direct calls below use has moved."""
    import moto.core.responses
    import moto.stepfunctions.responses
    from moto import settings
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.models import get_account_id_from, mark_account_as_visited
    from moto.sns.models import SNSBackend, sns_backends

    problems = _missing(
        (
            (moto.stepfunctions.responses, "get_backend"),
            (moto.core.responses, "BaseResponse"),
            (DynamoHandler, "put_item"),
            (SNSBackend, "publish"),
            (settings, "INITIAL_NO_AUTH_ACTION_COUNT"),
        )
    )
    if not callable(get_account_id_from) or not callable(mark_account_as_visited):
        problems.append("moto.iam.models account helpers")
    if not isinstance(sns_backends, BackendDict):
        problems.append("moto.sns.models.sns_backends")
    _raise_if(problems)


def iam_enforced() -> bool:
    """Whether moto checks IAM on requests (INITIAL_NO_AUTH_ACTION_COUNT): the direct calls
    then step aside, since moto counts and authorizes every request itself."""
    import math

    from moto import settings

    return math.isfinite(settings.INITIAL_NO_AUTH_ACTION_COUNT)


def account_for(access_key: str, header: str | None, service: str, region: str) -> str:
    """The account a request acts in, as moto's BaseResponse decides it (MOTO_ACCOUNT_ID,
    then the x-moto-account-id header, then the owner of the access key), and the access
    key's last use recorded as moto records it."""
    import os

    from moto.iam.models import get_account_id_from, mark_account_as_visited

    if "MOTO_ACCOUNT_ID" in os.environ:
        account = os.environ["MOTO_ACCOUNT_ID"]
    elif header is not None:
        account = header
    else:
        account = get_account_id_from(access_key)
    mark_account_as_visited(account, access_key, service, region)
    return account


def start_execution_direct(
    account: str, region: str, arn: str, name: str | None, execution_input: str
) -> tuple[str, Any]:
    """What moto's StepFunctionResponse.start_execution does: (executionArn, startDate)."""
    from moto.stepfunctions.responses import get_backend

    execution = get_backend(account, region).start_execution(arn, name, execution_input)  # type: ignore[arg-type]
    return execution.execution_arn, execution.start_date


def put_item_direct(account: str, region: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """moto's own PutItem handler (its validation and condition parsing included) on the
    request's parsed parameters; its result, a JSON object. None, before anything is done,
    for a table with a stream: a put there feeds the stream and its Lambda mappings, which
    may fail after the item is stored, and moto's path must not then store it again."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.responses import DynamoHandler

    table = dynamodb_backends[account][region].tables.get(str(params.get("TableName")))
    if table is not None and getattr(table, "stream_shard", None) is not None:
        return None
    handler = DynamoHandler()
    handler.current_account = account
    handler.region = region
    handler.body = params
    result: dict[str, Any] = handler.put_item().result  # type: ignore[assignment]
    return result


QUIET_PROTOCOLS = frozenset({"email", "email-json", "sms"})  # moto delivers nothing for these


def publish_direct(
    account: str, region: str, topic_arn: str, subject: str | None, message: str
) -> str | None:
    """What moto's SNSResponse.publish does for a topic without attributes: the MessageId.
    None, before anything is done, unless the topic is a standard topic whose subscribers
    moto delivers nothing to (the stack's: email): a delivery to a queue, a URL or a Lambda
    can fail after earlier subscribers have the message, and moto's path must not then
    deliver it again."""
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    topic = backend.topics.get(topic_arn)
    if topic is None or topic.fifo_topic:
        return None  # a platform endpoint, a FIFO topic, or nothing: moto's path answers
    subscriptions, _ = backend.list_subscriptions_by_topic(topic_arn=topic_arn)
    if any(sub.protocol not in QUIET_PROTOCOLS for sub in subscriptions):
        return None
    message_id: str = backend.publish(
        message,
        arn=topic_arn,
        phone_number=None,
        subject=subject,
        message_attributes={},
        group_id=None,
        deduplication_id=None,
        message_structure=None,
    )
    return message_id


def new_request_id() -> str:
    """A request id in moto's format (52 letters and digits)."""
    return random_text(string.ascii_letters + string.digits, 52)


def backend_refusals() -> tuple[type[BaseException], ...]:
    """What moto's backends raise to refuse a call (before changing anything): its REST and
    service errors, and the ValueError SNS's publish turns into InvalidParameter."""
    from moto.core.exceptions import ServiceException
    from werkzeug.exceptions import HTTPException

    return (HTTPException, ServiceException, ValueError)


def backend_app(service: Any) -> Any:
    """moto's Flask app for a service, out of Flask's debug mode. moto turns debug on, and
    in debug mode Flask builds a new class for every request that carries a form body (its
    enctype-error helper): 7.7% of the emulator's GIL time in a warm 500-order run. Unhandled
    errors still propagate to the emulator's HTTP front, which logs them and answers 500, as
    in debug mode."""
    from moto.moto_server.werkzeug_app import create_backend_app

    app = create_backend_app(service)
    app.debug = False
    app.config["PROPAGATE_EXCEPTIONS"] = True
    return app


def list_executions_direct(
    account: str,
    region: str,
    arn: str,
    status_filter: str | None,
    max_results: int | None,
    next_token: str | None,
) -> tuple[str, list[tuple[str, str, str, Any, Any]], str | None]:
    """What moto's StepFunctionResponse.list_executions reads: the machine's ARN; per
    execution (executionArn, name, status, startDate, stopDate or None, as moto lists a stop
    date only for SUCCEEDED, FAILED and ABORTED); and the next page's token."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.responses import get_backend

    backend = get_backend(account, region)
    machine = backend.describe_state_machine(arn)
    results, token = backend.list_executions(
        arn, status_filter=status_filter, max_results=max_results, next_token=next_token
    )
    stopped = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.ABORTED)
    rows = [
        (
            e.execution_arn,
            e.name,
            _enum_value(e.status),
            e.start_date,
            e.stop_date if e.status in stopped else None,
        )
        for e in results
    ]
    return machine.arn, rows, token


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def report_closed_executions(on_close: Callable[[str, str, str, Any, Any, Any], None]) -> None:
    """Call on_close(arn, name, status, stop date, error, cause) as each execution ends
    (for ordercli.local.closings). Wraps whatever is installed, like record_metrics."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    terminated = BaseExecutionWorkerCommunication.terminated

    def reported(self: Any) -> None:
        terminated(self)
        e = self.execution
        try:
            on_close(e.exec_arn, e.name, _enum_value(e.exec_status), e.stop_date, e.error, e.cause)
        except Exception:  # a follower's feed must never fail an execution
            log.exception("reporting a closed execution failed")

    BaseExecutionWorkerCommunication.terminated = reported  # type: ignore[method-assign]


def thread_safe_iam_reads() -> None:
    """moto's IAM hands out live views of its roles and instance profiles (`get_roles`,
    `get_instance_profiles`), and CreateRole, GetRole and DeleteRole loop over them: a role
    created or deleted by another request meanwhile (ordercli makes a stack's roles in
    parallel) fails the loop with "dictionary changed size during iteration". AWS has no
    such failure. Each now returns a copy, taken at once under the interpreter lock."""
    from moto.iam.models import IAMBackend

    IAMBackend.get_roles = lambda self: list(self.roles.values())  # type: ignore[method-assign]
    IAMBackend.get_instance_profiles = lambda self: list(self.instance_profiles.values())  # type: ignore[method-assign]
