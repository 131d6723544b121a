"""Typer commands only: parse, call one engine function, render.

Heavy modules (boto3, rich, moto) are imported inside the commands, so `ordercli --help`
stays fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from ordercli.context import Options

if TYPE_CHECKING:
    from ordercli.context import Context
    from ordercli.render import Renderer

T = TypeVar("T")

# The global options: declared once, on the root command, and accepted before or after the
# subcommand (`ordercli --local status` and `ordercli status --local`): GlobalsGroup moves
# them in front of the subcommand before Click parses. True: the option takes a value.
GLOBAL_OPTIONS = {
    "--stack": True,
    "--region": True,
    "--profile": True,
    "--config": True,
    "--endpoint-url": True,
    "--port": True,
    "--json": False,
    "--local": False,
    "--debug": False,
    "--verbose": False,
    "-v": False,
}
GLOBALS_EPILOG = (
    "Global options go before or after the command: --local, --stack, --region, --profile, "
    "--config, --endpoint-url, --port, --json, --verbose, --debug (see `ordercli --help`)."
)


def hoist_globals(group: TyperGroup, ctx: Any, args: list[str]) -> list[str]:
    """Move global options found after the subcommand in front of it, keeping the values of
    the subcommand's own options (`--customer --local` stays a customer named --local)."""
    front: list[str] = []
    rest: list[str] = []
    command: Any = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if command is None:
            if not arg.startswith("-"):
                command = group.get_command(ctx, arg)
                rest.append(arg)
            else:
                front.append(arg)
                if GLOBAL_OPTIONS.get(name) and "=" not in arg and i + 1 < len(args):
                    front.append(args[i + 1])
                    i += 1
        elif name in GLOBAL_OPTIONS:
            front.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg and i + 1 < len(args):
                front.append(args[i + 1])
                i += 1
        else:
            rest.append(arg)
            if isinstance(command, TyperGroup) and not arg.startswith("-"):
                command = command.get_command(ctx, arg) or command
            elif (
                arg.startswith("-")
                and "=" not in arg
                and _takes_value(command, name)
                and i + 1 < len(args)
            ):
                rest.append(args[i + 1])
                i += 1
        i += 1
    return front + rest


def _takes_value(command: Any, name: str) -> bool:
    for param in getattr(command, "params", []):
        if name in (*param.opts, *getattr(param, "secondary_opts", ())):
            return not getattr(param, "is_flag", False) and not getattr(param, "count", False)
    return False


class GlobalsGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_globals(self, ctx, list(args)))


app = typer.Typer(
    name="ordercli",
    cls=GlobalsGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
local_app = typer.Typer(
    help=(
        "The embedded AWS emulator used by --local.\n\n"
        "\b\nExamples:\n"
        "  ordercli local status                 is it running, where, its state on disk\n"
        "  ordercli local start --port 4599      then: ordercli --local --port 4599 up\n"
        "  ordercli local stop                   drain, save and stop"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    epilog=GLOBALS_EPILOG,
)
app.add_typer(local_app, name="local")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ordercli {version('ordercli')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", help="Stack name [env ORDERCLI_STACK; default: orders].", show_default=False
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region.", show_default=False)
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile.", show_default=False)
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", help="Config file [default: ./ordercli.yaml].", show_default=False
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="Send AWS calls to this URL (aws target) [env AWS_ENDPOINT_URL].",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="The local emulator's port [env ORDERCLI_LOCAL_PORT; default 4566].",
            show_default=False,
        ),
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output on stdout.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option("--local", help="Use the embedded emulator [env ORDERCLI_TARGET=local|aws]."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List everything (e.g. unchanged resources).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Provision and operate the asynchronous order pipeline (SQS, Step Functions, Lambda,
    Elastic Beanstalk) on AWS, or on an embedded local emulator with --local.

    \b
    Examples:
      ordercli up --local                      deploy on the embedded emulator
      ordercli --local submit --count 100 --wait
      ordercli status --stack shop --region eu-west-1
    """
    ctx.obj = Options(
        stack, region, profile, config, json, local, debug, endpoint_url, port, verbose
    )


def _options(ctx: typer.Context) -> Options:
    """The global options the root callback parsed."""
    root_ctx = ctx.find_root()
    return root_ctx.obj if isinstance(root_ctx.obj, Options) else Options()


def _renderer(json_mode: bool) -> Renderer:
    from ordercli.errors import UsageError
    from ordercli.render import Renderer

    text = os.environ.get("ORDERCLI_WIDTH", "").strip()
    if text and not (text.isascii() and text.isdigit() and 20 <= int(text) <= 10_000):
        raise UsageError(f"ORDERCLI_WIDTH must be a number of columns 20-10000, got {text!r}")
    return Renderer(
        json_mode,
        width=int(text) if text else None,
        color=False if os.environ.get("NO_COLOR") else None,
    )


@contextmanager
def _port_env(port: int | None) -> Iterator[None]:
    """--port and ORDERCLI_LOCAL_PORT are one setting: the flag sets the variable for the
    command (and the emulator processes it starts)."""
    if port is None:
        yield
        return
    before = os.environ.get("ORDERCLI_LOCAL_PORT")
    os.environ["ORDERCLI_LOCAL_PORT"] = str(port)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ORDERCLI_LOCAL_PORT", None)
        else:
            os.environ["ORDERCLI_LOCAL_PORT"] = before


def run(cli_ctx: typer.Context, body: Callable[[Renderer], T]) -> T:
    """The error edge: our errors and AWS's become one message and an exit code."""
    from ordercli.errors import EXIT_FAILURE, OrderCliError

    options = _options(cli_ctx)
    try:
        render = _renderer(options.json)
    except OrderCliError as err:
        from ordercli.render import Renderer

        Renderer(options.json).error(err)
        raise typer.Exit(err.exit_code) from None
    try:
        options.validate()
        with _port_env(options.port):
            return body(render)
    except typer.Exit:
        raise
    except OrderCliError as err:
        if options.debug:
            raise
        _name_where(render, options)
        render.error(err)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        render.info("Interrupted.", style="yellow")
        raise typer.Exit(130) from None
    except Exception as exc:
        if options.debug:
            raise
        from ordercli.aws import translate_error

        ctx = render.context
        translated = ctx.translate(exc) if ctx is not None else translate_error(exc)
        _name_where(render, options)
        if translated is None:
            translated = OrderCliError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="Run again with --debug for the traceback.",
            )
        render.error(translated)
        raise typer.Exit(getattr(translated, "exit_code", EXIT_FAILURE)) from None


def _name_where(render: Renderer, options: Options) -> None:
    """An error before the command named its target and stack (no credentials, a config
    error): --json still gets `target` and `stack`, from the flags and settings where they
    can be read (no AWS call)."""
    if not render.json_mode or render.context is not None or render.named:
        return
    from ordercli.config import load_settings
    from ordercli.context import offline_target
    from ordercli.errors import OrderCliError

    try:
        settings = load_settings({"stack": options.stack, "region": options.region}, options.config)
        target, _ = offline_target(options, settings)
    except OrderCliError:
        return
    render.name_where(target, settings.stack)


def _context(
    cli_ctx: typer.Context, render: Renderer, *, start_local: bool = False, **overrides: Any
) -> Context:
    from ordercli.context import build_context

    ctx = build_context(_options(cli_ctx), start_local=start_local, **overrides)
    render.bind(ctx)
    return ctx


# -- commands -------------------------------------------------------------------------------
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def command(parent: typer.Typer = app, name: str | None = None, **kw: Any) -> Callable[..., Any]:
    """A subcommand whose help ends with where the global options go."""
    return parent.command(name, epilog=GLOBALS_EPILOG, **kw)


@command()
def init(
    cli_ctx: typer.Context,
    path: Annotated[Path, typer.Option("--path", help="Where to write.")] = Path("ordercli.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented ordercli.yaml with every key and its default.

    \b
    Examples:
      ordercli init
      ordercli init --path staging.yaml && ordercli --config staging.yaml up --dry-run
    """
    from ordercli.config import template
    from ordercli.errors import UsageError

    def body(render: Renderer) -> None:
        _name_where(render, _options(cli_ctx))
        if path.exists() and not force:
            raise UsageError(f"{path} already exists (use --force to overwrite)")
        path.write_text(template(), encoding="utf-8")
        render.init_written(path)

    run(cli_ctx, body)


@command()
def up(
    cli_ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    no_web: Annotated[bool, typer.Option("--no-web", help="Skip the web app.")] = False,
) -> None:
    """Create or update every resource of the stack; prints the plan first.

    \b
    Examples:
      ordercli up --local                 the embedded emulator (started in the background)
      ordercli up --stack shop --region eu-west-1 --dry-run
    """

    def body(render: Renderer) -> None:
        from ordercli.deploy import stack as engine
        from ordercli.local import control

        options = _options(cli_ctx)
        was_running = options.wants_local and control.running(control.port_from_env()) is not None
        ctx = _context(
            cli_ctx,
            render,
            start_local=not dry_run,
            **({"webapp.enabled": False} if no_web else {}),
        )
        if ctx.target.is_local and not dry_run and not was_running:
            port = f" --port {options.port}" if options.port is not None else ""
            render.emulator_started(ctx.target.endpoint_url or "", port)
        plan = engine.plan(ctx)
        render.plan(plan, "Plan", verbose=options.verbose)
        ctx.aws.note = render.note
        with render.progress(plan if not dry_run else type(plan)([])) as listener:
            result = engine.up(ctx, plan, dry_run=dry_run, listener=listener)
        _checkpoint_local(ctx, dry_run)
        render.stack_result(result, "up")

    run(cli_ctx, body)


@command()
def teardown(cli_ctx: typer.Context, yes: Yes = False) -> None:
    """Delete every resource of the stack (log groups and the queue trigger too).

    \b
    Examples:
      ordercli teardown --local --yes
      ordercli teardown --stack shop --region eu-west-1
    """
    _teardown(cli_ctx, yes)


@command(name="cleanup", hidden=True)
def cleanup(cli_ctx: typer.Context, yes: Yes = False) -> None:
    """Alias of teardown (the original design's word for it)."""
    _teardown(cli_ctx, yes)


def _checkpoint_local(ctx: Context, dry_run: bool) -> None:
    """The emulator saves its state after the stack changed (a crash keeps the stack)."""
    if ctx.target.kind == "local" and not dry_run:
        from ordercli.local import control

        control.checkpoint()


def _teardown(cli_ctx: typer.Context, yes: bool) -> None:
    def body(render: Renderer) -> None:
        from ordercli.deploy import stack as engine
        from ordercli.errors import UsageError
        from ordercli.operate.status import queue_depth

        ctx = _context(cli_ctx, render)
        plan = engine.plan(ctx, teardown=True)
        render.plan(plan, "Teardown plan", verbose=ctx.options.verbose)
        if plan.changes and not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "teardown deletes resources: pass --yes to confirm "
                    "(standard input is not a terminal, so I cannot ask)"
                )
            sqs = ctx.aws.client("sqs")
            waiting = {
                label: queue_depth(sqs, name)
                for label, name in (("queue", ctx.names.queue), ("DLQ", ctx.names.dlq))
            }
            if not typer.confirm(render.teardown_question(ctx, len(plan.changes), waiting)):
                render.info("Nothing was deleted.")
                raise typer.Exit(1)
        ctx.aws.note = render.note
        with render.progress(plan) as listener:
            result = engine.teardown(ctx, plan, listener=listener)
        _checkpoint_local(ctx, False)
        render.stack_result(result, "teardown")

    run(cli_ctx, body)


MAX_COUNT = 100_000


@command()
def submit(
    cli_ctx: typer.Context,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer name.")] = None,
    product: Annotated[str | None, typer.Option("--product", help="Product.")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount, 0 < amount < 10000, at most 2 decimals.")
    ] = None,
    order_id: Annotated[
        str | None, typer.Option("--order-id", help="Order id (default: generated, sortable).")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="Orders from a .csv, .json or .jsonl file; - reads standard input."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send a file's valid rows, list the rest.")
    ] = False,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, max=MAX_COUNT, help="Send N generated orders (load test)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Sending threads.")
    ] = 16,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0.1, max=100_000, help="Orders per second at most."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow every order to a terminal state.")
    ] = False,
    fail_on_failed: Annotated[
        bool,
        typer.Option(
            "--fail-on-failed",
            help="Exit 1 when any order failed or was dead-lettered (implies --wait; for CI).",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, max=86_400, help="Seconds --wait waits.")
    ] = 300,
) -> None:
    """Send orders: one from flags, a file, or a generated load.

    \b
    Examples:
      ordercli submit --local --customer "Ada" --product Book --amount 12.50 --wait
      ordercli submit --file orders.csv --skip-invalid
      cat orders.jsonl | ordercli submit --file - --wait --fail-on-failed
      ordercli submit --local --count 1000 --rate 50
    """

    def body(render: Renderer) -> None:
        from ordercli.operate import orders_input
        from ordercli.operate import submit as engine

        waiting = wait or fail_on_failed
        batch = orders_input.choose(customer, product, amount, order_id, file, count)
        if batch.rejected and not skip_invalid:
            raise orders_input.InvalidRows(batch.source, batch.rejected)
        ctx = _context(cli_ctx, render)
        url = ctx.require_stack()
        engine.refuse_existing(ctx, batch.explicit_ids)
        with render.submit_progress(len(batch.orders), waiting) as (on_sent, on_done):
            report = engine.submit(
                ctx,
                batch.orders,
                url,
                rejected=batch.rejected,
                wait=waiting,
                timeout=timeout,
                concurrency=concurrency,
                rate=rate,
                on_sent=on_sent,
                on_done=on_done,
                explicit_ids=batch.explicit_ids,
            )
        web = None
        if ctx.target.is_local and not render.json_mode and report.results:
            from ordercli.local import control

            web = control.status().get("webapp")  # the order's page, for the next step
        render.submit_report(report, ctx, web=web)
        summary = report.summary()
        if report.interrupted:
            raise typer.Exit(130)
        if report.not_sent or report.error or (waiting and summary["pending"]):
            raise typer.Exit(1)
        if fail_on_failed and (summary["failed"] or summary["dead_lettered"]):
            raise typer.Exit(1)

    run(cli_ctx, body)


@command()
def status(
    cli_ctx: typer.Context,
    order_id: Annotated[
        str | None,
        typer.Argument(help="An orderId: show its outcome, steps and logs.", show_default=False),
    ] = None,
    since: Annotated[
        str,
        typer.Option("--since", help="Window of the figures: 30m, 1h, 1d, 1w or ISO 8601."),
    ] = "1h",
) -> None:
    """The stack (resources, queue depths, executions, orders per hour, success rate, latency,
    errors by function, web app), or one order's outcome.

    \b
    Examples:
      ordercli status --local
      ordercli status 01JD6ZQ7R8XK3V5Y2N4M6P8Q0S --local --json
    """

    def body(render: Renderer) -> None:
        from lambda_src.order import OrderInvalid, parse_order_id
        from ordercli.errors import UsageError
        from ordercli.operate import status as engine

        if order_id is not None:
            try:
                parse_order_id(order_id)
            except OrderInvalid as exc:
                raise UsageError(f"orderId {order_id!r}: {exc.message}") from None
        from ordercli.operate.tail import parse_since

        seconds = parse_since(since)
        ctx = _context(cli_ctx, render)
        ctx.require_stack()
        if order_id is None:
            render.stack_status(engine.deployed_stack_status(ctx, seconds))
        else:
            render.order_status(engine.order_status(ctx, order_id))

    run(cli_ctx, body)


@command()
def tail(
    cli_ctx: typer.Context,
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
) -> None:
    """Executions and the Lambdas' log lines, interleaved by time; prints and exits, or
    follows with --follow (as `aws logs tail`).

    \b
    Examples:
      ordercli tail --local --no-follow --since 1h
      ordercli tail --order 01JD6ZQ7R8XK3V5Y2N4M6P8Q0S
    """

    def body(render: Renderer) -> None:
        from ordercli.operate import tail as engine

        render.json_lines = True
        seconds = engine.parse_since(since)
        if order is not None:
            engine.check_order_id(order)
        ctx = _context(cli_ctx, render)
        ctx.require_stack()
        try:
            for line in engine.follow(ctx, since=seconds, order_id=order, keep_following=follow):
                render.tail_line(line)
        except KeyboardInterrupt:
            return

    run(cli_ctx, body)


@command()
def dlq(
    cli_ctx: typer.Context,
    redrive: Annotated[
        bool, typer.Option("--redrive", help="Move the messages back to the queue.")
    ] = False,
) -> None:
    """List dead-lettered orders (without consuming them), or --redrive them.

    \b
    Examples:
      ordercli dlq --local
      ordercli dlq --local --redrive
    """

    def body(render: Renderer) -> None:
        from ordercli.operate import dlq as engine

        ctx = _context(cli_ctx, render)
        ctx.require_stack()
        if redrive:
            render.redrive(engine.redrive(ctx))
        else:
            render.dead_letters(engine.list_dead_letters(ctx))

    run(cli_ctx, body)


@command()
def policy(
    cli_ctx: typer.Context,
    no_web: Annotated[bool, typer.Option("--no-web", help="For a stack without web app.")] = False,
) -> None:
    """Print the IAM policy that lets a person or CI run this stack's commands.

    \b
    Examples:
      ordercli policy --stack shop --region eu-west-1 > ordercli-policy.json
      ordercli policy --no-web --json
    """

    def body(render: Renderer) -> None:
        from ordercli.context import build_context
        from ordercli.deploy.deployer_policy import deployer_policy
        from ordercli.errors import UsageError

        options = _options(cli_ctx)
        if options.local:
            raise UsageError("policy is for the aws target (the emulator checks no IAM)")
        ctx = build_context(options)  # no header: stdout is the policy, ready to save
        web = not no_web and bool(ctx.settings["webapp.enabled"])
        result = deployer_policy(ctx.names, web=web)
        if options.json:
            render.context = ctx  # the --json convention: target and stack first
            render.emit_json(result.to_json())
        else:
            render.emit_json(result.document(), envelope=False)
        for grant in [] if options.json else result.unscoped:
            render.err.print(f"{grant.sid}: {grant.unscoped}.", markup=False)

    run(cli_ctx, body)


@command()
def cost(
    cli_ctx: typer.Context,
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
) -> None:
    """The stack's monthly cost as configured, by service, with and without the free tier
    (an estimate from list prices; no AWS call unless --measured).

    \b
    Examples:
      ordercli cost --orders-per-month 100000
      ordercli cost --local --measured --json
    """

    def body(render: Renderer) -> None:
        from ordercli import cost as engine
        from ordercli.config import load_settings

        options = _options(cli_ctx)
        settings = load_settings({"stack": options.stack, "region": options.region}, options.config)
        durations, source = None, "assumed"
        if not measured:
            from ordercli.context import offline_target

            render.bind_offline(*offline_target(options, settings), settings.stack)
        else:
            ctx = _context(cli_ctx, render)
            durations = engine.measure_durations(ctx)
            source = f"measured on {ctx.target.label} over the last day" + (
                "" if len(durations) == 4 else "; assumed where no invocation was logged"
            )
        render.cost_estimate(
            engine.stack_cost(
                settings, orders_per_month, durations_ms=durations, durations_source=source
            )
        )

    run(cli_ctx, body)


# -- the local emulator ---------------------------------------------------------------------
@command(local_app, "start")
def local_start(cli_ctx: typer.Context) -> None:
    """Start the emulator in the background (a no-op if it already runs).

    \b
    Examples:
      ordercli local start --port 4599     then: ordercli --local --port 4599 up
    """

    def body(render: Renderer) -> None:
        from ordercli.local import control

        state, started = control.start(None)
        info = control.status(state.port)
        render.local_status(info, "started" if started else "already running")
        if started and not render.json_mode:
            from ordercli.local import state_view

            for line in state_view.started(info):
                render.info(line)
        if not render.json_mode:
            options = _options(cli_ctx)
            render.info(f"Next: {options.command('up', local=True)}", style="dim")

    run(cli_ctx, body)


@command(local_app, "stop")
def local_stop(
    cli_ctx: typer.Context,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0, help="Seconds to let running orders finish before saving."
        ),
    ] = 10.0,
) -> None:
    """Stop the emulator and its web app, saving the emulator's state for the next start.

    \b
    Examples:
      ordercli local stop
      ordercli local stop --port 4599
    """

    def body(render: Renderer) -> None:
        from ordercli.local import control, state_view

        done = control.stop_saving(None, timeout)
        render.local_stopped(
            done.state.pid if done else None,
            control.port_from_env(),
            saved=done.saved if done else None,
        )
        for line in (
            state_view.stopped(done.saved, timeout) if done and not render.json_mode else []
        ):
            render.info(line)

    run(cli_ctx, body)


@command(local_app, "status")
def local_status(cli_ctx: typer.Context) -> None:
    """Whether the emulator runs, its pid, endpoint, web app and log file (exit 3: not
    running).

    \b
    Examples:
      ordercli local status --json
    """

    def body(render: Renderer) -> None:
        from ordercli.local import control

        info = control.status(None)
        render.local_status(info, None)
        if not render.json_mode:
            from ordercli.local import state_view

            for line in state_view.stored(info):
                render.info(line)
        if not info["running"]:
            raise typer.Exit(3)

    run(cli_ctx, body)


@command(local_app, "reset")
def local_reset(cli_ctx: typer.Context, yes: Yes = False) -> None:
    """Stop the emulator without saving and forget its saved state: the next start is empty.

    \b
    Examples:
      ordercli local reset --yes
      ordercli local reset --port 4599 --yes
    """

    def body(render: Renderer) -> None:
        from ordercli.errors import UsageError
        from ordercli.local import control

        port = control.port_from_env()
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "local reset forgets every saved order and the stack: pass --yes to confirm "
                    "(standard input is not a terminal, so I cannot ask)"
                )
            if not typer.confirm(
                f"Stop the emulator on port {port} and forget everything it holds?", default=False
            ):
                render.info("Nothing was reset.")
                raise typer.Exit(1)
        freed = control.reset(port)
        render.local_reset(port, freed)

    run(cli_ctx, body)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
