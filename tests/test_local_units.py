"""The local cloud's parts without the server process: moto hook points, the poller's
reading of batch results, the queue fast paths, and the workers' clean environment."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from ordercli.local import moto_hooks
from ordercli.local.poller import failed_ids
from ordercli.local.workers import FunctionVersion, worker_environment

RECORDS = [{"messageId": "a"}, {"messageId": "b"}, {"messageId": "c"}]


def test_moto_hook_points_exist() -> None:
    moto_hooks.check_hook_points()  # fails loudly the day moto moves one


@pytest.mark.parametrize(
    "payload, errored, expected",
    [
        ('{"batchItemFailures": []}', False, set()),
        ('{"batchItemFailures": [{"itemIdentifier": "b"}]}', False, {"b"}),
        ("null", False, set()),
        ('{"errorType": "Boom"}', True, {"a", "b", "c"}),
        ('{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', False, {"a", "b", "c"}),
        ('{"batchItemFailures": [{}]}', False, {"a", "b", "c"}),
        ("", False, set()),  # an empty response: a complete success
        ("not json", False, {"a", "b", "c"}),  # invalid JSON: a complete failure
    ],
)
def test_partial_batch_failures_are_read_as_lambda_reads_them(
    payload: str, errored: bool, expected: set[str]
) -> None:
    assert failed_ids(payload, errored, RECORDS) == expected


def test_worker_environment_is_built_from_scratch() -> None:
    fv = FunctionVersion(
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "f",
        "m.h",
        "sha",
        3,
        128,
        "us-east-1",
        (
            ("MY_VAR", "1"),
            ("AWS_ENDPOINT_URL_SQS", "https://sqs.real"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("aws_profile", "prod"),
            ("HTTPS_PROXY", "http://proxy.real"),
        ),
    )
    user = {
        "PATH": "/usr/bin",
        "AWS_PROFILE": "prod",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "AWS_SESSION_TOKEN": "real",
        "HOME": "/root",
        "AWS_ENDPOINT_URL": "https://real",
    }
    env = worker_environment(fv, Path("/code"), "http://127.0.0.1:1", parent=user)
    assert env["PATH"] == "/usr/bin" and env["MY_VAR"] == "1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert "AWS_PROFILE" not in env and "HOME" not in env
    assert "AKIAREAL" not in json.dumps(env) and "real" not in json.dumps(env)
    assert not {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "aws_profile", "HTTPS_PROXY"} & set(env)


@pytest.fixture
def fast_sqs(mocked: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    import moto.sqs.models as sqs_models

    # speed_up_sqs patches moto for the whole process: note the originals so they come back
    for name in (
        "unix_time_millis",
        "unix_time",
        "camelcase_to_underscores",
        "generate_receipt_handle",
    ):
        monkeypatch.setattr(sqs_models, name, getattr(sqs_models, name))
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_not_visible",
        "approximate_number_of_messages_delayed",
    ):
        monkeypatch.setattr(sqs_models.Queue, name, getattr(sqs_models.Queue, name))
    moto_hooks.speed_up_sqs()
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="d")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="q",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    from moto.sqs.models import sqs_backends

    backend = sqs_backends["123456789012"]["us-east-1"]
    return sqs, url, dlq, backend.queues["q"]


def test_fast_receive_batches_hides_and_redrives_like_sqs(fast_sqs: Any) -> None:
    sqs, url, dlq, queue = fast_sqs
    for i in range(15):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    first = moto_hooks.receive(queue, 10)
    assert [m.body for m in first] == [f"m{i}" for i in range(10)]
    assert [m.body for m in moto_hooks.receive(queue, 10)] == [f"m{i}" for i in range(10, 15)]
    assert moto_hooks.receive(queue, 10) == []  # all in flight
    handles = {m.receipt_handle for m in first}
    assert len(handles) == 10  # 185 lowercase letters each, as moto draws them
    assert all(len(h) == 185 and h.isalpha() and h.islower() for h in handles)
    for m in first[1:]:
        moto_hooks.delete(queue, m)
    queue._ordercli_counts = None
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "6"
    poison = first[0]
    poison.visible_at = 0  # its visibility timeout ran out: it comes back once more
    assert moto_hooks.receive(queue, 1) == [poison]
    assert poison.approximate_receive_count == 2
    poison.visible_at = 0
    assert moto_hooks.receive(queue, 1) == []  # past maxReceiveCount it moves to the DLQ
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["m0"]


def test_counts_come_from_one_pass_and_stay_right(fast_sqs: Any) -> None:
    sqs, url, _, queue = fast_sqs
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    queue.__dict__.pop("_ordercli_counts", None)
    moto_hooks.receive(queue, 2)
    queue.__dict__.pop("_ordercli_counts", None)
    assert (
        queue.approximate_number_of_messages,
        queue.approximate_number_of_messages_not_visible,
    ) == (3, 2)


def test_direct_lambda_client_reports_a_missing_function_as_aws_does(mocked: None) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        moto_hooks.DirectLambdaClient("us-east-1").invoke(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:nope", Payload=b"{}"
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_definitions_with_map_or_parallel_are_not_shared() -> None:
    assert moto_hooks._shareable(json.dumps({"States": {"A": {"Type": "Task"}}}))
    assert not moto_hooks._shareable(json.dumps({"States": {"A": {"Type": "Map"}}}))
    assert not moto_hooks._shareable("not json")


def test_a_finished_execution_keeps_its_history_compressed() -> None:
    from datetime import UTC, datetime

    history = [{"timestamp": datetime(2026, 1, 1, tzinfo=UTC), "type": "ExecutionStarted", "id": 1}]
    worker = moto_hooks._FinishedWorker(moto_hooks._FinishedEnv(history))
    assert worker.env.event_manager.get_event_history() == history
    worker.stop()  # stopping a finished execution is a no-op


def test_sns_history_is_trimmed_to_the_newest(mocked: None) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    arn = sns.create_topic(Name="t")["TopicArn"]
    for i in range(12):
        sns.publish(TopicArn=arn, Message=f"m{i}")
    moto_hooks.trim_sns_history(keep=5)
    from moto.sns.models import sns_backends

    sent = sns_backends["123456789012"]["us-east-1"].topics[arn].sent_notifications
    assert [n[1] for n in sent] == [f"m{i}" for i in range(7, 12)]


def test_quick_thread_runs_joins_and_reports_liveness() -> None:
    import threading

    gate = threading.Event()
    ran: list[int] = []
    t = moto_hooks.QuickThread(target=lambda n: (gate.wait(5), ran.append(n)), args=(7,))
    assert not t.is_alive()
    t.start()
    assert t.is_alive()
    t.join(timeout=0.01)
    assert t.is_alive() and ran == []
    gate.set()
    t.join(timeout=5)
    assert not t.is_alive() and ran == [7]
    with pytest.raises(RuntimeError):
        t.start()


def test_quick_thread_logs_a_failure_and_still_finishes(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise ValueError("bad state")

    t = moto_hooks.QuickThread(target=boom)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive()
    assert "bad state" in caplog.text


def test_plain_deepcopy_copies_like_deepcopy() -> None:
    import datetime
    import threading

    value = {"order": {"items": [1, {"a": "b"}]}, "at": datetime.datetime(2026, 1, 1)}
    clone = moto_hooks.plain_deepcopy(value)
    assert clone == value and clone["order"]["items"] is not value["order"]["items"]
    odd = {"lock": threading.Lock(), "data": [1]}  # not picklable: copy.deepcopy decides
    with pytest.raises(TypeError):
        moto_hooks.plain_deepcopy(odd)
    shared: list[int] = []
    assert moto_hooks.plain_deepcopy({"x": shared}, {id(shared): shared})["x"] is shared


def test_start_refuses_a_port_held_by_a_listener_or_an_open_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from ordercli.errors import OrderCliError
    from ordercli.local import control

    monkeypatch.setenv("ORDERCLI_HOME", str(tmp_path))
    with socket.socket() as listener, socket.socket() as conn:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        conn.connect(listener.getsockname())
        for port in (listener.getsockname()[1], conn.getsockname()[1]):
            with pytest.raises(OrderCliError, match=f"Port {port} is in use"):
                control.start(port)
    assert not list(tmp_path.glob("emulator-*.json"))  # nothing was started


def test_a_created_or_changed_function_is_warmed_ahead_of_its_first_call(
    mocked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import threading
    import zipfile

    from moto.awslambda.models import LambdaBackend

    for name in ("create_function", "update_function_code", "update_function_configuration"):
        monkeypatch.setattr(LambdaBackend, name, getattr(LambdaBackend, name))

    class Pool:
        def __init__(self) -> None:
            self.warmed: list[FunctionVersion] = []
            self.changed = threading.Condition()

        def prewarm(self, fv: FunctionVersion, zip_bytes: bytes) -> bool:
            with self.changed:
                self.warmed.append(fv)
                self.changed.notify_all()
            return True

    pool = Pool()
    moto_hooks.warm_functions_ahead(pool)  # type: ignore[arg-type]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(e, c):\n    return 1\n")
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="r", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    lam.update_function_configuration(FunctionName="f", Timeout=7)
    with pool.changed:
        assert pool.changed.wait_for(lambda: len(pool.warmed) == 2, timeout=10)
    assert {fv.timeout for fv in pool.warmed} == {3, 7}


def test_a_program_without_a_timeout_runs_on_the_joining_thread() -> None:
    import threading

    ran_on: list[int] = []
    t = moto_hooks.JoinedThread(target=lambda: ran_on.append(threading.get_ident()))
    t.start()
    assert not ran_on  # deferred until the join says how long the caller waits
    t.join()
    assert ran_on == [threading.get_ident()] and not t.is_alive()


def test_a_program_with_a_timeout_is_cut_short_by_it() -> None:
    import threading

    release = threading.Event()
    t = moto_hooks.JoinedThread(target=release.wait, args=(10,))
    t.start()
    t.join(timeout=0.05)
    assert t.is_alive()  # the caller saw the timeout: moto marks the execution timed out
    release.set()
    t.join(5)
    assert not t.is_alive()


def test_deliveries_wait_while_too_many_executions_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from ordercli.local import metrics, poller

    running = [object()] * poller.MAX_RUNNING_EXECUTIONS
    monkeypatch.setattr(moto_hooks, "running_executions", lambda: running)
    mappings = []
    monkeypatch.setattr(moto_hooks, "sqs_event_source_mappings", lambda: mappings.append(1) or [])
    p = poller.Poller()
    metrics.correct_running(poller.MAX_RUNNING_EXECUTIONS)
    try:
        assert p.poll_once() is False and mappings == []  # the queue keeps its messages
        running.pop()  # one finished: the exact count (not the stale gauge) lets deliveries go
        p._counted_at = 0.0
        p.poll_once()
        assert mappings == [1]
    finally:
        metrics.correct_running(0)


def test_bare_threads_reuse_an_idle_thread_and_run_concurrent_bodies_side_by_side() -> None:
    threads = moto_hooks.BareThreads()
    ran_on: list[int] = []
    done = threading.Event()
    threads.run(lambda: (ran_on.append(threading.get_ident()), done.set()))
    assert done.wait(5)
    assert threads.wait_idle(1, 5)  # the thread parks itself just after its body
    done.clear()
    threads.run(lambda: (ran_on.append(threading.get_ident()), done.set()))
    assert done.wait(5)
    assert ran_on[0] == ran_on[1]  # the same thread took the second body
    # two bodies at once: the second cannot wait for the first (it releases it)
    first_may_end, second_ran = threading.Event(), threading.Event()
    threads.run(lambda: first_may_end.wait(5))
    threads.run(lambda: (second_ran.set(), first_may_end.set()))
    assert second_ran.wait(5)


def test_an_idle_bare_thread_ends_after_its_idle_time() -> None:
    threads = moto_hooks.BareThreads()
    threads.IDLE = 0.05
    done = threading.Event()
    threads.run(done.set)
    assert done.wait(5)
    assert threads.wait_idle(1, 5)
    assert threads.wait_idle(0, 5)  # it ended on its own


def test_a_task_thread_runs_on_the_starting_thread_with_its_deadline_when_marked() -> None:
    seen: list[tuple[int, float | None]] = []

    def body() -> None:
        seen.append((threading.get_ident(), moto_hooks.task_give_up_at()))

    moto_hooks._TASK.seconds = 5
    before = time.time()
    moto_hooks.TaskThread(target=body).start()
    assert seen[0][0] == threading.get_ident()
    assert seen[0][1] is not None and before + 5 <= seen[0][1] <= time.time() + 5
    assert moto_hooks.task_give_up_at() is None and moto_hooks._TASK.seconds is None
    threaded = moto_hooks.TaskThread(target=body)
    threaded.start()
    threaded.join(5)
    assert seen[1][0] != threading.get_ident() and seen[1][1] is None


def test_executions_of_an_unchanged_machine_share_one_snapshot_of_it(
    mocked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.responses import get_backend

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    monkeypatch.setattr(parser_models, "copy", parser_models.copy)  # undone after the test
    moto_hooks.share_state_machine_snapshots()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    backend = get_backend("123456789012", "us-east-1")
    first, second = (backend.start_execution(arn, f"e{i}", "{}") for i in range(2))
    assert first.state_machine is second.state_machine
    changed = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(changed))
    third = backend.start_execution(arn, "e2", "{}")
    assert third.state_machine is not first.state_machine
    assert json.loads(third.state_machine.definition)["StartAt"] == "B"
    assert json.loads(first.state_machine.definition)["StartAt"] == "A"  # as it started


def test_the_poller_runs_no_more_batches_at_once_than_the_mapping_s_maximum_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from ordercli.local import metrics
    from ordercli.local.poller import Poller

    esm = SimpleNamespace(
        uuid="m", batch_size=1, scaling_config={"MaximumConcurrency": 2}, function_response_types=[]
    )
    queue = [SimpleNamespace(id=f"m{i}") for i in range(10)]
    release, lock = threading.Event(), threading.Lock()
    running: list[int] = [0, 0]  # now, most at once

    def invoke(fn: Any, event: Any) -> tuple[str, bool, str]:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        return "{}", False, ""

    monkeypatch.setattr(metrics, "running_estimate", lambda: 0)
    monkeypatch.setattr(moto_hooks, "sqs_event_source_mappings", lambda: [(esm, None, queue)])
    monkeypatch.setattr(moto_hooks, "receive", lambda q, n: [q.pop()] if q else [])
    monkeypatch.setattr(moto_hooks, "sqs_record", lambda m, q: {"messageId": m.id})
    monkeypatch.setattr(moto_hooks, "invoke_from_mapping", invoke)
    monkeypatch.setattr(moto_hooks, "delete", lambda q, m: None)
    poller = Poller()
    poller._running.set()
    assert poller.poll_once()
    assert len(queue) == 8  # two batches taken, the rest wait for a slot
    release.set()
    assert moto_hooks.mapping_max_concurrency(esm) == 2
    assert moto_hooks.mapping_max_concurrency(SimpleNamespace(scaling_config=None)) is None
    poller._pool.shutdown(wait=True)
    assert running[1] <= 2


def test_iam_role_reads_are_copies_so_a_concurrent_create_cannot_break_a_loop(
    mocked: None,
) -> None:
    from moto.iam.models import iam_backends

    iam = boto3.client("iam", region_name="us-east-1")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_role(RoleName="r0", AssumeRolePolicyDocument=trust)
    backend = iam_backends["123456789012"]["aws"]
    roles = backend.get_roles()
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=trust)  # while `roles` is read
    assert [r.name for r in roles] == ["r0"]  # a live view would raise or show r1
    assert [p.name for p in backend.get_instance_profiles()] == []
