"""The only place that prints: tables, progress, errors and --json, from result objects.

User data is always passed as rich Text (never parsed as markup). Output that is not a
terminal is never wrapped or cut (whole ARNs, one per line); in a terminal, table cells fold
to fit rather than being cut with "…".

JSON, one convention for every command: an object with `target` ({kind, endpoint, region,
account}) and `stack` first, times as ISO 8601 UTC strings, null for absent values. The
engines may hand over datetimes or epoch numbers under TIME_KEYS; `jsonable` converts them
here, in one place. New render functions: build a dict (or call .to_json()) and pass it to
`emit_json`; print human text through `self.out` with Text (never markup)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from ordercli.context import Context
    from ordercli.deploy.apply import Listener
    from ordercli.deploy.plan import Plan
    from ordercli.deploy.stack import StackResult
    from ordercli.errors import OrderCliError

ACTION_STYLE = {"create": "green", "update": "yellow", "delete": "red", "noop": "dim"}
STATUS_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "yellow",
    "QUEUED": "cyan",
    "NOT_SENT": "red",
    "TIMED_OUT": "red",
    "ABORTED": "red",
    "DEAD_LETTERED": "red",
}
ACTION_WORD = {"create": "create", "update": "update", "delete": "delete", "noop": "no change"}
# Keys holding times: epoch numbers (seconds, or milliseconds when that large) or ISO strings
# in another form (`+00:00`, microseconds) come out as one form, `2026-11-28T05:09:12.345Z`.
TIME_KEYS = frozenset(
    (
        "time",
        "timestamp",
        "sent_at",
        "stopped_at",
        "started_at",
        "startDate",
        "stopDate",
        "started",
        "stopped",
        "since",
    )
)
UNWRAPPED = 100_000  # columns when the output is not a terminal: nothing is wrapped or cut


def iso(value: datetime | float | int) -> str:
    """ISO 8601 UTC with milliseconds and a Z, from a datetime or epoch seconds/ms."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        seconds = value / 1000 if value > 1e11 else value
        moment = datetime.fromtimestamp(seconds, UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_text(text: str) -> str | None:
    """An ISO 8601 string in the convention's form; empty is absent; anything else as is."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return iso(moment)


def jsonable(data: Any, key: str | None = None) -> Any:
    """Result data as JSON values under the one convention (see the module docstring)."""
    if isinstance(data, Mapping):
        return {str(k): jsonable(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [jsonable(v) for v in data]
    if isinstance(data, datetime):
        return iso(data)
    if isinstance(data, date):
        return data.isoformat()
    if isinstance(data, str) and key == "orderId" and data in ("", "-"):
        return None  # an unreadable orderId is absent, not a placeholder
    if isinstance(data, str) and key in TIME_KEYS:
        return _iso_text(data)
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return data
    if isinstance(data, int | float) and key in TIME_KEYS:
        return iso(data)
    if isinstance(data, Decimal):
        return float(data)
    if isinstance(data, int | float):
        return data
    if hasattr(data, "to_json"):
        return jsonable(data.to_json())
    return str(data)


def _console(stderr: bool, width: int | None, no_color: bool | None) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    unwrapped = width is None and not stream.isatty()  # ORDERCLI_WIDTH acts as a terminal's
    # Lines of text are never broken by us (soft wrap: a terminal folds them on screen and a
    # copied URL or ARN stays whole); only tables fit the width, by folding cells.
    return Console(
        stderr=stderr,
        width=UNWRAPPED if unwrapped else width,
        no_color=no_color,
        highlight=False,
        soft_wrap=True,
    )


def _action_name(action: Any) -> str:
    return f"{action.action} {action.spec.kind} {action.spec.name}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _table(title: str | None = None) -> Table:
    return Table(show_edge=False, pad_edge=False, title=title, title_justify="left")


ID_WIDTH = {"messageId": 36, "orderId": 26}  # ids stay whole on one line where they fit


def _columns(table: Table, *names: str) -> None:
    for name in names:
        table.add_column(name, overflow="fold", min_width=ID_WIDTH.get(name))


class Renderer:
    def __init__(
        self, json_mode: bool = False, *, width: int | None = None, color: bool | None = None
    ) -> None:
        self.json_mode = json_mode
        no_color = None if color is None else not color
        self.out = _console(False, width, no_color)
        self.err = _console(True, width, no_color)
        self.context: Context | None = None  # set by bind(): the target and stack of the output
        # JSON Lines output (tail): every record, an error included, is one line
        self.json_lines = False
        # without a context: the target and stack named otherwise (local commands, cost)
        self._local: dict[str, Any] | None = None
        self._stack: str | None = None

    # -- generic ---------------------------------------------------------------
    def bind(self, ctx: Context) -> None:
        """Name the target and stack: in the header line, and in every JSON output."""
        self.context = ctx
        self.header(ctx.target.label, ctx.settings.stack)

    def bind_local(self, endpoint: str) -> None:
        """The emulator's own commands: the target is the local one; no stack is involved."""
        from ordercli.aws import LOCAL_ACCOUNT, LOCAL_REGION

        local = {"kind": "local", "endpoint": endpoint, "region": LOCAL_REGION}
        self._local = {**local, "account": LOCAL_ACCOUNT}

    def bind_offline(self, target: dict[str, Any], label: str, stack: str) -> None:
        """A command that makes no AWS call (cost): its target and stack, as bind() gives
        them, from the flags and settings alone."""
        self.name_where(target, stack)
        self.header(label, stack)

    def name_where(self, target: dict[str, Any], stack: str | None) -> None:
        """The target and stack --json names when no context was bound (no header)."""
        self._local, self._stack = target, stack

    @property
    def named(self) -> bool:
        return self._local is not None

    def envelope(self) -> dict[str, Any]:
        if self.context is None:
            return {"target": self._local, "stack": self._stack}
        return {"target": self.context.target_json(), "stack": self.context.settings.stack}

    def emit_json(self, data: Any, *, lines: bool = False, envelope: bool = True) -> None:
        """One JSON document (or, with lines, one JSON Lines record) under the convention.
        envelope=False only for a document whose shape is fixed elsewhere (an IAM policy)."""
        body = jsonable(data)
        if isinstance(body, dict) and envelope:
            body = {**body, **self.envelope()}
            body = {"target": body.pop("target"), "stack": body.pop("stack"), **body}
        text = json.dumps(body, ensure_ascii=False) if lines else json.dumps(body, indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def header(self, target: str, stack: str) -> None:
        if self.json_mode:
            return
        line = Text("ordercli", style="bold")
        line.append("  target ", style="dim").append(target, style="cyan")
        line.append("  stack ", style="dim").append(stack, style="cyan")
        self.out.print(line)

    def init_written(self, path: Path) -> None:
        if self.json_mode:
            self.emit_json({"written": str(path)})
        else:
            self.info(f"Wrote {path}. Every key is optional; edit what you need.")

    def emulator_started(self, endpoint: str, flags: str) -> None:
        """`up --local` started the emulator: say so, and how to stop it."""
        self.info(
            f"Started the local emulator in the background at {endpoint}; it keeps running "
            f"after this command. Stop it with: ordercli local stop{flags}",
            style="cyan",
        )

    def info(self, message: str, style: str | None = None) -> None:
        """A human line: on stdout, or on stderr in --json mode so stdout stays JSON."""
        (self.err if self.json_mode else self.out).print(Text(message, style=style or ""))

    def note(self, message: str) -> None:
        """A progress line from a slow resource (Elastic Beanstalk's events)."""
        self.info(f"  {message}", style="dim")

    def error(self, err: OrderCliError) -> None:
        if err.hint and self.context is not None:
            err.hint = self.context.with_flags(err.hint)  # hints repeat the flags given
        if self.json_mode:
            error: dict[str, Any] = {
                "message": err.message,
                "hint": err.hint,
                "exit_code": err.exit_code,
            }
            if getattr(err, "details", None) is not None:
                error["details"] = err.details
            self.emit_json({"error": error}, lines=self.json_lines)
        self.err.print(Text("Error: ", style="bold red") + Text(err.message))
        if err.hint:
            self.err.print(Text(err.hint, style="dim"))

    # -- up / teardown ---------------------------------------------------------
    def plan(self, plan: Plan, title: str, *, verbose: bool = False) -> None:
        """The changes (every row with verbose), then the counts with "N unchanged"."""
        if self.json_mode:
            return
        rows = plan.actions if verbose else plan.changes
        table = _table(title)
        _columns(table, "action", "kind", "resource", "reason")
        for a in rows:
            style = ACTION_STYLE[a.action]
            table.add_row(
                Text(ACTION_WORD[a.action], style=style),
                Text(a.spec.kind),
                Text(a.spec.name),
                Text(a.reason, style="dim"),
            )
        if rows:
            self.out.print(table)
        counts = {k: sum(1 for a in plan.actions if a.action == k) for k in ACTION_STYLE}
        summary = ", ".join(f"{n} to {k}" for k, n in counts.items() if n and k != "noop")
        self.out.print(
            Text(
                f"Plan: {summary or 'nothing to change'}, {counts['noop']} unchanged"
                + ("" if verbose or not counts["noop"] else " (--verbose lists them)"),
                style="bold",
            )
        )

    def teardown_question(self, ctx: Context, n: int, waiting: dict[str, dict[str, Any]]) -> str:
        """The confirmation: what goes, where, and the orders that go with the queues."""
        t = ctx.target_json()
        where = f"{t['kind']} target, account {t['account'] or ctx.aws.account_id()}, "
        where += f"region {t['region']}" + (f", endpoint {t['endpoint']}" if t["endpoint"] else "")
        lines = [f"Delete {n} resource(s) of stack '{ctx.settings.stack}' ({where})?"]
        queued = [
            f"{q['visible'] + q['in_flight']} in the {label}"
            for label, q in waiting.items()
            if q["exists"] and (q["visible"] or q["in_flight"])
        ]
        if queued:
            lines.append(f"Orders still waiting are deleted with the queues: {', '.join(queued)}.")
        return "\n".join(lines)

    @contextmanager
    def progress(self, plan: Plan) -> Iterator[Listener | None]:
        """A bar in a terminal; elsewhere (a log, a pipe) only the result lines."""
        if self.json_mode or not plan.changes:
            yield None
            return
        if not self.out.is_terminal:
            yield lambda event, action, result: self._applied(self.out, event, action, result)
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.out, transient=False) as bar:
            task = bar.add_task("applying", total=len(plan.changes))

            def listener(event: str, action: Any, result: Any) -> None:
                if event == "start":
                    bar.update(task, description=_action_name(action))
                elif event == "waiting":  # a countdown (deploy helper's line)
                    bar.update(
                        task, description=f"{_action_name(action)}: waiting for {result.detail}"
                    )
                elif event in ("done", "failed"):
                    bar.advance(task)
                self._applied(bar.console, event, action, result)

            yield listener
            bar.update(task, description="done")

    @staticmethod
    def _applied(console: Console, event: str, action: Any, result: Any) -> None:
        name = _action_name(action)
        if event == "done":
            console.print(Text("  ✓ ", style="green") + Text(f"{name} ({result.seconds:.1f}s)"))
        elif event == "failed":
            console.print(Text("  ✗ ", style="red") + Text(f"{name}: {result.error}"))
        elif event == "skipped":
            console.print(Text(f"  - {name} (skipped)", style="dim"))

    def stack_result(self, result: StackResult, verb: str) -> None:
        if self.json_mode:
            self.emit_json(result.to_json())
            return
        if result.dry_run:
            self.out.print(Text("Dry run: nothing was changed.", style="dim"))
            return
        n = len(result.results)
        self.out.print(
            Text(
                f"{verb}: {n} change(s) applied" if n else f"{verb}: no change", style="bold green"
            )
        )
        for key, value in result.outputs.items():
            if isinstance(value, dict):
                continue
            self.out.print(Text(f"  {key}: ", style="dim") + Text(str(value)))

    # -- local emulator --------------------------------------------------------
    def local_status(self, info: dict[str, Any], event: str | None) -> None:
        self.bind_local(info["endpoint"])
        if self.json_mode:
            self.emit_json({**info, "event": event})
            return
        if not info["running"]:
            self.out.print(Text(f"Emulator not running (port {info['port']}).", style="yellow"))
            return
        title = f"Emulator {event}" if event else "Emulator running"
        self.out.print(Text(title, style="bold green"))
        for key in ("endpoint", "pid", "webapp", "started_at", "log_file"):
            if info.get(key) is not None:
                self.out.print(Text(f"  {key}: ", style="dim") + Text(str(info[key])))

    def local_stopped(self, pid: int | None, port: int, saved: Any = None) -> None:
        self.bind_local(f"http://127.0.0.1:{port}")
        if self.json_mode:
            self.emit_json({"stopped": pid is not None, "pid": pid, "port": port, "saved": saved})
        elif pid is None:
            self.out.print(Text(f"No emulator was running on port {port}.", style="dim"))
        else:
            self.out.print(Text(f"Stopped the emulator (pid {pid}, port {port}).", style="green"))

    def local_reset(self, port: int, freed: Any) -> None:
        self.bind_local(f"http://127.0.0.1:{port}")
        if self.json_mode:
            self.emit_json({"reset": True, "port": port, "freed_bytes": freed})
        else:
            self.info(f"Reset the emulator on port {port}: its saved state is gone.")

    # -- submit ----------------------------------------------------------------
    @contextmanager
    def submit_progress(self, total: int, wait: bool) -> Iterator[tuple[Any, Any]]:
        if self.json_mode or (total < 2 and not wait) or not self.out.is_terminal:
            yield None, None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.out,
        ) as bar:
            sent = bar.add_task("sent", total=total)
            done = bar.add_task("terminal", total=total, visible=wait)
            yield (
                lambda n, t: bar.update(sent, completed=n, total=t),
                lambda n, t: bar.update(done, completed=n, total=t),
            )

    def submit_report(self, report: Any, ctx: Context, web: str | None = None) -> None:
        """The orders (up to 20), the summary adding up, and the next step: `status`, or the
        order's page when the web app runs (`web`, its base URL)."""
        if self.json_mode:
            self.emit_json(report.to_json())
            return
        summary = report.summary()
        if len(report.results) <= 20:
            table = _table()
            _columns(table, "orderId", "status", "error", "latency")
            for r in report.results:
                lat = "" if r.latency is None else f"{r.latency * 1000:.0f} ms"
                table.add_row(
                    Text(r.order_id),
                    Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                    Text(": ".join(x for x in (r.error, r.cause) if x)),
                    Text(lat),
                )
            self.out.print(table)
        line = f"sent {summary['sent']}/{summary['submitted']}"
        if summary["rejected"]:
            line += f", rejected {summary['rejected']}"
        if summary["not_sent"]:
            line += f", NOT SENT {summary['not_sent']}"
        if report.waited:
            line += f"; succeeded {summary['succeeded']}, failed {summary['failed']}"
            if summary["failed_by_error"]:
                line += " (" + _counts(summary["failed_by_error"]) + ")"
            line += f", dead-lettered {summary['dead_lettered']}"
            if summary["dead_lettered_by_reason"]:
                line += " (" + _counts(summary["dead_lettered_by_reason"]) + ")"
            line += f", still pending {summary['pending']}"
        self.out.print(Text(line, style="bold"))
        if summary["latency_ms"]:
            lat = summary["latency_ms"]
            self.out.print(
                Text(
                    f"end-to-end latency p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms,"
                    f" max {lat['max']:.0f} ms",
                    style="dim",
                )
            )
        for r in report.rejected:
            self.out.print(Text(f"rejected {r}", style="yellow"))
        if report.not_sent:
            shown = report.not_sent[:20]
            self.err.print(
                Text(
                    f"{len(report.not_sent)} order(s) were NOT sent (not accepted by the queue):",
                    style="red",
                )
            )
            for r in shown:
                self.err.print(Text(f"  not sent {r.order_id}: {r.cause}", style="red"))
            if len(report.not_sent) > len(shown):
                self.err.print(Text("  ... (--json lists every order)", style="red"))
        if report.interrupted:
            self.err.print(
                Text("Interrupted: the orders listed as sent were accepted.", style="yellow")
            )
        if report.error is not None:
            self.error(report.error)
        sent = [r for r in report.results if r.status != "NOT_SENT"]
        if sent:
            if len(sent) == 1:
                follow = ctx.command(f"status {sent[0].order_id}")
                if web:
                    follow += f"  or open {web.rstrip('/')}/orders/{sent[0].order_id}"
            else:
                follow = ctx.command("status")
                if web:
                    follow += f"  or open {web.rstrip('/')}/dashboard"
            self.out.print(Text("Next: ", style="dim") + Text(follow))

    # -- status ----------------------------------------------------------------
    def stack_status(self, st: dict[str, Any]) -> None:
        if self.json_mode:
            self.emit_json(st)
            return
        table = _table("Resources")
        _columns(table, "state", "kind", "resource", "detail")
        for r in st["resources"]:
            style = {"present": "green", "missing": "red", "drifted": "yellow"}[r["state"]]
            table.add_row(
                Text(r["state"], style=style),
                Text(r["kind"]),
                Text(r["name"]),
                Text(r["detail"], style="dim"),
            )
        self.out.print(table)
        for label, q in (("queue", st["queue"]), ("dlq", st["dlq"])):
            if q["exists"]:
                style = "red" if label == "dlq" and q["visible"] else ""
                self.out.print(
                    Text(
                        f"{label:<6} {q['name']}: {q['visible']} waiting, "
                        f"{q['in_flight']} in flight",
                        style=style,
                    )
                )
        alarm = st.get("alarm")
        if alarm:
            firing = alarm["state"] == "ALARM"
            self.out.print(
                Text(
                    f"alarm  {alarm['name']}: {alarm['state']}"
                    + (" (the DLQ is not empty)" if firing else ""),
                    style="red" if firing else "",
                )
            )
        ex = st["executions"]
        line = (
            f"executions: {ex['running']} running, {ex['succeeded']} succeeded, "
            f"{ex['failed']} failed, {ex['timed_out']} timed out, {ex['aborted']} aborted"
        )
        self.out.print(Text(line))
        if ex["by_error"]:
            reasons = ", ".join(f"{k} {v}" for k, v in ex["by_error"].items())
            self.out.print(
                Text(
                    f"  top failure reasons (last {ex['by_error_sample']} failures): {reasons}",
                    style="dim",
                )
            )
        if st.get("monitoring"):
            self._monitoring(st["monitoring"])
        web = st.get("webapp")
        if web:
            self.out.print(Text(f"web app: {web['url']} ({web['health']})"))
        if st.get("dashboard_url"):
            self.out.print(Text(f"dashboard: {st['dashboard_url']}", style="dim"))

    def _monitoring(self, m: dict[str, Any]) -> None:
        """The dashboard's figures over the window (`status --since`)."""
        hours = m["window_seconds"] / 3600
        window = f"{hours:g} h" if hours >= 1 else f"{m['window_seconds'] / 60:g} min"

        def num(value: float | None, fmt: str, unit: str = "") -> str:
            return "no data" if value is None else format(value, fmt) + unit

        if m.get("unavailable"):
            self.out.print(
                Text(f"last {window}: figures unavailable: {m['unavailable']}", style="yellow")
            )
            return
        rate = m["payment_success_rate"]
        lat = m["latency_ms"]
        self.out.print(Text(f"last {window}:", style="bold"))
        self.out.print(Text(f"  orders per hour        {num(m['orders_per_hour'], '.1f')}"))
        self.out.print(
            Text(
                "  payment success rate   "
                + ("no data" if rate is None else f"{rate * 100:.1f}%")
                + "  (succeeded / finished executions)"
            )
        )
        self.out.print(
            Text(
                f"  end-to-end latency     p50 {num(lat['p50'], '.0f', ' ms')}, "
                f"p95 {num(lat['p95'], '.0f', ' ms')}"
            )
        )
        errors = {k: v for k, v in m["errors_by_function"].items() if v}
        self.out.print(
            Text(
                "  errors by function     "
                + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "none"),
                style="red" if errors else "",
            )
        )

    def order_status(self, o: dict[str, Any]) -> None:
        if self.json_mode:
            self.emit_json(o)
            return
        outcome = o["outcome"]
        style = STATUS_STYLE.get(o["status"], "")
        if o["status"] == "DEAD_LETTERED":
            style = "red"
        elif o["status"] == "SUCCEEDED" and not outcome["notified"]:
            style = "yellow"
        head = Text(f"order {o['orderId']}: ") + Text(outcome["label"], style=f"bold {style}")
        self.out.print(head)
        self.out.print(Text(f"  {outcome['message']}"))
        letter = o.get("dead_letter")
        if letter:
            self.out.print(Text(f"  reason: {letter['reason']}", style="red"))
            if letter["error"]:
                self.out.print(Text(f"  error: {letter['error']}", style="red"))
            self.out.print(
                Text(
                    f"  message {letter['messageId']}, sent {letter['sent_at'] or '?'}", style="dim"
                )
            )
            self.out.print(Text(letter["hint"], style="dim"))
            return
        for s in o["steps"]:
            mark = {
                "succeeded": ("✓", "green"),
                "failed": ("✗", "red"),
                "running": ("…", "yellow"),
            }[s["status"]]
            dur = "" if s["duration_ms"] is None else f" {s['duration_ms']:.0f} ms"
            line = Text(f"  {mark[0]} ", style=mark[1]) + Text(f"{s['name']}{dur}")
            if s["error"]:
                cause = f": {s['cause']}" if s["cause"] else ""
                line += Text(f"  {s['error']}{cause}", style="red")
            self.out.print(line)
            for entry in s["logs"]:
                self.out.print(Text(f"      {_log_text(entry)}", style="dim"))
        if o["current_step"]:
            self.out.print(Text(f"running: {o['current_step']}", style="yellow"))
        payment = (o["output"] or {}).get("payment") if isinstance(o["output"], dict) else None
        if isinstance(payment, dict):
            self.out.print(
                Text(
                    f"payment: {payment.get('status')} {payment.get('amount', '')} "
                    f"(transaction {payment.get('transactionId')})",
                    style="dim",
                )
            )

    # -- tail ------------------------------------------------------------------
    def tail_line(self, line: Any) -> None:
        """One event; with --json one JSON Lines record carrying target and stack, as every
        JSON output does (an error ending the stream is one more such record)."""
        if self.json_mode:
            self.emit_json(line.to_json(), lines=True)
            return
        import time as _time

        stamp = (
            _time.strftime("%H:%M:%S", _time.localtime(line.time))
            + f".{int(line.time * 1000) % 1000:03d}"
        )
        style = {"ok": "green", "fail": "red", "running": "yellow", "info": ""}[line.outcome]
        text = (
            Text(f"{stamp} ", style="dim")
            + Text(f"{line.order_id or '-':<26} ", style="cyan")
            + Text(f"{line.step:<18} ")
            + Text(line.message, style=style)
        )
        if line.message_id:
            text += Text(f"  (message {line.message_id})", style="dim")
        self.out.print(text)

    # -- dlq -------------------------------------------------------------------
    def dead_letters(self, data: dict[str, Any]) -> None:
        if self.json_mode:
            self.emit_json(data)
            return
        msgs = data["messages"]
        if not msgs:
            self.out.print(Text("The dead-letter queue is empty.", style="green"))
            return
        table = _table(f"{len(msgs)} dead-lettered message(s)")
        _columns(table, "messageId", "orderId", "reason", "error", "dead-lettered")
        for m in msgs:
            table.add_row(
                Text(m["messageId"]),
                Text(m["orderId"] or "(unreadable)"),
                Text(m["reason"], style="red"),
                Text(m["error"][:120]),
                Text(m["sent_at"] or ""),
            )
        self.out.print(table)
        redrive = (
            self.context.command("dlq --redrive") if self.context else "ordercli dlq --redrive"
        )
        self.out.print(Text(f"`{redrive}` moves them back to the queue.", style="dim"))

    def redrive(self, data: dict[str, Any]) -> None:
        if self.json_mode:
            self.emit_json(data)
            return
        self.out.print(
            Text(
                f"Moved {data['moved']} message(s) back to the queue "
                f"({data['method']}, {data['status']}).",
                style="green",
            )
        )

    # -- cost ------------------------------------------------------------------
    def cost_estimate(self, est: Any) -> None:
        """`ordercli cost`: one row per priced item, grouped by service, with both totals."""
        if self.json_mode:
            self.emit_json(est.to_json())
            return
        from ordercli import prices

        self.out.print(
            Text(
                f"Estimated monthly cost of stack '{est.stack}' at "
                f"{est.orders_per_month:,} orders a month",
                style="bold",
            )
        )
        self.out.print(
            Text(
                f"Estimates, not a bill: {prices.REGION} list prices as of {prices.AS_OF}, "
                "USD, before tax.",
                style="dim",
            )
        )
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("service", overflow="fold")
        table.add_column("item", overflow="fold")
        table.add_column("quantity", justify="right")
        table.add_column("no free tier", justify="right")
        table.add_column("free tier", justify="right")
        previous = None
        for line in est.lines:
            table.add_row(
                Text("" if line.service == previous else line.service),
                Text(line.item),
                Text(f"{_quantity(line.quantity)} {line.unit}"),
                Text(_usd(line.usd)),
                Text(_usd(line.usd_free_tier)),
            )
            previous = line.service
        table.add_section()
        table.add_row(
            Text("total", style="bold"),
            Text(""),
            Text(""),
            Text(_usd(est.total), style="bold"),
            Text(_usd(est.total_free_tier), style="bold"),
        )
        self.out.print(table)
        for note in est.notes:
            self.out.print(Text(f"- {note}", style="dim"))


def _log_text(entry: Mapping[str, Any]) -> str:
    """A Lambda log line as a person reads it: `ProcessPayment: declined`, not the JSON the
    handler wrote nor Lambda's level, time and request id (the JSON output keeps the line)."""
    from ordercli.operate.tail import log_line

    line = log_line(entry["function"], {"message": entry["message"], "timestamp": 0})
    message = line.message if line else entry["message"].split("\t")[-1]
    return f"{entry['function']}: {message}"


def _usd(value: float) -> str:
    if 0 < value < 0.005:
        return "<$0.01"
    return f"${value:,.2f}"


def _quantity(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
