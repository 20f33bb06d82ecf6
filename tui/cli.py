"""The ``perpsim`` command line. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from engine import Exchange, InstrumentError, parse_instruments
from engine.instrument import Instrument
from engine.protocol import run


class UsageError(Exception):
    """A mistake of the user's: reported as one line, exit status 2."""


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
    exchange = Exchange(_instruments(args.instruments))
    source: BinaryIO
    if args.file == "-":
        source = sys.stdin.buffer
    else:
        try:
            source = open(args.file, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    exec_.set_defaults(handler=_exec)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
