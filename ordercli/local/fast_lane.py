"""The requests every order makes, answered without Flask.

Per order the consumer calls StartExecution, ProcessPayment calls DynamoDB PutItem and
SendNotification calls SNS Publish; `submit --wait` pages through ListExecutions. Through
moto's server each pays Flask and werkzeug's request object, moto's model-driven request
parser and response serializer around a backend call that is a small part of it: in a warm
500-order run Flask and moto's dispatch were about 34% of the emulator's GIL time (py-spy
--gil); after this lane took the first three, the emulator's CPU per order fell from
12.5-14.4 ms to 8.6-9.2 ms (under load), and ListExecutions' serializer was the next 10%.
Here each is parsed with json / parse_qs, handed to the backend call moto's own response
class makes (ordercli.local.moto_hooks), and answered with the bytes moto would send.

Only the shapes these handlers were written for take this lane; any other request, or one
whose backend call raises (a missing state machine, a refused condition: errors change
nothing before they are raised), goes to moto's server unchanged, which answers it, error
included, exactly as before. So do all requests while moto checks IAM (it counts and
authorizes each) or while local quotas are in force (a throttled StartExecution must be
refused, and counted, once). tests/test_fast_lane.py sends each request both ways and
compares the answers."""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs

# moto reads the region and the access key from the SigV4 credential scope.
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
JSON_10 = "application/x-amz-json-1.0"
SNS_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
PUT_ITEM_KEYS = frozenset(
    {"TableName", "Item", "ConditionExpression", "ReturnValuesOnConditionCheckFailure"}
)
START_KEYS = frozenset({"stateMachineArn", "name", "input"})
LIST_KEYS = frozenset({"stateMachineArn", "statusFilter", "maxResults", "nextToken"})
EXECUTION_STATUSES = frozenset(
    {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"}
)
PUBLISH_KEYS = frozenset({"Action", "Version", "TopicArn", "Subject", "Message"})
SERVED: Counter[str] = Counter()  # requests this lane answered, by handler (for tests)


@dataclass(frozen=True)
class Caller:
    account: str
    region: str


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    crc32: bool = False  # DynamoDB's responses carry one (botocore checks it)


Handler = Callable[[bytes, Caller, str], "Answer | None"]  # body, caller, request id


def _strings(value: Any) -> bool:
    return isinstance(value, str)


def start_execution(body: bytes, who: Caller, request_id: str) -> Answer | None:
    from ordercli.local import moto_hooks
    from ordercli.local.quotas import LIMITS

    if LIMITS.quotas.start_burst is not None:  # a throttled call is refused and counted once
        return None
    params = _json_object(body, START_KEYS)
    if params is None or not _strings(params.get("stateMachineArn")):
        return None
    name, execution_input = params.get("name"), params.get("input", "{}")
    if not (name is None or _strings(name)) or not _strings(execution_input):
        return None
    arn, started = moto_hooks.start_execution_direct(
        who.account, who.region, params["stateMachineArn"], name, execution_input
    )
    answer = {"executionArn": arn, "startDate": epoch_millis(started)}
    return Answer(json.dumps(answer).encode(), JSON_10)


def list_executions(body: bytes, who: Caller, request_id: str) -> Answer | None:
    """`submit --wait` pages through the run's executions while it follows them: moto's
    model-driven serializer spent 9-13 ms on a page of 100 (9.7% of the emulator's GIL time
    in a warm 500-order run); this writes the same JSON directly."""
    from ordercli.local import moto_hooks

    params = _json_object(body, LIST_KEYS)
    if params is None or not _strings(params.get("stateMachineArn")):
        return None
    status, limit, token = (
        params.get("statusFilter"),
        params.get("maxResults"),
        params.get("nextToken"),
    )
    if status is not None and status not in EXECUTION_STATUSES:
        return None
    if limit is not None and not (type(limit) is int and 0 <= limit <= 1000):
        return None
    if token is not None and not _strings(token):
        return None
    machine, rows, next_token = moto_hooks.list_executions_direct(
        who.account, who.region, params["stateMachineArn"], status, limit, token
    )
    executions = []
    for arn, name, state, started, stopped in rows:
        entry: dict[str, Any] = {
            "executionArn": arn,
            "stateMachineArn": machine,
            "name": name,
            "status": state,
            "startDate": epoch_millis(started),
        }
        if stopped is not None:
            entry["stopDate"] = epoch_millis(stopped)
        executions.append(entry)
    answer: dict[str, Any] = {"executions": executions}
    if next_token is not None:
        answer["nextToken"] = next_token
    return Answer(json.dumps(answer).encode(), JSON_10)


def put_item(body: bytes, who: Caller, request_id: str) -> Answer | None:
    """Only an item of string and number attributes (what moto's parser would hand over
    unchanged) with at most a condition: its success answer is always `{}`."""
    from ordercli.local import moto_hooks

    params = _json_object(body, PUT_ITEM_KEYS)
    if params is None or not _strings(params.get("TableName")):
        return None
    item = params.get("Item")
    if not isinstance(item, dict) or not item or not all(_plain_value(v) for v in item.values()):
        return None
    if not all(_strings(params.get(k, "")) for k in PUT_ITEM_KEYS - {"Item"}):
        return None
    result = moto_hooks.put_item_direct(who.account, who.region, params)
    return Answer(json.dumps(result).encode(), JSON_10, crc32=True)


def _plain_value(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, text),) = value.items()
    return kind in ("S", "N") and isinstance(text, str)


def publish(body: bytes, who: Caller, request_id: str) -> Answer | None:
    from ordercli.local import moto_hooks

    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    if not form.keys() <= PUBLISH_KEYS or any(len(v) != 1 for v in form.values()):
        return None
    fields = {k: v[0] for k, v in form.items()}
    if fields.get("Version") != "2010-03-31" or "TopicArn" not in fields or "Message" not in fields:
        return None
    message_id = moto_hooks.publish_direct(
        who.account, who.region, fields["TopicArn"], fields.get("Subject"), fields["Message"]
    )
    return Answer(
        (
            f'<PublishResponse xmlns="{SNS_XMLNS}"><PublishResult><MessageId>{message_id}'
            f"</MessageId></PublishResult><ResponseMetadata><RequestId>{request_id}"
            "</RequestId></ResponseMetadata></PublishResponse>"
        ).encode(),
        "text/xml",
    )


JSON_HANDLERS: dict[str, tuple[str, Handler]] = {
    "AWSStepFunctions.StartExecution": ("states", start_execution),
    "AWSStepFunctions.ListExecutions": ("states", list_executions),
    "DynamoDB_20120810.PutItem": ("dynamodb", put_item),
}
FORM_HANDLERS: dict[bytes, tuple[str, Handler]] = {b"Action=Publish&": ("sns", publish)}


def _json_object(body: bytes, allowed: frozenset[str]) -> dict[str, Any] | None:
    try:
        params = json.loads(body)
    except ValueError:
        return None
    if not isinstance(params, dict) or not params.keys() <= allowed:
        return None
    return params


def epoch_millis(value: Any) -> float | int:
    """A naive UTC datetime as moto's JSON serializer writes it: epoch seconds, truncated
    to the millisecond, an integer when there are none."""
    import calendar

    seconds: int = calendar.timegm(value.timetuple())
    if value.microsecond:
        return seconds + (value.microsecond // 1000) / 1000.0
    return seconds


def _route(environ: dict[str, Any]) -> tuple[str, Handler] | None:
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/":
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target is not None:
        return JSON_HANDLERS.get(target)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return _form_route
    return None


_form_route: tuple[str, Handler] = ("", lambda body, who, rid: None)  # resolved from the body


def _caller(environ: dict[str, Any], service: str) -> Caller | None:
    from ordercli.local import moto_hooks

    found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None or found.group(3) != service:
        return None
    access_key, region = found.group(1), found.group(2)
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    return Caller(moto_hooks.account_for(access_key, header, service, region), region)


def wrap(app: Any) -> Any:
    """The WSGI app `app` (moto's server) with the fast lane in front."""
    from ordercli.local import moto_hooks

    refusals = moto_hooks.backend_refusals()

    def fast_lane(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = _route(environ)
        if route is None or moto_hooks.iam_enforced():
            result: Iterable[bytes] = app(environ, start_response)
            return result
        stream = environ["wsgi.input"]
        body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = BytesIO(body)  # for moto, if this lane steps aside
        if route is _form_route:
            route = next((r for p, r in FORM_HANDLERS.items() if body.startswith(p)), None)
        who = _caller(environ, route[0]) if route is not None else None
        answer = None
        request_id = moto_hooks.new_request_id()
        if route is not None and who is not None:
            try:
                answer = route[1](body, who, request_id)
            except refusals:  # moto's path answers it, error and all (see the docstring)
                answer = None
        if answer is None:
            result = app(environ, start_response)
            return result
        SERVED[route[1].__name__] += 1  # type: ignore[index]
        out = answer.body
        headers = [
            ("Content-Type", answer.content_type),
            ("server", "amazon.com"),
            ("x-amzn-requestid", request_id),
            ("Access-Control-Allow-Origin", "*"),
        ]
        if answer.crc32:
            headers.append(("x-amz-crc32", str(zlib.crc32(out) & 0xFFFFFFFF)))
        start_response("200 OK", headers)
        return [out]

    return fast_lane
