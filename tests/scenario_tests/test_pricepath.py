"""The price paths: the grid, market hours, the bar and point bridges, GBM, and ticks.

Each property test was seen to fail against a planted bug (named in its docstring, then
removed).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.mark import is_metals_market_open
from scenarios.pricepath import (
    Bars,
    bridge_bars,
    bridge_points,
    gbm,
    open_mask,
    time_grid,
    to_ticks,
)

S = 10**9
FRIDAY_2026_01_09 = 1_767_916_800 * S
"""Midnight UTC of Friday 9 January 2026: the metals close at 22:00 and reopen Sunday 23:00."""
T0 = FRIDAY_2026_01_09 + 21 * 3600 * S + 59 * 60 * S
"""21:59 on that Friday: a grid starting here crosses the weekly close within a minute."""
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the grid -------------------------------------------------------------------------------


@SETTINGS
@given(
    default=st.integers(1, 7),
    cuts=st.lists(st.integers(0, 200), min_size=0, max_size=6, unique=True),
    steps=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    length=st.integers(1, 200),
)
def test_grid_steps_are_the_windows_and_include_both_ends(default, cuts, steps, length):
    """Setup: windows cut from sorted random points in [0, length] s, each with its own step.

    Planted bug seen caught: a window's points started at the previous span's cursor instead
    of its from_ns.
    """
    edges = sorted(c for c in cuts if c <= length)
    windows = [
        (T0 + lo * S, T0 + hi * S, steps[i % 3])
        for i, (lo, hi) in enumerate(zip(edges[::2], edges[1::2], strict=False))
        if hi > lo
    ]
    times = time_grid(T0, T0 + length * S, default, windows[::-1])  # any order is accepted
    assert times.dtype == np.int64
    assert times[0] == T0 and times[-1] == T0 + length * S
    assert np.all(np.diff(times) > 0)
    for lo, hi, step in windows:
        assert lo in times, "a window's points start at its from_ns"
        inside = times[(times >= lo) & (times < hi)]
        assert np.all(np.diff(inside) == step * S)
        assert inside[-1] + step * S >= hi
    in_window = np.zeros(times.size, dtype=bool)
    for lo, hi, _ in windows:
        in_window |= (times >= lo) & (times < hi)
    gaps = np.diff(times)[in_window[:-1] == 0]
    assert np.all(gaps <= default * S)
    # outside windows the step is the default, except where a window or the end cuts it short
    nexts = times[1:][in_window[:-1] == 0]
    cut_short = np.isin(nexts, [lo for lo, _, _ in windows] + [times[-1]])
    assert np.all(gaps[~cut_short] == default * S)


@pytest.mark.parametrize(
    ("start", "end", "step", "windows", "message"),
    [
        (10 * S, 10 * S, 1, (), "end .* is not after start"),
        (10 * S, 5 * S, 1, (), "end .* is not after start"),
        (0, 10 * S, 0, (), "below 1 s"),
        (0, 10 * S, 1.5, (), "not a whole number"),
        (0, 10 * S, 1, [(0, 5 * S, 0)], "window 0: step 0 s is below 1 s"),
        (0, 10 * S, 1, [(2 * S, 2 * S, 1)], "window 0: end .* is not after its start"),
        (0, 10 * S, 1, [(-S, 5 * S, 1)], "window 0: .* is outside the grid"),
        (0, 10 * S, 1, [(0, 11 * S, 1)], "window 0: .* is outside the grid"),
        (0, 10 * S, 1, [(5 * S, 8 * S, 1), (0, 6 * S, 2)], "windows 1 and 0 overlap"),
    ],
)
def test_grid_rejects_bad_arguments(start, end, step, windows, message):
    with pytest.raises(ValueError, match=message):
        time_grid(start, end, step, windows)


def test_grid_windows_may_touch():
    times = time_grid(0, 10 * S, 5, [(0, 4 * S, 2), (4 * S, 6 * S, 1)])
    assert times.tolist() == [0, 2 * S, 4 * S, 5 * S, 6 * S, 10 * S]


# -- market hours ---------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.integers(-5 * 86_400, 60 * 86_400), min_size=1, max_size=50))
def test_open_mask_is_the_engines_metals_schedule(offsets_s):
    """Setup: times around the January 2026 weekends (and a few boundaries by hand).

    Planted bug seen caught: Sunday opening at 22:00 instead of 23:00.
    """
    edges = [22 * 3600, 23 * 3600, 2 * 86_400 + 23 * 3600 - 1, 2 * 86_400 + 23 * 3600]
    times = np.array([FRIDAY_2026_01_09 + s * S for s in offsets_s + edges], dtype=np.int64)
    expected = [is_metals_market_open(int(t)) for t in times]
    assert open_mask(times, True).tolist() == expected
    assert open_mask(times, False).all()


# -- the bar bridge -------------------------------------------------------------------------


@st.composite
def bar_scenarios(draw):
    """A grid at 1 s from T0, random bars on it (gaps allowed), and a market-hours mask."""
    count = draw(st.integers(1, 6))
    starts, ends, ohlc, cursor = [], [], [], 0
    for _ in range(count):
        cursor += draw(st.integers(0, 3))
        length = draw(st.one_of(st.integers(1, 5), st.integers(1, 30)))  # short bars often
        starts.append(cursor)
        ends.append(cursor + length)
        cursor += length
        low = draw(st.floats(1.0, 1000.0))
        span = draw(st.sampled_from([0.0, 1e-9, 0.01, 1.0, 50.0]))
        high = low + span
        # the open and close anywhere in [low, high], often exactly on an extreme
        where = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
        o, c = (min(high, low + draw(where) * span) for _ in range(2))
        ohlc.append((o, high, low, c))
    length = cursor + draw(st.integers(0, 3))
    times = time_grid(T0, T0 + length * S, 1)
    hours = draw(st.sampled_from(["always", "metals", "random"]))
    if hours == "random":
        is_open = np.array(draw(st.lists(st.booleans(), min_size=times.size, max_size=times.size)))
    else:
        is_open = open_mask(times, hours == "metals")
    o, h, lo, c = (np.array(column) for column in zip(*ohlc, strict=True))
    bars = Bars(T0 + np.array(starts) * S, T0 + np.array(ends) * S, o, h, lo, c)
    return times, is_open, bars


def bar_points(times, is_open, bars, i):
    """The open grid points of bar ``i``."""
    return np.flatnonzero((times >= bars.start_ns[i]) & (times < bars.end_ns[i]) & is_open)


def assert_bars_exact(times, is_open, bars, path):
    """Every bar's open, high, low and close where its open points allow (bridge_bars doc)."""
    covered = np.zeros(times.size, dtype=bool)
    for i in range(len(bars)):
        points = bar_points(times, is_open, bars, i)
        covered[points] = True
        o, h, lo, c = bars.open[i], bars.high[i], bars.low[i], bars.close[i]
        values = path[points]
        if values.size == 0:
            continue
        assert values[-1] == c, f"bar {i}: last point {values[-1]} is not the close {c}"
        assert np.all((values >= lo) & (values <= h)), f"bar {i}: left [{lo}, {h}]"
        if values.size >= 2:
            assert values[0] == o, f"bar {i}: first point {values[0]} is not the open {o}"
        if values.size >= 4:
            assert values.max() == h, f"bar {i}: max {values.max()} is not the high {h}"
            assert values.min() == lo, f"bar {i}: min {values.min()} is not the low {lo}"
        if values.size == 3:
            reached = {h, lo} & set(values.tolist())
            either_at_an_end = max(o, c) == h or min(o, c) == lo
            assert len(reached) == (len({h, lo}) if either_at_an_end else 1), f"bar {i}: {values}"
    # everywhere else the path holds: the previous value, or the first open before any bar
    held = np.flatnonzero(~covered)
    first = np.flatnonzero(covered)
    for j in held:
        expected = path[j - 1] if first.size and j > first[0] else bars.open[0]
        assert path[j] == expected, f"grid point {j} moved outside an open bar point"


@SETTINGS
@given(scenario=bar_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_bridge_bars_hits_every_bar_exactly(scenario, seed):
    """Setup: random bars (degenerate ones included) on a random or metals-hours mask.

    Planted bugs seen caught, one at a time: neither the reflection nor the clip (noise leaving
    [low, high]); the open pinned after the close (one-point bars showing the open); the forward
    fill starting from the close of the bar instead of holding. The three-point bar taking
    the drawn extreme even when the open or close already reaches it: caught here in most runs
    and always by test_bridge_bars_degenerate_bars_keep_what_they_can.
    """
    times, is_open, bars = scenario
    path = bridge_bars(times, is_open, bars, np.random.default_rng(seed))
    assert path.dtype == np.float64 and path.shape == times.shape
    assert_bars_exact(times, is_open, bars, path)


@SETTINGS
@given(scenario=bar_scenarios())
def test_bridge_bars_reference_is_fixed_and_linear(scenario):
    """Setup: the same random bars, ``reference=True`` with no generator.

    Planted bug seen caught: the high first for bars closing up.
    """
    times, is_open, bars = scenario
    path = bridge_bars(times, is_open, bars, None, reference=True)
    assert_bars_exact(times, is_open, bars, path)
    assert np.array_equal(path, bridge_bars(times, is_open, bars, None, reference=True))
    for i in range(len(bars)):
        values = path[bar_points(times, is_open, bars, i)]
        n = values.size
        if n < 4:
            continue
        o, h, lo, c = bars.open[i], bars.high[i], bars.low[i], bars.close[i]
        first, second = (lo, h) if c >= o else (h, lo)
        p1, p2 = n // 3, (2 * n - 1) // 3
        assert values[p1] == first and values[p2] == second, f"bar {i}: {values}"
        for a, b, va, vb in ((0, p1, o, first), (p1, p2, first, second), (p2, n - 1, second, c)):
            line = va + (np.arange(a, b + 1) - a) / (b - a) * (vb - va)
            np.testing.assert_allclose(values[a : b + 1], line, rtol=1e-12, atol=0)


def one_bar(n, o, h, lo, c, start=T0):
    times = start + np.arange(n + 2) * S  # a point after the bar shows what is held
    bars = Bars([start], [start + n * S], [o], [h], [lo], [c])
    return times, np.ones(times.size, dtype=bool), bars


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize(
    ("n", "o", "h", "lo", "c", "expected"),
    [
        (1, 10.0, 12.0, 9.0, 11.0, [11.0]),  # one point: the close
        (2, 10.0, 12.0, 9.0, 11.0, [10.0, 11.0]),  # the open and the close
        (3, 12.0, 12.0, 9.0, 11.0, [12.0, 9.0, 11.0]),  # the open is the high: the low between
        (3, 10.0, 12.0, 9.0, 9.0, [10.0, 12.0, 9.0]),  # the close is the low: the high between
        (3, 9.0, 12.0, 9.0, 12.0, None),  # both reached already: either one between
        (5, 7.0, 7.0, 7.0, 7.0, [7.0] * 5),  # high == low: flat
    ],
)
def test_bridge_bars_degenerate_bars_keep_what_they_can(n, o, h, lo, c, expected, reference):
    times, is_open, bars = one_bar(n, o, h, lo, c)
    path = bridge_bars(times, is_open, bars, np.random.default_rng(7), reference=reference)
    if expected is None:
        assert path[0] == o and path[2] == c and path[1] in (h, lo)
    else:
        assert path[:n].tolist() == expected
    assert path[n] == path[n + 1] == c, "after the bar the close is held"


def test_bridge_bars_three_points_with_neither_extreme_reached_take_the_first():
    """A bar closing up draws the low first in the reference mode: that is the middle point."""
    times, is_open, bars = one_bar(3, 10.0, 12.0, 9.0, 11.0)
    assert bridge_bars(times, is_open, bars, None, reference=True)[:3].tolist() == [10, 9, 11]


def test_bridge_bars_open_on_the_high_still_reaches_the_low():
    times, is_open, bars = one_bar(20, 12.0, 12.0, 9.0, 10.0)
    path = bridge_bars(times, is_open, bars, np.random.default_rng(3))[:20]
    assert path[0] == 12.0 and path.max() == 12.0 and path.min() == 9.0 and path[-1] == 10.0


def test_bridge_bars_gaps_at_the_next_bars_open_and_holds_in_closed_hours():
    """Setup: a bar to Friday 21:59:59 closing at 10, the next opening at 11 (Sunday 23:00)."""
    friday = FRIDAY_2026_01_09 + 21 * 3600 * S + 59 * 60 * S
    sunday = FRIDAY_2026_01_09 + 2 * 86_400 * S + 23 * 3600 * S
    times = time_grid(friday, sunday + 60 * S, 1, [])
    is_open = open_mask(times, True)
    bars = Bars(
        [friday, friday + 60 * S],
        [friday + 60 * S, sunday + 60 * S],
        [9.5, 11.0],
        [10.2, 11.5],
        [9.4, 10.8],
        [10.0, 11.2],
    )
    path = bridge_bars(times, is_open, bars, np.random.default_rng(1))
    reopen = int(np.searchsorted(times, sunday))
    assert path[reopen - 1] == 10.0, "closed hours hold the last close"
    assert path[reopen] == 11.0, "the next bar's first open point is its open (a gap)"
    assert np.all(path[59:reopen] == 10.0)


def test_bridge_bars_before_the_first_bar_is_its_open():
    times = T0 + np.arange(10) * S
    bars = Bars([T0 + 5 * S], [T0 + 10 * S], [3.0], [4.0], [2.0], [3.5])
    path = bridge_bars(times, np.ones(10, dtype=bool), bars, np.random.default_rng(0))
    assert path[:5].tolist() == [3.0] * 5


def test_bridge_bars_order_of_the_extremes_follows_the_bar():
    """Setup: 600 bars of 40 points. From low to high: always the low first; from high to low:
    always the high first; closing up by half the range: the low first 3 times in 4."""

    def low_first_share(o, h, lo, c):
        count, n = 600, 40
        starts = T0 + np.arange(count) * n * S
        bars = Bars(starts, starts + n * S, *(np.full(count, v) for v in (o, h, lo, c)))
        times = T0 + np.arange(count * n) * S
        path = bridge_bars(
            times, np.ones(times.size, dtype=bool), bars, np.random.default_rng(11)
        ).reshape(count, n)[:, 1:-1]
        low_at = np.where(path == lo, np.arange(n - 2), n).min(axis=1)
        high_at = np.where(path == h, np.arange(n - 2), n).min(axis=1)
        return float(np.mean(low_at < high_at))

    assert low_first_share(1.0, 2.0, 1.0, 2.0) == 1.0
    assert low_first_share(2.0, 2.0, 1.0, 1.0) == 0.0
    assert 0.7 < low_first_share(1.25, 2.0, 1.0, 1.75) < 0.8
    assert 0.7 < 1 - low_first_share(1.75, 2.0, 1.0, 1.25) < 0.8


def test_bridge_bars_is_seeded():
    times, is_open, bars = one_bar(200, 10.0, 12.0, 9.0, 11.0)
    paths = [bridge_bars(times, is_open, bars, np.random.default_rng(s)) for s in (5, 5, 6)]
    assert paths[0].tobytes() == paths[1].tobytes()
    assert not np.array_equal(paths[0], paths[2])
    with pytest.raises(ValueError, match="Generator is needed"):
        bridge_bars(times, is_open, bars, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("high", [10.0, 1.5], "bar 1 .*high is below the open or close"),
        ("low", [1.0, 2.5], "bar 1 .*low is above the open or close"),
        ("open", [1.0, float("nan")], "bar 1 .*not finite and > 0"),
        ("end_ns", [5, 1], "bar 1 .*ends at or before its start"),
        ("start_ns", [0, 3], "bar 1 .*starts before the previous ends"),
        ("close", [1.0], "close has 1 bars, not 2"),
    ],
)
def test_bars_reject_bad_bars_naming_the_bar(field, value, message):
    good = dict(
        start_ns=[0, 5],
        end_ns=[5, 10],
        open=[1.0, 2.0],
        high=[10.0, 3.0],
        low=[0.5, 1.0],
        close=[2.0, 2.0],
    )
    good[field] = value
    with pytest.raises(ValueError, match=message):
        Bars(**good)


def test_bars_are_read_only():
    bars = Bars([0], [5], [1.0], [2.0], [0.5], [1.5])
    with pytest.raises(ValueError):
        bars.high[0] = 3.0


# -- the point bridge -----------------------------------------------------------------------


@SETTINGS
@given(
    offsets=st.lists(st.integers(-3, 150), min_size=1, max_size=8, unique=True),
    prices=st.lists(st.floats(0.5, 5000.0), min_size=8, max_size=8),
    hours=st.sampled_from(["always", "metals", "random"]),
    mask_seed=st.integers(0, 2**16),
    seed=st.integers(0, 2**32 - 1),
    reference=st.booleans(),
)
def test_bridge_points_hits_every_anchor_and_holds_in_closed_hours(
    offsets, prices, hours, mask_seed, seed, reference
):
    """Setup: up to 8 anchors on a 150 s grid crossing the Friday close, some before the grid.

    Planted bugs seen caught, one at a time: the open clock counting closed steps too (the
    path moved in closed hours); the last anchor's price left as exp(log(p)) (off by an ulp).
    """
    times = T0 + np.arange(151) * S
    if hours == "random":
        is_open = np.random.default_rng(mask_seed).random(times.size) < 0.7
    else:
        is_open = open_mask(times, hours == "metals")
    offsets = sorted(offsets)
    point_ns = T0 + np.array(offsets) * S
    point_price = np.array(prices[: len(offsets)])
    at = np.searchsorted(times, point_ns)
    clock = np.cumsum(np.where(is_open, 1, 0)) - int(is_open[0])  # open seconds, as documented
    rng = None if reference else np.random.default_rng(seed)
    if np.any(np.diff(clock[at]) == 0):  # two anchors with no open time between them
        with pytest.raises(ValueError, match=r"anchors \d+ and \d+ land on the same open time"):
            bridge_points(times, is_open, point_ns, point_price, 0.05, rng, reference=reference)
        return
    path = bridge_points(times, is_open, point_ns, point_price, 0.05, rng, reference=reference)
    assert path[at].tolist() == point_price.tolist(), "each anchor exactly"
    assert np.all(path[: at[0]] == point_price[0]), "constant before the first anchor"
    assert np.all(path[at[-1] :] == point_price[-1]), "constant after the last anchor"
    closed = np.flatnonzero(~is_open[1:]) + 1
    assert np.all(path[closed] == path[closed - 1]), "frozen in closed hours"
    assert np.all(np.isfinite(path) & (path > 0))


def test_bridge_points_reference_is_straight_in_log_price_against_open_time():
    times = T0 + np.arange(11) * S
    is_open = np.ones(11, dtype=bool)
    is_open[3:5] = False  # two closed seconds: the line pauses there
    path = bridge_points(
        times, is_open, [T0, T0 + 10 * S], [100.0, 100.0 * np.e**8], 0.0, None, reference=True
    )
    clock = [0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8]
    np.testing.assert_allclose(np.log(path / 100.0), clock, rtol=1e-12, atol=1e-12)


def test_bridge_points_is_seeded():
    times = T0 + np.arange(300) * S
    args = (times, np.ones(300, dtype=bool), [T0, T0 + 299 * S], [10.0, 11.0], 0.1)
    paths = [bridge_points(*args, np.random.default_rng(s)) for s in (1, 1, 2)]
    assert paths[0].tobytes() == paths[1].tobytes()
    assert not np.array_equal(paths[0], paths[2])


@pytest.mark.parametrize(
    ("point_ns", "prices", "message"),
    [
        ([0, 5 * S, 3 * S], [1.0, 2.0, 3.0], "anchor 2 at .* is before anchor 1"),
        ([0, 5 * S, 5 * S], [1.0, 2.0, 3.0], "anchor 2 at .* is the same time as anchor 1"),
        ([0, 20 * S], [1.0, 2.0], "anchor 1 at .* is after the grid's end"),
        ([0, 5 * S], [1.0, -2.0], "anchor 1 price -2.0 is not finite and > 0"),
        ([-2 * S, -S], [1.0, 2.0], "anchors 0 and 1 land on the same open time"),
        ([], [], "at least one anchor"),
    ],
)
def test_bridge_points_rejects_bad_anchors_naming_them(point_ns, prices, message):
    times = np.arange(10) * S
    with pytest.raises(ValueError, match=message):
        bridge_points(
            times, np.ones(10, dtype=bool), point_ns, prices, 0.1, np.random.default_rng(0)
        )


# -- geometric Brownian motion --------------------------------------------------------------


def test_gbm_is_seeded_starts_exactly_and_freezes_in_closed_hours():
    times = time_grid(T0, T0 + 3 * 86_400 * S, 60)  # over the weekend close
    is_open = open_mask(times, True)
    paths = [gbm(times, is_open, 101.3, 0.01, 0.03, np.random.default_rng(s)) for s in (4, 4, 5)]
    assert paths[0].tobytes() == paths[1].tobytes()
    assert not np.array_equal(paths[0], paths[2])
    assert paths[0][0] == 101.3
    closed = np.flatnonzero(~is_open[1:]) + 1
    assert closed.size > 0 and np.all(paths[0][closed] == paths[0][closed - 1])
    assert np.all(np.diff(paths[0])[is_open[1:]] != 0)


def test_gbm_drift_regimes_and_jumps_without_noise():
    """Setup: one day at 1 min, no volatility: drift 0.1/day, from noon drift 0 and vol 0, a
    jump of -20 % at 18:00:30 (so at the 18:01 point)."""
    times = time_grid(0, 86_400 * S, 60)
    is_open = np.ones(times.size, dtype=bool)
    noon, jump = 43_200 * S, 64_830 * S
    path = gbm(
        times,
        is_open,
        50.0,
        0.1,
        0.0,
        np.random.default_rng(0),
        jumps=[(jump, -0.2)],
        regimes=[(noon, 0.0, 0.0)],
    )
    days = times / (86_400 * S)
    morning = times <= noon
    np.testing.assert_allclose(path[morning], 50.0 * np.exp(0.1 * days[morning]), rtol=1e-12)
    at_noon = 50.0 * np.exp(0.05)
    after = int(np.searchsorted(times, jump))
    np.testing.assert_allclose(path[~morning][: after - morning.sum()], at_noon, rtol=1e-12)
    np.testing.assert_allclose(path[after:], at_noon * 0.8, rtol=1e-12)
    assert times[after] == 64_860 * S


def test_gbm_jump_in_closed_hours_lands_at_the_reopening():
    """Setup: Friday 21:00 to Sunday 23:30 at 1 min, no noise, a +5 % jump on Saturday noon."""
    friday = FRIDAY_2026_01_09 + 21 * 3600 * S
    sunday_open = FRIDAY_2026_01_09 + 2 * 86_400 * S + 23 * 3600 * S
    times = time_grid(friday, sunday_open + 1800 * S, 60)
    saturday_noon = FRIDAY_2026_01_09 + 86_400 * S + 12 * 3600 * S
    path = gbm(
        times,
        open_mask(times, True),
        20.0,
        0.0,
        0.0,
        np.random.default_rng(0),
        jumps=[(saturday_noon, 0.05)],
    )
    reopen = int(np.searchsorted(times, sunday_open))
    assert np.all(path[:reopen] == 20.0)
    np.testing.assert_allclose(path[reopen:], 21.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start=0.0), "start 0.0 is not finite and > 0"),
        (dict(vol_per_day=-0.1), "gbm: drift .* vol -0.1 must be finite"),
        (dict(regimes=[(5 * S, 0.0, 0.1), (5 * S, 0.0, 0.1)]), "regime 1 .* not after regime 0"),
        (dict(regimes=[(5 * S, 0.0, float("inf"))]), "gbm regime 0: drift"),
        (dict(jumps=[(5 * S, -1.0)]), "jump 0: relative move -1.0"),
        (dict(jumps=[(5 * S, 0.1), (0, 0.1)]), "jump 1 at 0 is not after the start"),
    ],
)
def test_gbm_rejects_bad_arguments(kwargs, message):
    args = dict(start=10.0, drift_per_day=0.0, vol_per_day=0.1)
    args.update(kwargs)
    times = np.arange(10) * S
    with pytest.raises(ValueError, match=message):
        gbm(times, np.ones(10, dtype=bool), rng=np.random.default_rng(0), **args)


# -- ticks ----------------------------------------------------------------------------------

TICKS = st.sampled_from(
    [
        Decimal("0.01"),
        Decimal("0.001"),
        Decimal("0.1"),
        Decimal("0.25"),
        Decimal("5"),
        Decimal("0.0001"),
    ]
)


def exact_ticks(price: float, tick: Decimal) -> int:
    """The price's shortest decimal over the tick, half to even (to_ticks' rule)."""
    return round(Fraction(repr(price)) / Fraction(tick))  # Fraction rounds half to even


@SETTINGS
@given(
    tick=TICKS,
    whole=st.lists(st.integers(1, 10**7), min_size=1, max_size=40),
    ulps=st.lists(st.integers(-3, 3), min_size=40, max_size=40),
    others=st.lists(st.floats(0.01, 1e5), max_size=40),
)
def test_to_ticks_is_exact_and_monotone(tick, whole, ulps, others):
    """Setup: prices a few ulps from half ticks (where float division can round wrongly), and
    random prices, checked against exact fractions; sorted prices give sorted ticks.

    Planted bug seen caught: the exact fix-up skipped (plain np.rint of the float ratio).
    """
    halves = [float((Fraction(k) + Fraction(1, 2)) * Fraction(tick)) for k in whole]
    near = [
        float(np.nextafter(h, np.inf if u > 0 else 0.0)) if u else h
        for h, u in zip(halves, ulps, strict=False)
    ]
    prices = np.array(sorted(p for p in near + others if p >= float(tick)))
    if prices.size == 0:
        return
    ticks = to_ticks(prices, tick)
    assert ticks.dtype == np.int64
    assert ticks.tolist() == [exact_ticks(float(p), tick) for p in prices]
    assert np.all(np.diff(ticks) >= 0)


def test_to_ticks_rounds_half_to_even():
    prices = np.array([0.375, 0.625, 0.875, 1.125])  # 1.5, 2.5, 3.5, 4.5 quarter ticks
    assert to_ticks(prices, Decimal("0.25")).tolist() == [2, 2, 4, 4]
    assert to_ticks(np.array([[74.624, 121.6]]), Decimal("0.01")).tolist() == [[7462, 12160]]
    # the decimal a CSV says, not the binary float just below it: 77.955 is 7795.5 ticks
    assert to_ticks(np.array([77.955, 77.945]), Decimal("0.01")).tolist() == [7796, 7794]


@pytest.mark.parametrize(
    ("prices", "tick", "message"),
    [
        ([1.0, float("nan")], Decimal("0.01"), "price nan at index 1 is not finite"),
        ([float("inf")], Decimal("0.01"), "price inf at index 0"),
        ([1.0, 0.0], Decimal("0.01"), "price 0.0 at index 1 is not finite and > 0"),
        ([-1.0], Decimal("0.01"), "price -1.0 at index 0"),
        ([0.004], Decimal("0.01"), "price 0.004 at index 0 is below half a tick"),
        ([1.0], Decimal("0"), "tick size 0 is not finite and > 0"),
        ([1e20], Decimal("0.01"), "too many ticks"),
    ],
)
def test_to_ticks_rejects_bad_prices(prices, tick, message):
    with pytest.raises(ValueError, match=message):
        to_ticks(np.array(prices), tick)
    with pytest.raises(TypeError, match="must be a Decimal"):
        to_ticks(np.array([1.0]), 0.01)
