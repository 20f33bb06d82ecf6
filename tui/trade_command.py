"""``perpsim trade`` (and ``perpsim`` alone): the terminal UI on a scenario's session."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from engine.units import format_timestamp
from scenarios import build
from scenarios.replay import ReplayError
from scenarios.scenario import ScenarioError, load_scenario
from scenarios.session import SPEEDS, Session, SessionError
from tui.errors import UsageError
from tui.paths import default_data_dir
from tui.replay_command import _timestamp

DEFAULT_SCENARIO = "jan-2026-silver"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    trade = commands.add_parser(
        "trade", help="paper-trade a scenario in the terminal UI (the default command)",
        description="Trade the perpetuals of SCENARIO against its simulated market, which plays "
                    "as time passes (paused at first: space plays, ? shows the keys). Quitting "
                    "saves the session; the same command resumes it.")
    trade.add_argument("--scenario", default=DEFAULT_SCENARIO,
                       help=f"a bundled scenario or a scenario TOML file (default "
                            f"{DEFAULT_SCENARIO})")
    trade.add_argument("--from", dest="start", type=_timestamp, metavar="TS",
                       help="start at TS (RFC 3339, UTC) instead of the scenario's start")
    trade.add_argument("--balance", default="10000", metavar="USDT",
                       help="the account's starting balance (default 10000)")
    trade.add_argument("--speed", type=int, default=1, choices=SPEEDS, metavar="X",
                       help="simulated seconds per real second once playing: "
                            f"{', '.join(map(str, SPEEDS))} (default 1)")
    trade.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="keep the session in DIR (default: a folder per scenario and start "
                            f"under {default_data_dir()})")
    trade.set_defaults(handler=trade_command)
    return trade


def setup_key(name: str, seed: int, start: int, end: int) -> str:
    return f"{name}:{seed}:{format_timestamp(start)}..{format_timestamp(end)}"


def session_dir(key: str) -> Path:
    """The default data directory of a setup: one per key, so scenarios do not collide."""
    return default_data_dir() / "sessions" / re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def open_session(args: argparse.Namespace) -> Session:
    try:
        scenario = load_scenario(args.scenario)
        setup = build.prepare(scenario, start=args.start)
    except (ScenarioError, ReplayError) as exc:
        raise UsageError(str(exc)) from exc
    key = setup_key(setup.name, setup.seed, int(setup.times[0]), int(setup.times[-1]))
    data_dir = args.data_dir if args.data_dir is not None else session_dir(key)
    if data_dir.is_dir() and any(data_dir.iterdir()):
        print(f"perpsim: resuming the session in {data_dir} (replaying from the start)…",
              file=sys.stderr, flush=True)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use the data directory {data_dir}: {exc.strerror}") from exc
    try:
        return Session(setup, key, balance=args.balance, data_dir=data_dir, speed=args.speed,
                       paused=True)
    except SessionError as exc:
        raise UsageError(str(exc)) from exc


def trade_command(args: argparse.Namespace) -> int:
    session = open_session(args)
    from tui.app import PerpApp  # Textual loads only for the UI

    PerpApp(session).run()
    return 0
