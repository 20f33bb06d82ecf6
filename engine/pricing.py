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

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec

from engine import commands as c
from engine import events as e
from engine import refusals
from engine import unit_commands as u
from engine.enums import RejectReason, Side
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
    median_mark_ticks,
    metals_market_hour,
)
from engine.refusals import Refusal
from engine.units import (
    NS_PER_SECOND,
    RATE_SCALE,
    UnitError,
    format_timestamp,
    parse_timestamp,
)

if TYPE_CHECKING:
    from engine.account import Account
    from engine.book import OrderBook
    from engine.ledger import Ledger
    from engine.outbox import Outbox

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


class Pricing:
    """Index, mark, premium sampling, funding and the clock, per symbol.

    Funding payments go through the ledger. What a mark change sets off (triggers, then
    liquidations) is the exchange's to sequence: it hands in ``on_mark_change``, and
    ``check_liquidations`` for the sweeps an unchanged mark or a settlement still owes.
    """

    _ticks = staticmethod(refusals.ticks)
    _positive_ticks = staticmethod(refusals.positive_ticks)

    def __init__(self, instruments: dict[str, Instrument], books: Mapping[str, OrderBook],
                 ledger: Ledger, outbox: Outbox, on_mark_change: Callable[[str], None],
                 check_liquidations: Callable[[str, Sequence[Account]], None]) -> None:
        symbols = list(instruments)
        self.instruments = instruments
        self.books = books
        self.ledger = ledger
        self.outbox = outbox
        """Its ``now`` is the engine clock, which only pricing moves."""
        self.on_mark_change = on_mark_change
        self.check_liquidations = check_liquidations
        self.index: dict[str, int | None] = dict.fromkeys(symbols)
        self.mark: dict[str, int | None] = dict.fromkeys(symbols)
        self.last: dict[str, int | None] = dict.fromkeys(symbols)
        """The last trade price; order entry writes it on every trade."""
        self.prices = {s: PriceState(i) for s, i in instruments.items()}
        self._swept_at: dict[str, int] = dict.fromkeys(symbols, -1)
        """``ledger.writes`` at each symbol's last sweep (``remark``)."""
        self._boundary = (0, -1)
        """``(since, boundary)``: no symbol's funding boundary lies in ``(since, boundary)``
        (``_next_boundary``); reset when an interval changes."""
        self._metals_hour = (False, -1, -1)
        """``(open, start, end)``: whether the metals market is open from ``start`` to
        ``end`` (one UTC hour), for ``_metals_open``."""

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
        return (self.outbox.now // interval + 1) * interval

    def _next_boundary(self) -> int:
        """The first funding boundary of any symbol after the clock, worked out again only
        once the clock reaches it (a clock ticking by the second crosses one in hours)."""
        now = self.outbox.now
        since, boundary = self._boundary
        if not since <= now < boundary:
            boundary = min((now // i.funding_interval_ns + 1) * i.funding_interval_ns
                           for i in self.instruments.values())
            self._boundary = (now, boundary)
        return boundary

    def _metals_open(self) -> bool:
        """``is_metals_market_open`` at the clock, worked out once an hour."""
        now = self.outbox.now
        is_open, start, end = self._metals_hour
        if not start <= now < end:
            is_open, end = metals_market_hour(now)
            self._metals_hour = (is_open, now, end)
        return is_open

    def _compute_mark(self, symbol: str) -> int:
        instrument = self.instruments[symbol]
        index = self.index[symbol]
        assert index is not None
        if instrument.mark_method == "index":
            return index
        state = self.prices[symbol]
        if instrument.market_hours and not self._metals_open():
            # the index is frozen: follow the book (the index until the book has a mid)
            book_mark = state.off_hours.value()
            mark = index if book_mark is None else book_mark
        else:
            interval = instrument.funding_interval_ns
            basis = state.basis
            mark = median_mark_ticks(index, state.funding_rate,
                                     self.next_funding(symbol) - self.outbox.now, interval,
                                     basis.half_tick_sum, basis.samples, self.last[symbol])
        if instrument.max_mark_deviation is not None:
            mark = clamp_to_index(mark, index, instrument.max_mark_deviation)
        return mark

    # -- commands -------------------------------------------------------------------------------

    def new_index(self, symbol: str, price: int) -> None:
        self.index[symbol] = price
        self.remark(symbol, always=True)

    def remark(self, symbol: str, always: bool = False) -> None:
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
            if (self.ledger.writes != self._swept_at[symbol]
                    or self.ledger.insurance.position_qty(symbol)):
                self.check_liquidations(symbol, ())
                self._swept_at[symbol] = self.ledger.writes
            return
        self.mark[symbol] = mark
        index = self.index[symbol]
        assert index is not None
        if not self.outbox.skip(e.Mark):  # a skipped event's fields are not worked out
            self.outbox.emit(e.Mark, symbol=symbol, index=index, mark=mark,
                             last=self.last[symbol],
                             funding_rate=self.predicted_funding_rate(symbol),
                             next_funding=self.next_funding(symbol))
        self.on_mark_change(symbol)
        self._swept_at[symbol] = self.ledger.writes

    def advance_clock(self, until: int, index: dict[str, int] | None = None) -> None:
        """Move the clock to ``until``: every symbol is sampled up to each funding boundary in
        time order, re-marked there, and settled; then re-marked at ``until``, with the new
        ``index`` prices (a market step) set first: once per symbol, not again per index.

        A symbol nobody holds settles only its last boundary of a long gap: nothing changes
        between commands, so every interval of the gap would give the same rate and pay no
        one; this keeps a jump of years from producing thousands of events.
        """
        sampled = dict.fromkeys(self.instruments, self.outbox.now)
        if until >= self._next_boundary():  # else nothing to settle (the common step)
            self._settle_boundaries(until, sampled)
        for symbol in self.instruments:
            if self.index[symbol] is not None:
                self._sample(symbol, sampled[symbol], until)
        self.outbox.now = until
        if index:
            self.index.update(index)
        for symbol in self.instruments:
            if self.index[symbol] is not None:
                self.remark(symbol, always=index is not None and symbol in index)

    def _settle_boundaries(self, until: int, sampled: dict[str, int]) -> None:
        """Every funding boundary up to ``until``, in time order: each symbol sampled up to
        it (``sampled`` moves along), re-marked there and settled (``advance_clock``)."""
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
            self.outbox.now = boundary
            self.remark(symbol)
            self._settle_funding(symbol)

    def _held(self, symbol: str) -> bool:
        """Does any account (or the fund) hold a position in ``symbol``?"""
        self.ledger.screen.refresh(self.ledger.accounts)
        return (self.ledger.screen.tables[symbol].size > 0
                or self.ledger.insurance.position_qty(symbol) != 0)

    def _sample(self, symbol: str, start: int, end: int) -> None:
        """Sample the unchanged state of ``symbol`` over ``(start, end]``. O(1) in the length."""
        if end <= start:
            return
        state = self.prices[symbol]
        count = end // PREMIUM_SAMPLE_NS - start // PREMIUM_SAMPLE_NS
        if count:  # no premium sample falls in a span within one 5 s step: no book walk
            state.premium.add_scaled(self._premium(symbol), count)
        book = self.books[symbol]
        best_bid, best_ask = book.bids.best, book.asks.best  # (best_bid(), best_ask(), inlined)
        if best_bid is not None and best_ask is not None:
            bid, ask = best_bid.price, best_ask.price
            index = self.index[symbol]
            assert index is not None
            samples = end // BASIS_SAMPLE_NS - start // BASIS_SAMPLE_NS
            # the basis mid - index in half ticks: (bid + ask) - 2·index
            state.basis.add_half_ticks(bid + ask - 2 * index, min(samples, BASIS_WINDOW))
            if self.instruments[symbol].market_hours:  # only they ever read the off-hours mark
                state.off_hours.update_half_ticks(bid + ask, end)

    def _settle_funding(self, symbol: str) -> None:
        """Settle ``symbol``'s funding at ``self.outbox.now`` (a boundary) at the current mark.

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
        self.outbox.emit(e.Funding, symbol=symbol, rate=rate, mark=mark)
        # the margin screen lists the holders (read only); the fund is not in it
        self.ledger.screen.refresh(self.ledger.accounts)
        accounts = self.ledger.accounts
        holders = [accounts[i] for i in self.ledger.screen.tables[symbol].owners]
        if self.ledger.insurance.position_qty(symbol):
            holders.append(self.ledger.insurance)
        holders.sort(key=lambda a: a.id)
        paid = residue = 0
        drained: list[Account] = []
        for account in holders:
            position = account.positions[symbol]
            delta, rest = funding_payment(position.qty, mark, rate, instrument.cash_per_tick_lot)
            self.ledger.pay_funding(account, position, delta)
            paid += delta
            residue += rest
            self.outbox.emit(e.FundingPayment, account=account.id, symbol=symbol,
                             position=position.qty, amount=delta)
            if (account is not self.ledger.insurance
                    and (position.isolated_margin < 0 or account.wallet < 0)
                    and self.ledger.cover_funding_shortfall(account, position)):
                drained.append(account)
        if residue % RATE_SCALE or paid + residue // RATE_SCALE:
            raise AssertionError(f"{symbol} funding does not sum to zero: {paid}, {residue}")
        self.ledger.add_rounding(residue // RATE_SCALE)
        self.ledger.backstop_fund()
        self.check_liquidations(symbol, drained)  # and the cross parts that paid

    def _instrument(self, symbol: str) -> Instrument:
        return refusals.instrument_of(self.instruments, symbol)

    # -- commands: the index feed and the clock -----------------------------------------------

    def set_index(self, cmd: c.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self.new_index(cmd.symbol, self._ticks(instrument, cmd.price, "price"))

    def set_index_units(self, cmd: u.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self.new_index(cmd.symbol, self._positive_ticks(instrument, cmd.price, "price"))

    def advance_time_units(self, cmd: u.AdvanceTime) -> None:
        self.advance_clock(self._unit_time(cmd.ts))

    def market_step(self, cmd: u.MarketStep) -> None:
        ts = self._unit_time(cmd.ts)
        prices = {}
        for symbol, price in cmd.index.items():  # every price is checked before any is set
            prices[symbol] = self._positive_ticks(self._instrument(symbol), price, "index")
        self.advance_clock(ts, prices)

    def set_funding_terms(self, cmd: u.SetFundingTerms) -> None:
        instrument = self._instrument(cmd.symbol)
        interval, cap = cmd.interval_ns, cmd.cap
        hour = 3600 * NS_PER_SECOND
        if (type(interval) is not int or interval <= 0 or interval % hour
                or (24 * hour) % interval):
            raise Refusal(RejectReason.INVALID_FUNDING_TERMS,
                          f"funding interval {interval} ns is not a whole number of hours "
                          "that divides a day")
        if type(cap) is not int or not 0 < cap < RATE_SCALE // 2:
            raise Refusal(RejectReason.INVALID_FUNDING_TERMS,
                          f"funding cap {cap} is not above 0 and below 0.5 (over RATE_SCALE)")
        self.instruments[cmd.symbol] = msgspec.structs.replace(
            instrument, funding_interval_ns=interval, funding_cap=cap)
        self.prices[cmd.symbol]._predicted = None  # cached for the old cap
        self._boundary = (0, -1)  # and the boundaries for the old interval

    def _unit_time(self, ts: int) -> int:
        if type(ts) is not int or not 0 <= ts < 2**63:
            raise Refusal(RejectReason.INVALID_TIMESTAMP,
                          f"ts {ts!r} is not nanoseconds since 1970 in a signed 64-bit int")
        if ts < self.outbox.now:
            raise Refusal(RejectReason.TIME_GOES_BACKWARDS,
                          f"{format_timestamp(ts)} is before the engine clock")
        return ts

    def advance_time(self, cmd: c.AdvanceTime) -> None:
        try:
            ts = parse_timestamp(cmd.ts)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_TIMESTAMP, str(exc)) from exc
        if ts < self.outbox.now:
            raise Refusal(RejectReason.TIME_GOES_BACKWARDS,
                          f"{cmd.ts} is before the engine clock")
        self.advance_clock(ts)
