"""Mark price: the Binance three-way median, the mark-index bound, an EWMA, metals hours.

PERP-MECHANICS.md §1.2. Pure: the caller passes every price and timestamp in; nothing here
reads a clock. Prices are in ticks, rates are ints over RATE_SCALE, times are nanoseconds.
Every mark leaves this module as an integer tick.

The clock path is integers only: the basis window is kept in half ticks, ``median_mark_ticks``
orders P1, P2 and last by cross-multiplication, and the EWMA is fixed point. ``median_mark``
(exact ``Fraction``) is the reference the integer version is tested against.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

from engine.units import NS_PER_SECOND, RATE_SCALE, mul_rate_down, mul_rate_up


class BasisAverage:
    """Moving average of the last ``window`` samples of ``mid − index`` (``MA_basis``, §1.2).

    A mid is a whole or half tick, so every sample is kept exactly as an integer count of half
    ticks and the running sum is an int: the clock path adds and averages without ``Fraction``.
    """

    __slots__ = ("window", "_values", "_sum")

    def __init__(self, window: int) -> None:
        """Args: window: samples averaged (>= 1), e.g. 30 at one sample a second."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self._values: deque[int] = deque(maxlen=window)
        """The samples in half ticks, oldest first."""
        self._sum = 0
        """Sum of ``_values`` (half ticks), kept in step so value() is O(1)."""

    @property
    def samples(self) -> int:
        """Samples held (at most ``window``)."""
        return len(self._values)

    @property
    def half_tick_sum(self) -> int:
        """The sum of the samples held, in half ticks (the average is this over 2·samples)."""
        return self._sum

    def add(self, value: Fraction | int, count: int = 1) -> None:
        """Add ``count`` consecutive samples equal to ``value`` (ticks, a whole or half tick).

        Raises:
            ValueError: ``count`` is negative, or ``value`` is not a multiple of half a tick.
        """
        doubled = Fraction(value) * 2
        if doubled.denominator != 1:
            raise ValueError(f"basis sample {value} is not a whole or half tick")
        self.add_half_ticks(doubled.numerator, count)

    def add_half_ticks(self, half_ticks: int, count: int = 1) -> None:
        """Add ``count`` consecutive samples of ``half_ticks`` / 2 ticks.

        Raises:
            ValueError: ``count`` is negative.

        O(min(count, window)): more than a window of equal samples replaces the whole window.
        """
        values = self._values
        window = self.window
        if count == 1 and len(values) == window:  # the clock path: one sample a second
            self._sum += half_ticks - values[0]
            values.append(half_ticks)  # the deque's maxlen drops the oldest
            return
        if count < 0:
            raise ValueError(f"sample count must not be negative, got {count}")
        if count >= window:
            values.clear()
            values.extend([half_ticks] * window)
            self._sum = half_ticks * window
            return
        total = self._sum
        for _ in range(count):
            if len(values) == window:
                total -= values[0]  # the deque's maxlen drops it on append
            values.append(half_ticks)
            total += half_ticks
        self._sum = total

    def value(self) -> Fraction | None:
        """The average basis in ticks, or None with no samples (exact; not on the clock
        path, which reads ``half_tick_sum`` and ``samples``). O(1)."""
        return Fraction(self._sum, 2 * len(self._values)) if self._values else None

    def reset(self) -> None:
        self._values.clear()
        self._sum = 0

    def state(self) -> list[str]:
        """Everything that decides future values (for the exchange's state hash)."""
        return [str(Fraction(value, 2)) for value in self._values]

    def window_values(self) -> list[Fraction]:
        """The samples held, oldest first, exactly (for snapshots, engine/snapshot.py)."""
        return [Fraction(value, 2) for value in self._values]

    def restore(self, values: list[Fraction]) -> None:
        """Hold exactly ``values`` (oldest first), as ``window_values()`` returned them.

        Raises:
            ValueError: more values than the window holds, or a value that is not a whole or
                half tick.
        """
        if len(values) > self.window:
            raise ValueError(f"{len(values)} basis samples for a window of {self.window}")
        self.reset()
        for value in values:
            self.add(value)  # keeps _sum exactly the sum, as the original's is


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (denominator > 0) rounded to an integer, half to even:
    exactly what ``round(Fraction(numerator, denominator))`` gives. O(1)."""
    floor, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and floor & 1):
        return floor + 1
    return floor


def median_mark_ticks(index: int, last_funding_rate: int, ns_to_next_funding: int,
                      interval_ns: int, basis_half_ticks: int, basis_samples: int,
                      last_price: int | None) -> int:
    """``median_mark`` in integers only: what the clock path calls.

    P1, P2 and the last price are rationals ``n/d`` with positive denominators
    (``P1 = I·(S·N + F·t) / (S·N)`` with S = RATE_SCALE, ``P2 = (2k·I + Σ) / 2k`` for k basis
    samples summing to Σ half ticks, ``last = last/1``); they are ordered exactly by
    cross-multiplication and the middle one is rounded half-even as ``round(Fraction)`` does.
    ``basis_samples`` 0 means no basis average (P2 missing). Equal to ``median_mark`` for every
    input (tests/engine_tests/test_mark.py checks it against the Fraction version). O(1).
    """
    d1 = RATE_SCALE * interval_ns
    n1 = index * (d1 + last_funding_rate * ns_to_next_funding)
    if basis_samples == 0 or last_price is None:
        return round_half_even(n1, d1)
    d2 = 2 * basis_samples
    n2 = index * d2 + basis_half_ticks
    # order P1 and P2: a/b < c/d  <=>  a·d < c·b (b, d > 0)
    if n1 * d2 <= n2 * d1:
        low_n, low_d, high_n, high_d = n1, d1, n2, d2
    else:
        low_n, low_d, high_n, high_d = n2, d2, n1, d1
    if last_price * low_d <= low_n:
        return round_half_even(low_n, low_d)
    if last_price * high_d >= high_n:
        return round_half_even(high_n, high_d)
    return last_price


def median_mark(index: int, last_funding_rate: int, ns_to_next_funding: int, interval_ns: int,
                basis_average: Fraction | None, last_price: int | None) -> int:
    """Binance's mark: ``median(P1, P2, last)`` (PERP-MECHANICS.md §1.2, E8).

    ``P1 = I·(1 + F·t/N)`` decays the last funding rate to the next settlement, and
    ``P2 = I + MA_basis``. With all three the median is the middle one. With P2 or the last
    price missing (no samples yet, no trade yet) there is no middle: the mark falls back to P1,
    the one term built from the index alone, so a thin market cannot move it.

    Args:
        index: the index price in ticks.
        last_funding_rate: the last settled rate over RATE_SCALE.
        ns_to_next_funding: time to the next settlement, 0 <= t <= interval_ns.
        interval_ns: the funding interval (> 0).
        basis_average: ``BasisAverage.value()`` in ticks, or None.
        last_price: the last trade price in ticks, or None.

    Returns:
        The mark in ticks, rounded half-even (neither side of the book is favoured).

    O(1).
    """
    p1 = index * (1 + Fraction(last_funding_rate, RATE_SCALE)
                  * Fraction(ns_to_next_funding, interval_ns))
    if basis_average is None or last_price is None:
        return round(p1)  # Fraction.__round__ rounds half to even
    return round(sorted((p1, index + basis_average, Fraction(last_price)))[1])


def clamp_to_index(mark: int, index: int, max_deviation: int) -> int:
    """Bound the mark to ``[I·(1 − d), I·(1 + d)]`` (TradFi ±3 %, §1.2).

    The bounds round inward (ceiling of the lower, floor of the upper), so a clamped mark is
    a whole tick that never lies outside the allowed band.

    Args:
        mark: the mark in ticks.
        index: the index in ticks.
        max_deviation: d over RATE_SCALE (3 000 000 is 3 %), 0 <= d < RATE_SCALE.

    O(1).
    """
    if abs(mark - index) * RATE_SCALE <= index * max_deviation:
        return mark  # inside both bounds (the test below without their rounding: exact)
    lower = mul_rate_up(index, RATE_SCALE - max_deviation)
    upper = mul_rate_down(index, RATE_SCALE + max_deviation)
    return min(max(mark, lower), upper)


EWMA_BITS = 96
"""The off-hours EWMA is fixed point: its average is an integer count of 2^-96 ticks."""
_GUARD_BITS = 64
"""Extra bits the weight ``2^(−Δt/h)`` is computed with before it is cut to EWMA_BITS."""


def _ln2_fixed(bits: int) -> int:
    """``floor(ln 2 · 2^bits)`` up to a few units, by ``ln 2 = Σ_{k≥1} 1/(k·2^k)`` in integers.
    Deterministic: the same integers on every platform."""
    total, k = 0, 1
    while True:
        term = (1 << bits) // (k << k)
        if term == 0:
            return total
        total += term
        k += 1


_WORK_BITS = EWMA_BITS + _GUARD_BITS
_LN2 = _ln2_fixed(_WORK_BITS + 8) >> 8


def keep_weight(elapsed_ns: int, half_life_ns: int) -> int:
    """The weight ``2^(−Δt/h)`` of the old average as an integer over ``2^EWMA_BITS``.

    ``Δt/h = q + r/h``: ``2^(−q)`` is a shift and ``2^(−r/h) = exp(−(r/h)·ln 2)`` is its Taylor
    series in integers at EWMA_BITS + 64 bits (each term floored, the series stops when a term
    is 0), then floored to EWMA_BITS. The rule is fixed, so the weight is a function of
    ``(Δt, h)`` alone; its error is below 2^-90, far under a tick. O(1) per distinct ``Δt``
    (cached).
    """
    key = (elapsed_ns, half_life_ns)
    weight = _KEEP_CACHE.get(key)
    if weight is not None:
        return weight
    whole, part = divmod(elapsed_ns, half_life_ns)
    if whole > EWMA_BITS:
        weight = 0
    else:
        one = 1 << _WORK_BITS
        y = part * _LN2 // half_life_ns  # (r/h)·ln 2 < ln 2, over 2^_WORK_BITS
        total, term, k = one, one, 1
        while term:
            term = term * y // (k << _WORK_BITS)
            total += -term if k & 1 else term
            k += 1
        weight = total >> (_GUARD_BITS + whole)
    if len(_KEEP_CACHE) < _KEEP_CACHE_SIZE:
        _KEEP_CACHE[key] = weight
    return weight


_KEEP_CACHE: dict[tuple[int, int], int] = {}
"""``keep_weight`` by ``(Δt, h)``: the clock steps by the same few gaps (a second, usually)."""
_KEEP_CACHE_SIZE = 256
_HALF = 1 << (EWMA_BITS - 1)
_MASK = (1 << EWMA_BITS) - 1


def _shift_half_even(value: int) -> int:
    """``value / 2^EWMA_BITS`` rounded half-even (``>>`` floors; this ties to even)."""
    floor, rest = value >> EWMA_BITS, value & _MASK
    if rest > _HALF or (rest == _HALF and floor & 1):
        return floor + 1
    return floor


class Ewma:
    """Exponentially weighted moving average of a price sampled at irregular times.

    After ``Δt`` the old average keeps the weight ``w = 2^(−Δt/h)`` and the new sample gets the
    rest: ``avg ← x + w·(avg − x)``. The first sample sets the average. A sample at the same
    instant as the previous one has zero weight (it lasted no time).

    Integers only: the average is kept as an integer ``A`` over ``2^EWMA_BITS`` ticks, ``w`` is
    ``keep_weight`` (an integer over the same scale) and each update is
    ``A ← X + round_half_even(W·(A − X) / 2^EWMA_BITS)``. An exact sample (a whole or half
    tick) is held exactly, a constant mid leaves the average exactly at it, and the rule is
    deterministic on every platform. (Until 2026-12 this ran in 28-digit decimal; the two
    agree to far below a tick, and no golden session runs off-hours.)
    """

    __slots__ = ("half_life_ns", "_average", "_ts", "_keep")

    def __init__(self, half_life_ns: int) -> None:
        """Args: half_life_ns: the time after which a sample's weight has halved (> 0)."""
        if half_life_ns <= 0:
            raise ValueError(f"half life must be positive, got {half_life_ns}")
        self.half_life_ns = half_life_ns
        self._average: int | None = None
        """The average in ticks, as an integer over 2^EWMA_BITS."""
        self._ts = 0
        """The timestamp of the last sample."""
        self._keep = (-1, 0)
        """``(Δt, keep_weight(Δt, half_life_ns))`` of the last update: the clock repeats its
        step, so the weight is usually this one (a pure function: not part of the state)."""

    def update(self, value_ticks: Fraction | int, ts_ns: int) -> None:
        """Add a sample of ``value_ticks`` taken at ``ts_ns`` (any rational is rounded
        half-even to 2^-EWMA_BITS ticks; a whole or half tick is exact).

        Raises:
            ValueError: ``ts_ns`` is before the previous sample.
        """
        value = Fraction(value_ticks)
        self._update(round_half_even(value.numerator << EWMA_BITS, value.denominator), ts_ns)

    def update_half_ticks(self, half_ticks: int, ts_ns: int) -> None:
        """Add a sample of ``half_ticks`` / 2 ticks (a book's bid + ask) taken at ``ts_ns``.

        Raises:
            ValueError: ``ts_ns`` is before the previous sample.

        O(1) integer operations.
        """
        self._update(half_ticks << (EWMA_BITS - 1), ts_ns)

    def _update(self, sample: int, ts_ns: int) -> None:
        average = self._average
        if average is None:
            self._average, self._ts = sample, ts_ns
            return
        elapsed = ts_ns - self._ts
        if elapsed < 0:
            raise ValueError(f"sample at {ts_ns} is before the previous one at {self._ts}")
        if average != sample:
            keep = self._keep
            if keep[0] == elapsed:
                weight = keep[1]
            else:
                weight = keep_weight(elapsed, self.half_life_ns)
                self._keep = (elapsed, weight)
            average = sample + _shift_half_even(weight * (average - sample))
        self._average, self._ts = average, ts_ns

    def value(self) -> int | None:
        """The average in ticks rounded half-even, or None before the first sample. O(1)."""
        if self._average is None:
            return None
        return _shift_half_even(self._average)

    def exact_value(self) -> Fraction | None:
        """The average in ticks exactly (tests, views)."""
        return None if self._average is None else Fraction(self._average, 1 << EWMA_BITS)

    def reset(self) -> None:
        self._average = None
        self._ts = 0

    def state(self) -> tuple[str | None, int]:
        """Everything that decides future values: the integer average over 2^EWMA_BITS as
        decimal digits (for the state hash and snapshots), and the last sample's time."""
        return (None if self._average is None else str(self._average), self._ts)

    def restore(self, average: str | None, ts: int) -> None:
        """Take back the state ``state()`` returned (for snapshots, engine/snapshot.py).

        Raises:
            ValueError: ``average`` is not an integer's digits.
        """
        if average is not None and not average.lstrip("-").isdigit():
            raise ValueError(f"EWMA average {average!r} is not an integer over 2^{EWMA_BITS}")
        self._average = None if average is None else int(average)
        self._ts = ts


_DAY_S = 86_400
_CLOSE_S = 22 * 3600
"""CME metals close 17:00 New York = 22:00 UTC in winter..."""
_OPEN_S = 23 * 3600
"""...and reopen an hour later, 18:00 New York = 23:00 UTC."""


def metals_market_hour(ts_ns: int) -> tuple[bool, int]:
    """``is_metals_market_open(ts_ns)`` and the end of the UTC hour it holds through: the
    schedule changes only on whole hours, so a clock that ticks by the second can ask again
    once an hour (Pricing caches it). O(1)."""
    hour = 3600 * NS_PER_SECOND
    return is_metals_market_open(ts_ns), (ts_ns // hour + 1) * hour


def is_metals_market_open(ts_ns: int) -> bool:
    """Whether CME metals (the gold and silver underlyings) trade at ``ts_ns`` (UTC).

    January 2026 winter schedule in UTC: Sunday 23:00 to Friday 22:00, less a daily break
    22:00-23:00 Monday to Thursday. Simplified: no daylight saving time (from March the hours
    move an hour earlier in UTC) and no exchange holidays.

    O(1); integer arithmetic only (1970-01-01 was a Thursday).
    """
    seconds = ts_ns // NS_PER_SECOND
    days, second_of_day = divmod(seconds, _DAY_S)
    weekday = (days + 3) % 7  # Monday = 0
    if weekday == 5:  # Saturday
        return False
    if weekday == 6:  # Sunday: opens at 23:00
        return second_of_day >= _OPEN_S
    if weekday == 4:  # Friday: closed from 22:00 to Sunday 23:00
        return second_of_day < _CLOSE_S
    return not _CLOSE_S <= second_of_day < _OPEN_S  # Monday-Thursday: the daily break
