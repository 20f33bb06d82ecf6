"""The replay-like mix (bench/market_mix.py) of this tree against an older one, back to back.

    python bench/mix_against.py BASE [--pairs N] [--seconds S]

``BASE`` is a checkout whose ``bench/market_mix.py`` has ``build``, ``split`` and
``execute_all`` (any tree since 80d18b4; for the issue's base, commit 2261f80 with that file):

    git worktree add /tmp/perpsim-base 2261f80
    git -C /tmp/perpsim-base checkout 80d18b4 -- bench/market_mix.py

Each run is its own process: the opening minute untimed, then the timed stretch, best CPU time
of its rounds. The base replays the mix as its face had it (wire commands, every event built);
this tree replays the ``units`` face that ``bench_market.py`` times. The trees alternate, pair
by pair, because a shared machine's speed drifts within minutes: a ratio is only fair between
runs made side by side. Prints each pair and its ratio (base time / this tree's time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _child(face: str, seconds: int, rounds: int) -> None:
    """Print the best CPU milliseconds of ``rounds`` timed stretches (in the tree on sys.path)."""
    from bench.market_mix import OPENING_SECONDS, build, execute_all, split
    from engine import Exchange

    if face == "base":
        opening, timed = split(build(seed=1, seconds=OPENING_SECONDS + seconds),
                               OPENING_SECONDS)
        make = Exchange
    else:
        from bench.market_mix import new_exchange
        opening, timed = split(build(seed=1, seconds=OPENING_SECONDS + seconds, face="units"),
                               OPENING_SECONDS)

        def make() -> Exchange:
            return new_exchange("units")
    best = float("inf")
    for _ in range(rounds):
        exchange = make()
        execute_all(exchange, opening)
        cpu = time.process_time()
        execute_all(exchange, timed)
        best = min(best, time.process_time() - cpu)
    print(f"{best * 1000:.1f}")


def _run(tree: Path, face: str, seconds: int, rounds: int) -> float:
    # (one OpenBLAS thread, as in compare.py: no idle thread's start-up in a run's CPU time)
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", face,
                           "--seconds", str(seconds), "--rounds", str(rounds)],
                          cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mix_against: the {face} run in {tree} failed: "
                         f"{done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", type=Path, help="the older tree's directory")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=300, help="timed simulated seconds")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per process")
    parser.add_argument("--child", choices=("base", "units"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.seconds, args.rounds)
        return 0
    if args.base is None or not (args.base / "bench" / "market_mix.py").is_file():
        print(f"mix_against: {args.base} has no bench/market_mix.py (see --help)",
              file=sys.stderr)
        return 2
    ratios = []
    for pair in range(1, args.pairs + 1):
        base = _run(args.base.resolve(), "base", args.seconds, args.rounds)
        here = _run(HERE, "units", args.seconds, args.rounds)
        ratios.append(base / here)
        print(f"pair {pair}: base {base:.1f} ms, this tree {here:.1f} ms: x{base / here:.2f}",
              flush=True)
    ratios.sort()
    print(f"{args.seconds} simulated s, best of {args.rounds} rounds a run: "
          f"x{ratios[0]:.2f} to x{ratios[-1]:.2f}, median x{ratios[len(ratios) // 2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
