"""Prices on the clock: index in, mark out, premiums sampled, funding settled.

The engine reads no clock; time moves only by the ``time`` command. Between two commands the
book and the index do not change, so a clock advance samples each symbol's state in closed
form: the basis ``mid - index`` once a second (the mark's 30-sample moving average) and the
premium index every 5 seconds (the funding interval's time-weighted average), split at every
funding boundary crossed. At each boundary funding settles at the mark, longs paying shorts
when the rate is positive; rounding residue goes to the exchange's rounding account so money
stays conserved, and accounts that the payment leaves failing the margin test are liquidated.

The mark is the instrument's method: ``index`` (mark = index) or ``median`` (Binance's
median of P1, P2 and last; for TradFi underlyings bounded to the index, and an EWMA of the
book's mid while the metals market is closed). It is recomputed on every index update and
clock advance, never on a trade: a venue's mark moves on its own schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import events as e
from engine.enums import Side
from engine.funding import (
    PremiumAverage,
    funding_payment,
    funding_rate_of,
    impact_price_ratio,
    premium_scaled,
)
from engine.instrument import Instrument
from engine.mark import (
    BasisAverage,
    Ewma,
    clamp_to_index,
    is_metals_market_open,
    median_mark_ticks,
)
from engine.units import NS_PER_SECOND, RATE_SCALE

if TYPE_CHECKING:
    from engine.account import Account, Position
    from engine.exchange import Exchange

    _Base = Exchange
else:
    _Base = object

BASIS_SAMPLE_NS = NS_PER_SECOND
BASIS_WINDOW = 30
"""30 one-second samples: Binance's USD-M basis window since 2025-09 (PERP-MECHANICS §1.2)."""
PREMIUM_SAMPLE_NS = 5 * NS_PER_SECOND
OFF_HOURS_HALF_LIFE_NS = 60 * NS_PER_SECOND


class PriceState:
    """What one symbol's mark and funding depend on, besides the book."""

    __slots__ = ("basis", "premium", "funding_rate", "off_hours", "_predicted")

    def __init__(self, instrument: Instrument) -> None:
        self.basis = BasisAverage(BASIS_WINDOW)
        self.premium = PremiumAverage.for_interval(instrument.funding_interval_ns)
        self.funding_rate = 0
        """The last settled rate (over RATE_SCALE): it decays into the mark through P1."""
        self.off_hours = Ewma(OFF_HOURS_HALF_LIFE_NS)
        """The book's mid averaged for the off-hours mark; only market-hours symbols feed it."""
        self._predicted: tuple[int, int, int] | None = None
        """``(weighted, weights, rate)``: the predicted rate of the premium sums it was computed
        from; recomputed only when those sums change (PremiumAverage.state())."""

    def predicted_rate(self, instrument: Instrument) -> int:
        """The rate the next settlement would use if the interval ended now (cached)."""
        premium = self.premium
        weighted, weights = premium._weighted, premium._weights
        cached = self._predicted
        if cached is not None and cached[0] == weighted and cached[1] == weights:
            return cached[2]
        rate = funding_rate_of(weighted, weights, instrument.interest_rate,
                               instrument.funding_interval_ns, instrument.funding_cap)
        self._predicted = (weighted, weights, rate)
        return rate

    def state(self) -> list:
        return [self.basis.state(), self.premium.state(), self.funding_rate,
                self.off_hours.state()]


class PriceEngine(_Base):
    """Index, mark, premium sampling and funding, as methods of the exchange."""

    # -- queries --------------------------------------------------------------------------------

    def _premium(self, symbol: str) -> int:
        """The premium index now, impact bid and ask against the index (§1.3-§1.4), as the
        integer over PREMIUM_SCALE that PremiumAverage stores (no Fraction)."""
        instrument, book = self.instruments[symbol], self.books[symbol]
        index = self.index[symbol]
        assert index is not None
        notional, per_lot = instrument.impact_margin_notional, instrument.cash_per_tick_lot
        bid = impact_price_ratio(((lv.price, lv.qty) for lv in book.levels(Side.BUY)),
                                 notional, per_lot)
        ask = impact_price_ratio(((lv.price, lv.qty) for lv in book.levels(Side.SELL)),
                                 notional, per_lot)
        return premium_scaled(bid, ask, index)

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate the next settlement would use if the interval ended now."""
        return self.prices[symbol].predicted_rate(self.instruments[symbol])

    def next_funding(self, symbol: str) -> int:
        interval = self.instruments[symbol].funding_interval_ns
        return (self.now // interval + 1) * interval

    def _compute_mark(self, symbol: str) -> int:
        instrument = self.instruments[symbol]
        index = self.index[symbol]
        assert index is not None
        if instrument.mark_method == "index":
            return index
        state = self.prices[symbol]
        if instrument.market_hours and not is_metals_market_open(self.now):
            # the index is frozen: follow the book (the index until the book has a mid)
            book_mark = state.off_hours.value()
            mark = index if book_mark is None else book_mark
        else:
            interval = instrument.funding_interval_ns
            basis = state.basis
            mark = median_mark_ticks(index, state.funding_rate,
                                     self.next_funding(symbol) - self.now, interval,
                                     basis.half_tick_sum, basis.samples, self.last[symbol])
        if instrument.max_mark_deviation is not None:
            mark = clamp_to_index(mark, index, instrument.max_mark_deviation)
        return mark

    # -- commands -------------------------------------------------------------------------------

    def _new_index(self, symbol: str, price: int) -> None:
        self.index[symbol] = price
        self._remark(symbol, always=True)

    def _remark(self, symbol: str, always: bool = False) -> None:
        """Recompute the mark; announce it and act on it (triggers, liquidations) if it moved.
        An unchanged mark is still a mark update: accounts that trading left failing the
        margin test since the last one are liquidated now, as a venue's next tick would.

        With the mark unchanged and no wallet or position written since this symbol's last
        sweep, and no position of the insurance fund's to unwind into the book, the sweep is
        skipped: it would find what the last one found. (An account that a write left failing
        is found by the sweep after it; one whose other symbol's mark moved was checked by that
        symbol's sweep, which sums every cross position.)"""
        mark = self._compute_mark(symbol)
        if mark == self.mark[symbol] and not always:
            if self.writes != self._swept_at[symbol] or self.insurance.position_qty(symbol):
                self._check_liquidations(symbol)
                self._swept_at[symbol] = self.writes
            return
        self.mark[symbol] = mark
        index = self.index[symbol]
        assert index is not None
        self._emit(e.Mark, symbol=symbol, index=index, mark=mark, last=self.last[symbol],
                   funding_rate=self.predicted_funding_rate(symbol),
                   next_funding=self.next_funding(symbol))
        self._after_mark_change(symbol)
        self._swept_at[symbol] = self.writes

    def _advance_clock(self, until: int, index: dict[str, int] | None = None) -> None:
        """Move the clock to ``until``: every symbol is sampled up to each funding boundary in
        time order, re-marked there, and settled; then re-marked at ``until``, with the new
        ``index`` prices (a market step) set first: once per symbol, not again per index.

        A symbol nobody holds settles only its last boundary of a long gap: nothing changes
        between commands, so every interval of the gap would give the same rate and pay no
        one; this keeps a jump of years from producing thousands of events.
        """
        sampled = dict.fromkeys(self.instruments, self.now)
        while True:
            due = []
            for symbol, instrument in self.instruments.items():
                if self.index[symbol] is None:
                    continue
                interval = instrument.funding_interval_ns
                boundary = (sampled[symbol] // interval + 1) * interval
                if boundary > until:
                    continue
                if not self._held(symbol):
                    last = until // interval * interval
                    sampled[symbol] = max(sampled[symbol], last - interval)
                    boundary = last
                due.append((boundary, symbol))
            if not due:
                break
            boundary, symbol = min(due)
            self._sample(symbol, sampled[symbol], boundary)
            sampled[symbol] = boundary
            self.now = boundary
            self._remark(symbol)
            self._settle_funding(symbol)
        for symbol in self.instruments:
            if self.index[symbol] is not None:
                self._sample(symbol, sampled[symbol], until)
        self.now = until
        if index:
            self.index.update(index)
        for symbol in self.instruments:
            if self.index[symbol] is not None:
                self._remark(symbol, always=index is not None and symbol in index)

    def _held(self, symbol: str) -> bool:
        """Does any account (or the fund) hold a position in ``symbol``?"""
        self.screen.refresh(self.accounts)
        return self.screen.tables[symbol].size > 0 or self.insurance.position_qty(symbol) != 0

    def _sample(self, symbol: str, start: int, end: int) -> None:
        """Sample the unchanged state of ``symbol`` over ``(start, end]``. O(1) in the length."""
        if end <= start:
            return
        state = self.prices[symbol]
        count = end // PREMIUM_SAMPLE_NS - start // PREMIUM_SAMPLE_NS
        if count:  # no premium sample falls in a span within one 5 s step: no book walk
            state.premium.add_scaled(self._premium(symbol), count)
        book = self.books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            index = self.index[symbol]
            assert index is not None
            samples = end // BASIS_SAMPLE_NS - start // BASIS_SAMPLE_NS
            # the basis mid - index in half ticks: (bid + ask) - 2·index
            state.basis.add_half_ticks(bid + ask - 2 * index, min(samples, BASIS_WINDOW))
            if self.instruments[symbol].market_hours:  # only they ever read the off-hours mark
                state.off_hours.update_half_ticks(bid + ask, end)

    def _settle_funding(self, symbol: str) -> None:
        """Settle ``symbol``'s funding at ``self.now`` (a boundary) at the current mark.

        Every position open at this instant pays or receives ``-q x mark x rate``, rounded
        against it; the residue goes to the rounding account, so payments sum to zero exactly.
        """
        instrument = self.instruments[symbol]
        state = self.prices[symbol]
        rate = self.predicted_funding_rate(symbol)
        state.funding_rate = rate
        state.premium.reset()
        mark = self.mark[symbol]
        assert mark is not None
        self._emit(e.Funding, symbol=symbol, rate=rate, mark=mark)
        # the margin screen lists the holders (read only); the fund is not in it
        self.screen.refresh(self.accounts)
        accounts = self.accounts
        holders = [accounts[i] for i in self.screen.tables[symbol].owners]
        if self.insurance.position_qty(symbol):
            holders.append(self.insurance)
        holders.sort(key=lambda a: a.id)
        paid = residue = 0
        drained: list[Account] = []
        for account in holders:
            position = account.positions[symbol]
            delta, rest = funding_payment(position.qty, mark, rate, instrument.cash_per_tick_lot)
            self._touch(account)
            if position.isolated:
                position.isolated_margin += delta
            else:
                account.wallet += delta
            account.funding_pnl += delta
            paid += delta
            residue += rest
            self._emit(e.FundingPayment, account=account.id, symbol=symbol,
                       position=position.qty, amount=delta)
            if (account is not self.insurance
                    and (position.isolated_margin < 0 or account.wallet < 0)
                    and self._cover_funding_shortfall(account, position)):
                drained.append(account)
        if residue % RATE_SCALE or paid + residue // RATE_SCALE:
            raise AssertionError(f"{symbol} funding does not sum to zero: {paid}, {residue}")
        self.rounding += residue // RATE_SCALE
        self._backstop_fund()
        self._check_liquidations(symbol)
        for account in drained:  # the cross part that paid an isolated debt
            if self._health(account, None).is_liquidatable:
                self._liquidate(account, None)

    def _cover_funding_shortfall(self, account: Account, position: Position) -> bool:
        """A payment larger than the cash behind it (a position in profit can owe more than
        its margin and still pass the margin test): nothing is left below zero. Returns
        whether the cross wallet paid part of an isolated position's payment.

        What an isolated margin cannot pay is the account's debt, paid from its cross wallet
        (isolation caps what a liquidation takes, not what funding costs: Bybit-family venues
        charge funding to the available balance and the position margin alike); the cross
        part that paid is checked after the settlement. What the wallet cannot pay either,
        the insurance fund pays, as it tops a bankrupt wallet up to zero (PERP-MECHANICS.md
        §4.1 step 5): the receivers are paid in full and money stays conserved. (The fund's
        own wallet is topped up by the venue's backstop, ``_backstop_fund``.)"""
        drained = position.isolated_margin < 0
        if drained:
            account.wallet += position.isolated_margin
            position.isolated_margin = 0
        if account.wallet < 0:
            self._transfer_to_fund(account, account.wallet)  # negative: the fund pays
            account.wallet = 0
        return drained
