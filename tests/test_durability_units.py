"""The durability parts without the server process: the journal's framing and group
commit, the snapshot's round trip through moto's own backends, and idempotent replay."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from ordercli.local import journal, moto_hooks, store


def test_durability_hook_points_exist() -> None:
    moto_hooks.check_durability_hook_points()  # fails loudly the day moto moves one


def test_a_torn_tail_is_where_reading_stops(tmp_path: Path) -> None:
    path = tmp_path / "journal-00000001.log"
    j = journal.Journal(path)
    for i in range(3):
        j.append(("add", "q", i), sync=True)
    j.close()
    whole = path.read_bytes()
    path.write_bytes(whole + journal.frame(("add", "q", 3))[:-2])  # killed mid-write
    assert [r[2] for r in journal.read_records(path)] == [0, 1, 2]
    corrupt = bytearray(whole)
    corrupt[-1] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    assert [r[2] for r in journal.read_records(path)] == [0, 1]


def test_concurrent_appends_share_fsyncs_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    j = journal.Journal(tmp_path / "journal-00000001.log")

    def writer(n: int) -> None:
        for i in range(50):
            j.append(("add", str(n), i), sync=True)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    records = list(journal.read_records(tmp_path / "journal-00000001.log"))
    assert len(records) == 400
    assert 1 <= len(calls) <= 401


def test_a_deletion_is_written_only_after_what_came_before_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    path = tmp_path / "journal-00000001.log"
    events: list[str] = []
    real_fsync, real_write = os.fsync, os.write
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    j = journal.Journal(path)

    def write(fd: int, data: bytes) -> int:
        events.append("write")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    for i in range(20):
        j.append(("start", "sm", f"order-{i}"))
        j.barrier_append(("del", "q", f"m-{i}"))  # returns without waiting for the disk
    j.close()
    kinds = [r[0] for r in journal.read_records(path)]
    assert kinds.count("start") == 20 and kinds.count("del") == 20
    # every deletion's write comes after an fsync that followed the start before it
    starts_seen = dels_seen = 0
    synced_starts = 0
    for event, kind in zip(events, _kinds_of_writes(events, kinds), strict=True):
        if event == "fsync":
            synced_starts = starts_seen
        elif kind == "start":
            starts_seen += 1
        else:
            dels_seen += 1
            assert synced_starts >= dels_seen, "a deletion was written before its start was synced"
    assert events.count("fsync") < 40  # deletions share fsyncs


def test_a_write_to_a_replaced_journal_is_never_acknowledged(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path / "journal-00000001.log")
    j.append(("add", "q", 1), sync=True)
    j.close()
    j.append(("start", "sm", "late"))  # no ack needed: dropped quietly
    with pytest.raises(OSError):
        j.append(("add", "q", 2), sync=True)  # an ack would be a lie: the request fails
    assert [r[2] for r in journal.read_records(tmp_path / "journal-00000001.log")] == [1]


def _kinds_of_writes(events: list[str], kinds: list[str]) -> list[str]:
    """The record kind of each write event, in order ('' for an fsync)."""
    it = iter(kinds)
    return ["" if e == "fsync" else next(it) for e in events]


@pytest.fixture
def sqs(mocked: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def test_every_backend_round_trips_into_motos_own_objects(sqs: Any) -> None:
    from moto.sqs.models import sqs_backends

    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"i": i}))
    lam = boto3.client("lambda", region_name="us-east-1")
    out = io.BytesIO()
    moto_hooks.dump_backends(out)
    moto_hooks.clear_backends()
    assert not sqs_backends["123456789012"]["us-east-1"].queues

    moto_hooks.load_backends(out.getvalue())
    queue = sqs_backends["123456789012"]["us-east-1"].queues["q"]
    assert [json.loads(m.body)["i"] for m in queue._messages] == [0, 1, 2]
    with queue._messages_lock:  # a working lock, not a pickled copy of a held one
        pass
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert len(got["Messages"]) == 3
    assert lam.list_functions()["Functions"] == []


def test_log_events_metrics_and_items_come_back_as_they_were(sqs: Any) -> None:
    """What the snapshot packs to load faster (log events and CloudWatch points as columns,
    DynamoDB items without their per-key size check) comes back as moto's own objects."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    events = [{"timestamp": now + i, "message": f"line {i}"} for i in range(3)]
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    dims = [{"Name": "FunctionName", "Value": "f"}, {"Name": "Resource", "Value": "r"}]
    cw.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": "Errors", "Dimensions": dims, "Value": float(v)} for v in (1, 2)
        ],
    )
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"k": {"S": "a"}, "n": {"N": "1.5"}})
    from moto.logs.models import logs_backends

    for _ in range(2):  # the second time, the stream's events are still packed when saved
        out = io.BytesIO()
        moto_hooks.dump_backends(out)
        moto_hooks.clear_backends()
        moto_hooks.load_backends(out.getvalue())
        stream = logs_backends["123456789012"]["us-east-1"].groups["g"].streams["s"]
        assert type(vars(stream)["events"]).__name__ == "_Packed"  # rebuilt when read

    got = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in got] == [
        (e["timestamp"], e["message"]) for e in events
    ]
    logs.put_log_events(
        logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now + 9, "message": "new"}]
    )  # fmt: skip
    stream = logs_backends["123456789012"]["us-east-1"].groups["g"].streams["s"]
    ids = [e.event_id for e in stream.events]
    assert len(set(ids)) == 4  # a new event is not numbered as a restored one
    listed = cw.list_metrics(Namespace="AWS/Lambda")["Metrics"]
    assert {tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed} == {
        (("FunctionName", "f"), ("Resource", "r"))
    }
    from moto.cloudwatch.models import cloudwatch_backends

    points = cloudwatch_backends["123456789012"]["us-east-1"].metric_data
    assert sorted(p.value for p in points) == [1.0, 2.0]
    assert ddb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]["n"] == {"N": "1.5"}
    from moto.dynamodb.models import dynamodb_backends

    item = dynamodb_backends["123456789012"]["us-east-1"].tables["t"].items[next(iter(
        dynamodb_backends["123456789012"]["us-east-1"].tables["t"].items))]  # fmt: skip
    assert type(item.attrs) is LimitedSizeDict
    with pytest.raises(Exception, match="Item size has exceeded"):
        item.attrs["big"] = "x" * 500_000  # still checked from here on


def test_objects_that_differ_in_shape_are_pickled_as_they_are() -> None:
    class Point:
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

    mixed = [Point(a=1), Point(a=2, b=3)]
    assert moto_hooks._pack_objects(mixed) == mixed
    packed = moto_hooks._pack_objects([Point(a=1, d=[Point(n=1)]), Point(a=2, d=[])])
    assert isinstance(packed, moto_hooks._Columns)


def test_replay_adds_a_message_once_and_honours_its_deletion(sqs: Any) -> None:
    from moto.sqs.models import Message, sqs_backends

    sqs.create_queue(QueueName="q")
    queue = sqs_backends["123456789012"]["us-east-1"].queues["q"]
    a, b = Message("id-a", "{}"), Message("id-b", "{}")
    replay = moto_hooks.Replay()
    for record in [
        ("add", queue.queue_arn, a),
        ("add", queue.queue_arn, a),
        ("add", queue.queue_arn, b),
        ("del", queue.queue_arn, "id-a"),
        ("add", "arn:aws:sqs:us-east-1:123456789012:gone", a),
    ]:
        replay.apply(record)
    replay.finish()
    assert [m.id for m in queue._messages] == ["id-b"]


def test_replay_moves_a_message_to_the_queue_it_was_added_to_last(sqs: Any) -> None:
    from moto.sqs.models import Message, sqs_backends

    for name in ("q", "dlq"):
        sqs.create_queue(QueueName=name)
    queues = sqs_backends["123456789012"]["us-east-1"].queues
    m = Message("id-m", "{}")
    replay = moto_hooks.Replay()
    replay.apply(("add", queues["q"].queue_arn, m))
    replay.apply(("add", queues["dlq"].queue_arn, m))  # moto's receive: no removal record
    replay.finish()
    assert [x.id for x in queues["dlq"]._messages] == ["id-m"] and not queues["q"]._messages


def test_a_journal_from_another_version_is_refused(tmp_path: Path, mocked: None) -> None:
    root = tmp_path / "state"
    root.mkdir()
    j = journal.Journal(root / "journal-00000001.log")
    j.append(("hello", {**store.versions(), "ordercli": "0.0.1"}), sync=True)
    j.close()
    report = store.Store(root).restore()
    assert report.reason and "ordercli 0.0.1" in report.reason and not report.restored
    assert (Path(report.set_aside or "") / "journal-00000001.log").exists()


def test_the_gate_holds_new_requests_while_closed_and_turns_them_away_once_gone() -> None:
    from ordercli.local.lifecycle import Gate

    gate = Gate()
    assert gate.enter()
    assert not gate.close(timeout=0.05)  # one request still in progress
    entered = threading.Event()
    outcome: list[bool] = []

    def request() -> None:
        outcome.append(gate.enter())
        entered.set()

    waiting = threading.Thread(target=request)
    waiting.start()
    assert not entered.wait(0.1)  # held at the door
    gate.leave()
    assert gate.close(timeout=1)
    gate.gone()
    waiting.join(5)
    assert outcome == [False]


def test_local_start_without_the_emulator_installed_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from ordercli.errors import OrderCliError
    from ordercli.local import control

    monkeypatch.setitem(sys.modules, "moto", None)  # as if not installed
    with pytest.raises(OrderCliError) as err:
        control._require_moto()
    assert "not installed" in str(err.value) and "ordercli[local]" in str(err.value.hint)
