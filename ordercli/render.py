"""The only place that prints: tables, progress, errors and --json, from result objects.

User data is always passed as rich Text (never parsed as markup)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
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
}
ACTION_WORD = {"create": "create", "update": "update", "delete": "delete", "noop": "no change"}


class Renderer:
    def __init__(
        self, json_mode: bool = False, *, width: int | None = None, color: bool | None = None
    ) -> None:
        self.json_mode = json_mode
        no_color = None if color is None else not color
        self.out = Console(width=width, no_color=no_color, highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, width=width, no_color=no_color, highlight=False)

    # -- generic ---------------------------------------------------------------
    def emit_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def header(self, target: str, stack: str) -> None:
        if self.json_mode:
            return
        line = Text("ordercli", style="bold")
        line.append("  target ", style="dim").append(target, style="cyan")
        line.append("  stack ", style="dim").append(stack, style="cyan")
        self.out.print(line)

    def info(self, message: str, style: str | None = None) -> None:
        """A human line: on stdout, or on stderr in --json mode so stdout stays JSON."""
        (self.err if self.json_mode else self.out).print(Text(message, style=style or ""))

    def note(self, message: str) -> None:
        """A progress line from a slow resource (Elastic Beanstalk's events)."""
        self.info(f"  {message}", style="dim")

    def error(self, err: OrderCliError) -> None:
        if self.json_mode:
            self.emit_json(
                {"error": {"message": err.message, "hint": err.hint, "exit_code": err.exit_code}}
            )
        self.err.print(Text("Error: ", style="bold red") + Text(err.message))
        if err.hint:
            self.err.print(Text(err.hint, style="dim"))

    # -- up / teardown ---------------------------------------------------------
    def plan(self, plan: Plan, title: str) -> None:
        if self.json_mode:
            return
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("action")
        table.add_column("kind")
        table.add_column("resource")
        table.add_column("reason", overflow="fold")
        for a in plan.actions:
            style = ACTION_STYLE[a.action]
            table.add_row(
                Text(ACTION_WORD[a.action], style=style),
                Text(a.spec.kind),
                Text(a.spec.name),
                Text(a.reason, style="dim"),
            )
        self.out.print(table)
        counts = {k: sum(1 for a in plan.actions if a.action == k) for k in ACTION_STYLE}
        summary = ", ".join(f"{n} to {k}" for k, n in counts.items() if n and k != "noop")
        self.out.print(
            Text(
                f"Plan: {summary or 'nothing to change'} ({counts['noop']} unchanged)", style="bold"
            )
        )

    @contextmanager
    def progress(self, plan: Plan) -> Iterator[Listener | None]:
        if self.json_mode or not plan.changes:
            yield None
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
                name = f"{action.action} {action.spec.kind} {action.spec.name}"
                if event == "start":
                    bar.update(task, description=name)
                elif event == "waiting":  # a countdown (deploy helper's line)
                    bar.update(task, description=f"{name}: waiting for {result.detail}")
                elif event == "done":
                    bar.advance(task)
                    bar.console.print(
                        Text("  ✓ ", style="green") + Text(f"{name} ({result.seconds:.1f}s)")
                    )
                elif event == "failed":
                    bar.advance(task)
                    bar.console.print(Text("  ✗ ", style="red") + Text(f"{name}: {result.error}"))
                elif event == "skipped":
                    bar.console.print(Text(f"  - {name} (skipped)", style="dim"))

            yield listener
            bar.update(task, description="done")

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
        if self.json_mode:
            self.emit_json({**info, **({"event": event} if event else {})})
            return
        if not info["running"]:
            self.out.print(Text(f"Emulator not running (port {info['port']}).", style="yellow"))
            return
        title = f"Emulator {event}" if event else "Emulator running"
        self.out.print(Text(title, style="bold green"))
        for key in ("endpoint", "pid", "webapp", "started_at", "log_file"):
            if info.get(key) is not None:
                self.out.print(Text(f"  {key}: ", style="dim") + Text(str(info[key])))

    def local_stopped(self, pid: int | None, port: int) -> None:
        if self.json_mode:
            self.emit_json({"stopped": pid is not None, "pid": pid, "port": port})
        elif pid is None:
            self.out.print(Text(f"No emulator was running on port {port}.", style="dim"))
        else:
            self.out.print(Text(f"Stopped the emulator (pid {pid}, port {port}).", style="green"))

    # -- submit ----------------------------------------------------------------
    @contextmanager
    def submit_progress(self, total: int, wait: bool) -> Iterator[tuple[Any, Any]]:
        if self.json_mode or (total < 2 and not wait):
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

    def submit_report(self, report: Any) -> None:
        if self.json_mode:
            self.emit_json(report.to_json())
            return
        summary = report.summary()
        if len(report.results) <= 20:
            table = Table(show_edge=False, pad_edge=False)
            for col in ("orderId", "status", "error", "latency"):
                table.add_column(col)
            for r in report.results:
                lat = "" if r.latency is None else f"{r.latency * 1000:.0f} ms"
                table.add_row(
                    Text(r.order_id),
                    Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                    Text(r.error or r.cause or ""),
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
                line += (
                    " ("
                    + ", ".join(f"{k} {v}" for k, v in summary["failed_by_error"].items())
                    + ")"
                )
            if summary["pending"]:
                line += f", still pending {summary['pending']}"
        self.out.print(Text(line, style="bold"))
        if "latency_ms" in summary:
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
        for r in report.not_sent:
            self.err.print(Text(f"not sent {r.order_id}: {r.cause}", style="red"))

    # -- status ----------------------------------------------------------------
    def stack_status(self, st: dict[str, Any]) -> None:
        if self.json_mode:
            self.emit_json(st)
            return
        table = Table(show_edge=False, pad_edge=False, title="Resources", title_justify="left")
        for col in ("state", "kind", "resource", "detail"):
            table.add_column(col)
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
                message = entry["message"].split("\t")[-1]  # drop Lambda's level/time/request id
                self.out.print(Text(f"      {message}", style="dim"))
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
        if self.json_mode:
            sys.stdout.write(json.dumps(line.to_json()) + "\n")
            sys.stdout.flush()
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
        table = Table(
            show_edge=False,
            pad_edge=False,
            title=f"{len(msgs)} dead-lettered message(s)",
            title_justify="left",
        )
        for col in ("messageId", "orderId", "reason", "error", "dead-lettered"):
            table.add_column(col, overflow="fold")
        for m in msgs:
            table.add_row(
                Text(m["messageId"]),
                Text(m["orderId"] or "(unreadable)"),
                Text(m["reason"], style="red"),
                Text(m["error"][:120]),
                Text(m["sent_at"] or ""),
            )
        self.out.print(table)
        self.out.print(Text("`ordercli dlq --redrive` moves them back to the queue.", style="dim"))

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
