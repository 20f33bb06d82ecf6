"""Replays of bundled scenarios with their default participants: simulated seconds per CPU
second. Each round builds the replay untimed (paths, participants) and times ``Replay.run``.

The full five weeks of jan-2026-silver take minutes, so they are measured by
``python bench/replay_speed.py jan-2026-silver`` (figures in the README); these are hour-long
slices of the 1-second windows, where a replay spends its time.
"""

from __future__ import annotations

import pytest

from engine.units import NS_PER_SECOND, parse_timestamp
from scenarios.build import prepare
from scenarios.replay import Replay
from scenarios.scenario import load_scenario

SLICES = {
    "payrolls-hour": ("jan-2026-week2", "2026-01-09T13:00:00Z", "2026-01-09T14:00:00Z"),
    "crash-hour": ("jan-30-crash", "2026-01-30T13:00:00Z", "2026-01-30T14:00:00Z"),
}


@pytest.mark.parametrize("slice_name", list(SLICES))
def test_replay_slice(benchmark, slice_name: str) -> None:  # type: ignore[no-untyped-def]
    name, start, end = SLICES[slice_name]
    scenario = load_scenario(name)

    def build():  # type: ignore[no-untyped-def]
        setup = prepare(scenario, start=parse_timestamp(start), end=parse_timestamp(end))
        return (Replay(setup),), {}

    replays: list[Replay] = []

    def run(replay: Replay):  # type: ignore[no-untyped-def]
        replays.append(replay)
        return replay.run()

    record = benchmark.pedantic(run, setup=build, rounds=3, iterations=1)
    replay = replays[-1]
    replay.exchange.check_invariants()
    assert record.steps == 3601  # an hour at 1 s, both ends
    assert record.trades > 100
    seconds = (replay.end - replay.start) / NS_PER_SECOND
    if benchmark.stats is not None:
        benchmark.extra_info["x_real_time"] = round(seconds / benchmark.stats["median"])
        benchmark.extra_info["messages_per_s"] = round(record.commands
                                                       / benchmark.stats["median"])
