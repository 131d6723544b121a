"""A stricter AWS double: moto in-process, plus the asynchronous behaviour moto leaves out.

moto creates and deletes at once and forgets a name the moment it is deleted; AWS does not.
`StrictAws` hooks the botocore clients of one `ordercli.aws.Aws` and plays, on its own clock
(virtual in the tests, real and compressed by `scale` in benchmarks/up_speed.py):

- functions Pending after create and InProgress after an update, refusing updates meanwhile;
- event source mappings passing through Creating/Enabling/Updating/Disabling, listed as
  Deleting for a while after a delete, refusing changes mid-transition;
- SQS refusing a queue name for 60 s after DeleteQueue;
- Step Functions state machines DELETING after a delete, refusing the name meanwhile;
- IAM roles not yet usable (assumable, or their policy not yet seen) just after a change;
- throttling of the first calls to Lambda and Step Functions (left to botocore's retries).

Errors that AWS does not retry for you are answered at `before-call` (no HTTP at all);
throttles at `before-send`, so botocore's own retry handling sees them as on the wire.
Every behaviour counts what it did in `seen`, so a test can show it was exercised."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from ordercli.aws import Aws

# Durations in AWS seconds (multiplied by `scale`).
FUNCTION_SETTLE = 5.0
MAPPING_TRANSITION = 3.0
MAPPING_DELETING = 8.0
QUEUE_NAME_HOLD = 60.0
STATE_MACHINE_DELETING = 6.0
IAM_PROPAGATION = 8.0
THROTTLED_FIRST_CALLS = 2  # per service, for lambda and states


def _response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    raw_headers: Any = headers  # botocore wraps a plain dict itself
    return AWSResponse(url, status, raw_headers, MockRawResponse(body))


class VirtualClock:
    """Time that moves only when someone sleeps: every wait in a test ends at once."""

    def __init__(self) -> None:
        self.t = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@dataclass
class _Transition:
    state: str  # the transitional state shown
    until: float
    then: str  # the state after it


@dataclass
class StrictAws:
    clock: Callable[[], float]
    scale: float = 1.0
    seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _function_busy: dict[str, tuple[str, float]] = field(default_factory=dict)
    _function_role: dict[str, str] = field(default_factory=dict)
    _mappings: dict[str, _Transition] = field(default_factory=dict)
    _deleted_mappings: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    _deleted_queues: dict[str, float] = field(default_factory=dict)
    _deleted_machines: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    _role_changed: dict[str, float] = field(default_factory=dict)
    _role_refused: set[tuple[str, str]] = field(default_factory=set)
    _calls: Counter[str] = field(default_factory=Counter)

    def attach(self, aws: Aws) -> StrictAws:
        aws.on("before-parameter-build", self._keep_params)
        aws.on("before-call", self._before)
        aws.on("after-call", self._after)
        aws.on("before-send", self._throttle, first=True)
        return self

    # -- plumbing -----------------------------------------------------------------------
    def _d(self, seconds: float) -> float:
        return seconds * self.scale

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["strict_params"] = dict(params)

    @staticmethod
    def _error(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return _response("https://strict.invalid", status, {}, b""), parsed

    @staticmethod
    def _ok(body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return _response("https://strict.invalid", 200, {}, b""), parsed

    def alive(self) -> list[str]:
        """What AWS would still be finishing now (ghosts not yet gone)."""
        now = self.clock()
        return [
            *(f"mapping {u}" for u, (_, t) in self._deleted_mappings.items() if now < t),
            *(f"state machine {a}" for a, (_, t) in self._deleted_machines.items() if now < t),
        ]

    # -- throttling ---------------------------------------------------------------------
    def _throttle(self, request: Any, **_: Any) -> AWSResponse | None:
        # Step Functions and Lambda throttle API calls with per-account token buckets ("Step
        # Functions service quotas", "Lambda quotas": API request rate); SDKs retry them.
        host = str(request.url)
        service = "states" if "states." in host else "lambda" if "lambda." in host else None
        if service is None:
            return None
        with self._lock:
            self._calls[service] += 1
            if self._calls[service] > THROTTLED_FIRST_CALLS:
                return None
        self.seen[f"throttled {service}"] += 1
        if service == "states":
            body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
            headers = {"Content-Type": "application/x-amz-json-1.0"}
            return _response(request.url, 400, headers, json.dumps(body).encode())
        headers = {
            "x-amzn-ErrorType": "TooManyRequestsException",
            "Content-Type": "application/json",
        }
        body = {"message": "Rate exceeded", "Type": "User", "Reason": "CallerRateLimitExceeded"}
        return _response(request.url, 429, headers, json.dumps(body).encode())

    # -- before a call: refusals and ghosts ------------------------------------------------
    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        op = model.name
        p = context.get("strict_params", {})
        now = self.clock()
        with self._lock:
            handler = getattr(self, f"_before_{op}", None)
            return handler(p, now) if handler else None

    def _role_fresh(self, role_arn: str, user: str, now: float) -> bool:
        # IAM is eventually consistent: "changes ... are not always immediately visible" (IAM
        # User Guide, troubleshooting); the first use by each service after a change is refused
        # too, so every propagation retry is exercised whatever the thread timing.
        role = role_arn.rsplit("/", 1)[-1]
        changed = self._role_changed.get(role)
        if changed is None:
            return False
        first = (role, user) not in self._role_refused
        if first or now < changed + self._d(IAM_PROPAGATION):
            self._role_refused.add((role, user))
            self.seen[f"role not ready for {user}"] += 1
            return True
        return False

    def _before_CreateFunction(self, p: dict[str, Any], now: float) -> Any:
        if self._role_fresh(p["Role"], "lambda", now):
            return self._error(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        return None

    def _function_is_busy(self, name: str, now: float) -> Any:
        # Lambda function states: a function is Pending after create and its LastUpdateStatus
        # InProgress after an update; another update meanwhile is a ResourceConflictException.
        busy = self._function_busy.get(name.rsplit(":", 1)[-1])
        if busy and now < busy[1]:
            self.seen["function update refused mid-update"] += 1
            return self._error(
                "ResourceConflictException",
                f"The operation cannot be performed at this time. An update is in progress "
                f"for resource: {name}",
                409,
            )
        return None

    def _before_UpdateFunctionCode(self, p: dict[str, Any], now: float) -> Any:
        return self._function_is_busy(p["FunctionName"], now)

    def _before_UpdateFunctionConfiguration(self, p: dict[str, Any], now: float) -> Any:
        return self._function_is_busy(p["FunctionName"], now)

    def _mapping_in_use(self, uuid: str, verb: str, now: float) -> Any:
        # Lambda's ResourceInUseException: "you tried to update an event source mapping in the
        # CREATING state, or ... to delete an event source mapping currently UPDATING".
        t = self._mappings.get(uuid)
        ghost = self._deleted_mappings.get(uuid)
        if (t and now < t.until) or (ghost and now < ghost[1]):
            self.seen[f"mapping {verb} refused mid-transition"] += 1
            state = t.state if t and now < t.until else "Deleting"
            return self._error(
                "ResourceInUseException",
                f"Cannot {verb} the event source mapping because it is in use ({state}).",
            )
        return None

    def _before_UpdateEventSourceMapping(self, p: dict[str, Any], now: float) -> Any:
        return self._mapping_in_use(p["UUID"], "update", now)

    def _before_DeleteEventSourceMapping(self, p: dict[str, Any], now: float) -> Any:
        return self._mapping_in_use(p["UUID"], "delete", now)

    def _before_GetEventSourceMapping(self, p: dict[str, Any], now: float) -> Any:
        ghost = self._deleted_mappings.get(p["UUID"])
        if ghost and now < ghost[1]:
            return self._ok({**ghost[0], "State": "Deleting"})
        return None

    def _before_CreateEventSourceMapping(self, p: dict[str, Any], now: float) -> Any:
        function = p["FunctionName"].rsplit(":", 1)[-1]
        for m, until in self._deleted_mappings.values():
            same = m["FunctionArn"].endswith(f":{function}") and m["EventSourceArn"] == p.get(
                "EventSourceArn"
            )
            if same and now < until:
                self.seen["mapping create refused while the old one is Deleting"] += 1
                return self._error(
                    "ResourceConflictException",
                    f"An event source mapping with SQS arn {p.get('EventSourceArn')} and "
                    f"function {function} already exists.",
                    409,
                )
        # Lambda checks the execution role can read the queue when the mapping is created.
        role = self._function_role.get(function)
        if role and self._role_fresh(role, "event source mapping", now):
            return self._error(
                "InvalidParameterValueException",
                "The provided execution role does not have permissions to call "
                "ReceiveMessage on SQS",
            )
        return None

    def _before_CreateQueue(self, p: dict[str, Any], now: float) -> Any:
        # SQS DeleteQueue reference: "you must wait at least 60 seconds before creating a
        # queue with the same name".
        deleted = self._deleted_queues.get(p["QueueName"])
        if deleted is not None and now < deleted + self._d(QUEUE_NAME_HOLD):
            self.seen["queue name held after delete"] += 1
            return self._error(
                "AWS.SimpleQueueService.QueueDeletedRecently",
                "You must wait 60 seconds after deleting a queue before you can create "
                "another with the same name.",
            )
        return None

    def _before_DescribeStateMachine(self, p: dict[str, Any], now: float) -> Any:
        # Step Functions DeleteStateMachine reference: "an asynchronous operation: It sets the
        # state machine's status to DELETING and begins the deletion process."
        ghost = self._deleted_machines.get(p["stateMachineArn"])
        if ghost and now < ghost[1]:
            self.seen["state machine seen DELETING"] += 1
            return self._ok({**ghost[0], "status": "DELETING"})
        return None

    def _before_CreateStateMachine(self, p: dict[str, Any], now: float) -> Any:
        for arn, (_, until) in self._deleted_machines.items():
            if arn.endswith(f":{p['name']}") and now < until:
                self.seen["state machine create refused while DELETING"] += 1
                return self._error(
                    "StateMachineDeleting", f"State machine is being deleted: '{arn}'"
                )
        if self._role_fresh(p["roleArn"], "states", now):
            return self._error(
                "AccessDeniedException",
                "Neither the global service principal states.amazonaws.com, nor the regional "
                "one is authorized to assume the provided role.",
            )
        return None

    # -- after a call: record what happened, show transitional states -------------------------
    def _after(
        self,
        model: Any,
        parsed: dict[str, Any],
        context: dict[str, Any],
        http_response: Any,
        **_: Any,
    ) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        p = context.get("strict_params", {})
        now = self.clock()
        with self._lock:
            handler = getattr(self, f"_after_{model.name}", None)
            if handler:
                handler(p, parsed, now)

    def _role_change(self, p: dict[str, Any], parsed: dict[str, Any], now: float) -> None:
        self._role_changed[p["RoleName"]] = now
        self._role_refused = {k for k in self._role_refused if k[0] != p["RoleName"]}

    _after_CreateRole = _role_change
    _after_PutRolePolicy = _role_change
    _after_UpdateAssumeRolePolicy = _role_change

    def _show_function(self, cfg: dict[str, Any], now: float) -> None:
        busy = self._function_busy.get(cfg.get("FunctionName", ""))
        if busy and now < busy[1]:
            if busy[0] == "Pending":
                cfg.update(State="Pending", StateReasonCode="Creating")
            else:
                cfg.update(LastUpdateStatus="InProgress", LastUpdateStatusReasonCode="Updating")

    def _after_CreateFunction(self, p: dict[str, Any], parsed: dict[str, Any], now: float) -> None:
        self._function_role[p["FunctionName"]] = p["Role"]
        self._function_busy[p["FunctionName"]] = ("Pending", now + self._d(FUNCTION_SETTLE))
        self.seen["function Pending"] += 1
        self._show_function(parsed, now)

    def _function_updated(self, p: dict[str, Any], parsed: dict[str, Any], now: float) -> None:
        name = p["FunctionName"].rsplit(":", 1)[-1]
        if "Role" in p:
            self._function_role[name] = p["Role"]
        self._function_busy[name] = ("InProgress", now + self._d(FUNCTION_SETTLE))
        self.seen["function InProgress"] += 1
        self._show_function(parsed, now)

    _after_UpdateFunctionCode = _function_updated
    _after_UpdateFunctionConfiguration = _function_updated

    def _after_GetFunction(self, p: dict[str, Any], parsed: dict[str, Any], now: float) -> None:
        self._show_function(parsed["Configuration"], now)

    def _after_GetFunctionConfiguration(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        self._show_function(parsed, now)

    def _show_mapping(self, m: dict[str, Any], now: float) -> None:
        t = self._mappings.get(m["UUID"])
        if t:
            m["State"] = t.state if now < t.until else t.then

    def _after_CreateEventSourceMapping(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        # "Creating" first (EventSourceMappingConfiguration.State, Lambda API reference).
        then = "Enabled" if p.get("Enabled", True) else "Disabled"
        until = now + self._d(MAPPING_TRANSITION)
        self._mappings[parsed["UUID"]] = _Transition("Creating", until, then)
        self.seen["mapping Creating"] += 1
        self._show_mapping(parsed, now)

    def _after_UpdateEventSourceMapping(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        before = self._mappings.get(p["UUID"])
        was = before.then if before else "Enabled"
        if "Enabled" in p and p["Enabled"] != (was == "Enabled"):
            state, then = ("Enabling", "Enabled") if p["Enabled"] else ("Disabling", "Disabled")
        else:
            state, then = "Updating", was
        self._mappings[p["UUID"]] = _Transition(state, now + self._d(MAPPING_TRANSITION), then)
        self.seen[f"mapping {state}"] += 1
        self._show_mapping(parsed, now)

    def _after_DeleteEventSourceMapping(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        # "When you delete an event source mapping, it enters a Deleting state and might not
        # be completely deleted for several seconds" (DeleteEventSourceMapping reference).
        self._mappings.pop(p["UUID"], None)
        ghost = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        self._deleted_mappings[p["UUID"]] = (ghost, now + self._d(MAPPING_DELETING))
        parsed["State"] = "Deleting"
        self.seen["mapping Deleting"] += 1

    def _after_ListEventSourceMappings(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        for m in parsed.get("EventSourceMappings", []):
            self._show_mapping(m, now)
        function = p.get("FunctionName", "").rsplit(":", 1)[-1]
        for ghost, until in self._deleted_mappings.values():
            if now < until and (not function or ghost["FunctionArn"].endswith(f":{function}")):
                parsed.setdefault("EventSourceMappings", []).append({**ghost, "State": "Deleting"})

    def _after_GetEventSourceMapping(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        if parsed.get("State") != "Deleting":
            self._show_mapping(parsed, now)

    def _after_DeleteQueue(self, p: dict[str, Any], parsed: dict[str, Any], now: float) -> None:
        self._deleted_queues[p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]] = now

    def _after_DeleteStateMachine(
        self, p: dict[str, Any], parsed: dict[str, Any], now: float
    ) -> None:
        arn = p["stateMachineArn"]
        name = arn.rsplit(":", 1)[-1]
        ghost = {
            "stateMachineArn": arn,
            "name": name,
            "definition": "{}",
            "roleArn": "arn:aws:iam::123456789012:role/deleted",
            "type": "STANDARD",
            "creationDate": 0,
        }
        self._deleted_machines[arn] = (ghost, now + self._d(STATE_MACHINE_DELETING))


def strict(aws: Aws, clock: Callable[[], float], scale: float = 1.0) -> StrictAws:
    """The double, attached to every client of `aws`."""
    return StrictAws(clock, scale).attach(aws)
