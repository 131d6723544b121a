"""Terminal outcomes and public causes: what status, the web page, the API and submit --wait
tell a customer."""

from __future__ import annotations

import json

import pytest

from lambda_src.history import NOT_NOTIFIED, order_outcome, outcome_of, public_cause

LAMBDA_ERROR = json.dumps(
    {
        "errorMessage": "amount: must be less than 10000",
        "errorType": "OrderInvalid",
        "requestId": "abc",
        "stackTrace": ['  File "/var/task/lambda_src/validate_order.py", line 17, in handler\n'],
    }
)


def test_a_confirmed_order_is_notified() -> None:
    out = order_outcome("SUCCEEDED", output=json.dumps({"order": {}, "notification": {}}))
    assert (out.status, out.error, out.notified, out.confirmed) == ("SUCCEEDED", None, True, True)
    assert out.message == "Your order is confirmed."


def test_a_confirmed_order_whose_notification_failed_stays_confirmed() -> None:
    output = {"order": {}, "notificationError": {"Error": "Lambda.Unknown", "Cause": "x"}}
    for given in (output, json.dumps(output)):
        out = order_outcome("SUCCEEDED", output=given)
        assert out.confirmed and not out.notified
        assert NOT_NOTIFIED in out.message and NOT_NOTIFIED == "confirmed; notification not sent"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("PaymentDeclined", "declined"),
        ("PaymentError", "could not be completed"),
        ("ValidationError", "could not be checked"),
        ("OrderInvalid", "did not pass validation"),
    ],
)
def test_each_business_failure_has_its_own_message(error: str, words: str) -> None:
    out = order_outcome("FAILED", error, "The payment was declined.")
    assert out.error == error and words in out.message and out.notified
    assert not out.confirmed


def test_a_failure_the_customer_was_not_told_of_is_not_notified() -> None:
    cause = "The payment was declined; the customer could not be notified."
    assert not order_outcome("FAILED", "PaymentDeclined", cause).notified


def test_an_unknown_failure_gets_a_generic_message_and_no_claim_of_notice() -> None:
    out = order_outcome("FAILED", "States.Runtime", LAMBDA_ERROR)
    assert out.message == "Your order could not be completed." and not out.notified
    assert order_outcome("TIMED_OUT").message == "Your order could not be completed."


def test_a_running_order_is_not_yet_notified() -> None:
    out = order_outcome("RUNNING")
    assert out.message == "Your order is being processed." and not out.notified


def test_an_invalid_order_says_which_field_without_the_trace() -> None:
    out = order_outcome("FAILED", "OrderInvalid", LAMBDA_ERROR)
    assert out.message.endswith("amount: must be less than 10000")
    assert "/var/task" not in out.message


def test_outcome_of_reads_a_describe_execution_response() -> None:
    d = {"status": "FAILED", "error": "PaymentError", "cause": "x", "output": None}
    assert outcome_of(d).error == "PaymentError"
    assert outcome_of(d).to_json()["status"] == "FAILED"


def test_public_cause_gives_a_lambda_errors_message_only() -> None:
    assert public_cause(LAMBDA_ERROR) == "amount: must be less than 10000"


@pytest.mark.parametrize(
    "cause",
    [
        'Traceback (most recent call last):\n  File "/var/task/x.py", line 3, in h\nKeyError: 1',
        json.dumps({"errorType": "KeyError", "stackTrace": ["/var/task/x.py"]}),
        json.dumps([1, 2, 3]),
        json.dumps({"errorMessage": {"nested": "object"}}),
        "[" * 100_000,
        None,
        "",
    ],
)
def test_public_cause_lets_no_trace_or_raw_json_through(cause: str | None) -> None:
    assert public_cause(cause) == ""


def test_public_cause_hides_paths_and_keeps_one_short_line() -> None:
    text = public_cause("could not open /var/task/lambda_src/order.py\nsecond line")
    assert text == "could not open (path)"
    assert public_cause("C:\\srv\\app\\x.py missing") == "(path) missing"
    assert len(public_cause("x" * 1000)) == 200
    assert public_cause("bell\x07 and bidi\u202e") == "bell and bidi"


def test_public_cause_keeps_a_fail_states_sentence() -> None:
    assert public_cause("The payment was declined.") == "The payment was declined."


def test_every_task_state_of_the_workflow_has_its_function() -> None:
    from lambda_src.history import STEP_FUNCTIONS
    from ordercli.deploy.specs import workflow_definition
    from ordercli.names import Names

    states = json.loads(workflow_definition(Names("s", "us-east-1", "123456789012")))["States"]
    tasks = {n: s["Resource"].rsplit("-", 1)[1] for n, s in states.items() if s["Type"] == "Task"}
    assert tasks == STEP_FUNCTIONS
