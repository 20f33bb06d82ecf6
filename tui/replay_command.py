"""``perpsim replay`` and ``perpsim scenarios``: headless replays with a progress bar and the
report, and the list of bundled scenarios."""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.units import NS_PER_SECOND, UnitError, format_timestamp, parse_timestamp
from scenarios import build, catalog, report
from scenarios.replay import FixedPosition, Replay, ReplayError
from scenarios.replay import Progress as ReplayProgress
from scenarios.scenario import ScenarioError, load_scenario
from scenarios.strategy import StrategyError, load_strategy
from tui.errors import UsageError


def _timestamp(text: str) -> int:
    try:
        return parse_timestamp(text)
    except (UnitError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def add_parsers(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("scenarios", help="list the bundled scenarios",
                                  description="The bundled scenarios, one line each.")
    listing.set_defaults(handler=scenarios_command)
    replay = commands.add_parser(
        "replay", help="replay a scenario headless and print its report",
        description="Replay SCENARIO (a bundled name or a TOML file) through the exchange with "
                    "its simulated participants, then print the report. Same scenario and "
                    "seed: byte-identical report and event log.")
    replay.add_argument("scenario", help="a bundled scenario (see `perpsim scenarios`) or a "
                                         "scenario TOML file")
    replay.add_argument("--seed", type=int, help="the master seed (default: the scenario's)")
    replay.add_argument("--from", dest="start", type=_timestamp, metavar="TS",
                        help="start at TS (RFC 3339, UTC) instead of the scenario's start")
    replay.add_argument("--to", dest="end", type=_timestamp, metavar="TS",
                        help="stop at TS instead of the scenario's end")
    replay.add_argument("--strategy", metavar="FILE:CLASS",
                        help="trade a Strategy subclass from a Python file (see README)")
    replay.add_argument("--position", action="append", default=[],
                        metavar="SYMBOL:SIDE:QTY@LEVERAGE[@TS]",
                        help="open a position at market at TS (default: the start) on an "
                             "account of its own; repeatable")
    replay.add_argument("--report", metavar="DIR", type=Path,
                        help="write summary.json, minutes.csv, liquidations.csv, funding.csv "
                             "and a chart to DIR")
    replay.add_argument("--events", metavar="FILE", type=Path,
                        help="write every event of the replay to FILE as JSON lines")
    replay.add_argument("--reference", action="store_true",
                        help="the deterministic reference index path (no random bridge)")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(handler=replay_command)


def scenarios_command(args: argparse.Namespace) -> int:
    console = Console()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("scenario", "from", "to"):
        table.add_column(column, no_wrap=True)
    for column in ("what it is", "what is real"):
        table.add_column(column, overflow="fold")
    for summary in catalog.bundled():
        table.add_row(summary.name, f"{summary.start:%Y-%m-%d %H:%M}",
                      f"{summary.end:%Y-%m-%d %H:%M}", summary.description, summary.real)
    console.print(table)
    return 0


def replay_command(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
        positions = [FixedPosition.parse(text) for text in args.position]
        strategy = None if args.strategy is None else load_strategy(args.strategy)
        setup = build.prepare(scenario, seed=args.seed, start=args.start, end=args.end,
                              reference=args.reference)
    except (ScenarioError, ReplayError, StrategyError) as exc:
        raise UsageError(str(exc)) from exc
    if args.report is not None:  # before the replay: a bad directory must not cost a run
        try:
            args.report.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write the report to {args.report}: "
                             f"{exc.strerror}") from exc
    with ExitStack() as stack:
        log = None
        if args.events is not None:
            try:
                log = stack.enter_context(open(args.events, "wb"))  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write {args.events}: {exc.strerror}") from exc
        try:
            replay = Replay(setup, strategy=strategy, positions=positions, event_log=log)
        except ReplayError as exc:
            raise UsageError(str(exc)) from exc
        try:
            record = _run_with_progress(replay, quiet=args.quiet)
        except StrategyError as exc:
            raise UsageError(str(exc)) from exc
    console = Console()
    for notice in replay.notices:
        console.print(f"[yellow]note:[/] {notice}")
    report.render_terminal(record, replay.exchange.instruments, console)
    if args.report is not None:
        try:
            written = report.write_report(record, replay.exchange.instruments, args.report)
        except OSError as exc:
            raise UsageError(f"cannot write the report to {args.report}: {exc.strerror}") from exc
        console.print(f"report written to {args.report}"
                      + (f" ({', '.join(str(p.name) for p in written)})" if written else ""))
    return 0


def _run_with_progress(replay: Replay, quiet: bool):  # type: ignore[no-untyped-def]
    stderr = Console(stderr=True)
    if quiet or not stderr.is_terminal:
        return replay.run()
    span = max(1, replay.end - replay.start)
    wall = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("replay", total=span, info="")

        def update(p: ReplayProgress) -> None:
            elapsed = max(time.monotonic() - wall, 1e-9)
            speed = (p.now - p.start) / NS_PER_SECOND / elapsed
            bar.update(task, completed=p.now - p.start,
                       description=format_timestamp(p.now)[:16].replace("T", " "),
                       info=f"{speed:,.0f}x  trades {p.trades:,}  "
                            f"liquidations {p.liquidations:,}")

        return replay.run(progress=update, progress_every=2_000)
