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
            (lambda_eval_utils, "boto_client_for"),
            (result_path, "parse"),
            (json_path, "parse"),
        )
    )
    if not isinstance(TMP_THREADS, list):
        problems.append("moto.stepfunctions.parser.utils.TMP_THREADS")
    program, execute_state, execution_worker = _thread_starting_modules()
    threads = (threading.Thread, QuickThread, JoinedThread)
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
    _raise_if(problems)


def check_hook_points() -> None:
    """Raise if any moto internal we rely on has moved."""
    check_core_hook_points()
    check_stepfunctions_hook_points()


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
            outcome = pool.invoke(function_version(self), self.code_bytes, text, mapping)
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


def _now_ms() -> float:
    return time.time() * 1000


def receive(queue: Any, count: int) -> list[Any]:
    """Receive up to `count` visible messages, as SQS does (receive count, visibility timeout,
    redrive to the DLQ after maxReceiveCount receives), scanning only until `count` are found:
    in-flight messages sit at the front, so the cost does not grow with the queue's depth."""
    visibility = int(queue.visibility_timeout or 0)
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
    max_receives = int(redrive["maxReceiveCount"]) if redrive else None
    now = _now_ms()
    out: list[Any] = []
    for message in list(queue._messages):
        if message.visible_at >= now or message.delayed_until > now:
            continue
        if max_receives is not None and message.approximate_receive_count >= max_receives:
            _remove(queue, message)
            queue.dead_letter_queue.add_message(message)
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
    _remove(queue, message)
    queue.pending_messages.discard(message)


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
        rid = random_text(string.ascii_letters + string.digits, 52)  # moto's format
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
        _thread.start_new_thread(self._run, ())

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
            _thread.start_new_thread(self._run, ())
        self._done.wait(timeout)


def _thread_starting_modules() -> tuple[Any, Any, Any]:
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.backend import execution_worker

    return program, execute_state, execution_worker


def quick_thread_starts() -> None:
    """Executions and Task states run on QuickThreads; a program without TimeoutSeconds on
    its execution's thread (JoinedThread)."""
    program, execute_state, execution_worker = _thread_starting_modules()
    program.threading = types.SimpleNamespace(**{**vars(threading), "Thread": JoinedThread})
    execute_state.Thread = QuickThread
    execution_worker.Thread = QuickThread


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
