"""engine/mark.py: basis average, three-way median mark, index bound, EWMA, metals hours.

PERP-MECHANICS.md §1.2 and worked example E8. Prices are in ticks: on BTCUSDT one tick is
0.10 USDT, so 10 000.0 is 100 000 ticks; on XAUUSDT one tick is 0.01 USDT. Rates are integers
over RATE_SCALE (10 000 is 0.01 %).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engine.instrument import default_instruments
from engine.mark import (
    BasisAverage,
    Ewma,
    clamp_to_index,
    is_metals_market_open,
    median_mark,
    median_mark_ticks,
    round_half_even,
)
from engine.units import NS_PER_SECOND, RATE_SCALE

HOUR_NS = 3600 * NS_PER_SECOND
INTERVAL = 8 * HOUR_NS
XAU = default_instruments()["XAUUSDT"]
INDEX = 100_000
"""10 000.0 USDT in BTC ticks."""
E8_RATE = 30_000
"""0.03 %."""
E8_P1 = 100_015
"""10 001.5: the index carried halfway (4 h of 8 h) along a 0.03 % funding rate."""

BASIS = st.integers(min_value=-2000, max_value=2000).map(lambda n: Fraction(n, 2))
"""A basis sample: mid − index, a whole or half tick."""


def _ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """A UTC wall-clock time as nanoseconds."""
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1) * NS_PER_SECOND


# -- basis average ------------------------------------------------------------------------------


def test_basis_window_evicts_the_oldest() -> None:
    """Setup: a window of 3 fed 1, 2, 3, then 4: the 1 falls out."""
    basis = BasisAverage(3)
    assert basis.value() is None and basis.samples == 0
    for value in (1, 2, 3):
        basis.add(value)
    assert basis.value() == 2
    basis.add(4)
    assert basis.value() == 3 and basis.samples == 3


def test_basis_holds_half_ticks_exactly() -> None:
    """Setup: mids of a one-tick spread sit on half ticks."""
    basis = BasisAverage(30)
    basis.add(Fraction(1, 2))
    basis.add(Fraction(-3, 2), count=2)
    assert basis.value() == Fraction(-5, 6)


def test_a_long_run_replaces_the_window() -> None:
    basis = BasisAverage(4)
    basis.add(7)
    basis.add(-2, count=10**9)
    assert basis.value() == -2 and basis.samples == 4
    basis.add(5, count=0)
    assert basis.value() == -2, "count 0 adds nothing"
    basis.reset()
    assert basis.value() is None


def test_basis_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window"):
        BasisAverage(0)
    with pytest.raises(ValueError, match="negative"):
        BasisAverage(3).add(1, count=-1)


@given(window=st.integers(min_value=1, max_value=6), before=st.lists(BASIS, max_size=8),
       value=BASIS, count=st.integers(min_value=0, max_value=10))
def test_basis_add_count_is_count_single_adds(window: int, before: list[Fraction],
                                              value: Fraction, count: int) -> None:
    """Setup: some samples, then ``count`` equal ones at once or one by one; the average is
    also the plain mean of the last ``window`` samples."""
    bulk, single = BasisAverage(window), BasisAverage(window)
    for sample in before:
        bulk.add(sample)
        single.add(sample)
    bulk.add(value, count)
    for _ in range(count):
        single.add(value)
    assert bulk.value() == single.value() and bulk.samples == single.samples
    kept = (before + [value] * count)[-window:]
    assert bulk.value() == (sum(kept, Fraction(0)) / len(kept) if kept else None)


# -- median mark --------------------------------------------------------------------------------


def test_e8_fair_price() -> None:
    """Setup: E8, F = 0.03 %, 4 h to the funding of an 8 h interval, index 10 000: with no
    basis and no trade the mark is P1 = 10 001.5."""
    assert median_mark(INDEX, E8_RATE, 4 * HOUR_NS, INTERVAL, None, None) == E8_P1


@pytest.mark.parametrize(
    ("basis", "last", "expected"),
    [
        (Fraction(5), 100_010, 100_010),  # P2 < last < P1: the last price
        (Fraction(5), 100_000, 100_005),  # last < P2 < P1: P2
        (Fraction(30), 100_000, E8_P1),  # last < P1 < P2: P1
        (Fraction(30), 100_020, 100_020),
        (Fraction(-50), 99_000, 99_950),
    ],
)
def test_the_median_of_three(basis: Fraction, last: int, expected: int) -> None:
    """Setup: E8's P1 = 100 015 ticks, P2 = index + basis, and a last price."""
    assert median_mark(INDEX, E8_RATE, 4 * HOUR_NS, INTERVAL, basis, last) == expected


@pytest.mark.parametrize(("basis", "last"), [(Fraction(-900), None), (None, 90_000)])
def test_two_inputs_fall_back_to_p1(basis: Fraction | None, last: int | None) -> None:
    """Setup: a basis but no trade yet, or a trade but no basis sample: the mark is P1, not the
    mean of the two, however far the other value is."""
    assert median_mark(INDEX, E8_RATE, 4 * HOUR_NS, INTERVAL, basis, last) == E8_P1


@pytest.mark.parametrize(
    ("index", "expected"),
    [(1_000, 1_000), (1_001, 1_002), (2_501, 2_502)],
)
def test_mark_rounds_half_even(index: int, expected: int) -> None:
    """Setup: no funding, the basis on a half tick is the median: x.5 goes to the even tick."""
    assert median_mark(index, 0, HOUR_NS, INTERVAL, Fraction(1, 2), index + 100) == expected


def test_p1_with_a_negative_rate_and_at_settlement() -> None:
    """Setup: F = -0.03 % with the whole interval to go, then at the settlement instant."""
    assert median_mark(INDEX, -E8_RATE, INTERVAL, INTERVAL, None, None) == 99_970
    assert median_mark(INDEX, -E8_RATE, 0, INTERVAL, None, None) == INDEX


# -- clamp to index -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "index", "expected"),
    [
        (20_000, 10_000, 10_300),  # above: floor(10 300)
        (1, 10_000, 9_700),  # below: ceil(9 700)
        (10_123, 10_000, 10_123),  # inside: untouched
        (20_000, 12_345, 12_715),  # 12 715.35 rounds down, inside the band
        (1, 12_345, 11_975),  # 11 974.65 rounds up, inside the band
        (11_975, 12_345, 11_975),
    ],
)
def test_clamp_to_index(mark: int, index: int, expected: int) -> None:
    """Setup: XAU's 3 % mark-index bound."""
    assert XAU.max_mark_deviation == 3 * RATE_SCALE // 100
    assert clamp_to_index(mark, index, XAU.max_mark_deviation) == expected


@given(mark=st.integers(min_value=0, max_value=10**9),
       index=st.integers(min_value=1, max_value=10**9),
       deviation=st.integers(min_value=0, max_value=RATE_SCALE - 1))
def test_a_clamped_mark_is_inside_the_band(mark: int, index: int, deviation: int) -> None:
    d = Fraction(deviation, RATE_SCALE)
    clamped = clamp_to_index(mark, index, deviation)
    assert index * (1 - d) <= clamped <= index * (1 + d)
    if index * (1 - d) <= mark <= index * (1 + d):
        assert clamped == mark


# -- EWMA ---------------------------------------------------------------------------------------


MINUTE_NS = 60 * NS_PER_SECOND


def test_ewma_halves_the_distance_each_half_life() -> None:
    """Setup: a 60 s half life at 100, then 200 one and two half lives later."""
    ewma = Ewma(MINUTE_NS)
    assert ewma.value() is None
    ewma.update(100, 0)
    assert ewma.value() == 100
    ewma.update(200, MINUTE_NS)
    assert ewma.value() == 150
    ewma.update(200, 3 * MINUTE_NS)
    assert ewma.value() == 188, "200 - 50/4 = 187.5, half-even to 188"


def test_ewma_irrational_weight() -> None:
    """Setup: 100 then 200 half a half life later: 200 - 100/sqrt(2) = 129.289..., and two
    quarter steps agree with one half step once rounded to a tick."""
    one, two = Ewma(MINUTE_NS), Ewma(MINUTE_NS)
    one.update(100_000, 0)
    one.update(200_000, MINUTE_NS // 2)
    with localcontext() as ctx:
        ctx.prec = 40
        expected = Decimal(200_000) - Decimal(100_000) / Decimal(2).sqrt()
    assert one.value() == round(expected) == 129_289
    two.update(100_000, 0)
    two.update(200_000, MINUTE_NS // 4)
    two.update(200_000, MINUTE_NS // 2)
    assert two.value() == one.value()


def test_ewma_edges() -> None:
    """Setup: a sample at the same instant has no weight; a half-tick mid rounds half-even; a
    weekend gap forgets the past; time must not go backwards."""
    ewma = Ewma(MINUTE_NS)
    ewma.update(Fraction(201, 2), 0)
    assert ewma.value() == 100
    ewma.update(500, 0)
    assert ewma.value() == 100, "zero elapsed time, zero weight"
    ewma.update(300, 48 * HOUR_NS)
    assert ewma.value() == 300
    with pytest.raises(ValueError, match="before"):
        ewma.update(300, HOUR_NS)
    ewma.reset()
    assert ewma.value() is None
    with pytest.raises(ValueError, match="positive"):
        Ewma(0)


# -- metals market hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ((2026, 1, 9, 21, 59, 59), True),  # Friday, the last second
        ((2026, 1, 9, 22, 0, 0), False),  # Friday close
        ((2026, 1, 10, 12, 0, 0), False),  # Saturday
        ((2026, 1, 11, 22, 0, 0), False),  # Sunday, before the open
        ((2026, 1, 11, 22, 59, 0), False),
        ((2026, 1, 11, 23, 0, 0), True),  # Sunday open
        ((2026, 1, 12, 12, 0, 0), True),  # Monday
        ((2026, 1, 13, 21, 59, 59), True),  # Tuesday, before the daily break
        ((2026, 1, 13, 22, 0, 0), False),
        ((2026, 1, 13, 22, 30, 0), False),
        ((2026, 1, 13, 23, 0, 0), True),  # Tuesday, after the break
        ((2026, 1, 15, 22, 30, 0), False),  # Thursday break
        ((2026, 1, 16, 0, 0, 0), True),  # Friday midnight
    ],
)
def test_metals_hours(moment: tuple[int, ...], is_open: bool) -> None:
    """Setup: January 2026 (the 9th is a Friday), boundaries to the second."""
    assert is_metals_market_open(_ns(*moment)) is is_open


def test_metals_hours_to_the_nanosecond() -> None:
    friday_close = _ns(2026, 1, 9, 22)
    assert is_metals_market_open(friday_close - 1)
    assert not is_metals_market_open(friday_close)
    assert not is_metals_market_open(_ns(2026, 1, 11, 23) - 1)


@given(ts=st.integers(min_value=0, max_value=2**63 - 1))
def test_metals_hours_match_the_calendar(ts: int) -> None:
    """Setup: any instant, checked against datetime's weekday and hour."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts // 1000)
    weekday, hour = moment.weekday(), moment.hour
    expected = not (weekday == 5 or (weekday == 6 and hour < 23) or (weekday == 4 and hour >= 22)
                    or (weekday < 4 and hour == 22))
    assert is_metals_market_open(ts) is expected


# -- the integer clock path against the exact Fraction oracle ---------------------------------
# ``median_mark`` (Fraction arithmetic, engine/mark.py) is the naive oracle; the clock path
# calls ``median_mark_ticks`` and must give the same tick for every input.


@given(numerator=st.integers(min_value=-10**30, max_value=10**30),
       denominator=st.integers(min_value=1, max_value=10**20))
@example(numerator=5, denominator=2)
@example(numerator=7, denominator=2)
@example(numerator=-5, denominator=2)
@example(numerator=-7, denominator=2)
def test_round_half_even_is_round_of_a_fraction(numerator: int, denominator: int) -> None:
    assert round_half_even(numerator, denominator) == round(Fraction(numerator, denominator))


@given(index=st.integers(min_value=1, max_value=10**10),
       rate=st.integers(min_value=-RATE_SCALE // 10, max_value=RATE_SCALE // 10),
       interval=st.sampled_from([HOUR_NS, 4 * HOUR_NS, 8 * HOUR_NS]) | st.integers(1, 10**14),
       to_next=st.floats(min_value=0, max_value=1),
       basis=st.lists(st.integers(min_value=-10**6, max_value=10**6), max_size=30),
       last=st.none() | st.integers(min_value=1, max_value=10**10),
       last_near=st.sampled_from([None, -1, 0, 1]))
@example(index=1, rate=RATE_SCALE // 10, interval=HOUR_NS, to_next=1.0, basis=[],
         last=None, last_near=None)  # P1 = 1.1 -> 1
@example(index=5, rate=RATE_SCALE // 10, interval=HOUR_NS, to_next=1.0, basis=[1], last=3,
         last_near=None)  # P1 = 5.5, P2 = 5.5, last 3: the median 5.5 rounds to 6
@example(index=15, rate=RATE_SCALE // 30, interval=HOUR_NS, to_next=1.0, basis=[1, 0],
         last=20, last_near=None)  # P1 = 15.5, P2 = 15.25: ties to the even 16
def test_median_mark_ticks_is_the_fraction_median(index, rate, interval, to_next, basis, last,
                                                  last_near) -> None:
    """Random indices, rates, times to funding, basis windows and last prices, with the last
    price also put exactly on (or a tick beside) P1 or P2 so that ties are compared."""
    t = int(interval * to_next)
    average = BasisAverage(30)
    for half_ticks in basis:
        average.add_half_ticks(half_ticks)
    if last_near is not None and last is not None:
        anchor = index + average.value() if basis and last % 2 else \
            index * (1 + Fraction(rate, RATE_SCALE) * Fraction(t, interval))
        last = max(1, round(anchor) + last_near)
    expected = median_mark(index, rate, t, interval, average.value(), last)
    assert median_mark_ticks(index, rate, t, interval, average.half_tick_sum, average.samples,
                             last) == expected


@given(samples=st.lists(st.integers(min_value=-10**6, max_value=10**6), max_size=40),
       counts=st.lists(st.integers(min_value=0, max_value=40), max_size=40))
def test_half_tick_basis_matches_a_fraction_window(samples: list[int], counts: list[int]) -> None:
    """The half-tick window against the exact Fraction mean of the last 30 samples."""
    average, kept = BasisAverage(30), []
    for half_ticks, count in zip(samples, counts + [1] * len(samples), strict=False):
        average.add_half_ticks(half_ticks, count)
        kept = (kept + [Fraction(half_ticks, 2)] * count)[-30:]
    assert average.value() == (sum(kept, Fraction(0)) / len(kept) if kept else None)
    assert average.half_tick_sum == sum(kept) * 2 and average.samples == len(kept)
    assert average.state() == [str(v) for v in kept]


# -- the integer EWMA against the 28-digit decimal one it replaced -----------------------------

_DECIMAL = Context(prec=28, rounding=ROUND_HALF_EVEN,
                   traps=[InvalidOperation, DivisionByZero, Overflow])


class DecimalEwma:
    """The previous off-hours EWMA (28-digit decimal ``2^(−Δt/h)``), kept as an oracle."""

    def __init__(self, half_life_ns: int) -> None:
        self.half_life_ns, self.average, self.ts = half_life_ns, None, 0

    def update(self, value: Fraction, ts_ns: int) -> None:
        ctx = _DECIMAL
        sample = ctx.divide(Decimal(value.numerator), Decimal(value.denominator))
        if self.average is None:
            self.average, self.ts = sample, ts_ns
            return
        keep = ctx.power(Decimal(2), ctx.divide(Decimal(self.ts - ts_ns),
                                                Decimal(self.half_life_ns)))
        self.average = ctx.add(sample, ctx.multiply(keep, ctx.subtract(self.average, sample)))
        self.ts = ts_ns


@given(samples=st.lists(st.tuples(st.integers(min_value=1, max_value=2 * 10**7),
                                  st.integers(min_value=0, max_value=600 * NS_PER_SECOND)),
                        min_size=1, max_size=40))
@example(samples=[(15_701, 0), (15_703, NS_PER_SECOND)] + [(15_701, NS_PER_SECOND)] * 30)
def test_integer_ewma_agrees_with_the_decimal_one(samples: list[tuple[int, int]]) -> None:
    """Mids (half ticks) at random gaps: the integer average stays within 1e-18 of a tick of
    the decimal one (28 digits of a price below 10^7 ticks: their own error is ~1e-21), and the
    rounded tick is the same unless the average sits that close to a half tick."""
    fixed, decimal = Ewma(MINUTE_NS), DecimalEwma(MINUTE_NS)
    ts = 0
    for half_ticks, gap in samples:
        ts += gap
        fixed.update_half_ticks(half_ticks, ts)
        decimal.update(Fraction(half_ticks, 2), ts)
        exact = Fraction(decimal.average)
        assert abs(fixed.exact_value() - exact) < Fraction(1, 10**18)
        if abs(exact - round(exact - Fraction(1, 2)) - Fraction(1, 2)) > Fraction(1, 10**17):
            assert fixed.value() == round(exact)


def test_integer_ewma_holds_a_constant_mid_exactly() -> None:
    ewma = Ewma(MINUTE_NS)
    ewma.update_half_ticks(15_701, 0)  # 7 850.5 ticks
    for second in range(1, 100):
        ewma.update_half_ticks(15_701, second * NS_PER_SECOND)
    assert ewma.exact_value() == Fraction(15_701, 2) and ewma.value() == 7_850  # half-even
    ewma.update_half_ticks(15_703, 100 * NS_PER_SECOND)
    ewma.update_half_ticks(15_703, 200 * 60 * NS_PER_SECOND)  # 200 half lives later
    assert ewma.exact_value() == Fraction(15_703, 2) and ewma.value() == 7_852


def test_ewma_state_restores_to_the_same_future() -> None:
    one, two = Ewma(MINUTE_NS), Ewma(MINUTE_NS)
    one.update(Fraction(100_003, 3), 0)
    one.update(101, 7 * NS_PER_SECOND)
    two.restore(*one.state())
    for ewma in (one, two):
        ewma.update(99, 13 * NS_PER_SECOND)
    assert one.state() == two.state()
    with pytest.raises(ValueError, match="integer"):
        two.restore("7850.5", 0)
