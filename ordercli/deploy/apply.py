"""Apply: run a plan's actions in dependency order, independent ones concurrently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ordercli.deploy.plan import Action, Plan
from ordercli.deploy.resources import kind
from ordercli.errors import OrderCliError

if TYPE_CHECKING:
    from ordercli.aws import Aws

Listener = Callable[[str, Action, "Result | None"], None]


@dataclass
class Result:
    action: Action
    status: str  # done | failed | skipped (| waiting, only while it runs)
    seconds: float = 0.0
    error: BaseException | None = None
    # What AWS still finishes by itself after a delete (e.g. "Deleting"), or a wait's countdown.
    detail: str = ""


class ApplyError(OrderCliError):
    def __init__(self, results: list[Result]) -> None:
        failed = [r for r in results if r.status == "failed"]
        first = failed[0]
        detail = getattr(first.error, "message", None) or _readable(first.error)
        super().__init__(
            f"{len(failed)} action(s) failed; first: {first.action.action} "
            f"{first.action.spec.kind} {first.action.spec.name}: {detail}",
            hint="Nothing is lost: run the same command again to converge from where it stopped.",
        )
        self.results = results


def _readable(error: BaseException | None) -> str:
    """An AWS error as the CLI edge would word it (e.g. "Access denied for ..."), else str."""
    from ordercli.aws import translate_error

    ours = translate_error(error) if error is not None else None
    return ours.message if ours is not None else str(error)


def _prerequisites(plan: Plan) -> dict[str, set[str]]:
    """For up: a spec waits for the specs it depends on. For teardown: the reverse."""
    keys = {a.spec.key for a in plan.changes}
    pre: dict[str, set[str]] = {k: set() for k in keys}
    for a in plan.changes:
        for dep in a.spec.depends_on:
            if dep not in keys:
                continue
            if plan.teardown:
                pre[dep].add(a.spec.key)
            else:
                pre[a.spec.key].add(dep)
    return pre


def _run(aws: Aws, action: Action) -> str:
    """Run one action; returns what AWS still finishes by itself ("" when nothing)."""
    handler = kind(action.spec.kind)
    if action.action == "create":
        handler.create(aws, action.spec)
    elif action.action == "update":
        handler.update(aws, action.spec, action.current, action.changes)
    elif action.action == "delete":
        return handler.delete(aws, action.spec, action.current) or ""
    return ""


def apply(aws: Aws, plan: Plan, listener: Listener | None = None, threads: int = 8) -> list[Result]:
    """Run every change; on a failure finish what is running, skip the rest, raise ApplyError."""
    notify = listener or (lambda *_: None)
    todo = {a.spec.key: a for a in plan.changes}
    pre = _prerequisites(plan)
    done: set[str] = set()
    results: dict[str, Result] = {}
    failed = False
    lock = threading.Lock()

    def timed(action: Action) -> Result:
        notify("start", action, None)
        t0 = time.perf_counter()

        def countdown(what: str, left: float) -> None:
            notify("waiting", action, Result(action, "waiting", detail=f"{what}: {left:.0f} s"))

        aws.set_countdown(countdown)
        try:
            pending = _run(aws, action)
        except Exception as exc:
            result = Result(action, "failed", time.perf_counter() - t0, exc)
        else:
            result = Result(action, "done", time.perf_counter() - t0, detail=pending)
            if pending:
                aws.say(f"{action.spec.kind} {action.spec.name}: {pending}")
        finally:
            aws.set_countdown(None)
        notify(result.status, action, result)
        return result

    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: dict[Future[Result], str] = {}
        while todo or running:
            if not failed:
                ready = [k for k in todo if pre[k] <= done]
                for k in ready:
                    running[pool.submit(timed, todo.pop(k))] = k
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                k = running.pop(fut)
                result = fut.result()
                with lock:
                    results[k] = result
                if result.status == "done":
                    done.add(k)
                else:
                    failed = True
    for k, action in todo.items():
        results[k] = Result(action, "skipped")
        notify("skipped", action, results[k])
    ordered = [results[a.spec.key] for a in plan.changes if a.spec.key in results]
    if failed:
        raise ApplyError(ordered)
    return ordered
