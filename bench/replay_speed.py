"""How fast a scenario replays: ``python bench/replay_speed.py SCENARIO [--from TS] [--to TS]``.

Prints simulated seconds per CPU second (x real time), engine messages per CPU second (every
command the replay, the participants and a strategy sent, market steps included: what ABIDES
counts as messages), steps, trades and liquidations. CPU time of the replay alone: loading the
scenario and building the index paths and the participants are timed apart.
"""

from __future__ import annotations

import argparse
import time

from engine.units import NS_PER_SECOND, parse_timestamp
from scenarios.build import prepare
from scenarios.replay import Replay
from scenarios.scenario import load_scenario


def measure(name: str, start: int | None = None, end: int | None = None,
            seed: int | None = None) -> dict[str, float]:
    began = time.process_time()
    setup = prepare(load_scenario(name), seed=seed, start=start, end=end)
    built = time.process_time()
    replay = Replay(setup)
    record = replay.run()
    done = time.process_time()
    seconds = (replay.end - replay.start) / NS_PER_SECOND
    cpu = done - built
    return {"prepare_s": built - began, "replay_s": cpu, "simulated_s": seconds,
            "x_real_time": seconds / cpu, "messages_per_s": record.commands / cpu,
            "steps": record.steps, "messages": record.commands, "trades": record.trades,
            "liquidations": len(record.liquidations)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--from", dest="start", type=parse_timestamp)
    parser.add_argument("--to", dest="end", type=parse_timestamp)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    result = measure(args.scenario, args.start, args.end, args.seed)
    print(f"{args.scenario}: {result['simulated_s']:,.0f} simulated s in "
          f"{result['replay_s']:.1f} CPU s = {result['x_real_time']:,.0f}x real time; "
          f"{result['messages_per_s']:,.0f} messages/s ({result['messages']:,} messages, "
          f"{result['steps']:,} steps, {result['trades']:,} trades, "
          f"{result['liquidations']:,} liquidations); prepare {result['prepare_s']:.1f} s")


if __name__ == "__main__":
    main()
