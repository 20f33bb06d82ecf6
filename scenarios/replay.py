"""The replay driver (DESIGN.md §6): the index path through the engine's market step, the
participants woken on their own schedules, a user strategy and fixed starting positions, and a
``Recorder`` keeping what the report needs.

Time advances step by step on the scenario's grid (1 s in the windows that matter, coarser in
calm hours). At each step: the minute that ended is recorded; due venue changes are applied;
one ``MarketStep`` sets the clock and every index that moved; then the participants whose wake
time has come act, oldest wake first (ties in the order they were scheduled); then fixed
positions due are opened and the strategy's ``on_step`` runs. A participant never sees a later
step's index.
"""

from __future__ import annotations

import heapq
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

import numpy as np

from engine import Exchange, Instrument
from engine import commands as c
from engine import events as e
from engine import unit_commands as u
from engine.enums import MarginMode, OrderType, RejectReason, Side
from engine.protocol import EventWriter
from engine.units import (
    CASH_SCALE,
    NS_PER_SECOND,
    format_timestamp,
    mul_rate_up,
    parse_timestamp,
)
from scenarios.agents.base import Agent
from scenarios.market import Market
from scenarios.record import ReplayRecord
from scenarios.recorder import Recorder
from scenarios.strategy import (
    Context,
    FillInfo,
    FundingInfo,
    LiquidationInfo,
    Strategy,
    StrategyError,
)

READ: tuple[type[e.Event], ...] = (e.Trade, e.Fill, e.Liquidation, e.Adl, e.Funding,
                                   e.FundingPayment, e.Rejected, e.Accepted)
"""The events a replay builds (the rest only take their ``seq``): what the recorder, the
participants and a strategy read. With an event log, every event is built."""
_ROUTED = (e.Fill, e.Liquidation, e.Adl, e.FundingPayment)
OPENING_PATIENCE_S = 600
"""How long a fixed position keeps trying to open against a thin or empty book."""


class ReplayError(ValueError):
    """A replay that cannot run as asked (a position that cannot be parsed, a range outside
    the scenario); the message says what to change."""


@dataclass(frozen=True)
class FundingChange:
    """A timed venue change of a symbol's funding terms."""

    at: int
    symbol: str
    interval_ns: int
    cap: int


@dataclass(frozen=True)
class ReplaySetup:
    """Everything a replay needs, built from a scenario (``scenarios.build``)."""

    name: str
    seed: int
    instruments: Mapping[str, Instrument]
    times: np.ndarray
    """Step times, int64 ns, strictly increasing."""
    index: Mapping[str, np.ndarray]
    """The index per symbol at each step, int64 ticks."""
    participants: Sequence[Agent]
    changes: Sequence[FundingChange] = ()
    calendar: Sequence[tuple[int, str, str]] = ()
    """(ts ns, title, detail) of the scenario's events."""


@dataclass(frozen=True)
class FixedPosition:
    """``--position SYMBOL:SIDE:QTY@LEVERAGE[@TS]``: a position opened at market at ``at`` (the
    replay's start when omitted), isolated, on an account of its own. The account is funded
    with a quarter more than the position's initial margin and the fees of a round trip (a
    market order also reserves the open loss of paying the spread); the isolated position
    holds its initial margin alone, so it lives or dies by the leverage asked for."""

    symbol: str
    side: Side
    qty: Decimal
    leverage: int
    at: int | None = None

    @classmethod
    def parse(cls, text: str) -> FixedPosition:
        parts = text.split(":", 2)
        if len(parts) != 3 or "@" not in parts[2]:
            raise ReplayError(f"--position {text!r}: expected SYMBOL:SIDE:QTY@LEVERAGE[@TS], "
                              "e.g. XAGUSDT:long:100@20@2026-01-29T00:00:00Z")
        symbol, side_text, rest = parts
        qty_text, _, rest = rest.partition("@")
        leverage_text, _, at_text = rest.partition("@")
        sides = {"long": Side.BUY, "short": Side.SELL, "buy": Side.BUY, "sell": Side.SELL}
        if side_text.lower() not in sides:
            raise ReplayError(f"--position {text!r}: side must be long or short")
        try:
            qty = Decimal(qty_text)
        except ArithmeticError:
            qty = Decimal("NaN")
        if not qty.is_finite() or qty <= 0:
            raise ReplayError(f"--position {text!r}: quantity {qty_text!r} is not a positive "
                              "number")
        if not leverage_text.isdigit() or int(leverage_text) < 1:
            raise ReplayError(f"--position {text!r}: leverage {leverage_text!r} is not a "
                              "whole number of at least 1")
        at = None
        if at_text:
            try:
                at = parse_timestamp(at_text)
            except ValueError as exc:
                raise ReplayError(f"--position {text!r}: {exc}") from None
        return cls(symbol.upper(), sides[side_text.lower()], qty, int(leverage_text), at)

    def describe(self) -> str:
        side = "long" if self.side is Side.BUY else "short"
        return f"{self.symbol} {side} {self.qty} @ {self.leverage}x"


@dataclass(frozen=True)
class Progress:
    now: int
    start: int
    end: int
    steps: int
    trades: int
    liquidations: int


@dataclass
class _Opening:
    position: FixedPosition
    account: str
    due: int
    done: bool = field(default=False)
    remaining: int | None = None
    """Lots still to buy or sell; None before the account is funded."""


class Replay:
    """One run of a scenario; ``run`` returns the record."""

    def __init__(self, setup: ReplaySetup, *, strategy: Strategy | None = None,
                 positions: Sequence[FixedPosition] = (),
                 event_log: BinaryIO | None = None,
                 on_events: Callable[[list[e.Event]], None] | None = None,
                 after_step: Callable[[int], None] | None = None) -> None:
        """``on_events`` hears every batch of (selected) events, after the recorder and the
        participants: a session keeps its tape and the person's fills from it. ``after_step``
        hears the time of every step once it has run (a session's chart reads the mark)."""
        self.setup = setup
        self._listener = on_events
        self._after_step = after_step
        if len(setup.times) == 0:
            raise ReplayError(f"{setup.name}: the replay's range holds no step")
        self.start, self.end = int(setup.times[0]), int(setup.times[-1])
        self.exchange = Exchange(dict(setup.instruments))
        self.symbols = tuple(setup.index)
        for position in positions:
            if position.symbol not in self.exchange.instruments:
                raise ReplayError(f"--position: unknown symbol {position.symbol}; the scenario "
                                  f"trades {', '.join(self.symbols)}")
            if position.at is not None and not self.start <= position.at <= self.end:
                raise ReplayError(f"--position {position.describe()}: its time is outside "
                                  "the replay's range")
        self.market = Market(self.exchange, self.symbols)
        self.market.sink = self._on_events
        self.recorder = Recorder(self.exchange, self.symbols)
        self._writer = None if event_log is None else EventWriter(self.exchange.instruments)
        self._log = event_log
        self.exchange.select_events(None if event_log is not None else READ)
        self._owner: dict[str, Agent] = {}
        for agent in setup.participants:
            for account in agent.accounts:
                self._owner[account] = agent
        self.strategy = strategy
        self.context: Context | None = None
        if strategy is not None:
            self.context = Context(self.market, "strategy")
            self.recorder.watch("strategy", f"strategy {type(strategy).__name__}")
        self._openings = [_Opening(p, f"position-{n}", self.start if p.at is None else p.at)
                          for n, p in enumerate(positions, start=1)]
        for opening in self._openings:
            self.recorder.watch(opening.account, opening.position.describe())
        self.notices: list[str] = []
        """What went differently from what was asked (a refused opening, a thin book)."""
        # the loop's state: ``advance`` carries on where it stopped
        self._times: list[int] = setup.times.tolist()
        self._columns = {symbol: setup.index[symbol].tolist() for symbol in self.symbols}
        self._changes = sorted(setup.changes, key=lambda change: change.at)
        self._next_change = 0
        self._last: dict[str, int] = {}
        self._schedule: list[tuple[int, int, int]] = []
        """(wake time, order scheduled, participant number): a heap."""
        self._order = 0
        self._agents = list(setup.participants)
        self._strategy_due: int | None = None
        self._step = 0

    # -- events ---------------------------------------------------------------------------

    def _on_events(self, batch: list[e.Event]) -> None:
        if self._log is not None:
            assert self._writer is not None
            self._log.write(b"".join(self._writer.encode(event) + b"\n" for event in batch))
        self.recorder.events(batch)
        market, owner = self.market, self._owner
        for event in batch:
            if type(event) in _ROUTED:
                account = event.account  # type: ignore[attr-defined]
                agent = owner.get(account)
                if agent is not None:
                    agent.on_event(market, event)
                elif account == "strategy" and self.strategy is not None:
                    self._to_strategy(event)
        if self._listener is not None:
            self._listener(batch)

    def _to_strategy(self, event: e.Event) -> None:
        strategy, ctx = self.strategy, self.context
        assert strategy is not None and ctx is not None
        instrument = self.exchange.instruments[event.symbol]  # type: ignore[attr-defined]
        tick, lot = instrument.tick_size, instrument.lot_size
        when = datetime.fromtimestamp(event.ts // NS_PER_SECOND, tz=ctx.now.tzinfo)
        if isinstance(event, e.Fill):
            self._call("on_fill", FillInfo(
                time=when, symbol=event.symbol, side=event.side.value, price=event.price * tick,
                qty=event.qty * lot, fee=-Decimal(event.fee) / CASH_SCALE,
                realized_pnl=Decimal(event.realized_pnl) / CASH_SCALE,
                maker=event.liquidity.value == "maker", order_id=event.order_id))
        elif isinstance(event, e.FundingPayment):
            self._call("on_funding", FundingInfo(
                time=when, symbol=event.symbol, amount=Decimal(event.amount) / CASH_SCALE,
                position=event.position * lot))
        elif isinstance(event, e.Liquidation):
            self._call("on_liquidation", LiquidationInfo(
                time=when, symbol=event.symbol, side=event.side.value, qty=event.qty * lot,
                price=event.price * tick, stage=event.stage.value))

    def _call(self, callback: str, *args: object) -> None:
        """Call the strategy; an exception in the user's code ends the replay with a
        ``StrategyError`` naming the callback and the line that raised."""
        strategy = self.strategy
        try:
            getattr(strategy, callback)(self.context, *args)
        except StrategyError:
            raise
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise StrategyError(
                f"{type(strategy).__name__}.{callback} raised {type(exc).__name__}: {exc} "
                f"({frame.filename}:{frame.lineno}) at {format_timestamp(self.market.now)}"
            ) from exc

    def _execute(self, command: u.UnitCommand) -> list[e.Event]:
        return self.market.submit(command)

    # -- the loop -------------------------------------------------------------------------

    @property
    def next_time(self) -> int | None:
        """The time of the next step, or None when the replay has run to its end."""
        step = self._step
        return self._times[step] if step < len(self._times) else None

    @property
    def steps_done(self) -> int:
        return self._step

    def advance(self, until: int | None = None, max_steps: int | None = None) -> int:
        """Run the steps at or before ``until`` (all of them when None), at most ``max_steps``
        of them; returns how many ran. A session calls this with its budget of simulated
        time; ``run`` calls it to the end."""
        market, recorder = self.market, self.recorder
        times, columns, last = self._times, self._columns, self._last
        changes, schedule, agents = self._changes, self._schedule, self._agents
        execute, sink, after_step = self.exchange.execute, self._on_events, self._after_step
        stop = len(times) if max_steps is None else min(len(times), self._step + max_steps)
        first = self._step
        step = first
        while step < stop:
            now = times[step]
            if until is not None and now > until:
                break
            recorder.step(now)
            while self._next_change < len(changes) and changes[self._next_change].at <= now:
                change = changes[self._next_change]
                self._next_change += 1
                self._execute(u.SetFundingTerms(symbol=change.symbol,
                                                interval_ns=change.interval_ns, cap=change.cap))
            index = {}
            for symbol, column in columns.items():
                price = column[step]
                if last.get(symbol) != price:
                    index[symbol] = last[symbol] = price
            events = execute(u.MarketStep(ts=now, index=index))
            market.commands += 1
            market.observe(now, index)
            if events:
                sink(events)
            if step == 0:
                for number, agent in enumerate(agents):
                    wake = agent.start(market)
                    if wake is not None:
                        heapq.heappush(schedule, (wake, self._order, number))
                        self._order += 1
            while schedule and schedule[0][0] <= now:
                _, _, number = heapq.heappop(schedule)
                wake = agents[number].wake(market)
                if wake is not None:
                    heapq.heappush(schedule, (max(wake, now + 1), self._order, number))
                    self._order += 1
            if step == 0 and self.strategy is not None:
                # after the participants' first wake: the book it meets is quoted
                assert self.context is not None
                self._deposit("strategy", Decimal(str(self.strategy.balance)))
                self._call("on_start")
                self._strategy_due = now + max(1, self.strategy.every) * NS_PER_SECOND
            for opening in self._openings:
                if not opening.done and opening.due <= now:
                    self._open(opening)
            due = self._strategy_due
            if due is not None and due <= now:
                assert self.strategy is not None and self.context is not None
                self._call("on_step")
                self._strategy_due = now + max(1, self.strategy.every) * NS_PER_SECOND
            step += 1
            self._step = step
            if after_step is not None:
                after_step(now)
        return step - first

    def run(self, progress: Callable[[Progress], None] | None = None,
            progress_every: int = 5_000) -> ReplayRecord:
        """Run to the end and return the record; ``progress`` is called every
        ``progress_every`` steps and at the end."""
        while self.advance(max_steps=progress_every):
            if progress is not None:
                self._report(progress)
        if progress is not None:
            self._report(progress)
        return self.finish()

    def _report(self, progress: Callable[[Progress], None]) -> None:
        now = self._times[self._step - 1] if self._step else self.start
        progress(Progress(now, self.start, self.end, self._step, self.recorder.trades,
                          len(self.recorder.liquidations)))

    def finish(self) -> ReplayRecord:
        """The record of what has run so far."""
        return self.recorder.finish(scenario=self.setup.name, seed=self.setup.seed,
                                    start=self.start, end=self.end,
                                    commands=self.market.commands)

    # -- accounts the replay itself drives --------------------------------------------------

    def _deposit(self, account: str, usdt: Decimal) -> None:
        units = int(usdt * CASH_SCALE)
        if units <= 0:
            raise ReplayError(f"{account}: balance {usdt} must be positive")
        self._execute(u.Deposit(account=account, amount=units))

    def _open(self, opening: _Opening) -> None:
        """Fund the account, make the symbol isolated at the leverage asked for, and open at
        market; what a thin or empty book leaves unfilled is tried again at every step for
        ``OPENING_PATIENCE_S``, as a person would."""
        position, account = opening.position, opening.account
        instrument = self.exchange.instruments[position.symbol]
        if opening.remaining is None:
            lots = instrument.qty_to_lots(position.qty)
            mark = self.exchange.mark[position.symbol] or self.market.index[position.symbol]
            notional = instrument.notional(mark, lots)
            margin = -(-notional * 125 // (100 * position.leverage))
            fees = 2 * mul_rate_up(notional, instrument.taker_fee)
            self._execute(u.Deposit(account=account, amount=margin + fees))
            self._execute(c.SetMarginMode(account=account, symbol=position.symbol,
                                          mode=MarginMode.ISOLATED))
            self._execute(u.SetLeverage(account=account, symbol=position.symbol,
                                        leverage=position.leverage))
            opening.remaining = lots
        events = self._execute(u.PlaceOrder(
            account=account, symbol=position.symbol, side=position.side, type=OrderType.MARKET,
            qty=min(opening.remaining, instrument.max_market_qty)))
        opening.remaining -= sum(event.qty for event in events
                                 if isinstance(event, e.Fill) and event.account == account)
        refused = [event for event in events if isinstance(event, e.Rejected)
                   and event.reason is not RejectReason.NO_LIQUIDITY]
        if refused:
            opening.done = True
            self.notices.append(f"{position.describe()}: the opening order was refused "
                                f"({refused[0].reason.value}: {refused[0].message})")
        elif opening.remaining == 0:
            opening.done = True
        elif self.market.now >= opening.due + OPENING_PATIENCE_S * NS_PER_SECOND:
            opening.done = True
            filled = instrument.qty_to_lots(position.qty) - opening.remaining
            self.notices.append(f"{position.describe()}: only {filled * instrument.lot_size} "
                                f"filled in {OPENING_PATIENCE_S} s (the book was thin)")
