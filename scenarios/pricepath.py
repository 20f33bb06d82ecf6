"""Price paths for the replayed index: a time grid, market hours, and four ways to fill it.

Everything here is whole-array numpy: prices are float64 USD, times int64 ns UTC. Floats stay
inside this module; ``to_ticks`` is the exact edge where a path becomes engine prices.

- ``time_grid``: the replay's clock, a default step with finer (or coarser) windows.
- ``open_mask``: which grid points the metals market is open at (the index is frozen otherwise).
- ``bridge_bars``: real OHLC bars, bridged so that every bar's open, high, low and close are hit
  exactly (a three-segment Brownian bridge per bar).
- ``bridge_points``: sparse anchors (closes, timed quotes), bridged in log space.
- ``gbm``: a synthetic geometric Brownian motion with jumps and regime switches.

All randomness comes from the numpy ``Generator`` passed in; the same generator state gives
the same array, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from numbers import Integral

import numpy as np

from engine.units import NS_PER_SECOND

NS_PER_DAY = 86_400 * NS_PER_SECOND

NOISE_PER_RANGE = 0.5
"""Standard deviation of a bar's bridge noise over the whole bar, as a share of its range.

A Brownian motion's expected range over a span is about 1.6 of its standard deviation there,
so a bar's own range says its volatility was about range / 1.6; half the range is that, rounded.
"""

# CME metals hours in UTC, a vectorised copy of engine.mark.is_metals_market_open (a test
# checks the two agree): Sunday 23:00 to Friday 22:00, less 22:00-23:00 Monday to Thursday.
_DAY_S = 86_400
_CLOSE_S = 22 * 3600
_OPEN_S = 23 * 3600
_SATURDAY, _SUNDAY, _FRIDAY = 5, 6, 4


# -- the clock ------------------------------------------------------------------------------


def _check_step(step_s: object, where: str) -> int:
    if isinstance(step_s, bool) or not isinstance(step_s, Integral):
        raise ValueError(f"{where}: step {step_s!r} is not a whole number of seconds")
    if step_s < 1:
        raise ValueError(f"{where}: step {step_s} s is below 1 s")
    return int(step_s)


def time_grid(
    start_ns: int,
    end_ns: int,
    step_s: int,
    windows: Sequence[tuple[int, int, int]] = (),
) -> np.ndarray:
    """The replay's grid of times: ``step_s`` apart, ``windows`` at their own step.

    Each window ``(from_ns, to_ns, step_s)`` covers ``[from_ns, to_ns)``: its points start at
    ``from_ns``; a span ends where the next begins, so a step may be cut short there and at
    ``end_ns``.

    Args:
        start_ns: first point, ns UTC (always included).
        end_ns: last point, ns UTC (always included), after ``start_ns``.
        step_s: the step outside windows, whole seconds, at least 1.
        windows: non-overlapping spans inside ``[start_ns, end_ns]``, in any order.

    Returns:
        Strictly increasing int64 ns.

    Raises:
        ValueError: naming the window or the argument that is wrong.
    """
    start_ns, end_ns = int(start_ns), int(end_ns)
    if end_ns <= start_ns:
        raise ValueError(f"time grid: end {end_ns} is not after start {start_ns}")
    default_ns = _check_step(step_s, "time grid") * NS_PER_SECOND
    spans: list[tuple[int, int, int, int]] = []  # (from, to, step_ns, window index)
    for i, window in enumerate(windows):
        if len(window) != 3:
            raise ValueError(f"time grid window {i}: expected (from_ns, to_ns, step_s)")
        lo, hi, step = int(window[0]), int(window[1]), window[2]
        step_ns = _check_step(step, f"time grid window {i}") * NS_PER_SECOND
        if hi <= lo:
            raise ValueError(f"time grid window {i}: end {hi} is not after its start {lo}")
        if lo < start_ns or hi > end_ns:
            raise ValueError(
                f"time grid window {i}: [{lo}, {hi}) is outside the grid [{start_ns}, {end_ns}]"
            )
        spans.append((lo, hi, step_ns, i))
    spans.sort()
    for (_, prev_hi, _, prev_i), (lo, _, _, i) in zip(spans, spans[1:], strict=False):
        if lo < prev_hi:
            raise ValueError(f"time grid windows {prev_i} and {i} overlap")
    pieces: list[np.ndarray] = []
    cursor = start_ns
    for lo, hi, step_ns, _ in spans:
        if lo > cursor:
            pieces.append(np.arange(cursor, lo, default_ns, dtype=np.int64))
        pieces.append(np.arange(lo, hi, step_ns, dtype=np.int64))
        cursor = hi
    if end_ns > cursor:
        pieces.append(np.arange(cursor, end_ns, default_ns, dtype=np.int64))
    pieces.append(np.array([end_ns], dtype=np.int64))
    return np.concatenate(pieces)


def open_mask(times: np.ndarray, market_hours: bool) -> np.ndarray:
    """Whether the underlying trades at each time: all True unless ``market_hours``.

    With ``market_hours`` the CME metals schedule of ``engine.mark.is_metals_market_open``.
    """
    times = np.asarray(times, dtype=np.int64)
    if not market_hours:
        return np.ones(times.shape, dtype=bool)
    days, second_of_day = np.divmod(times // NS_PER_SECOND, _DAY_S)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekday_open = (second_of_day < _CLOSE_S) | (second_of_day >= _OPEN_S)
    return np.select(
        [weekday == _SATURDAY, weekday == _SUNDAY, weekday == _FRIDAY],
        [False, second_of_day >= _OPEN_S, second_of_day < _CLOSE_S],
        default=weekday_open,
    )


def _check_grid(times: np.ndarray, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times, dtype=np.int64)
    is_open = np.asarray(is_open, dtype=bool)
    if times.ndim != 1 or times.size == 0:
        raise ValueError("price path: times must be a non-empty 1-D array")
    if is_open.shape != times.shape:
        raise ValueError(f"price path: is_open has shape {is_open.shape}, times {times.shape}")
    if times.size > 1 and not bool(np.all(np.diff(times) > 0)):
        bad = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise ValueError(f"price path: times are not strictly increasing at index {bad}")
    return times, is_open


def _open_clock(times: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    """Open time elapsed at each grid point, int64 ns: the step ending at an open point counts.

    So the clock (and every path driven by it) only moves at open points, and closed points
    hold the value of the last open one.
    """
    steps = np.diff(times, prepend=times[0])
    return np.cumsum(np.where(is_open, steps, 0))


def _hold(values: np.ndarray, have: np.ndarray, before: float) -> np.ndarray:
    """``values`` where ``have``; elsewhere the last such value, or ``before`` if none yet."""
    positions = np.where(have, np.arange(have.size), -1)
    np.maximum.accumulate(positions, out=positions)
    out = values[np.maximum(positions, 0)]
    out[positions < 0] = before
    return out


# -- real bars ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLC bars, one array a field; bar ``i`` spans ``[start_ns[i], end_ns[i])``.

    Bars are in time order and do not overlap (gaps between them are allowed); each has
    ``low <= min(open, close)`` and ``high >= max(open, close)``, all prices finite and
    positive. The arrays are copied and made read-only.
    """

    start_ns: np.ndarray
    end_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        names = ("start_ns", "end_ns", "open", "high", "low", "close")
        for name in names:
            dtype = np.int64 if name.endswith("_ns") else np.float64
            array = np.array(getattr(self, name), dtype=dtype)
            if array.ndim != 1:
                raise ValueError(f"bars: {name} must be a 1-D array")
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        size = self.start_ns.size
        for name in names:
            if getattr(self, name).size != size:
                raise ValueError(f"bars: {name} has {getattr(self, name).size} bars, not {size}")
        if size == 0:
            raise ValueError("bars: no bars")
        prices = np.stack([self.open, self.high, self.low, self.close])
        checks = [
            (~np.all(np.isfinite(prices) & (prices > 0), axis=0), "a price is not finite and > 0"),
            (self.end_ns <= self.start_ns, "ends at or before its start"),
            (np.r_[False, self.start_ns[1:] < self.end_ns[:-1]], "starts before the previous ends"),
            (self.high < np.maximum(self.open, self.close), "high is below the open or close"),
            (self.low > np.minimum(self.open, self.close), "low is above the open or close"),
        ]
        for bad, what in checks:
            if bool(np.any(bad)):
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"bar {i} (start {int(self.start_ns[i])}): {what} (open {self.open[i]}, "
                    f"high {self.high[i]}, low {self.low[i]}, close {self.close[i]})"
                )

    def __len__(self) -> int:
        return int(self.start_ns.size)


def _extreme_positions(
    n: np.ndarray, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Bar-local positions of the first and second extreme, ``1 <= p1 < p2 <= n - 2`` when
    ``n >= 4``; both 1 when ``n == 3`` (one interior point); both 0 below that."""
    if rng is None:  # fixed fractions: a third and two thirds of the way
        p1, p2 = n // 3, (2 * n - 1) // 3
    else:  # a uniform pair of distinct interior points
        interior = np.maximum(n - 2, 2)
        u1 = rng.integers(0, interior)
        u2 = rng.integers(0, interior - 1)
        u2 = u2 + (u2 >= u1)
        p1, p2 = 1 + np.minimum(u1, u2), 1 + np.maximum(u1, u2)
    p1 = np.where(n >= 4, p1, np.where(n == 3, 1, 0))
    p2 = np.where(n >= 4, p2, np.where(n == 3, 1, 0))
    return p1, p2


def bridge_bars(
    times: np.ndarray,
    is_open: np.ndarray,
    bars: Bars,
    rng: np.random.Generator | None,
    *,
    reference: bool = False,
) -> np.ndarray:
    """A path through the bars: each bar's open, high, low and close hit exactly.

    On the open grid points of a bar (those in ``[start_ns, end_ns)``, ``n`` of them) the first
    is the open, the last the close, and the high and the low are each attained exactly at one
    of the points in between and never exceeded: a three-segment Brownian bridge open → first
    extreme → second extreme → close. Noise has a standard deviation of ``NOISE_PER_RANGE`` of
    the bar's range over the whole bar (so ``range * 0.5 / sqrt(n)`` a step) and is reflected
    back into ``[low, high]`` at the bounds.

    Which extreme comes first: the low with probability ``1/2 + (close - open) / (2 (high -
    low))``. A bar that closes up most likely dipped first (the path open → low → high → close
    is shorter than open → high → low → close by twice the rise); a bar from its low to its
    high always did; a flat bar is a coin toss. The times of the two extremes are a uniform
    pair of distinct interior points.

    ``reference=True`` draws nothing (``rng`` may be None): the low comes first if the bar
    closes at or above its open, the extremes sit a third and two thirds of the way
    (positions ``n // 3`` and ``(2n - 1) // 3``) and the segments are straight lines.

    Bars with fewer than four open points keep what they can: with three, the open, the close
    and one extreme in the middle (the one the open and close do not already reach; if neither
    or both, the first one); with two, the open and the close; with one, the close (what the
    path carries on with); with none, nothing (the path holds its value).

    Grid points in no bar or in closed hours hold the last value; before the first bar's first
    open point the path is that bar's open. A bar whose open differs from the previous close
    gaps at its first open point.

    Args:
        times: the grid, strictly increasing int64 ns.
        is_open: whether the market is open at each grid point.
        bars: the bars to pass through.
        rng: the source of randomness; unused (may be None) when ``reference``.
        reference: the deterministic mode for golden tests.

    Returns:
        float64 prices, one per grid point. O(N + B log B) for N points and B bars.
    """
    times, is_open = _check_grid(times, is_open)
    if rng is None and not reference:
        raise ValueError("bridge_bars: a numpy Generator is needed unless reference=True")
    generator = None if reference else rng
    bar_of = np.searchsorted(bars.start_ns, times, side="right") - 1
    inside = (bar_of >= 0) & (times < bars.end_ns[np.maximum(bar_of, 0)]) & is_open
    picked = np.flatnonzero(inside)  # the open points in a bar, in time order
    bar = bar_of[picked]
    n = np.bincount(bar, minlength=len(bars))
    first = np.cumsum(n) - n  # each bar's first point in ``picked``

    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    span = h - lo
    if generator is None:
        low_first = c >= o
    else:
        p_low_first = 0.5 + np.divide(c - o, 2 * span, out=np.zeros_like(span), where=span > 0)
        low_first = generator.random(len(bars)) < p_low_first
    # With one interior point, the extreme the open and close do not reach already.
    high_reached, low_reached = np.maximum(o, c) == h, np.minimum(o, c) == lo
    low_first = np.where((n == 3) & (high_reached != low_reached), high_reached, low_first)
    p1, p2 = _extreme_positions(n, generator)
    e1 = np.where(low_first, lo, h)
    e2 = np.where(low_first, h, lo)
    e1 = np.where(n >= 3, e1, o)  # below three points there is no room for an extreme
    e2 = np.where(n >= 4, e2, e1)

    # Each point lies in the segment [a, b] of its bar (bar-local positions), a bridge from
    # va at a to vb at b.
    k = np.arange(picked.size) - first[bar]
    q1, q2, last = p1[bar], p2[bar], n[bar] - 1
    seg0, seg1 = k <= q1, k <= q2
    a = np.where(seg0, 0, np.where(seg1, q1, q2))
    b = np.where(seg0, q1, np.where(seg1, q2, last))
    va = np.where(seg0, o[bar], np.where(seg1, e1[bar], e2[bar]))
    vb = np.where(seg0, e1[bar], np.where(seg1, e2[bar], c[bar]))
    frac = np.divide(k - a, b - a, out=np.zeros(k.size), where=b > a)
    values = va + frac * (vb - va)

    bar_lo, bar_span = lo[bar], span[bar]
    if generator is not None:
        scale = NOISE_PER_RANGE * span / np.sqrt(np.maximum(n, 1))
        walk = np.cumsum(generator.standard_normal(picked.size) * scale[bar])
        start_of = first[bar]
        w_a, w_b = walk[start_of + a], walk[start_of + b]
        values += (walk - w_a) - frac * (w_b - w_a)
        # Reflect into [low, high] (a fold of period twice the range), then clip the last
        # rounding ulp: the bounds are never exceeded.
        period = np.where(bar_span > 0, 2 * bar_span, 1.0)
        folded = np.mod(values - bar_lo, period)
        values = bar_lo + np.where(folded > bar_span, period - folded, folded)
    np.clip(values, bar_lo, h[bar], out=values)

    # Pin the anchors exactly; the close last, so a one-point bar shows its close.
    has = n > 0
    values[(first + p1)[has]] = e1[has]
    values[(first + p2)[has]] = e2[has]
    values[first[has]] = o[has]
    values[(first + n - 1)[has]] = c[has]

    path = np.empty(times.size)
    path[picked] = values
    return _hold(path, inside, float(o[0]))


# -- sparse anchors -------------------------------------------------------------------------


def bridge_points(
    times: np.ndarray,
    is_open: np.ndarray,
    point_ns: Sequence[int] | np.ndarray,
    point_price: Sequence[float] | np.ndarray,
    vol_per_sqrt_day: float,
    rng: np.random.Generator | None,
    *,
    reference: bool = False,
) -> np.ndarray:
    """A path through sparse anchors: a Brownian bridge in log space between them.

    Each anchor is hit exactly at the first grid point at or after its time (an anchor before
    the grid lands on its first point). The bridge runs on the open clock (only steps ending
    at an open point add time), so the path is frozen in closed hours: an anchor that lands on
    a closed point already holds at the last open point before it. Before the first anchor the
    path is the first anchor's price, after the last the last's.

    ``reference=True`` draws nothing (``rng`` may be None): straight lines in log price
    against open time.

    Args:
        times: the grid, strictly increasing int64 ns.
        is_open: whether the market is open at each grid point.
        point_ns: anchor times, strictly increasing int64 ns, none after the last grid point.
        point_price: anchor prices, finite and positive.
        vol_per_sqrt_day: the bridge's volatility of log price per square root of a day of
            open time.
        rng: the source of randomness; unused (may be None) when ``reference``.
        reference: the deterministic mode for golden tests.

    Returns:
        float64 prices, one per grid point. O(N + A log A) for N points and A anchors.

    Raises:
        ValueError: naming the anchor that is out of order, duplicated, after the grid, not
            positive, or that lands on the same open time as the one before it.
    """
    times, is_open = _check_grid(times, is_open)
    anchors_ns = np.asarray(point_ns, dtype=np.int64)
    prices = np.asarray(point_price, dtype=np.float64)
    if anchors_ns.ndim != 1 or anchors_ns.size == 0 or prices.shape != anchors_ns.shape:
        raise ValueError("bridge_points: need one price per anchor time, at least one anchor")
    if not math.isfinite(vol_per_sqrt_day) or vol_per_sqrt_day < 0:
        raise ValueError(f"bridge_points: volatility {vol_per_sqrt_day} is not finite and >= 0")
    if rng is None and not reference:
        raise ValueError("bridge_points: a numpy Generator is needed unless reference=True")
    for i in np.flatnonzero(np.diff(anchors_ns) <= 0)[:1] + 1:
        word = "the same time as" if anchors_ns[i] == anchors_ns[i - 1] else "before"
        raise ValueError(f"bridge_points: anchor {i} at {anchors_ns[i]} is {word} anchor {i - 1}")
    for i in np.flatnonzero(~(np.isfinite(prices) & (prices > 0)))[:1]:
        raise ValueError(f"bridge_points: anchor {i} price {prices[i]} is not finite and > 0")
    grid_at = np.searchsorted(times, anchors_ns, side="left")
    for i in np.flatnonzero(grid_at >= times.size)[:1]:
        raise ValueError(
            f"bridge_points: anchor {i} at {anchors_ns[i]} is after the grid's end {times[-1]}"
        )
    clock = _open_clock(times, is_open)
    at = clock[grid_at]  # each anchor's position on the open clock
    for i in np.flatnonzero(np.diff(at) <= 0)[:1] + 1:
        raise ValueError(
            f"bridge_points: anchors {i - 1} and {i} land on the same open time (no open "
            f"grid step from {times[grid_at[i - 1]]} to {times[grid_at[i]]})"
        )

    log_price = np.log(prices)
    seg = np.searchsorted(at, clock, side="right") - 1  # the anchor at or before each point
    inner = (seg >= 0) & (seg < at.size - 1)
    lo = np.clip(seg, 0, at.size - 1)
    hi = np.minimum(lo + 1, at.size - 1)
    width = (at[hi] - at[lo]).astype(np.float64)
    frac = np.divide(clock - at[lo], width, out=np.zeros(times.size), where=inner)
    logs = log_price[lo] + frac * (log_price[hi] - log_price[lo])
    if not reference and vol_per_sqrt_day > 0:
        assert rng is not None
        step_days = np.diff(clock, prepend=clock[0]) / NS_PER_DAY
        walk = np.cumsum(rng.standard_normal(times.size) * np.sqrt(step_days))
        walk *= vol_per_sqrt_day
        w_lo, w_hi = walk[grid_at[lo]], walk[grid_at[hi]]
        logs += np.where(inner, (walk - w_lo) - frac * (w_hi - w_lo), 0.0)
    path = np.exp(logs)
    # Before the first anchor, on one or after the last: that anchor's price, exactly.
    exact = ~inner | (clock == at[lo])
    path[exact] = np.where(seg < 0, prices[0], prices[lo])[exact]
    return path


# -- synthetic ------------------------------------------------------------------------------


def gbm(
    times: np.ndarray,
    is_open: np.ndarray,
    start: float,
    drift_per_day: float,
    vol_per_day: float,
    rng: np.random.Generator,
    *,
    jumps: Sequence[tuple[int, float]] = (),
    regimes: Sequence[tuple[int, float, float]] = (),
) -> np.ndarray:
    """Geometric Brownian motion on the open clock, with jumps and regime switches.

    ``dS / S = mu dt + sigma dW`` with ``mu`` the drift per day and ``sigma`` the volatility
    per square root of a day (the standard deviation of a day's log return), ``dt`` the open
    time of each step (only steps ending at an open point count, so the path is frozen in
    closed hours). A regime ``(from_ns, drift, vol)`` sets ``mu`` and ``sigma`` for the steps
    that begin at or after ``from_ns``. A jump ``(ts_ns, relative_move)`` multiplies the path
    by ``1 + relative_move`` from the first open grid point at or after ``ts_ns``; one with no
    such point is past the path's end and does nothing.

    Args:
        times: the grid, strictly increasing int64 ns.
        is_open: whether the market is open at each grid point.
        start: the price at the first grid point, exactly.
        drift_per_day: ``mu`` before the first regime.
        vol_per_day: ``sigma`` before the first regime.
        rng: the source of randomness.
        jumps: ``(ts_ns, relative_move)``, ``ts_ns`` after the first grid point and
            ``relative_move > -1``, in any order.
        regimes: ``(from_ns, drift_per_day, vol_per_day)`` with strictly increasing times.

    Returns:
        float64 prices, one per grid point. O(N + J log N) for N points and J jumps.

    Raises:
        ValueError: naming the argument, jump or regime that is wrong.
    """
    times, is_open = _check_grid(times, is_open)
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"gbm: start {start} is not finite and > 0")
    regime_from = [np.iinfo(np.int64).min]
    mus, sigmas = [drift_per_day], [vol_per_day]
    for i, regime in enumerate(regimes):
        if len(regime) != 3:
            raise ValueError(f"gbm regime {i}: expected (from_ns, drift_per_day, vol_per_day)")
        if i > 0 and int(regime[0]) <= regime_from[-1]:
            raise ValueError(f"gbm regime {i} at {regime[0]} is not after regime {i - 1}")
        regime_from.append(int(regime[0]))
        mus.append(float(regime[1]))
        sigmas.append(float(regime[2]))
    for i, (mu, sigma) in enumerate(zip(mus, sigmas, strict=True)):
        where = "gbm" if i == 0 else f"gbm regime {i - 1}"
        if not (math.isfinite(mu) and math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"{where}: drift {mu} and vol {sigma} must be finite, vol >= 0")

    clock = _open_clock(times, is_open)
    step_days = np.diff(clock) / NS_PER_DAY
    regime = np.searchsorted(np.array(regime_from), times[:-1], side="right") - 1
    mu, sigma = np.array(mus)[regime], np.array(sigmas)[regime]
    noise = rng.standard_normal(times.size - 1)
    steps = (mu - 0.5 * sigma**2) * step_days + sigma * np.sqrt(step_days) * noise

    open_points = np.flatnonzero(is_open)
    for i, (ts_ns, move) in enumerate(jumps):
        if not (math.isfinite(move) and move > -1):
            raise ValueError(f"gbm jump {i}: relative move {move} is not finite and > -1")
        if int(ts_ns) <= times[0]:
            raise ValueError(f"gbm jump {i} at {ts_ns} is not after the start {times[0]}")
        j = np.searchsorted(times[open_points], int(ts_ns), side="left")
        if j < open_points.size:
            steps[open_points[j] - 1] += math.log1p(move)
    return start * np.exp(np.concatenate(([0.0], np.cumsum(steps))))


# -- to the engine --------------------------------------------------------------------------

_NEAR_HALF = 1e-12
"""Relative distance from a half tick under which float division might round the wrong way
(its error is about 2.2e-16 relative); those few prices are rounded with exact fractions."""


def to_ticks(prices: np.ndarray, tick_size: Decimal) -> np.ndarray:
    """Prices to whole ticks: each float's shortest decimal (its ``repr``) rounded half to even.

    The shortest decimal, not the float's binary value: a bar's low of 77.955 read from a CSV is
    the float 77.95499999999999829..., but it means the half tick 7795.5, which rounds to 7796
    as the decimal would. Monotone (the shortest decimals of ordered floats are ordered, and
    rounding is monotone), so a path's extremes stay its extremes. Float division decides all
    but the prices within a hair of a half tick, which are rounded exactly with ``Decimal``.

    Raises:
        ValueError: for a price that is not finite, not positive, rounds to zero ticks or
            overflows int64 exactness, naming its index; for a tick that is not positive.
    """
    if not isinstance(tick_size, Decimal):
        raise TypeError(f"to_ticks: tick size must be a Decimal, not {type(tick_size).__name__}")
    if not (tick_size.is_finite() and tick_size > 0):
        raise ValueError(f"to_ticks: tick size {tick_size} is not finite and > 0")
    prices = np.asarray(prices, dtype=np.float64)
    flat = prices.ravel()
    for i in np.flatnonzero(~(np.isfinite(flat) & (flat > 0)))[:1]:
        raise ValueError(f"to_ticks: price {flat[i]} at index {i} is not finite and > 0")
    ratio = flat / float(tick_size)
    for i in np.flatnonzero(ratio >= 2.0**52)[:1]:
        raise ValueError(f"to_ticks: price {flat[i]} at index {i} is too many ticks for int64")
    ticks = np.rint(ratio)  # half to even
    near = np.abs(ratio - np.floor(ratio) - 0.5) <= ratio * _NEAR_HALF
    for i in np.flatnonzero(near):
        exact = Decimal(repr(float(flat[i]))) / tick_size
        ticks[i] = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    for i in np.flatnonzero(ticks < 1)[:1]:
        raise ValueError(
            f"to_ticks: price {flat[i]} at index {i} is below half a tick ({tick_size})"
        )
    return ticks.astype(np.int64).reshape(prices.shape)
