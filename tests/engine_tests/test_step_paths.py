"""The market step's shortcuts on the clock path give what the long way gives (engine/mark.py,
engine/pricing.py): the metals hours asked once an hour, the mark-index bound's in-band test,
the EWMA's repeated weight, the one-sample basis update, the next funding boundary
remembered."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Exchange
from engine import unit_commands as u
from engine.events import Funding
from engine.mark import (
    EWMA_BITS,
    BasisAverage,
    Ewma,
    clamp_to_index,
    is_metals_market_open,
    keep_weight,
    metals_market_hour,
)
from engine.units import NS_PER_SECOND, RATE_SCALE, mul_rate_down, mul_rate_up, parse_timestamp

HOUR_NS = 3600 * NS_PER_SECOND
MONDAY = 4 * 24 * HOUR_NS
"""1970-01-05, a Monday (the epoch was a Thursday)."""


def test_the_metals_hour_holds_to_its_end():
    """Every 5 minutes of two weeks: the answer is the schedule's, the hour ends on the next
    whole hour, and the schedule gives the same answer up to the last nanosecond of it."""
    for ts in range(MONDAY, MONDAY + 14 * 24 * HOUR_NS, 300 * NS_PER_SECOND):
        is_open, end = metals_market_hour(ts + 7)
        assert is_open == is_metals_market_open(ts + 7)
        assert end % HOUR_NS == 0 and ts < end <= ts + HOUR_NS
        assert is_metals_market_open(end - 1) == is_open


def test_pricing_follows_the_metals_hours_across_a_close():
    """A clock stepping a minute at a time across Monday's 22:00-23:00 break: the off-hours
    switch happens at the same instants as the schedule says."""
    ex = Exchange()
    start = MONDAY + 21 * HOUR_NS
    for minute in range(0, 150, 7):
        ts = start + minute * 60 * NS_PER_SECOND
        ex.execute(u.AdvanceTime(ts=ts))
        assert ex.pricing._metals_open() == is_metals_market_open(ts)


@given(index=st.integers(min_value=1, max_value=10**9),
       deviation=st.integers(min_value=0, max_value=RATE_SCALE - 1),
       offset=st.sampled_from([-1, 0, 1]), side=st.sampled_from(["lower", "upper"]))
def test_the_bound_at_its_edges(index, deviation, offset, side):
    """A mark one tick either side of each rounded bound is clamped as the bounds say."""
    lower = mul_rate_up(index, RATE_SCALE - deviation)
    upper = mul_rate_down(index, RATE_SCALE + deviation)
    mark = max(0, (lower if side == "lower" else upper) + offset)
    assert clamp_to_index(mark, index, deviation) == min(max(mark, lower), upper)


@pytest.mark.parametrize("gaps", [[1, 1, 1, 2, 2, 1, 5, 5, 5, 1], [3] * 10, [1, 2] * 5])
def test_the_ewma_reuses_only_its_own_weight(gaps):
    """Updates at repeated and changing gaps: each step is ``x + w(Δt)·(A − x)`` with the
    weight of that step's own gap."""
    ewma = Ewma(60 * NS_PER_SECOND)
    ts, half_ticks = 0, 15_700
    ewma.update_half_ticks(half_ticks, ts)
    expected = half_ticks << (EWMA_BITS - 1)
    for step, gap in enumerate(gaps):
        ts += gap * NS_PER_SECOND
        half_ticks += 3 if step % 2 else -5
        sample = half_ticks << (EWMA_BITS - 1)
        product = keep_weight(gap * NS_PER_SECOND, ewma.half_life_ns) * (expected - sample)
        expected = sample + round(Fraction(product, 1 << EWMA_BITS))
        ewma.update_half_ticks(half_ticks, ts)
        assert ewma.exact_value() == Fraction(expected, 1 << EWMA_BITS)


def test_one_sample_into_a_full_window_drops_the_oldest():
    average = BasisAverage(3)
    for half_ticks in (1, 2, 3, 10, -7, 4):
        average.add_half_ticks(half_ticks)
    assert average.state() == ["5", "-7/2", "2"] and average.half_tick_sum == 7


def test_a_shorter_funding_interval_settles_at_its_first_boundary():
    """The clock steps a second at a time (the next boundary of any symbol is remembered),
    then BTC's interval becomes an hour: the step that reaches the next whole hour settles
    BTC there, before any boundary remembered for the old terms."""
    ex = Exchange()
    start = parse_timestamp("2026-01-07T10:00:00Z")
    for second in range(3):
        ex.execute(u.MarketStep(ts=start + second * NS_PER_SECOND, index={"BTCUSDT": 900_000}))
    cap = ex.instruments["BTCUSDT"].funding_cap
    assert ex.execute(u.SetFundingTerms(symbol="BTCUSDT", interval_ns=HOUR_NS, cap=cap)) == []
    events = ex.execute(u.MarketStep(ts=start + HOUR_NS, index={"BTCUSDT": 900_000}))
    assert [e.symbol for e in events if isinstance(e, Funding)] == ["BTCUSDT"]
