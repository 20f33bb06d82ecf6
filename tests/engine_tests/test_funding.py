"""engine/funding.py: impact prices, premium index, interval average, funding rate, payment.

PERP-MECHANICS.md §1.3-§1.7 and worked examples E5, E7, E14, E16, E17 and E22. Every
expected value is exact in engine units: on BTCUSDT one tick is 0.10 USDT and one lot 0.001
BTC (K = 10 000 cash units a tick-lot); on XAUUSDT one tick is 0.01 USDT and one lot 0.001
oz (K = 1 000). Rates are integers over RATE_SCALE: 10 000 is 0.01 %.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.book import Order, OrderBook
from engine.enums import OrderType, Side
from engine.funding import (
    EIGHT_HOURS_NS,
    HOUR_NS,
    PREMIUM_SCALE,
    PremiumAverage,
    funding_payment,
    funding_rate,
    funding_rate_of,
    impact_price,
    impact_price_ratio,
    premium_index,
    premium_scaled,
)
from engine.instrument import default_instruments
from engine.units import CASH_SCALE, RATE_SCALE

USDT = CASH_SCALE
INSTRUMENTS = default_instruments()
BTC = INSTRUMENTS["BTCUSDT"]
XAU = INSTRUMENTS["XAUUSDT"]
K_BTC = BTC.cash_per_tick_lot
K_XAU = XAU.cash_per_tick_lot
PCT = Fraction(1, 100)
BP = RATE_SCALE // 10_000
"""One basis point (0.01 %) over RATE_SCALE."""
I8 = 1 * BP
"""The default 8-hour interest rate, 0.01 %."""
NO_CAP = RATE_SCALE // 2

# E16 on XAU units: bids 99.90 x 10, 99.80 x 30, 99.50 x 100 (prices in ticks, qty in lots)
E16_BIDS = [(9_990, 10_000), (9_980, 30_000), (9_950, 100_000)]
E16_ASKS = [(10_030, 100_000)]
E16_INDEX = 9_950
E16_IMN = 5_000 * USDT

PREMIUMS = st.fractions(min_value=Fraction(-1, 10), max_value=Fraction(1, 10),
                        max_denominator=10**9)


def order(order_id: int, side: Side, price: int, qty: int) -> Order:
    return Order(order_id=order_id, account="mm", symbol="XAUUSDT", side=side,
                 type=OrderType.LIMIT, qty=qty, price=price)


# -- impact price -------------------------------------------------------------------------------


def test_e16_impact_bid_is_exact() -> None:
    """Setup: E16. 999 + 2 994 = 3 993 USDT for 40 units, then 1 007 USDT at 99.50 for
    10.120603015... units: 50.120603015... units in all, 5 000 / 50.1206... = 99.7593743734..."""
    bid = impact_price(E16_BIDS, E16_IMN, K_XAU)
    assert bid == Fraction(49_750_000, 4_987), f"impact bid {bid} ticks"
    in_usdt = bid * Fraction(1, 100)
    assert in_usdt == 5_000 / (40 + Fraction(1_007 * 2, 199)), "5000 / 50.120603015..."
    assert round(in_usdt, 10) == Fraction("99.7593743734")


def test_e16_premium() -> None:
    """Setup: E16. The index is below the impact bid: P = bid / index - 1 = 0.2606777622 %."""
    bid = impact_price(E16_BIDS, E16_IMN, K_XAU)
    ask = impact_price(E16_ASKS, E16_IMN, K_XAU)
    assert ask == 10_030, "one level absorbs the whole notional at its own price"
    premium = premium_index(bid, ask, E16_INDEX)
    assert premium == Fraction(13, 4_987) == bid / E16_INDEX - 1
    assert round(premium / PCT, 10) == Fraction("0.2606777622")


def test_impact_price_at_a_level_boundary() -> None:
    """Setup: the notional is exactly the first two levels: the VWAP of those two, and the
    third level is never read (the walk is lazy)."""

    def levels():
        yield from E16_BIDS[:2]
        raise AssertionError("read past the level that completed the notional")

    notional = (9_990 * 10_000 + 9_980 * 30_000) * K_XAU
    assert impact_price(levels(), notional, K_XAU) == Fraction(9_990 * 10 + 9_980 * 30, 40)


@pytest.mark.parametrize("levels", [[], [(9_990, 10_000)], E16_BIDS[:2]])
def test_a_thin_side_has_no_impact_price(levels: list[tuple[int, int]]) -> None:
    """Setup: an empty side, one level, two levels: all worth less than 5 000 USDT."""
    assert impact_price(levels, E16_IMN, K_XAU) is None


def test_impact_price_from_an_order_book() -> None:
    """Setup: the E16 bids rest in an OrderBook (two orders at 99.80): its levels feed the walk
    best first, through a generator or through depth()."""
    book = OrderBook("XAUUSDT")
    for number, (price, qty) in enumerate([(9_950, 100_000), (9_980, 20_000), (9_990, 10_000),
                                           (9_980, 10_000)]):
        book.add(order(number + 1, Side.BUY, price, qty))
    book.check_invariants()
    lazy = impact_price(((lv.price, lv.qty) for lv in book.levels(Side.BUY)), E16_IMN, K_XAU)
    assert lazy == impact_price(book.depth(Side.BUY, 10), E16_IMN, K_XAU)
    assert lazy == Fraction(49_750_000, 4_987)
    assert impact_price(book.depth(Side.SELL, 10), E16_IMN, K_XAU) is None, "no asks"


def test_impact_price_refuses_a_zero_notional() -> None:
    with pytest.raises(ValueError, match="positive"):
        impact_price(E16_BIDS, 0, K_XAU)


# -- premium index ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bid", "ask", "index", "expected"),
    [
        (10_100, 10_200, 10_000, Fraction(1, 100)),  # E14: index below the impact bid
        (9_800, 9_900, 10_000, Fraction(-1, 100)),  # index above the impact ask: negative
        (9_990, 10_010, 10_000, 0),  # the index inside the impact spread
        (10_000, 10_000, 10_000, 0),
        (None, 9_900, 10_000, Fraction(-1, 100)),  # no bid: only the negative term
        (None, 10_200, 10_000, 0),
        (10_100, None, 10_000, Fraction(1, 100)),  # no ask: only the positive term
        (9_800, None, 10_000, 0),
        (None, None, 10_000, 0),  # empty book: no premium at all
        (Fraction(20_001, 2), None, 10_000, Fraction(1, 20_000)),
    ],
)
def test_premium_index(bid: int | None, ask: int | None, index: int, expected: Fraction) -> None:
    """Setup: impact bid/ask and index in ticks; a missing bid is 0, a missing ask infinity."""
    premium = premium_index(bid, ask, index)
    assert premium == expected and isinstance(premium, Fraction)


def test_premium_index_refuses_a_zero_index() -> None:
    with pytest.raises(ValueError, match="positive"):
        premium_index(None, None, 0)


# -- premium average ----------------------------------------------------------------------------


def test_e17_linear_weights() -> None:
    """Setup: E17. 0.01 %, 0.02 %, 0.06 % weighted 1, 2, 3: 0.23 % / 6 = 0.0383333... %."""
    average = PremiumAverage()
    for premium in (Fraction(1, 10_000), Fraction(2, 10_000), Fraction(6, 10_000)):
        average.add(premium)
    assert average.value() == Fraction(23, 60_000) and average.samples == 3
    assert funding_rate(average.value(), I8, EIGHT_HOURS_NS, BTC.funding_cap) == 1 * BP


def test_the_latest_sample_weighs_most() -> None:
    """Setup: the same two samples in both orders; a plain mean does not care."""
    first, second = PremiumAverage(), PremiumAverage()
    first.add(Fraction(1, 1000))
    first.add(0)
    second.add(0)
    second.add(Fraction(1, 1000))
    assert first.value() == Fraction(1, 3000) and second.value() == Fraction(2, 3000)
    mean = PremiumAverage(linear=False)
    mean.add(Fraction(1, 1000))
    mean.add(0)
    assert mean.value() == Fraction(1, 2000)


def test_premium_average_empty_reset_and_intervals() -> None:
    average = PremiumAverage()
    assert average.value() == 0 and average.samples == 0
    average.add(Fraction(1, 100), count=0)
    assert average.value() == 0 and average.samples == 0, "count 0 adds nothing"
    average.add(Fraction(1, 100), count=5)
    average.reset()
    assert average.value() == 0 and average.samples == 0
    assert not PremiumAverage.for_interval(HOUR_NS).linear, "Binance: plain mean at 1 h"
    assert PremiumAverage.for_interval(4 * HOUR_NS).linear
    assert PremiumAverage.for_interval(EIGHT_HOURS_NS).linear
    with pytest.raises(ValueError, match="negative"):
        average.add(0, count=-1)


def test_a_clock_jump_costs_one_call() -> None:
    """Setup: ten years of 5-second samples in one add, after one sample of 0."""
    average = PremiumAverage()
    average.add(0)
    average.add(Fraction(1, 10_000), count=63_072_000)
    n = 63_072_001
    assert average.value() == Fraction(1, 10_000) * (n * (n + 1) // 2 - 1) / (n * (n + 1) // 2)


def test_samples_are_quantised_to_the_premium_scale() -> None:
    """Setup: E16's premium 13/4987 is not a whole 1e-12: it is stored half-even."""
    average = PremiumAverage()
    average.add(Fraction(13, 4_987))
    assert average.value() == Fraction(round(Fraction(13, 4_987) * PREMIUM_SCALE), PREMIUM_SCALE)
    assert abs(average.value() - Fraction(13, 4_987)) <= Fraction(1, 2 * PREMIUM_SCALE)


@given(before=st.lists(PREMIUMS, max_size=5), premium=PREMIUMS,
       count=st.integers(min_value=0, max_value=40), linear=st.booleans())
def test_add_count_is_count_single_adds(before: list[Fraction], premium: Fraction, count: int,
                                        linear: bool) -> None:
    """Setup: some samples, then ``count`` equal ones in one call or one by one."""
    bulk, single = PremiumAverage(linear), PremiumAverage(linear)
    for sample in before:
        bulk.add(sample)
        single.add(sample)
    bulk.add(premium, count)
    for _ in range(count):
        single.add(premium)
    assert bulk.value() == single.value() and bulk.samples == single.samples


# -- funding rate -------------------------------------------------------------------------------


def test_e5_dead_zone() -> None:
    """Setup: E5, P = 0.0429 %, I = 0.01 %: 0.0429 % + clamp(-0.0329 %) = 0.0100 %."""
    assert funding_rate(Fraction(429, 1_000_000), I8, EIGHT_HOURS_NS, BTC.funding_cap) == I8


@pytest.mark.parametrize(
    ("premium", "hours", "expected"),
    [
        (Fraction(23, 60_000), 8, 1 * BP),  # E17: 0.0383 % -> 0.01 %
        (Fraction(10, 10_000), 8, 5 * BP),  # E17: 0.10 % - 0.05 % = 0.05 %
        (Fraction(-8, 10_000), 8, -3 * BP),  # E17: -0.08 % + 0.05 % = -0.03 %
        (Fraction(23, 60_000), 4, BP // 2),  # E17: 4 h symbol, 0.01 % / 2 = 0.005 %
        (Fraction(10, 10_000), 4, 5 * BP // 2),  # the average itself is not scaled
        (Fraction(6, 10_000), 8, 1 * BP),  # dead-zone edges: -0.04 % .. 0.06 %
        (Fraction(-4, 10_000), 8, 1 * BP),
        (Fraction(7, 10_000), 8, 2 * BP),
        (Fraction(-5, 10_000), 8, 0),
    ],
)
def test_e17_and_the_clamp_on_both_sides(premium: Fraction, hours: int, expected: int) -> None:
    """Setup: I = 0.01 %, no cap in reach. Pitfall 20: the correction is bounded to +-0.05 %
    whichever sign it has."""
    assert funding_rate(premium, I8, hours * HOUR_NS, BTC.funding_cap) == expected


def test_e7_caps() -> None:
    """Setup: E7. BTC caps at 0.75 x 0.40 % = 0.30 %; XAU at 0.05 % from 2026-01-30. The
    premiums are chosen so that the uncapped 8-hour rate is 0.45 %, -1 % and 0.12 %."""
    assert BTC.funding_cap == 3 * BTC.tiers[0].mmr // 4 == 30 * BP
    assert XAU.funding_cap == 5 * BP
    cases = [(BTC, Fraction(50, 10_000), 45 * BP, 30 * BP),
             (BTC, Fraction(-105, 10_000), -100 * BP, -30 * BP),
             (XAU, Fraction(17, 10_000), 12 * BP, 5 * BP)]
    for instrument, premium, uncapped, capped in cases:
        assert funding_rate(premium, I8, EIGHT_HOURS_NS, NO_CAP) == uncapped
        assert funding_rate(premium, I8, instrument.funding_interval_ns,
                            instrument.funding_cap) == capped, instrument.symbol


def test_e14_hourly_funding() -> None:
    """Setup: E14 on a 1-hour instrument with a 4 %/h cap: P = 1 %, F8 = 0.95 %, hourly
    F8/8 = 0.11875 %; 10 BTC long at 10 000 pays 118.75 USDT."""
    bid = impact_price([(101_000, 1_000_000)], BTC.impact_margin_notional, K_BTC)
    assert bid == 101_000, "10 100.0: one level absorbs the 25 000 USDT"
    premium = premium_index(bid, None, 100_000)
    assert premium == Fraction(1, 100)
    rate = funding_rate(premium, I8, HOUR_NS, 4 * RATE_SCALE // 100)
    assert rate == 118_750
    assert funding_payment(10_000, 100_000, rate, K_BTC) == (-11_875 * USDT // 100, 0)


@pytest.mark.parametrize(
    ("premium", "interest", "hours", "expected"),
    [
        (Fraction(9_500_005, 10**9) + Fraction(5, 10_000), I8, 8, 950_000),  # 950 000.5
        (Fraction(9_500_015, 10**9) + Fraction(5, 10_000), I8, 8, 950_002),  # 950 001.5
        (-Fraction(9_500_005, 10**9) - Fraction(5, 10_000), I8, 8, -950_000),
        (0, 12, 1, 2),  # 12 / 8 = 1.5
        (0, 20, 1, 2),  # 20 / 8 = 2.5
        (0, -20, 1, -2),
        (0, -1 * BP, 8, -1 * BP),  # a negative interest rate
    ],
)
def test_rate_rounds_half_even(premium: Fraction, interest: int, hours: int,
                               expected: int) -> None:
    """Setup: rates that land exactly on half a rate unit."""
    assert funding_rate(premium, interest, hours * HOUR_NS, NO_CAP) == expected


@given(premium=PREMIUMS, interest=st.integers(min_value=-RATE_SCALE // 100,
                                              max_value=RATE_SCALE // 100),
       hours=st.integers(min_value=1, max_value=24),
       cap=st.integers(min_value=0, max_value=RATE_SCALE // 2))
def test_rate_matches_the_piecewise_form(premium: Fraction, interest: int, hours: int,
                                         cap: int) -> None:
    """Setup: the rate written the other way: P + 0.05 % below the dead zone, P - 0.05 %
    above it, I8 inside; scaled by N/8, capped, rounded half-even."""
    i8, band = Fraction(interest, RATE_SCALE), Fraction(5, 10_000)
    if premium < i8 - band:
        rate_8h = premium + band
    elif premium > i8 + band:
        rate_8h = premium - band
    else:
        rate_8h = i8
    exact = rate_8h * hours / 8 * RATE_SCALE
    expected = max(-cap, min(cap, round(exact)))
    assert funding_rate(premium, interest, hours * HOUR_NS, cap) == expected


# -- funding payment ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "sign"), [(1 * BP, 1), (-1 * BP, -1)])
def test_e22_payment_and_zero_sum(rate: int, sign: int) -> None:
    """Setup: E22 on BTC, F = +-0.01 %, mark 60 000.0, 0.5 BTC long and 0.5 BTC short:
    the long pays 3.00 USDT when F > 0, the short receives it; F < 0 flips the signs."""
    long = funding_payment(500, 600_000, rate, K_BTC)
    short = funding_payment(-500, 600_000, rate, K_BTC)
    assert long == (-sign * 3 * USDT, 0) and short == (sign * 3 * USDT, 0)


def test_rounding_is_against_both_accounts() -> None:
    """Setup: 1 lot at 1 tick, rate 1e-8: 1e-4 cash units change hands. The payer pays a whole
    unit, the receiver gets none, and the residues add up to that unit for the rounding
    account."""
    payer = funding_payment(1, 1, 1, K_BTC)
    receiver = funding_payment(-1, 1, 1, K_BTC)
    assert payer == (-1, RATE_SCALE - 10_000) and receiver == (0, 10_000)
    assert (payer[1] + receiver[1]) // RATE_SCALE == -(payer[0] + receiver[0]) == 1


@pytest.mark.parametrize("qty", [0, 500])
def test_nothing_to_pay(qty: int) -> None:
    """Setup: a flat position, or a zero rate."""
    assert funding_payment(qty, 600_000, 0 if qty else 1 * BP, K_BTC) == (0, 0)


@given(longs=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=6),
       cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=5),
       mark=st.integers(min_value=1, max_value=10**8),
       rate=st.integers(min_value=-RATE_SCALE // 2, max_value=RATE_SCALE // 2))
def test_payments_conserve_money(longs: list[int], cuts: list[int], mark: int,
                                 rate: int) -> None:
    """Setup: long positions, and shorts that split the same total open interest. Every delta
    is at most the exact amount and within one cash unit of it; the residues make up, in
    whole units, exactly what the deltas leave over."""
    total = sum(longs)
    points = sorted({min(cut, total) for cut in cuts} | {0, total})
    shorts = [-(b - a) for a, b in zip(points, points[1:], strict=False) if b > a]
    deltas, residues = [], []
    for qty in longs + shorts:
        delta, residue = funding_payment(qty, mark, rate, K_BTC)
        exact = Fraction(-qty * mark * K_BTC * rate, RATE_SCALE)
        assert 0 <= exact - delta < 1 and 0 <= residue < RATE_SCALE
        assert delta * RATE_SCALE + residue == exact * RATE_SCALE
        deltas.append(delta)
        residues.append(residue)
    assert sum(residues) % RATE_SCALE == 0
    assert sum(deltas) + sum(residues) // RATE_SCALE == 0


# -- the integer clock path against the exact Fraction oracle ---------------------------------
# ``impact_price``, ``premium_index``, ``PremiumAverage.add`` and ``funding_rate`` (Fraction
# arithmetic) are the naive oracle; the clock path calls the integer versions below and must
# give the same values for every input.

LEVELS = st.lists(st.tuples(st.integers(min_value=1, max_value=10**7),
                            st.integers(min_value=1, max_value=10**5)), max_size=12)
RATIOS = st.none() | st.tuples(st.integers(min_value=1, max_value=10**15),
                               st.integers(min_value=1, max_value=10**9))


@given(levels=LEVELS, notional=st.integers(min_value=1, max_value=10**16),
       per_lot=st.sampled_from([1, K_BTC, K_XAU, 7]))
def test_impact_price_ratio_is_the_fraction_impact_price(levels, notional, per_lot) -> None:
    ratio = impact_price_ratio(levels, notional, per_lot)
    exact = impact_price(levels, notional, per_lot)
    assert (None if ratio is None else Fraction(*ratio)) == exact


@given(bid_levels=LEVELS, ask_levels=LEVELS, notional=st.integers(min_value=1, max_value=10**12),
       per_lot=st.sampled_from([1, K_BTC, K_XAU]), index=st.integers(min_value=1, max_value=10**7))
def test_premium_from_book_ratios_is_the_quantised_fraction(bid_levels, ask_levels, notional,
                                                            per_lot, index) -> None:
    """Premium of two walked sides (sorted best first) against any index, as PremiumAverage
    would store it: ``round(P · PREMIUM_SCALE)``."""
    bids = sorted(bid_levels, reverse=True)
    asks = sorted(ask_levels)
    bid, ask = impact_price(bids, notional, per_lot), impact_price(asks, notional, per_lot)
    expected = round(premium_index(bid, ask, index) * PREMIUM_SCALE)
    assert premium_scaled(impact_price_ratio(bids, notional, per_lot),
                          impact_price_ratio(asks, notional, per_lot), index) == expected


@given(bid=RATIOS, ask=RATIOS, index=st.integers(min_value=1, max_value=10**9))
def test_premium_scaled_is_the_quantised_fraction(bid, ask, index) -> None:
    """Any ratios, crossed or not, including exact half-unit ties at 1e-12."""
    expected = round(premium_index(None if bid is None else Fraction(*bid),
                                   None if ask is None else Fraction(*ask), index)
                     * PREMIUM_SCALE)
    assert premium_scaled(bid, ask, index) == expected


def test_premium_scaled_ties_round_half_even() -> None:
    # (IB - I) / I = 1 / (2·10^12) and 3 / (2·10^12): exactly half a unit of 1e-12
    index = 2 * PREMIUM_SCALE
    assert premium_scaled((index + 1, 1), None, index) == 0
    assert premium_scaled((index + 3, 1), None, index) == 2
    assert premium_scaled(None, (index - 3, 1), index) == -2


@given(samples=st.lists(st.tuples(PREMIUMS, st.integers(min_value=0, max_value=6000)),
                        max_size=8),
       linear=st.booleans())
def test_add_scaled_is_add(samples, linear) -> None:
    fraction, scaled = PremiumAverage(linear), PremiumAverage(linear)
    for premium, count in samples:
        fraction.add(premium, count)
        scaled.add_scaled(round(premium * PREMIUM_SCALE), count)
    assert fraction.state() == scaled.state()


@given(weighted=st.integers(min_value=-10**22, max_value=10**22),
       weights=st.integers(min_value=0, max_value=10**8),
       interest=st.integers(min_value=-10**6, max_value=10**6),
       interval=st.sampled_from([HOUR_NS, 4 * HOUR_NS, EIGHT_HOURS_NS])
       | st.integers(min_value=1, max_value=10**15),
       cap=st.integers(min_value=0, max_value=RATE_SCALE))
def test_funding_rate_of_sums_is_the_fraction_rate(weighted, weights, interest, interval,
                                                   cap) -> None:
    average = PremiumAverage()
    average.restore(1 if weights else 0, weighted if weights else 0, weights)
    expected = funding_rate(average.value(), interest, interval, cap)
    assert funding_rate_of(weighted, weights, interest, interval, cap) == expected


def test_funding_rate_of_rounds_ties_to_even() -> None:
    # P = 0 and I8 = 1 unit over RATE_SCALE per 8 h on a 4 h interval: exactly half a unit
    assert funding_rate_of(0, 0, 1, 4 * HOUR_NS, RATE_SCALE) == 0
    assert funding_rate_of(0, 0, 3, 4 * HOUR_NS, RATE_SCALE) == 2
    assert funding_rate_of(0, 0, -3, 4 * HOUR_NS, RATE_SCALE) == -2
