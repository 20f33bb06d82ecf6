"""A session (DESIGN.md §6): a replay that a person trades into, headless, for a terminal UI.

The session owns a ``Replay`` (the exchange and the participants) and the person's account. The
UI drives it: ``tick(real seconds)`` runs the market at the chosen speed, in a bounded number of
steps per call so a frame stays short; ``step``, ``pause``, ``faster``/``slower`` and
``jump_to_next_event`` control the clock; the person's commands take decimal text as typed and
return a ``CommandResult`` (never raise for a person's mistake); ``snapshot`` hands out an
immutable ``SessionSnapshot`` of engine views.

**The journal** (§5), with a data directory, is ``engine.journal``'s (length, crc32, msgpack
records; torn last record dropped with a notice; an flock against a second process). It holds:

- ``StepRecord(step, key)`` first: the setup key (scenario, seed, range) the journal belongs to;
- the person's commands as wire commands (``CommandRecord``), resolved (a quantity in USDT is
  journalled as the contracts it came to), each after a ``StepRecord`` giving the replay step
  at which it was applied when that step changed; command and marker share one fsync, done
  before the command is applied, so nothing acknowledged is lost;
- ``StepRecord(step)`` markers of how far the person got: on pause, on close and every
  ``mark_every`` steps.

On restart the replay is rebuilt from a fresh setup (same key) and run step by step to each
marker, applying the commands where they were applied: the same ``state_hash()`` as an
uninterrupted run. A setup's participants are stateful: build a new setup for every session.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path

import msgspec
import numpy as np

from engine import AccountView, BookView, Instrument, OrderView, PositionView, SymbolView
from engine import commands as c
from engine import events as e
from engine import unit_commands as u
from engine.enums import MarginMode, OrderType, Side, TimeInForce, TriggerBy
from engine.journal import CommandRecord, FsyncPolicy, Journal, JournalError, StepRecord
from engine.units import NS_PER_SECOND, RATE_SCALE, UnitError
from scenarios.candles import Candle, CandleStore
from scenarios.replay import Replay, ReplaySetup

SPEEDS = (1, 10, 60, 600, 3600)
"""Simulated seconds per real second; paused is the rung below the first."""
_MANUAL = FsyncPolicy(records=1 << 62)
"""The session fsyncs itself: one fsync covers a command and the step marker before it."""

Number = str | int | Decimal


class SessionError(ValueError):
    """A session that cannot start as asked (wrong data directory, bad balance); the message
    says what to change."""


class CalendarEvent(msgspec.Struct, frozen=True):
    ts: int
    title: str
    detail: str


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What became of a person's command."""

    ok: bool
    order_id: int | None = None
    filled: int = 0
    """Lots of the order filled at once."""
    reason: str | None = None
    """Refused: the engine's reject reason, or the session's own (``no_position``,
    ``journal_failed``, ``invalid_margin_mode``)."""
    message: str = ""


def _refused(reason: str, message: str) -> CommandResult:
    return CommandResult(ok=False, reason=reason, message=message)


class WhatIf(msgspec.Struct, frozen=True, kw_only=True):
    """What an order would do if placed now (``Session.what_if``); cash in 1e-8 USDT."""

    ok: bool
    reason: str | None = None
    message: str = ""
    cost: int = 0
    """Available balance the order takes: initial margin + fees + open loss."""
    filled: int = 0
    """Lots it would fill at once."""
    rests: bool = False
    """Part of it would rest in the book: the liquidation price is the one once it fills at
    its price."""
    waits: bool = False
    """It would wait for its trigger: the liquidation price is the one once it triggers and
    fills at ``fill_price``."""
    fill_price: int | None = None
    """Ticks: where a resting or waiting order was supposed to fill (its limit price, or the
    trigger price of a market one)."""
    cost_on_fill: int | None = None
    """For a resting or waiting order: the available balance its fill takes (margin, fees, the
    open loss against the mark at its price)."""
    refused_on_fill: str | None = None
    """``reason: message`` when the engine would refuse the fill of a resting or waiting order
    (say, not enough margin once a stop triggers); the order itself is accepted now."""
    liquidation_price: int | None = None
    """Ticks: the position's liquidation price afterwards (None: no position or no price)."""
    position_size: int = 0
    """Signed lots of the position afterwards."""


class Advanced(msgspec.Struct, frozen=True):
    steps: int
    """Replay steps run."""
    now: int
    """The session's clock afterwards, ns."""
    behind: bool
    """The step bound stopped it short of the budget (the clock waits for the market)."""


class SymbolSnapshot(msgspec.Struct, frozen=True):
    prices: SymbolView
    book: BookView
    trades: tuple[e.Trade, ...]
    """Recent public trades, oldest first."""


class SessionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str
    account_id: str
    now: int
    """Simulated time of the session's clock, ns."""
    step: int
    steps_total: int
    start: int
    end: int
    speed: int
    paused: bool
    finished: bool
    target: int | None
    """Where a jump in progress is going."""
    next_event: CalendarEvent | None
    account: AccountView | None
    symbols: tuple[SymbolSnapshot, ...]
    fills: tuple[e.Fill, ...]
    funding: tuple[e.FundingPayment, ...]
    liquidations: tuple[e.Liquidation | e.Adl, ...]
    """The person's liquidation steps and auto-deleveragings."""
    notices: tuple[str, ...]

    def symbol(self, name: str) -> SymbolSnapshot:
        for item in self.symbols:
            if item.prices.symbol == name:
                return item
        raise KeyError(name)


class _Refusal(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class Session:
    """A person's trading session over a replay; see the module's docstring."""

    def __init__(self, setup: ReplaySetup, setup_key: str, *, account: str = "you",
                 balance: Number = "10000", data_dir: str | Path | None = None,
                 speed: int = 1, paused: bool = True, max_steps: int = 2_000,
                 mark_every: int = 5_000, keep: int = 100) -> None:
        """Raises:
            SessionError: a bad balance or speed, or a data directory that holds another
                setup's journal, an exchange's journal, or one that is corrupt or locked.
        """
        if speed not in SPEEDS:
            raise SessionError(f"speed {speed}: choose one of {', '.join(map(str, SPEEDS))}")
        try:
            usdt = Decimal(str(balance).strip())
        except InvalidOperation:
            usdt = Decimal("NaN")
        if not usdt.is_finite() or usdt <= 0:
            raise SessionError(f"balance {balance!r} must be a positive number of USDT")
        self.setup, self.setup_key, self.account_id = setup, setup_key, account
        self.speed, self.paused = speed, paused
        self.max_steps, self.mark_every = max_steps, mark_every
        self.calendar = tuple(CalendarEvent(int(ts), title, detail)
                              for ts, title, detail in sorted(setup.calendar))
        self.target: int | None = None
        self.notices: list[str] = []
        self._trades = {symbol: deque[e.Trade](maxlen=keep) for symbol in setup.index}
        self._fills: deque[e.Fill] = deque(maxlen=keep)
        self._funding: deque[e.FundingPayment] = deque(maxlen=keep)
        self._liquidations: deque[e.Liquidation | e.Adl] = deque(maxlen=keep)
        self.charts = CandleStore(tuple(setup.index))
        """Candles of every symbol at every time frame, as the market runs."""
        self.replay = Replay(setup, on_events=self._on_events, after_step=self._after_step)
        self.exchange = self.replay.exchange
        self.instruments: dict[str, Instrument] = dict(self.exchange.instruments)
        self.replay.recorder.watch(account, account)
        self.replay.advance(max_steps=1)  # the participants start; the person meets a book
        self._clock = self.replay.market.now
        self._journal: Journal | None = None
        self._recorded_step = -1
        """The step of the last StepRecord in the journal."""
        self._broken: str | None = None
        funded = False
        if data_dir is not None:
            try:
                self._journal, recovered = Journal.open(data_dir, _MANUAL)
            except JournalError as exc:
                raise SessionError(str(exc)) from None
            try:
                funded = self._recover(Path(data_dir), recovered.snapshot is not None,
                                       recovered.records, usdt)
            except BaseException:
                self._journal.close()
                raise
            self.notices.extend(recovered.notices)
        if not funded:
            self._submit(c.Deposit(account=account, amount=usdt))

    # -- recovery ---------------------------------------------------------------------------

    def _recover(self, where: Path, snapshot: bool, records: list, usdt: Decimal) -> bool:
        """Re-apply a journal; True when it held the person's deposit."""
        assert self._journal is not None
        if snapshot or (records and not (isinstance(records[0], StepRecord) and records[0].key)):
            raise SessionError(f"{where} holds an exchange's journal (perpsim exec), not a "
                               "trading session's: choose another --data-dir")
        if not records:
            self._journal.append(StepRecord(self.replay.steps_done, self.setup_key))
            self._journal.sync()
            self._recorded_step = self.replay.steps_done
            return False
        if records[0].key != self.setup_key:
            raise SessionError(f"{where} holds the session of {records[0].key!r}, not of "
                               f"{self.setup_key!r}: choose another --data-dir (or the same "
                               "scenario, seed and range) to resume")
        funded = False
        for record in records:
            if isinstance(record, StepRecord):
                missing = record.step - self.replay.steps_done
                if missing < 0 or self.replay.advance(max_steps=missing) != missing:
                    raise SessionError(f"{where}: the journal reaches step {record.step}, which "
                                       "this setup does not have")
                self._recorded_step = record.step
            elif isinstance(record, CommandRecord):
                command = record.command
                if isinstance(command, c.Deposit) and not funded:
                    funded = True
                    if command.account != self.account_id or command.amount != usdt:
                        self.notices.append(f"resumed the account {command.account} that "
                                            f"started with {command.amount} USDT")
                    self.account_id = command.account
                self.replay.market.submit(command)  # type: ignore[arg-type]
            else:
                raise SessionError(f"{where} holds an exchange's journal, not a session's")
        self._clock = self.replay.market.now
        return funded

    # -- the clock --------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The session's clock, ns: the last step's time, or later between steps."""
        return self._clock

    @property
    def finished(self) -> bool:
        return self.replay.next_time is None

    @property
    def rate(self) -> int:
        """Simulated seconds per real second now (0 when paused)."""
        return 0 if self.paused else self.speed

    def pause(self) -> None:
        self.paused = True
        self._mark()

    def resume(self) -> None:
        self.paused = False

    def toggle_pause(self) -> None:
        self.resume() if self.paused else self.pause()

    def faster(self) -> int:
        """One rung up the ladder (from paused: 1x); returns the rate."""
        if self.paused:
            self.paused, self.speed = False, SPEEDS[0]
        else:
            self.speed = SPEEDS[min(SPEEDS.index(self.speed) + 1, len(SPEEDS) - 1)]
        return self.rate

    def slower(self) -> int:
        """One rung down (from 1x: paused); returns the rate."""
        if not self.paused:
            rung = SPEEDS.index(self.speed)
            if rung == 0:
                self.pause()
            else:
                self.speed = SPEEDS[rung - 1]
        return self.rate

    def _run(self, until: int, max_steps: int | None = None) -> Advanced:
        until = min(until, self.replay.end)
        steps = self.replay.advance(until=until, max_steps=max_steps or self.max_steps)
        upcoming = self.replay.next_time
        behind = upcoming is not None and upcoming <= until
        self._clock = max(self._clock, self.replay.market.now if behind else until)
        if self.replay.steps_done - self._recorded_step >= self.mark_every:
            self._mark()
        return Advanced(steps, self._clock, behind)

    def advance(self, sim_seconds: float | int) -> Advanced:
        """Run the steps up to now + ``sim_seconds``, at most ``max_steps`` of them."""
        return self._run(self._clock + max(0, round(sim_seconds * NS_PER_SECOND)))

    def tick(self, real_seconds: float) -> Advanced:
        """What a UI calls every frame: a jump in progress goes on, else the market runs at
        the speed for the real time elapsed (nothing when paused)."""
        if self.target is not None:
            result = self._run(self.target)
            if not result.behind:
                self.target = None
            return result
        if self.paused:
            return Advanced(0, self._clock, False)
        return self.advance(self.speed * real_seconds)

    def step(self) -> Advanced:
        """Run exactly the next step (paused or not)."""
        upcoming = self.replay.next_time
        if upcoming is None:
            return Advanced(0, self._clock, False)
        return self._run(max(upcoming, self._clock), max_steps=1)

    @property
    def next_event(self) -> CalendarEvent | None:
        """The first calendar event after the clock."""
        for event in self.calendar:
            if event.ts > self._clock:
                return event
        return None

    def jump_to(self, ts: int) -> Advanced:
        """Run the market up to ``ts`` (it is a replay: time cannot skip the market), in
        bounded pieces: this call does one, ``tick`` the rest (``target`` until arrival)."""
        self.target = min(ts, self.replay.end)
        return self.tick(0.0)

    def jump_to_next_event(self) -> CalendarEvent | None:
        """Start a jump to the next calendar event (its time included); None when none is
        left."""
        event = self.next_event
        if event is not None:
            self.jump_to(event.ts)
        return event

    def cancel_jump(self) -> None:
        self.target = None

    # -- the journal ------------------------------------------------------------------------

    def _mark(self) -> None:
        """Journal how far the person got (cheap: one small record and an fsync)."""
        journal, step = self._journal, self.replay.steps_done
        if journal is None or self._broken or step == self._recorded_step:
            return
        try:
            journal.append(StepRecord(step))
            journal.sync()
        except JournalError as exc:
            self._broken = str(exc)
            self.notices.append(f"the journal stopped working: {exc}")
            return
        self._recorded_step = step

    def _submit(self, command: c.Command) -> list[e.Event]:
        """Journal (durably) then apply; raises _Refusal when the journal cannot be written."""
        journal = self._journal
        if journal is not None:
            if self._broken:
                raise _Refusal("journal_failed", self._broken)
            step = self.replay.steps_done
            try:
                if step != self._recorded_step:
                    journal.append(StepRecord(step))
                    self._recorded_step = step
                journal.append(CommandRecord(command))  # type: ignore[arg-type]
                journal.sync()
            except JournalError as exc:
                # the record may be on disk but not durable: refuse everything from now on
                # rather than risk a restart that differs from what was shown
                self._broken = str(exc)
                raise _Refusal("journal_failed", str(exc)) from None
        return self.replay.market.submit(command)  # type: ignore[arg-type]

    def close(self) -> None:
        """Mark where the person got and release the data directory."""
        if self._journal is not None:
            self._mark()
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the person's commands --------------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise _Refusal("unknown_symbol", f"no instrument {symbol!r}; listed: "
                           f"{', '.join(self.instruments)}")
        return instrument

    @staticmethod
    def _decimal(text: Number, field: str, reason: str) -> Decimal:
        try:
            value = Decimal(text.strip() if isinstance(text, str) else str(text))
        except (InvalidOperation, TypeError, ValueError):
            raise _Refusal(reason, f"{field} {text!r} is not a number") from None
        if not value.is_finite():
            raise _Refusal(reason, f"{field} {text!r} is not a finite number")
        return value

    def _price(self, instrument: Instrument, text: Number | None, field: str) -> Decimal | None:
        """Exact: an off-tick price is refused here, before the engine or the journal."""
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        value = self._decimal(text, field, "invalid_price")
        try:
            return instrument.price_to_ticks(value) * instrument.tick_size
        except UnitError as exc:
            raise _Refusal("invalid_price",
                           f"{field} {exc} (tick size {instrument.tick_size})") from None

    def _contracts(self, instrument: Instrument, text: Number) -> Decimal:
        value = self._decimal(text, "qty", "invalid_qty")
        try:
            return instrument.qty_to_lots(value) * instrument.lot_size
        except UnitError as exc:
            raise _Refusal("invalid_qty", f"qty {exc} (lot size {instrument.lot_size})") from None

    def _from_usdt(self, symbol: str, instrument: Instrument, text: Number) -> Decimal:
        """A notional in USDT as contracts at the current mark, rounded down to the lot."""
        usdt = self._decimal(text, "notional", "invalid_qty")
        if usdt <= 0 or usdt.adjusted() > 15:
            raise _Refusal("invalid_qty", f"notional {text} USDT must be positive and below "
                           "10^15")
        mark = self.exchange.mark[symbol]
        if mark is None:
            raise _Refusal("no_mark_price", f"{symbol} has no mark price yet")
        cash = int(usdt.scaleb(8).to_integral_value(rounding=ROUND_FLOOR))
        lots = cash // (mark * instrument.cash_per_tick_lot)
        if lots <= 0:
            raise _Refusal("invalid_qty", f"{text} USDT is less than one lot "
                           f"({instrument.lot_size}) at the mark "
                           f"{instrument.format_price(mark)}")
        return lots * instrument.lot_size

    @staticmethod
    def _choice(enum: type, text: str, field: str, reason: str = "invalid_order"):  # type: ignore[no-untyped-def]
        try:
            return enum(str(text).strip().lower().replace("-", "_"))
        except ValueError:
            raise _Refusal(reason, f"{field} {text!r}: one of "
                           f"{', '.join(member.value for member in enum)}") from None

    def _result(self, command: c.Command) -> CommandResult:
        try:
            events = self._submit(command)
        except _Refusal as refusal:
            return _refused(refusal.reason, refusal.message)
        order_id = None
        for event in events:
            if isinstance(event, e.Rejected):
                return _refused(event.reason.value, event.message)
            if isinstance(event, e.Accepted) and event.account == self.account_id:
                order_id = event.order_id
        filled = sum(event.qty for event in events if isinstance(event, e.Fill)
                     and event.account == self.account_id and event.order_id == order_id)
        return CommandResult(ok=True, order_id=order_id, filled=filled)

    def _guarded(self, build) -> CommandResult:  # type: ignore[no-untyped-def]
        try:
            command = build()
        except _Refusal as refusal:
            return _refused(refusal.reason, refusal.message)
        return self._result(command)

    def place(self, symbol: str, side: str, qty: Number, *, type: str = "limit",
              price: Number | None = None, trigger: Number | None = None,
              trigger_by: str = "mark", tif: str = "gtc", post_only: bool = False,
              reduce_only: bool = False, qty_in: str = "contracts",
              client_id: str | None = None) -> CommandResult:
        """Place an order; ``qty`` in contracts, or in USDT notional (``qty_in="usdt"``)."""
        return self._guarded(lambda: self._place_command(
            symbol, side, qty, type=type, price=price, trigger=trigger, trigger_by=trigger_by,
            tif=tif, post_only=post_only, reduce_only=reduce_only, qty_in=qty_in,
            client_id=client_id))

    def _place_command(self, symbol: str, side: str, qty: Number, *, type: str,
                       price: Number | None,
                       trigger: Number | None, trigger_by: str, tif: str, post_only: bool,
                       reduce_only: bool, qty_in: str, client_id: str | None) -> c.Command:
        """The wire command of ``place``; raises _Refusal for a person's mistake."""
        instrument = self._instrument(symbol)
        if qty_in == "usdt":
            contracts = self._from_usdt(symbol, instrument, qty)
        elif qty_in == "contracts":
            contracts = self._contracts(instrument, qty)
        else:
            raise _Refusal("invalid_qty", f"qty_in {qty_in!r}: contracts or usdt")
        return c.PlaceOrder(
            account=self.account_id, symbol=symbol,
            side=self._choice(Side, side, "side"),
            type=self._choice(OrderType, type, "type"), qty=contracts,
            price=self._price(instrument, price, "price"),
            trigger_price=self._price(instrument, trigger, "trigger price"),
            trigger_by=self._choice(TriggerBy, trigger_by, "trigger_by"),
            tif=self._choice(TimeInForce, tif, "tif"), post_only=bool(post_only),
            reduce_only=bool(reduce_only), client_id=client_id or None)

    def what_if(self, symbol: str, side: str, qty: Number, *, type: str = "limit",
                price: Number | None = None, trigger: Number | None = None,
                trigger_by: str = "mark", tif: str = "gtc", post_only: bool = False,
                reduce_only: bool = False, qty_in: str = "contracts",
                leverage: Number | None = None, margin_mode: str | None = None) -> WhatIf:
        """What ``place`` would do now, on a copy of the exchange: the cost (the available
        balance it takes: initial margin, fees and open loss) and the position's liquidation
        price afterwards (with ``margin_mode`` and ``leverage`` set first when given). An order
        that would rest or wait for its trigger is then filled on the copy at its price, the
        mark moved there: the liquidation price and cost once it fills, or why it would be
        refused then. Pure: nothing is journalled, the session's exchange is untouched (its
        ``state_hash`` stays)."""
        try:
            command = self._place_command(
                symbol, side, qty, type=type, price=price, trigger=trigger,
                trigger_by=trigger_by, tif=tif, post_only=post_only, reduce_only=reduce_only,
                qty_in=qty_in, client_id=None)
            settings = self._settings(symbol, leverage, margin_mode)
        except _Refusal as refusal:
            return WhatIf(ok=False, reason=refusal.reason, message=refusal.message)
        # a deep copy costs tens of ms on a full scenario: a ticket asks once per pause in the
        # typing, not per frame
        venue = copy.deepcopy(self.exchange)
        me = self.account_id
        before = venue.view_account(me)
        mode, leverage_set = settings
        account = venue.accounts.get(me)
        if mode is not None and account is not None and (mode.mode is MarginMode.ISOLATED) == (
                symbol in account.isolated_symbols):
            mode = None  # already in that mode: nothing to change (and nothing to refuse)
        for setting in (mode, leverage_set):
            if setting is None:
                continue
            refused = _rejection(venue.execute(setting))
            if refused is not None:
                return WhatIf(ok=False, reason=refused.reason.value, message=refused.message)
        events = venue.execute(command)
        refused = _rejection(events)
        if refused is not None:
            return WhatIf(ok=False, reason=refused.reason.value, message=refused.message)
        after = venue.view_account(me)
        filled = sum(event.qty for event in events
                     if isinstance(event, e.Fill) and event.account == me)
        cost = _taken(before, after)
        placed = [o for o in (() if after is None else after.orders) if o.remaining and any(
            isinstance(ev, e.Accepted) and ev.order_id == o.order_id for ev in events)]
        resting = next((o for o in placed if o.resting and o.price is not None), None)
        waiting = next((o for o in placed if not o.resting and o.trigger_price is not None),
                       None)
        order = resting or waiting
        if order is None:
            position = _position(after, symbol)
            return WhatIf(ok=True, cost=cost, filled=filled,
                          liquidation_price=None if position is None
                          else position.liquidation_price,
                          position_size=0 if position is None else position.size)
        fill_price, base, refused_then = self._fill_on_copy(venue, order)
        after = venue.view_account(me)
        position = _position(after, symbol)
        return WhatIf(ok=True, cost=cost, filled=filled, rests=resting is not None,
                      waits=waiting is not None, fill_price=fill_price,
                      cost_on_fill=None if refused_then else _taken(base, after),
                      refused_on_fill=refused_then,
                      liquidation_price=None if position is None or refused_then
                      else position.liquidation_price,
                      position_size=0 if position is None or refused_then else position.size)

    def _settings(self, symbol: str, leverage: Number | None, margin_mode: str | None
                  ) -> tuple[c.SetMarginMode | None, c.SetLeverage | None]:
        """The margin mode and leverage commands a ticket asks for first (None: not asked)."""
        mode = lever = None
        if margin_mode is not None and str(margin_mode).strip():
            mode = c.SetMarginMode(account=self.account_id, symbol=symbol,
                                   mode=self._choice(MarginMode, str(margin_mode).strip(),
                                                     "margin mode", "invalid_margin_mode"))
        if leverage is not None and str(leverage).strip():
            text = str(leverage).strip().lower().removesuffix("x")
            if not text.isdigit():
                raise _Refusal("invalid_leverage", f"leverage {leverage!r} is not a whole number")
            lever = c.SetLeverage(account=self.account_id, symbol=symbol, leverage=int(text))
        return mode, lever

    def _fill_on_copy(self, venue, order: OrderView  # type: ignore[no-untyped-def]
                      ) -> tuple[int, AccountView | None, str | None]:
        """On a copy of the exchange only: fill the person's ``order`` as it would fill, at its
        price (its limit, or the trigger of a market one). Every order on the symbol is
        cancelled (the others' and the person's own, this one included), the mark is moved to
        the price, the order is placed again as a limit there, and a funded stand-in takes
        it. Returns the price (ticks), the person's account just before the fill, and why
        the engine refused the fill (None: it filled)."""
        me, symbol = self.account_id, order.symbol
        for account_id, account in list(venue.accounts.items()):
            for other in list(account.orders.values()):
                if other.symbol == symbol and other.live:
                    venue.execute(c.CancelOrder(account=account_id, order_id=other.order_id))
        instrument = self.instruments[symbol]
        price = order.price if order.price is not None else order.trigger_price
        assert price is not None
        venue.execute(u.MarketStep(ts=venue.now, index={symbol: price}))
        base = venue.view_account(me)
        contracts = order.remaining * instrument.lot_size
        refused = _rejection(venue.execute(c.PlaceOrder(
            account=me, symbol=symbol, side=order.side, type=OrderType.LIMIT, qty=contracts,
            price=price * instrument.tick_size, tif=TimeInForce.GTC,
            reduce_only=order.reduce_only)))
        if refused is None:
            stand_in = "what-if-taker"
            venue.execute(c.Deposit(account=stand_in, amount=Decimal(10) ** 9))
            events = venue.execute(c.PlaceOrder(
                account=stand_in, symbol=symbol,
                side=Side.SELL if order.side is Side.BUY else Side.BUY, type=OrderType.LIMIT,
                qty=contracts, price=price * instrument.tick_size, tif=TimeInForce.IOC))
            refused = _rejection(events)
            if refused is None and not any(isinstance(ev, e.Fill) and ev.account == me
                                           for ev in events):
                return price, base, "no_fill: the stand-in could not take it at its price"
        if refused is not None:
            return price, base, f"{refused.reason.value}: {refused.message}"
        return price, base, None

    def day_open(self, symbol: str) -> int | None:
        """The index (ticks) 24 hours before the clock, or at the start when the session is
        younger: the reference of the day's change."""
        index = self.setup.index.get(symbol)
        if index is None or not len(index):
            return None
        times = self.setup.times
        at = int(np.searchsorted(times, self._clock - 86_400 * NS_PER_SECOND, side="right"))
        return int(index[max(0, at - 1)])

    @staticmethod
    def _order_id(order_id: int | str) -> int:
        text = str(order_id).strip()
        if not text.isdigit():
            raise _Refusal("unknown_order", f"order id {order_id!r} is not a number")
        return int(text)

    def cancel(self, order_id: int | str) -> CommandResult:
        return self._guarded(lambda: c.CancelOrder(account=self.account_id,
                                                   order_id=self._order_id(order_id)))

    def cancel_all(self, symbol: str | None = None) -> CommandResult:
        return self._result(c.CancelAll(account=self.account_id, symbol=symbol))

    def amend(self, order_id: int | str, *, qty: Number | None = None,
              price: Number | None = None) -> CommandResult:
        """A new size (contracts) and/or price of an open order."""
        def build() -> c.Command:
            number = self._order_id(order_id)
            view = self.exchange.view_account(self.account_id)
            orders = () if view is None else view.orders
            order = next((o for o in orders if o.order_id == number), None)
            if order is None:
                raise _Refusal("unknown_order", f"no open order {order_id}")
            instrument = self._instrument(order.symbol)
            return c.AmendOrder(
                account=self.account_id, order_id=number,
                qty=None if qty is None else self._contracts(instrument, qty),
                price=self._price(instrument, price, "price"))
        result = self._guarded(build)
        if result.ok:
            result = CommandResult(ok=True, order_id=int(order_id), filled=result.filled)
        return result

    def close_position(self, symbol: str, price: Number | None = None) -> CommandResult:
        """Close the whole position at market, or with a reduce-only limit at ``price``."""
        def build() -> c.Command:
            instrument = self._instrument(symbol)
            state = self.exchange.accounts.get(self.account_id)
            lots = 0 if state is None else state.position_qty(symbol)
            if lots == 0:
                raise _Refusal("no_position", f"no {symbol} position to close")
            limit = self._price(instrument, price, "price")
            return c.PlaceOrder(
                account=self.account_id, symbol=symbol, side=Side.SELL if lots > 0 else Side.BUY,
                type=OrderType.MARKET if limit is None else OrderType.LIMIT,
                qty=abs(lots) * instrument.lot_size, price=limit, reduce_only=True)
        return self._guarded(build)

    def set_leverage(self, symbol: str, leverage: Number) -> CommandResult:
        def build() -> c.Command:
            self._instrument(symbol)
            text = str(leverage).strip().lower().removesuffix("x")
            if not text.isdigit():
                raise _Refusal("invalid_leverage", f"leverage {leverage!r} is not a whole "
                               "number")
            return c.SetLeverage(account=self.account_id, symbol=symbol, leverage=int(text))
        return self._guarded(build)

    def set_margin_mode(self, symbol: str, mode: str) -> CommandResult:
        def build() -> c.Command:
            self._instrument(symbol)
            return c.SetMarginMode(account=self.account_id, symbol=symbol,
                                   mode=self._choice(MarginMode, mode, "margin mode",
                                                     "invalid_margin_mode"))
        return self._guarded(build)

    # -- reading ----------------------------------------------------------------------------

    def _on_events(self, batch: Iterable[e.Event]) -> None:
        me = self.account_id
        for event in batch:
            kind = type(event)
            if kind is e.Trade:
                self._trades[event.symbol].append(event)  # type: ignore[attr-defined]
                self.charts.trade(event.symbol, event.ts, event.price,  # type: ignore[attr-defined]
                                  event.qty)  # type: ignore[attr-defined]
            elif kind is e.Fill and event.account == me:  # type: ignore[attr-defined]
                self._fills.append(event)  # type: ignore[arg-type]
            elif kind is e.FundingPayment and event.account == me:  # type: ignore[attr-defined]
                self._funding.append(event)  # type: ignore[arg-type]
            elif kind in (e.Liquidation, e.Adl) and event.account == me:  # type: ignore[attr-defined]
                self._liquidations.append(event)  # type: ignore[arg-type]

    def _after_step(self, now: int) -> None:
        """The replay ran the step at ``now``: the chart takes the mark and index."""
        self.charts.prices(now, self.exchange.mark, self.exchange.index)

    def candles(self, symbol: str, seconds: int) -> tuple[Candle, ...]:
        """The chart of ``symbol`` at a width of ``seconds`` (one of ``candles.TIMEFRAMES``),
        oldest first; the last is still forming."""
        return self.charts.candles(symbol, seconds)

    def state_hash(self) -> str:
        return self.exchange.state_hash()

    def snapshot(self, depth: int = 10) -> SessionSnapshot:
        """Immutable views of everything a screen shows; reading changes no state."""
        exchange = self.exchange
        symbols = tuple(SymbolSnapshot(exchange.view_symbol(symbol),
                                       exchange.view_book(symbol, depth), tuple(trades))
                        for symbol, trades in self._trades.items())
        return SessionSnapshot(
            scenario=self.setup.name, account_id=self.account_id, now=self._clock,
            step=self.replay.steps_done, steps_total=len(self.setup.times),
            start=self.replay.start, end=self.replay.end, speed=self.speed,
            paused=self.paused, finished=self.finished, target=self.target,
            next_event=self.next_event, account=exchange.view_account(self.account_id),
            symbols=symbols, fills=tuple(self._fills), funding=tuple(self._funding),
            liquidations=tuple(self._liquidations),
            notices=tuple(self.notices) + tuple(self.replay.notices))


def entry_ticks(position: PositionView, instrument: Instrument) -> int:
    """A position's average entry price for display, in ticks, to the nearest tick (the view
    keeps the exact cost)."""
    lots = abs(position.size)
    if lots == 0:
        return 0
    denominator = lots * instrument.cash_per_tick_lot
    return (2 * position.cost + denominator) // (2 * denominator)


def roe(position: PositionView) -> int | None:
    """Return on equity: unrealized PnL over the position's initial margin, over RATE_SCALE
    (None without margin)."""
    margin = position.isolated_margin if position.isolated else position.initial_margin
    if margin <= 0:
        return None
    return position.unrealized_pnl * RATE_SCALE // margin


def _rejection(events: Iterable[e.Event]) -> e.Rejected | None:
    return next((event for event in events if isinstance(event, e.Rejected)), None)


def _taken(before: AccountView | None, after: AccountView | None) -> int:
    """Available balance ``before`` that is not available ``after``, cash units."""
    return (0 if before is None else before.available_balance) - (
        0 if after is None else after.available_balance)


def _position(account: AccountView | None, symbol: str) -> PositionView | None:
    return None if account is None else next(
        (p for p in account.positions if p.symbol == symbol), None)
