"""The ``perpsim`` command line. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, NoReturn

from engine import Exchange, InstrumentError, default_instruments, parse_instruments
from engine.durable import DurableSession
from engine.instrument import Instrument
from engine.journal import FsyncPolicy, JournalError
from engine.protocol import run
from engine.snapshot import SnapshotError
from tui import replay_command, trade_command
from tui.errors import UsageError
from tui.paths import default_data_dir


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _instruments(path: str | None) -> dict[str, Instrument] | None:
    if path is None:
        return None
    try:
        return parse_instruments(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read instruments file {path}: {exc.strerror}") from exc
    except InstrumentError as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _exec(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        return _exec_durable(args)
    exchange = Exchange(_instruments(args.instruments))
    source = _open_source(args.file)
    out = sys.stdout.buffer
    interactive = source.isatty()
    try:
        for line in run(exchange, source):
            out.write(line + b"\n")
            if interactive:
                out.flush()
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    out.flush()
    return 0


def _open_source(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")  # noqa: SIM115 (the caller closes it)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from exc


def _exec_durable(args: argparse.Namespace) -> int:
    """``exec`` against a data directory: resume from its journal, append to it, and print
    each event only once the journal record that caused it is on disk."""
    instruments = _instruments(args.instruments) or default_instruments()
    if args.fsync == "group":
        policy = FsyncPolicy(records=args.group_records, milliseconds=args.group_ms)
    else:
        policy = FsyncPolicy(records=1)
    try:
        session = DurableSession(args.data_dir, instruments, policy, time.monotonic_ns,
                                 snapshot_every=args.snapshot_every)
    except (JournalError, SnapshotError) as exc:
        raise UsageError(str(exc)) from exc
    for notice in session.notices:
        print(f"perpsim: {notice}", file=sys.stderr)
    source = _open_source(args.file)
    out = sys.stdout.buffer
    try:
        for number, line in enumerate(source, start=1):
            lines = session.submit(number, line)
            if lines:
                out.write(b"".join(event + b"\n" for event in lines))
                out.flush()  # what is printed is acknowledged: make it visible now
        lines = session.close()
        out.write(b"".join(event + b"\n" for event in lines))
        out.flush()
    except JournalError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    return 0


class _Parser(argparse.ArgumentParser):
    """A mistake on the command line is one line and exit status 2 (the usage is on --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"perpsim: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="perpsim",
        description="A paper-trading venue for perpetual futures (BTC, gold, silver).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    exec_ = commands.add_parser(
        "exec", help="run JSON Lines commands and print the events (DESIGN.md §4)",
        description="Read one command per line (JSON) and write the events it causes, one "
                    "per line. Same input, byte-identical output.")
    exec_.add_argument("file", nargs="?", default="-",
                       help="a file of commands, or - for standard input (the default)")
    exec_.add_argument("--instruments", metavar="FILE",
                       help="a TOML instruments file replacing the default instruments")
    exec_.add_argument("--data-dir", metavar="DIR", nargs="?", const=default_data_dir(),
                       help="journal to DIR and resume from it; the flag alone uses "
                            f"{default_data_dir()}. Without it, exec keeps nothing: each run "
                            "starts empty and is exactly reproducible")
    exec_.add_argument("--fsync", choices=("command", "group"), default="command",
                       help="fsync every command before its events are printed (default), or "
                            "group commits for fast replays")
    exec_.add_argument("--group-records", type=_positive, default=1000, metavar="N",
                       help="with --fsync group: at most N records per fsync (default 1000)")
    exec_.add_argument("--group-ms", type=_positive, default=50, metavar="MS",
                       help="with --fsync group: at most MS milliseconds per fsync (default 50)")
    exec_.add_argument("--snapshot-every", type=_positive, default=10_000, metavar="N",
                       help="write a snapshot every N records (default 10000)")
    exec_.set_defaults(handler=_exec)
    replay_command.add_parsers(commands)
    trade_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv or ["trade"])  # perpsim alone: the UI on the default
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"perpsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
