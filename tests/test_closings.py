"""The emulator's closings feed and `submit --wait`'s use of it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ordercli.local.closings import Closed, Closings, wrap
from ordercli.local.http_server import WSGIServer
from ordercli.operate.follow import ClosingsFeed
from tests.conftest import MakeCtx

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:t-OrderProcessingWorkflow"


def closed(name: str, status: str = "SUCCEEDED", machine: str = MACHINE) -> Closed:
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + name
    return Closed(arn, name, status, 1795851689.5, None, None)


def test_since_returns_what_closed_after_a_number_and_waits_for_a_first_one() -> None:
    feed = Closings()
    start = feed.since(-1, 0)
    assert start["seq"] == 0 and start["closed"] == [] and not start["reset"]
    feed.add(closed("a"))
    feed.add(closed("b"))
    answer = feed.since(0, 0, feed.epoch)
    assert [c["name"] for c in answer["closed"]] == ["a", "b"] and answer["seq"] == 2
    assert feed.since(1, 0, feed.epoch)["closed"][0]["name"] == "b"
    later = threading.Timer(0.05, feed.add, args=(closed("c"),))
    later.start()
    waited = feed.since(2, 5, feed.epoch)  # returns when "c" closes, not after 5 s
    later.join()
    assert [c["name"] for c in waited["closed"]] == ["c"]


def test_since_says_reset_when_it_cannot_give_everything_after_the_number() -> None:
    feed = Closings(keep=2)
    for name in "abc":
        feed.add(closed(name))
    assert feed.since(0, 0, feed.epoch)["reset"]  # "a" is no longer kept
    assert not feed.since(1, 0, feed.epoch)["reset"]
    assert feed.since(1, 0, "another-emulator-run")["reset"]
    assert feed.since(99, 0, feed.epoch)["reset"]


@pytest.fixture
def served() -> Iterator[tuple[Closings, str]]:
    feed = Closings()

    def nothing_else(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [])
        return [b""]

    server = WSGIServer("127.0.0.1", 0, wrap(nothing_else, feed))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield feed, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_follower_sees_its_machine_s_closings_once_each_with_status_and_error(
    served: tuple[Closings, str],
) -> None:
    feed, endpoint = served
    feed.add(closed("before-start"))
    follower = ClosingsFeed(endpoint, MACHINE)
    assert follower.start()
    feed.add(closed("o1"))
    feed.add(
        Closed(closed("o2").executionArn, "o2", "FAILED", 1795851690.0, "PaymentDeclined", "no")
    )
    feed.add(closed("x", machine=MACHINE.replace("t-Order", "other-Order")))
    found = follower.next(1.0)
    assert found is not None and set(found) == {"o1", "o2"}
    assert found["o2"]["status"] == "FAILED" and found["o2"]["error"] == "PaymentDeclined"
    assert found["o1"]["stopDate"].timestamp() == 1795851689.5
    assert follower.next(0.0) == {}  # nothing new


def test_a_follower_is_told_to_fall_back_when_the_feed_cannot_say(
    served: tuple[Closings, str],
) -> None:
    feed, endpoint = served
    follower = ClosingsFeed(endpoint, MACHINE)
    assert follower.start()
    feed.epoch = "restarted"  # as after an emulator restart
    assert follower.next(0.0) is None
    assert not ClosingsFeed("http://127.0.0.1:9", MACHINE, timeout=1).start()


def test_a_bad_request_to_the_feed_is_a_400(served: tuple[Closings, str]) -> None:
    import urllib.error
    import urllib.request

    _, endpoint = served
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{endpoint}/_ordercli-closed?after=x", timeout=5)
    assert refused.value.code == 400


class ScriptedFeed:
    """A ClosingsFeed that answers from a script: each call the next answer."""

    def __init__(self, answers: list[dict[str, dict[str, Any]] | None]) -> None:
        self.answers = answers
        self.asked = 0

    def next(self, wait: float) -> dict[str, dict[str, Any]] | None:
        self.asked += 1
        return self.answers.pop(0) if self.answers else {}


def ended(status: str, error: str | None = None) -> dict[str, Any]:
    import datetime

    when = datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC)
    return {"status": status, "stopDate": when, "error": error, "cause": None}


def test_wait_takes_outcomes_from_the_feed_without_listing_or_describing(make_ctx: MakeCtx) -> None:
    from ordercli.operate import submit

    class NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the follower called {name}")

    results = [submit.OrderResult(f"o-{i}", "QUEUED", sent_at=0.0) for i in range(40)]
    feed = ScriptedFeed(
        [
            {f"o-{i}": ended("SUCCEEDED") for i in range(30)},
            {},
            {f"o-{i}": ended("FAILED", "PaymentDeclined") for i in range(30, 40)},
        ]
    )
    submit.wait_for(NoCalls(), make_ctx("op").names, results, timeout=30, closings=feed)
    assert [r.status for r in results].count("SUCCEEDED") == 30
    assert {(r.status, r.error) for r in results[30:]} == {("FAILED", "PaymentDeclined")}
    assert feed.asked == 3


def test_wait_describes_its_orders_once_the_feed_cannot_say(make_ctx: MakeCtx) -> None:
    import boto3

    from ordercli.deploy import stack as deploy
    from ordercli.operate import submit

    ctx = make_ctx("op")
    deploy.up(ctx)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    results = [submit.OrderResult(f"o-{i}", "QUEUED", sent_at=0.0) for i in range(3)]
    for r in results:
        sfn.start_execution(stateMachineArn=ctx.names.state_machine_arn, name=r.order_id)
        sfn.stop_execution(executionArn=ctx.names.execution_arn(r.order_id), error="Boom")
    feed = ScriptedFeed([{"o-0": ended("ABORTED", "Boom")}, None])
    client = ctx.aws.client("stepfunctions")
    submit.wait_for(client, ctx.names, results, timeout=5, sleep=lambda s: None, closings=feed)
    assert [r.status for r in results] == ["ABORTED"] * 3
    assert feed.asked == 2  # after the feed gave up, the rest were described
