"""Typer commands only: parse, call one engine function, render.

Heavy modules (boto3, rich, moto) are imported inside the commands, so `ordercli --help`
stays fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ordercli.context import Options

if TYPE_CHECKING:
    from ordercli.context import Context
    from ordercli.render import Renderer

T = TypeVar("T")

app = typer.Typer(
    name="ordercli",
    help="Provision and operate the asynchronous order pipeline (SQS, Step Functions, Lambda, "
    "Elastic Beanstalk) on AWS, or on an embedded local emulator with --local.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
local_app = typer.Typer(
    help="The embedded AWS emulator used by --local.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(local_app, name="local")

# -- options every command takes ------------------------------------------------------------
Stack = Annotated[
    str | None,
    typer.Option(
        "--stack", help="Stack name [env ORDERCLI_STACK; default: orders].", show_default=False
    ),
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region.", show_default=False)]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile.", show_default=False)]
Config = Annotated[
    str | None,
    typer.Option("--config", help="Config file [default: ./ordercli.yaml].", show_default=False),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
Local = Annotated[
    bool, typer.Option("--local", help="Use the embedded emulator [env ORDERCLI_TARGET=local].")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.", hidden=True)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _renderer(json_mode: bool) -> Renderer:
    from ordercli.render import Renderer

    width = int(os.environ["ORDERCLI_WIDTH"]) if os.environ.get("ORDERCLI_WIDTH") else None
    return Renderer(json_mode, width=width, color=None if not os.environ.get("NO_COLOR") else False)


def run(options: Options, body: Callable[[Renderer], T]) -> T:
    """The error edge: our errors and AWS's become one message and an exit code."""
    from ordercli.errors import EXIT_FAILURE, OrderCliError

    render = _renderer(options.json)
    try:
        return body(render)
    except typer.Exit:
        raise
    except OrderCliError as err:
        if options.debug:
            raise
        render.error(err)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        render.info("Interrupted.", style="yellow")
        raise typer.Exit(130) from None
    except Exception as exc:
        if options.debug:
            raise
        from ordercli.aws import translate_error

        translated = translate_error(exc)
        if translated is None:
            translated = OrderCliError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="Run again with --debug for the traceback.",
            )
        render.error(translated)
        raise typer.Exit(getattr(translated, "exit_code", EXIT_FAILURE)) from None


def _context(
    options: Options, render: Renderer, *, start_local: bool = False, **overrides: Any
) -> Context:
    from ordercli.context import build_context

    ctx = build_context(options, start_local=start_local, **overrides)
    render.header(ctx.target.label, ctx.settings.stack)
    return ctx


# -- commands -------------------------------------------------------------------------------
@app.command()
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write.")] = Path("ordercli.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented ordercli.yaml with every key and its default."""
    from ordercli.config import template
    from ordercli.errors import UsageError

    def body(render: Renderer) -> None:
        if path.exists() and not force:
            raise UsageError(f"{path} already exists (use --force to overwrite)")
        path.write_text(template(), encoding="utf-8")
        render.info(f"Wrote {path}. Every key is optional; edit what you need.")

    run(Options(), body)


@app.command()
def up(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    no_web: Annotated[bool, typer.Option("--no-web", help="Skip the web app.")] = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """Create or update every resource of the stack; prints the plan first."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli.deploy import stack as engine

        ctx = _context(
            options,
            render,
            start_local=not dry_run,
            **({"webapp.enabled": False} if no_web else {}),
        )
        plan = engine.plan(ctx)
        render.plan(plan, "Plan")
        ctx.aws.note = render.note
        with render.progress(plan if not dry_run else type(plan)([])) as listener:
            result = engine.up(ctx, plan, dry_run=dry_run, listener=listener)
        _checkpoint_local(ctx, dry_run)
        render.stack_result(result, "up")

    run(options, body)


@app.command()
def teardown(
    yes: Yes = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """Delete every resource of the stack (log groups and the queue trigger too)."""
    _teardown(Options(stack, region, profile, config, json, local, debug), yes)


@app.command("cleanup", hidden=True)
def cleanup(
    yes: Yes = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """Alias of teardown (the original design's word for it)."""
    _teardown(Options(stack, region, profile, config, json, local, debug), yes)


def _checkpoint_local(ctx: Context, dry_run: bool) -> None:
    """The emulator saves its state after the stack changed (a crash keeps the stack)."""
    if ctx.target.kind == "local" and not dry_run:
        from ordercli.local import control

        control.checkpoint()


def _teardown(options: Options, yes: bool) -> None:
    def body(render: Renderer) -> None:
        from ordercli.deploy import stack as engine
        from ordercli.errors import UsageError

        ctx = _context(options, render)
        plan = engine.plan(ctx, teardown=True)
        render.plan(plan, "Teardown plan")
        if plan.changes and not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "teardown deletes resources: pass --yes to confirm "
                    "(standard input is not a terminal, so I cannot ask)"
                )
            if not typer.confirm(
                f"Delete {len(plan.changes)} resource(s) of stack '{ctx.settings.stack}'?",
                default=False,
            ):
                render.info("Nothing was deleted.")
                raise typer.Exit(1)
        ctx.aws.note = render.note
        with render.progress(plan) as listener:
            result = engine.teardown(ctx, plan, listener=listener)
        _checkpoint_local(ctx, False)
        render.stack_result(result, "teardown")

    run(options, body)


@app.command()
def submit(
    customer: Annotated[str | None, typer.Option("--customer", help="Customer name.")] = None,
    product: Annotated[str | None, typer.Option("--product", help="Product.")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount, 0 < amount < 10000, at most 2 decimals.")
    ] = None,
    order_id: Annotated[
        str | None, typer.Option("--order-id", help="Order id (default: generated, sortable).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Orders from a .csv, .json or .jsonl file.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send a file's valid rows, list the rest.")
    ] = False,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, max=1_000_000, help="Send N generated orders (load test)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Sending threads.")
    ] = 8,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.1, help="Orders per second at most.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow every order to a terminal state.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds --wait waits.")] = 300,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """Send orders: one from flags, a file, or a generated load."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli.errors import UsageError
        from ordercli.operate import orders_input
        from ordercli.operate import submit as engine

        sources = [
            s
            for s, given in (
                (
                    "--customer/--product/--amount",
                    any(v is not None for v in (customer, product, amount)),
                ),
                ("--file", file is not None),
                ("--count", count is not None),
            )
            if given
        ]
        if len(sources) != 1:
            raise UsageError(
                "give exactly one of --customer/--product/--amount, --file or --count"
                + (f" (got {' and '.join(sources)})" if sources else "")
            )
        rejected: list[Any] = []
        if file is not None:
            batch = orders_input.from_file(file)
            rejected = batch.rejected
            if rejected and not skip_invalid:
                raise UsageError(
                    f"{file}: {len(rejected)} invalid row(s); nothing was sent:\n  "
                    + "\n  ".join(str(r) for r in rejected[:20])
                    + ("\n  ..." if len(rejected) > 20 else "")
                    + "\n(--skip-invalid sends the valid rows)"
                )
            orders = batch.orders
        elif count is not None:
            orders = orders_input.generate(count)
        else:
            orders = [orders_input.from_flags(customer, product, amount, order_id)]
        ctx = _context(options, render)
        with render.submit_progress(len(orders), wait) as (on_sent, on_done):
            report = engine.submit(
                ctx,
                orders,
                rejected=rejected,
                wait=wait,
                timeout=timeout,
                concurrency=concurrency,
                rate=rate,
                on_sent=on_sent,
                on_done=on_done,
            )
        render.submit_report(report)
        if report.not_sent or (wait and report.summary()["pending"]):
            raise typer.Exit(1)

    run(options, body)


@app.command()
def status(
    order_id: Annotated[
        str | None,
        typer.Argument(help="An orderId: show its outcome, steps and logs.", show_default=False),
    ] = None,
    since: Annotated[
        str,
        typer.Option("--since", help="Window of the figures: 30m, 1h, 1d, 1w or ISO 8601."),
    ] = "1h",
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """The stack (resources, queue depths, executions, orders per hour, success rate, latency,
    errors by function, web app), or one order's outcome."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli.operate import status as engine
        from ordercli.operate.tail import parse_since

        seconds = parse_since(since)
        if order_id is not None:
            engine.check_order_id(order_id)
        ctx = _context(options, render)
        if order_id is None:
            render.stack_status(engine.deployed_stack_status(ctx, seconds))
        else:
            render.order_status(engine.order_status(ctx, order_id))

    run(options, body)


@app.command()
def tail(
    order: Annotated[
        str | None, typer.Option("--order", help="Only this orderId (--follow stops when it ends).")
    ] = None,
    since: Annotated[
        str,
        typer.Option("--since", help="How far back to start: 30s, 10m, 2h, 3d, 1w or ISO 8601."),
    ] = "10m",
    follow: Annotated[
        bool,
        typer.Option("--follow/--no-follow", "-f", help="Keep printing new lines (Ctrl-C stops)."),
    ] = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """Executions and the Lambdas' log lines, interleaved by time; prints and exits, or
    follows with --follow (as `aws logs tail`)."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli.operate import tail as engine

        seconds = engine.parse_since(since)
        if order is not None:
            engine.check_order_id(order)
        ctx = _context(options, render)
        try:
            for line in engine.follow(ctx, since=seconds, order_id=order, keep_following=follow):
                render.tail_line(line)
        except KeyboardInterrupt:
            return

    run(options, body)


@app.command()
def dlq(
    redrive: Annotated[
        bool, typer.Option("--redrive", help="Move the messages back to the queue.")
    ] = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """List dead-lettered orders (without consuming them), or --redrive them."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli.operate import dlq as engine

        ctx = _context(options, render)
        if redrive:
            render.redrive(engine.redrive(ctx))
        else:
            render.dead_letters(engine.list_dead_letters(ctx))

    run(options, body)


@app.command()
def cost(
    orders_per_month: Annotated[
        int,
        typer.Option("--orders-per-month", min=0, max=1_000_000_000, help="Orders a month."),
    ] = 10_000,
    measured: Annotated[
        bool,
        typer.Option(
            "--measured", help="Lambda durations from the stack's last day of logs, not assumed."
        ),
    ] = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    local: Local = False,
    debug: Debug = False,
) -> None:
    """The stack's monthly cost as configured, by service, with and without the free tier
    (an estimate from list prices; no AWS call unless --measured)."""
    options = Options(stack, region, profile, config, json, local, debug)

    def body(render: Renderer) -> None:
        from ordercli import cost as engine
        from ordercli.config import load_settings

        settings = load_settings({"stack": stack, "region": region}, config)
        durations, source = None, "assumed"
        if measured:
            ctx = _context(options, render)
            durations = engine.measure_durations(ctx)
            source = f"measured on {ctx.target.label} over the last day" + (
                "" if len(durations) == 4 else "; assumed where no invocation was logged"
            )
        render.cost_estimate(
            engine.stack_cost(
                settings, orders_per_month, durations_ms=durations, durations_source=source
            )
        )

    run(options, body)


@app.command()
def policy(
    no_web: Annotated[bool, typer.Option("--no-web", help="For a stack without web app.")] = False,
    stack: Stack = None,
    region: Region = None,
    profile: Profile = None,
    config: Config = None,
    json: Json = False,
    debug: Debug = False,
) -> None:
    """Print the IAM policy that lets a person or CI run this stack's commands."""
    options = Options(stack, region, profile, config, json, False, debug)

    def body(render: Renderer) -> None:
        from ordercli.context import build_context
        from ordercli.deploy.deployer_policy import deployer_policy

        ctx = build_context(options)  # no header: stdout is the policy, ready to save
        web = not no_web and bool(ctx.settings["webapp.enabled"])
        result = deployer_policy(ctx.names, web=web)
        render.emit_json(result.to_json() if json else result.document())
        for grant in [] if json else result.unscoped:
            render.err.print(f"{grant.sid}: {grant.unscoped}.", markup=False)

    run(options, body)


# -- the local emulator ---------------------------------------------------------------------
Port = Annotated[
    int | None,
    typer.Option(
        "--port", help="Port [env ORDERCLI_LOCAL_PORT; default 4566].", show_default=False
    ),
]


@local_app.command("start")
def local_start(port: Port = None, json: Json = False, debug: Debug = False) -> None:
    """Start the emulator in the background (a no-op if it already runs)."""
    options = Options(json=json, debug=debug)

    def body(render: Renderer) -> None:
        from ordercli.local import control

        state, started = control.start(port)
        info = control.status(state.port)
        render.local_status(info, "started" if started else "already running")
        if started and not render.json_mode:
            from ordercli.local import state_view

            for line in state_view.started(info):
                render.info(line)

    run(options, body)


DrainTimeout = Annotated[
    float,
    typer.Option("--timeout", min=0, help="Seconds to let running orders finish before saving."),
]


@local_app.command("stop")
def local_stop(
    port: Port = None, timeout: DrainTimeout = 10.0, json: Json = False, debug: Debug = False
) -> None:
    """Stop the emulator and its web app, saving the emulator's state for the next start."""
    options = Options(json=json, debug=debug)

    def body(render: Renderer) -> None:
        from ordercli.local import control, state_view

        done = control.stop_saving(port, timeout)
        port_ = port or control.port_from_env()
        if render.json_mode:
            saved = done.saved if done else None
            pid = done.state.pid if done else None
            render.emit_json(
                {"stopped": done is not None, "pid": pid, "port": port_, "saved": saved}
            )
            return
        render.local_stopped(done.state.pid if done else None, port_)
        for line in state_view.stopped(done.saved, timeout) if done else []:
            render.info(line)

    run(options, body)


@local_app.command("status")
def local_status(port: Port = None, json: Json = False, debug: Debug = False) -> None:
    """Whether the emulator runs, its pid, endpoint, web app and log file."""
    options = Options(json=json, debug=debug)

    def body(render: Renderer) -> None:
        from ordercli.local import control

        info = control.status(port)
        render.local_status(info, None)
        if not render.json_mode:
            from ordercli.local import state_view

            for line in state_view.stored(info):
                render.info(line)

    run(options, body)


@local_app.command("reset")
def local_reset(
    port: Port = None, yes: Yes = False, json: Json = False, debug: Debug = False
) -> None:
    """Stop the emulator without saving and forget its saved state: the next start is empty."""
    options = Options(json=json, debug=debug)

    def body(render: Renderer) -> None:
        from ordercli.errors import UsageError
        from ordercli.local import control

        port_ = port or control.port_from_env()
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "local reset forgets every saved order and the stack: pass --yes to confirm "
                    "(standard input is not a terminal, so I cannot ask)"
                )
            if not typer.confirm(
                f"Stop the emulator on port {port_} and forget everything it holds?", default=False
            ):
                render.info("Nothing was reset.")
                raise typer.Exit(1)
        freed = control.reset(port_)
        if render.json_mode:
            render.emit_json({"reset": True, "port": port_, "freed_bytes": freed})
        else:
            render.info(f"Reset the emulator on port {port_}: its saved state is gone.")

    run(options, body)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
