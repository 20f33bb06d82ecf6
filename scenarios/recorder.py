"""The replay's recorder: turns the events of a replay and the state at each minute's end into
a ``ReplayRecord`` (``scenarios.record``). It keeps aggregates, never the event log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine import Exchange, Instrument
from engine import events as e
from engine.enums import LiquidationStage, Side
from scenarios.record import (
    AccountRecord,
    AdlRecord,
    FundingRecord,
    LiquidationRecord,
    MinuteRow,
    ReplayRecord,
)

MINUTE_NS = 60 * 10**9
DEPTH_BAND = 100
"""Depth counts the lots resting within 1/DEPTH_BAND (1 %) of the mid."""
DEPTH_LEVELS = 200
"""At most this many levels a side are read for the depth figure."""

_BUY, _SELL = Side.BUY, Side.SELL


class _Tally:
    """One symbol's counts within the current minute."""

    __slots__ = ("trades", "volume", "long_count", "long_notional", "short_count",
                 "short_notional")

    def __init__(self) -> None:
        self.trades = self.volume = 0
        self.long_count = self.long_notional = self.short_count = self.short_notional = 0


class _Watched:
    """An account of interest: its equity each minute and its liquidations."""

    def __init__(self, account: str, label: str) -> None:
        self.account, self.label = account, label
        self.equity: list[tuple[int, int]] = []
        self.liquidations: list[LiquidationRecord] = []
        self.adl: list[AdlRecord] = []


class Recorder:
    """Fed every event batch (``events``) and every step's time (``step``); ``finish`` builds
    the record."""

    def __init__(self, exchange: Exchange, symbols: tuple[str, ...]) -> None:
        self.exchange = exchange
        self.symbols = symbols
        self.instruments: Mapping[str, Instrument] = exchange.instruments
        self._minute: int | None = None
        self._tally = {s: _Tally() for s in symbols}
        self._rows: list[MinuteRow] = []
        self.liquidations: list[LiquidationRecord] = []
        self.funding: list[FundingRecord] = []
        self.adl: list[AdlRecord] = []
        self.trades = 0
        self.steps = 0
        self._watched: dict[str, _Watched] = {}
        self.insurance_start = exchange.insurance.wallet

    def watch(self, account: str, label: str) -> None:
        """Keep the equity curve and the liquidations of ``account`` (an account of interest)."""
        self._watched.setdefault(account, _Watched(account, label))

    # -- feeding ------------------------------------------------------------------------------

    def step(self, now: int) -> None:
        """Called before the step at ``now`` is executed: closes the minute that ended."""
        self.steps += 1
        minute = now - now % MINUTE_NS
        if self._minute is None:
            self._minute = minute
        elif minute != self._minute:
            self._close_minute()
            self._minute = minute

    def events(self, batch: Iterable[e.Event]) -> None:
        bankrupt: set[str] = set()
        deleveraged: list[e.Adl] = []
        for event in batch:
            kind = type(event)
            if kind is e.Trade:
                tally = self._tally[event.symbol]
                tally.trades += 1
                tally.volume += event.qty
                self.trades += 1
            elif kind is e.Liquidation:
                self._liquidation(event)
                if event.stage is LiquidationStage.ADL:
                    bankrupt.add(event.account)
            elif kind is e.Funding:
                self.funding.append(FundingRecord(ts=event.ts, symbol=event.symbol,
                                                  rate=event.rate, mark=event.mark))
            elif kind is e.Adl:
                deleveraged.append(event)
        for event in deleveraged:
            # each ADL fill is reported to both sides; the bankrupt side's is in its
            # liquidation, the record keeps the side that was deleveraged
            if event.account in bankrupt:
                continue
            record = AdlRecord(ts=event.ts, account=event.account, symbol=event.symbol,
                               side=_SELL if event.side is _BUY else _BUY, qty=event.qty,
                               price=event.price, counterparty=event.counterparty)
            self.adl.append(record)
            watched = self._watched.get(event.account)
            if watched is not None:
                watched.adl.append(record)

    def _liquidation(self, event: e.Liquidation) -> None:
        instrument = self.instruments[event.symbol]
        notional = instrument.notional(event.price, event.qty)
        long_side = event.side is _SELL  # a long is liquidated by selling
        record = LiquidationRecord(ts=event.ts, account=event.account, symbol=event.symbol,
                                   side=_BUY if long_side else _SELL, qty=event.qty,
                                   price=event.price, notional=notional,
                                   stage=event.stage.value,
                                   insurance_delta=event.insurance_delta)
        self.liquidations.append(record)
        tally = self._tally[event.symbol]
        if long_side:
            tally.long_count += 1
            tally.long_notional += notional
        else:
            tally.short_count += 1
            tally.short_notional += notional
        watched = self._watched.get(event.account)
        if watched is not None:
            watched.liquidations.append(record)

    # -- the minute's end ---------------------------------------------------------------------

    def _close_minute(self) -> None:
        exchange, minute = self.exchange, self._minute
        assert minute is not None
        insurance = exchange.insurance.wallet
        for symbol in self.symbols:
            index, mark = exchange.index[symbol], exchange.mark[symbol]
            if index is None or mark is None:
                continue
            book = exchange.books[symbol]
            bid, ask = book.best_bid(), book.best_ask()
            mid = None if bid is None or ask is None else bid + ask
            tally = self._tally[symbol]
            self._rows.append(MinuteRow(
                ts=minute, symbol=symbol, index=index, mark=mark, last=exchange.last[symbol],
                mid=mid, funding_rate=exchange.predicted_funding_rate(symbol),
                open_interest=exchange.open_interest[symbol],
                depth=self._depth(symbol, mid), trades=tally.trades, volume=tally.volume,
                long_liquidations=tally.long_count, long_liquidated=tally.long_notional,
                short_liquidations=tally.short_count, short_liquidated=tally.short_notional,
                insurance=insurance))
            self._tally[symbol] = _Tally()
        for watched in self._watched.values():
            view = exchange.view_account(watched.account)
            if view is not None:
                watched.equity.append((minute, view.margin_balance))

    def _depth(self, symbol: str, mid_half_ticks: int | None) -> int:
        if mid_half_ticks is None:
            return 0
        book = self.exchange.books[symbol]
        band = mid_half_ticks // (2 * DEPTH_BAND)  # 1 % of the mid, in ticks
        low, high = (mid_half_ticks // 2) - band, (mid_half_ticks + 1) // 2 + band
        total = 0
        for price, qty in book.depth(_BUY, DEPTH_LEVELS):
            if price < low:
                break
            total += qty
        for price, qty in book.depth(_SELL, DEPTH_LEVELS):
            if price > high:
                break
            total += qty
        return total

    # -- the record ---------------------------------------------------------------------------

    def finish(self, *, scenario: str, seed: int, start: int, end: int,
               commands: int) -> ReplayRecord:
        if self._minute is not None:
            self._close_minute()
            self._minute = None
        return ReplayRecord(
            scenario=scenario, seed=seed, start=start, end=end, symbols=self.symbols,
            steps=self.steps, commands=commands, trades=self.trades, minutes=tuple(self._rows),
            liquidations=tuple(self.liquidations), funding=tuple(self.funding),
            adl=tuple(self.adl), accounts=tuple(self._account_records()),
            insurance_start=self.insurance_start, insurance_end=self.exchange.insurance.wallet)

    def _account_records(self) -> list[AccountRecord]:
        out = []
        for watched in self._watched.values():
            view = self.exchange.view_account(watched.account)
            state = self.exchange.accounts.get(watched.account)
            if view is None or state is None:
                continue
            peak, drawdown = None, 0
            for _, equity in watched.equity:
                peak = equity if peak is None else max(peak, equity)
                drawdown = max(drawdown, peak - equity)
            out.append(AccountRecord(
                account=watched.account, label=watched.label,
                deposited=state.deposited - state.withdrawn, equity=tuple(watched.equity),
                final_equity=view.margin_balance, realized_pnl=view.realized_pnl,
                funding_pnl=view.funding_pnl, fees_paid=view.fees_paid,
                liquidation_loss=-state.liquidation_transfers, max_drawdown=drawdown,
                liquidations=tuple(watched.liquidations), adl=tuple(watched.adl),
                unrealized_pnl=view.unrealized_pnl))
        return out
