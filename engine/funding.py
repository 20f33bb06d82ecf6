"""Funding: impact prices, the premium index, its interval average, the rate and the payment.

PERP-MECHANICS.md §1.3-§1.7. Pure functions and one small accumulator; no clock, no I/O. The
formulas compute exactly (``impact_price``, ``premium_index`` and ``funding_rate`` in
``Fraction``: the reference; ``impact_price_ratio``, ``premium_scaled`` and ``funding_rate_of``
in integers with cross-multiplication: what the clock path calls, equal on every input) and
leave this module as integers in engine units:
a rate over RATE_SCALE (half-even) and a payment in cash units (rounded against the account,
with the residue handed back so the exchange can conserve money to the last unit).

Units: prices in ticks, quantities in lots, money in cash units (1e-8 USDT), rates as ints over
RATE_SCALE, times in nanoseconds. Premiums are dimensionless ``Fraction`` values (0.0001 is
0.01 %).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from engine.units import NS_PER_SECOND, RATE_SCALE, mul_rate_down

HOUR_NS = 3600 * NS_PER_SECOND
EIGHT_HOURS_NS = 8 * HOUR_NS
INTEREST_CLAMP = Fraction(5, 10_000)
"""Binance bounds the interest correction ``I₈ − P̄`` to ±0.05 % (§1.5)."""
PREMIUM_SCALE = 10**12
"""PremiumAverage stores each sample as an integer over this scale (half-even)."""


def impact_price(levels: Iterable[tuple[int, int]], notional: int,
                 cash_per_tick_lot: int) -> Fraction | None:
    """Average fill price of a hypothetical market order of ``notional`` against one side.

    Walks the levels best first, taking a fraction of the last one, and returns
    ``notional / base_needed`` (PERP-MECHANICS.md §1.3, E16; dYdX ``getImpactPriceSubticks``).

    Args:
        levels: ``(price_ticks, qty_lots)`` pairs, best first. Read lazily, so a generator over
            ``OrderBook.levels(side)`` stops at the level that completes the notional.
        notional: the impact margin notional in cash units (> 0).
        cash_per_tick_lot: cash units of one tick on one lot (``Instrument.cash_per_tick_lot``).

    Returns:
        The exact impact price in ticks, or None when the whole side is worth less than
        ``notional`` (an empty or thin book: that side's premium term is then 0).

    Raises:
        ValueError: ``notional`` is not positive.

    O(k) for the k levels walked.
    """
    if notional <= 0:
        raise ValueError(f"impact notional must be positive, got {notional}")
    filled = lots = 0  # cash and lots of the whole levels taken so far
    for price, qty in levels:
        level_cash = price * qty * cash_per_tick_lot
        if filled + level_cash >= notional:
            # the last level is taken in part: (notional - filled) cash at this price
            base = lots + Fraction(notional - filled, price * cash_per_tick_lot)
            return Fraction(notional) / (base * cash_per_tick_lot)
        filled += level_cash
        lots += qty
    return None


def impact_price_ratio(levels: Iterable[tuple[int, int]], notional: int,
                       cash_per_tick_lot: int) -> tuple[int, int] | None:
    """``impact_price`` as an integer ratio ``(numerator, denominator)``, denominator > 0.

    With ``f`` cash and ``l`` lots taken in whole levels and the last level at ``p``:
    ``notional / (l·K + (notional − f)/p) = notional·p / (l·K·p + notional − f)``. Not
    reduced: callers only compare and multiply. O(k) for the k levels walked.
    """
    if notional <= 0:
        raise ValueError(f"impact notional must be positive, got {notional}")
    filled = lots = 0
    for price, qty in levels:
        level_cash = price * qty * cash_per_tick_lot
        if filled + level_cash >= notional:
            return notional * price, lots * cash_per_tick_lot * price + notional - filled
        filled += level_cash
        lots += qty
    return None


def premium_scaled(impact_bid: tuple[int, int] | None, impact_ask: tuple[int, int] | None,
                   index_ticks: int) -> int:
    """``round(premium_index(IB, IA, I) · PREMIUM_SCALE)`` (half-even) from integer ratios
    (``impact_price_ratio``): the sample ``PremiumAverage.add`` would store, without Fraction.

    ``P = (A·d_a − B·d_b) / (d_b·d_a·I)`` with ``A/d_b = max(0, IB − I)`` and
    ``B/d_a = max(0, I − IA)``. O(1).
    """
    if index_ticks <= 0:
        raise ValueError(f"index must be positive, got {index_ticks}")
    above, above_den = 0, 1
    if impact_bid is not None:
        n, d = impact_bid
        above, above_den = max(0, n - index_ticks * d), d
    below, below_den = 0, 1
    if impact_ask is not None:
        n, d = impact_ask
        below, below_den = max(0, index_ticks * d - n), d
    numerator = (above * below_den - below * above_den) * PREMIUM_SCALE
    denominator = above_den * below_den * index_ticks
    floor, remainder = divmod(numerator, denominator)  # half-even, as round(Fraction)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and floor & 1):
        return floor + 1
    return floor


def premium_index(impact_bid: Fraction | int | None, impact_ask: Fraction | int | None,
                  index_ticks: int) -> Fraction:
    """``P = [max(0, IB − I) − max(0, I − IA)] / I`` (PERP-MECHANICS.md §1.4).

    A missing impact bid counts as 0 (no positive premium) and a missing impact ask as
    infinity (no negative premium), as dYdX's ``GetPricePremium`` does, so a thin book pulls
    the premium toward 0, never toward an extreme.

    Args:
        impact_bid: impact bid in ticks, or None.
        impact_ask: impact ask in ticks, or None.
        index_ticks: the index price in ticks (> 0).

    Returns:
        The exact premium, dimensionless.

    Raises:
        ValueError: ``index_ticks`` is not positive.

    O(1).
    """
    if index_ticks <= 0:
        raise ValueError(f"index must be positive, got {index_ticks}")
    above = max(Fraction(0), impact_bid - index_ticks) if impact_bid is not None else 0
    below = max(Fraction(0), index_ticks - impact_ask) if impact_ask is not None else 0
    return Fraction(above - below, index_ticks)


class PremiumAverage:
    """The average premium of one funding interval (PERP-MECHANICS.md §1.4).

    Linear time weights ``P̄ = Σ i·P_i / Σ i`` (i = 1 for the first sample, so the latest
    sample weighs most), or a plain mean when ``linear`` is False (Binance's 1-hour intervals).

    Each sample is quantised once to an integer over PREMIUM_SCALE (1e-12, half-even). Summing
    exact Fractions would make the denominator the LCM of thousands of impact-price
    denominators (5 760 samples per 8 h) and every addition slower; at 1e-12 the average is
    four digits finer than the rate it feeds, and the sums stay small integers.
    """

    __slots__ = ("linear", "samples", "_weighted", "_weights")

    def __init__(self, linear: bool = True) -> None:
        self.linear = linear
        """True for linear time weights, False for a plain mean."""
        self.samples = 0
        """Samples added since the last reset."""
        self._weighted = 0
        """Σ weight·P over PREMIUM_SCALE."""
        self._weights = 0
        """Σ weight."""

    @classmethod
    def for_interval(cls, interval_ns: int) -> PremiumAverage:
        """Binance's rule: linear weights above 1 hour, a plain mean at 1 hour and below."""
        return cls(linear=interval_ns > HOUR_NS)

    def add(self, premium: Fraction | int, count: int = 1) -> None:
        """Add ``count`` consecutive samples equal to ``premium``.

        A clock jump of hours is one call: the weights ``n+1 .. n+count`` sum to
        ``count·n + count·(count+1)/2``, so the cost does not depend on ``count``.

        Raises:
            ValueError: ``count`` is negative.

        O(1).
        """
        if count < 0:
            raise ValueError(f"sample count must not be negative, got {count}")
        scaled = round(Fraction(premium) * PREMIUM_SCALE)  # Fraction rounds half-even
        if self.linear:
            weight = count * self.samples + count * (count + 1) // 2
        else:
            weight = count
        self._weighted += scaled * weight
        self._weights += weight
        self.samples += count

    def add_scaled(self, scaled: int, count: int = 1) -> None:
        """``add`` for a sample already quantised to an integer over PREMIUM_SCALE
        (``premium_scaled``). O(1)."""
        if count < 0:
            raise ValueError(f"sample count must not be negative, got {count}")
        if self.linear:
            weight = count * self.samples + count * (count + 1) // 2
        else:
            weight = count
        self._weighted += scaled * weight
        self._weights += weight
        self.samples += count

    def value(self) -> Fraction:
        """The average premium (exact over the quantised samples); 0 with no samples. O(1)."""
        if self._weights == 0:
            return Fraction(0)
        return Fraction(self._weighted, self._weights * PREMIUM_SCALE)

    def reset(self) -> None:
        """Start a new interval. O(1)."""
        self.samples = self._weighted = self._weights = 0

    def state(self) -> tuple[bool, int, int, int]:
        """Everything that decides future values (for the exchange's state hash)."""
        return (self.linear, self.samples, self._weighted, self._weights)

    def restore(self, samples: int, weighted: int, weights: int) -> None:
        """Take back the sums ``state()`` returned (for snapshots, engine/snapshot.py); the
        weighting (``linear``) stays the one this average was built with."""
        self.samples, self._weighted, self._weights = samples, weighted, weights


def funding_rate(avg_premium: Fraction, interest_rate: int, interval_ns: int, cap: int) -> int:
    """The funding rate of one interval: ``F_N = [P̄ + clamp(I₈ − P̄, ±0.05 %)] · N/8``.

    PERP-MECHANICS.md §1.5-§1.6. ``P̄`` is the interval's average premium itself, not scaled
    to 8 hours: only the 8-hour rate it gives is scaled to the interval (E17: P̄ = 0.0383 % on a
    4 h symbol gives 0.005 %). The clamp is ``min(max(x, −0.05 %), +0.05 %)`` (pitfall 20),
    then ``F_N`` is capped to ``±cap``.

    Args:
        avg_premium: the interval's average premium (PremiumAverage.value()).
        interest_rate: the 8-hour interest rate ``I₈`` over RATE_SCALE (10 000 is 0.01 %).
        interval_ns: the funding interval in nanoseconds (> 0).
        cap: the cap and (negated) floor of the interval rate over RATE_SCALE (>= 0).

    Returns:
        The rate over RATE_SCALE, rounded half-even: a rate is not money yet, and neither
        side should gain from its rounding; the payment rounds against each account.

    O(1).
    """
    premium = Fraction(avg_premium)
    correction = Fraction(interest_rate, RATE_SCALE) - premium
    rate_8h = premium + min(max(correction, -INTEREST_CLAMP), INTEREST_CLAMP)
    rate = rate_8h * Fraction(interval_ns, EIGHT_HOURS_NS)
    bound = Fraction(cap, RATE_SCALE)
    # the bounds are whole rate units, so capping before rounding equals capping after
    return round(min(max(rate, -bound), bound) * RATE_SCALE)


def funding_rate_of(weighted: int, weights: int, interest_rate: int, interval_ns: int,
                    cap: int) -> int:
    """``funding_rate(Fraction(weighted, weights·PREMIUM_SCALE), ...)`` in integers only.

    ``weighted`` and ``weights`` are ``PremiumAverage``'s sums (weights 0: no samples, P̄ = 0).
    Every term is put over ``D = weights·PREMIUM_SCALE·RATE_SCALE`` (the ±0.05 % clamp is a
    whole number over D because PREMIUM_SCALE is a multiple of 10 000); the interval rate over
    RATE_SCALE is then ``N / (D·8h)``, capped by cross-multiplication and rounded half-even.
    Equal to ``funding_rate`` for every input (tests/engine_tests/test_funding.py). O(1).
    """
    if weights == 0:
        weighted, weights = 0, 1
    denominator = weights * PREMIUM_SCALE * RATE_SCALE
    premium = weighted * RATE_SCALE
    clamp = INTEREST_CLAMP.numerator * denominator // INTEREST_CLAMP.denominator
    correction = interest_rate * weights * PREMIUM_SCALE - premium
    rate_8h = premium + min(max(correction, -clamp), clamp)
    numerator = rate_8h * interval_ns * RATE_SCALE
    denominator *= EIGHT_HOURS_NS
    bound = cap * denominator
    numerator = min(max(numerator, -bound), bound)
    floor, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and floor & 1):
        return floor + 1
    return floor


def funding_payment(qty_lots: int, mark_ticks: int, rate: int,
                    cash_per_tick_lot: int) -> tuple[int, int]:
    """What one position pays or receives at settlement: ``−q · mark · F`` (§1.7, E22).

    A long pays when the rate is positive, a short when it is negative. The exact amount is
    ``exact / RATE_SCALE`` cash units with ``exact = −q·mark·K·F``; the delta is its floor,
    which is against the account either way: a payer pays the ceiling of what it owes, a
    receiver gets the floor of what it is owed.

    Money stays exactly conserved: ``delta·RATE_SCALE + residue == exact``, and because the
    longs and shorts of a symbol net to zero (same mark, same rate), the exact amounts sum to
    zero, so ``sum(residues)`` is a multiple of RATE_SCALE and ``sum(residues) // RATE_SCALE
    == −sum(deltas)`` whole cash units belong to the rounding account.

    Args:
        qty_lots: the signed position (long > 0).
        mark_ticks: the mark price at the settlement instant.
        rate: the settled rate over RATE_SCALE.
        cash_per_tick_lot: cash units of one tick on one lot.

    Returns:
        ``(delta, residue)``: the signed cash delta for the account, and the part of a cash
        unit the rounding took, as a numerator over RATE_SCALE in ``[0, RATE_SCALE)``.

    O(1).
    """
    exact_cash = -qty_lots * mark_ticks * cash_per_tick_lot
    # mul_rate_down floors, which for a negative amount is the larger debit
    delta = mul_rate_down(exact_cash, rate)
    return delta, exact_cash * rate - delta * RATE_SCALE
