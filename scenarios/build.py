"""From a loaded scenario to a ``ReplaySetup``: the step grid, each symbol's index path in
ticks, the participants, the venue changes and the calendar.

Each symbol's path draws from its own generator derived from the master seed and the symbol's
name, so a path does not change when another symbol is added. The path is always built over
the scenario's whole range and then cut to ``--from`` / ``--to``: a replay of part of a
scenario sees the same prices as the whole one.
"""

from __future__ import annotations

import zlib

import numpy as np

from scenarios import pricepath
from scenarios.agents.build import build_participants
from scenarios.replay import FundingChange, ReplayError, ReplaySetup
from scenarios.scenario import Scenario, funding_changes, instruments_for
from scenarios.series import BarsData, GbmData, PointsData, SeriesData, load_series


def path_rng(seed: int, symbol: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(b"index:" + symbol.encode())])


def index_paths(scenario: Scenario, seed: int, *, reference: bool = False
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The step times (int64 ns) and every symbol's index at each (int64 ticks)."""
    instruments = instruments_for(scenario)
    times = pricepath.time_grid(scenario.start_ns, scenario.end_ns,
                                scenario.spec.scenario.step, scenario.windows)
    series = load_series(scenario)
    paths = {}
    for symbol in scenario.symbols:
        instrument = instruments[symbol]
        is_open = pricepath.open_mask(times, instrument.market_hours)
        prices = _path(times, is_open, series[symbol], path_rng(seed, symbol), reference)
        paths[symbol] = pricepath.to_ticks(prices, instrument.tick_size)
    return times, paths


def _path(times: np.ndarray, is_open: np.ndarray, data: SeriesData, rng: np.random.Generator,
          reference: bool) -> np.ndarray:
    if isinstance(data, BarsData):
        return pricepath.bridge_bars(times, is_open, data, rng, reference=reference)
    if isinstance(data, PointsData):
        return pricepath.bridge_points(times, is_open, data.point_ns, data.point_price,
                                       data.vol_per_sqrt_day, rng, reference=reference)
    assert isinstance(data, GbmData)
    vol = 0.0 if reference else data.vol_per_day
    regimes = tuple((at, drift, 0.0 if reference else v) for at, drift, v in data.regimes)
    return pricepath.gbm(times, is_open, data.start, data.drift_per_day, vol, rng,
                         jumps=data.jumps, regimes=regimes)


def prepare(scenario: Scenario, *, seed: int | None = None, start: int | None = None,
            end: int | None = None, reference: bool = False) -> ReplaySetup:
    """The replay of ``scenario`` (its seed unless ``seed``), cut to ``[start, end]``.

    Raises:
        ReplayError: ``start`` / ``end`` outside the scenario or not in order.
        ScenarioError: the scenario's data or participants do not validate.
    """
    seed = scenario.spec.scenario.seed if seed is None else seed
    first, last = scenario.start_ns, scenario.end_ns
    start = first if start is None else start
    end = last if end is None else end
    if not first <= start < end <= last:
        raise ReplayError(f"{scenario.name} runs from {scenario.spec.scenario.start} to "
                          f"{scenario.spec.scenario.end}: --from/--to must lie inside it, in "
                          "order")
    times, paths = index_paths(scenario, seed, reference=reference)
    keep = (times >= start) & (times <= end)
    instruments = instruments_for(scenario)
    participants = build_participants(scenario.spec.participants, scenario.symbols,
                                      instruments, seed)
    changes = tuple(FundingChange(at, symbol, interval, cap)
                    for at, symbol, interval, cap in funding_changes(scenario))
    return ReplaySetup(name=scenario.name, seed=seed, instruments=instruments,
                       times=times[keep], index={s: p[keep] for s, p in paths.items()},
                       participants=participants, changes=changes,
                       calendar=tuple(e for e in scenario.events if start <= e[0] <= end))
