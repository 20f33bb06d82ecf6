"""From scenario files to the index the replay sends: the real bars survive the bridge and the
rounding to the tick exactly, per bar and per day, and the paths are seeded."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from engine import default_instruments
from engine.units import NS_PER_SECOND
from scenarios.build import index_paths
from scenarios.pricepath import open_mask
from scenarios.scenario import data_dir, load_scenario

SILVER = "XAGUSDT"
TICK = default_instruments()[SILVER].tick_size


def ticks(price: str) -> int:
    return int((Decimal(price) / TICK).to_integral_value())  # half-even, as to_ticks


def ns(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * NS_PER_SECOND


@pytest.fixture(scope="module")
def silver() -> tuple[np.ndarray, np.ndarray]:
    """The steps while the metals market is open, and silver's index at them (while it is
    shut the index holds its last value: no bar speaks for those hours)."""
    scenario = load_scenario("jan-2026-silver")
    times, paths = index_paths(scenario, scenario.spec.scenario.seed)
    is_open = open_mask(times, market_hours=True)
    return times[is_open], paths[SILVER][is_open]


def twelve_hour_bars() -> list[dict[str, str]]:
    with open(data_dir() / "jan-2026" / "xagusd_12h.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_12h_silver_bar_is_met_exactly(silver) -> None:  # type: ignore[no-untyped-def]
    times, path = silver
    for bar in twelve_hour_bars():
        start = ns(bar["datetime_utc"])
        inside = path[(times >= start) & (times < start + 12 * 3600 * NS_PER_SECOND)]
        if len(inside) == 0:
            continue
        assert inside.max() == ticks(bar["high"]), bar
        assert inside.min() == ticks(bar["low"]), bar


def test_the_daily_highs_and_lows_are_the_data_files(silver) -> None:  # type: ignore[no-untyped-def]
    """Per UTC day from Jan 6 (two 12-hour bars a day): the path's high and low while the
    market is open are the file's, to the tick."""
    times, path = silver
    high: dict[str, int] = defaultdict(int)
    low: dict[str, int] = defaultdict(lambda: 10**12)
    for bar in twelve_hour_bars():
        day = bar["datetime_utc"][:10]
        high[day] = max(high[day], ticks(bar["high"]))
        low[day] = min(low[day], ticks(bar["low"]))
    checked = 0
    for day in sorted(high):
        if day < "2026-01-06" or day > "2026-02-06":
            continue
        start = ns(day + "T00:00:00")
        inside = path[(times >= start) & (times < start + 86400 * NS_PER_SECOND)]
        assert (inside.max(), inside.min()) == (high[day], low[day]), day
        checked += 1
    assert checked >= 20
    jan29 = path[(times >= ns("2026-01-29T00:00:00")) & (times < ns("2026-01-30T00:00:00"))]
    assert jan29.max() * TICK > 120  # the record of Jan 29


def test_paths_are_seeded_per_symbol() -> None:
    scenario = load_scenario("jan-2026-week2")
    a = index_paths(scenario, 1)[1]
    b = index_paths(scenario, 1)[1]
    c = index_paths(scenario, 2)[1]
    for symbol in scenario.symbols:
        assert np.array_equal(a[symbol], b[symbol])
        assert not np.array_equal(a[symbol], c[symbol])


def test_the_reference_path_needs_no_seed() -> None:
    scenario = load_scenario("jan-2026-week2")
    a = index_paths(scenario, 1, reference=True)[1]
    b = index_paths(scenario, 2, reference=True)[1]
    for symbol in scenario.symbols:
        assert np.array_equal(a[symbol], b[symbol])


def test_metals_are_frozen_while_their_market_is_shut() -> None:
    scenario = load_scenario("jan-2026-week2")
    times, paths = index_paths(scenario, 3)
    weekend = (times >= ns("2026-01-10T00:00:00")) & (times < ns("2026-01-11T23:00:00"))
    for symbol in ("XAGUSDT", "XAUUSDT"):
        assert len(set(paths[symbol][weekend].tolist())) == 1
    assert len(set(paths["BTCUSDT"][weekend].tolist())) > 100  # bitcoin trades on
