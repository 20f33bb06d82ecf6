"""The exchange facade: every input is a command, every output a list of events.

``Exchange.execute(command)`` is the one entry point. It dispatches on the command's type,
converts decimals to engine units (rejecting what does not fit the instrument), and appends
events, numbered by one ``seq`` counter, to the list it returns. Business refusals are
``rejected`` events and change nothing; broken invariants raise.

Order entry runs the same checks for a new order and for a conditional order whose trigger
fired (``_entry_refusal``); a new order that fails them is rejected, a triggered one is
cancelled with the same reason. Matching is ``engine.matching``; its fills come back through
``_on_fill``, which moves positions, fees and realized PnL, and keeps resting reduce-only
orders no larger than the position they reduce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine import commands as c
from engine import digest, invariants, refusals, views
from engine import events as e
from engine import readmodels as rm
from engine import unit_commands as u
from engine.account import Account
from engine.book import OrderBook
from engine.entry import OrderEntry
from engine.enums import (
    MarginMode,
    RejectReason,
)
from engine.instrument import Instrument, default_instruments
from engine.ledger import INSURANCE, Ledger  # noqa: F401  (snapshot.py reads it here)
from engine.liquidator import Liquidator
from engine.margin import (
    position_initial_margin,
    summarize,
)
from engine.outbox import Outbox
from engine.pricing import Pricing
from engine.refusals import Refusal
from engine.units import (
    UnitError,
    cash_from_decimal,
    format_cash,
    format_timestamp,
    parse_timestamp,
)


def _forward(part: str, name: str) -> property:
    """A facade attribute that is a part's: read and written through to it."""
    return property(lambda self: getattr(getattr(self, part), name),
                    lambda self, value: setattr(getattr(self, part), name, value))


class Exchange:
    """A deterministic perpetual-futures venue: books, accounts, margin, matching,
    liquidation."""

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self.instruments: dict[str, Instrument] = dict(
            default_instruments() if instruments is None else instruments)
        self.outbox = Outbox()
        """The ``seq`` counter, the clock that stamps events, the events being collected."""
        self.ledger = Ledger(self.instruments, self.outbox)
        """Accounts, the fund and the venue's money: the one writer of wallets and positions."""
        self.books = {s: OrderBook(s) for s in self.instruments}
        self.pricing = Pricing(self.instruments, self.books, self.ledger, self.outbox,
                               on_mark_change=self._after_mark_change,
                               check_liquidations=self._check_liquidations)
        """Index, mark, funding and the clock."""
        # the price dicts are pricing's, shared (never replaced): every part reads them
        self.index, self.mark, self.last = self.pricing.index, self.pricing.mark, self.pricing.last
        self.prices = self.pricing.prices
        self.entry = OrderEntry(self.instruments, self.books, self.ledger, self.outbox,
                                self.mark, self.last)
        """Order entry and pre-trade risk, matching, conditional orders."""
        self.conditional = self.entry.conditional
        self.liquidator = Liquidator(self.instruments, self.books, self.mark, self.ledger,
                                     self.outbox, orders=self.entry)
        """The waterfall, the fund's takeovers and unwinds, ADL."""
        self._dispatch: dict[type, Callable[[Any], None]] = {
            c.Deposit: self._deposit,
            c.Withdraw: self._withdraw,
            c.SetLeverage: self._set_leverage,
            c.SetMarginMode: self._set_margin_mode,
            c.AdjustIsolatedMargin: self._adjust_isolated_margin,
            c.PlaceOrder: self.entry.place,
            c.CancelOrder: self.entry.cancel,
            c.AmendOrder: self.entry.amend,
            c.CancelAll: self.entry.cancel_all,
            c.SetIndex: self._set_index,
            c.AdvanceTime: self._advance_time,
            c.Query: self._query,
            u.Deposit: self._deposit_units,
            u.Withdraw: self._withdraw_units,
            u.SetLeverage: self._set_leverage,
            u.PlaceOrder: self.entry.place_units,
            u.CancelOrder: self.entry.cancel,
            u.AmendOrder: self.entry.amend_units,
            u.CancelAll: self.entry.cancel_all,
            u.SetIndex: self._set_index_units,
            u.AdvanceTime: self._advance_time_units,
            u.MarketStep: self._market_step,
            u.ReplaceLadder: self.entry.replace_ladder,
        }

    # -- the state of the parts, reachable on the facade ----------------------------------------

    @property
    def seq(self) -> int:
        return self.outbox.seq

    @seq.setter
    def seq(self, value: int) -> None:
        self.outbox.seq = value

    @property
    def now(self) -> int:
        """Simulated time in ns since the epoch; moves only by the ``time`` command."""
        return self.outbox.now

    @now.setter
    def now(self, value: int) -> None:
        self.outbox.now = value

    next_order_id = _forward("entry", "next_order_id")
    next_trade_id = _forward("entry", "next_trade_id")
    accounts = _forward("ledger", "accounts")
    insurance = _forward("ledger", "insurance")
    screen = _forward("ledger", "screen")
    writes = _forward("ledger", "writes")
    open_interest = _forward("ledger", "open_interest")
    fee_income = _forward("ledger", "fee_income")
    rounding = _forward("ledger", "rounding")
    backstop = _forward("ledger", "backstop")
    deposits = _forward("ledger", "deposits")
    withdrawals = _forward("ledger", "withdrawals")

    def recount_open_interest(self) -> None:
        """Rebuild the open-interest totals from the positions (after a snapshot is loaded)."""
        self.ledger.recount_open_interest()

    # -- the entry point -----------------------------------------------------------------------

    def execute(self, command: c.Command | u.UnitCommand) -> list[e.Event]:
        """Apply one command; return the events it caused, in order."""
        out = self.outbox.start()
        handler = self._dispatch.get(type(command))
        if handler is None:
            raise TypeError(f"not a command: {type(command).__name__}")
        try:
            handler(command)
        except Refusal as refusal:
            self._reject(command, refusal.reason, refusal.message)
        self.liquidator.check_moved_accounts()
        return out

    def error(self, line: int, message: str) -> list[e.Event]:
        """An ``error`` event for input that is not a command at all (numbered like the rest)."""
        out = self.outbox.start()
        self.outbox.emit(e.Error, line=line, message=message)
        return out

    def select_events(self, kinds: Iterable[type[e.Event]] | None) -> None:
        """Build only events of these kinds from now on (None: all of them).

        A skipped event is not built, but it still takes its ``seq``: the numbering, and so
        ``state_hash()``, are the same whichever events a caller reads, and the state that
        decides future behaviour is identical either way. A replay that does not read maker
        acknowledgements saves building millions of them.
        """
        wanted = set(e.ALL_EVENTS if kinds is None else kinds)
        self.outbox.skipped = frozenset(cls for cls in e.ALL_EVENTS if cls not in wanted)

    # -- read models (DESIGN.md §3.1): no state changes, no seq --------------------------------

    def view_account(self, account_id: str) -> rm.AccountView | None:
        """The account in engine units, or None when there is no such account."""
        account = self.ledger.accounts.get(account_id)
        return None if account is None else rm.account_view(self, account)

    def view_book(self, symbol: str, depth: int = 10) -> rm.BookView:
        return rm.book_view(self, symbol, depth)

    def view_symbol(self, symbol: str) -> rm.SymbolView:
        return rm.symbol_view(self, symbol)

    def view_insurance(self) -> rm.InsuranceView:
        return rm.insurance_view(self)

    # -- events --------------------------------------------------------------------------------

    def _reject(self, command: c.Command | u.UnitCommand, reason: RejectReason,
                message: str) -> None:
        tag = (command.name if isinstance(command, u.UnitCommand)
               else type(command).__struct_config__.tag)
        order_id = getattr(command, "order_id", None)
        self.outbox.emit(e.Rejected, cmd=tag, reason=reason, message=message,
                   account=getattr(command, "account", None),
                   symbol=getattr(command, "symbol", None),
                   order_id=order_id, client_id=getattr(command, "client_id", None))

    # -- lookups that refuse -------------------------------------------------------------------

    def _account(self, account_id: str) -> Account:
        return refusals.account_of(self.accounts, account_id)

    def _instrument(self, symbol: str) -> Instrument:
        return refusals.instrument_of(self.instruments, symbol)

    def _mark(self, symbol: str) -> int:
        return refusals.mark_of(self.mark, symbol)

    _amount = staticmethod(refusals.amount)
    _unit_amount = staticmethod(refusals.unit_amount)
    _ticks = staticmethod(refusals.ticks)
    _positive_ticks = staticmethod(refusals.positive_ticks)

    # -- money ---------------------------------------------------------------------------------

    def _deposit(self, cmd: c.Deposit) -> None:
        self.ledger.credit(cmd.account, self._amount(cmd.amount))

    def _deposit_units(self, cmd: u.Deposit) -> None:
        if "@" in cmd.account or not cmd.account:
            raise Refusal(RejectReason.UNKNOWN_ACCOUNT,
                          f"{cmd.account!r} is not an account id (letters, digits, _ . : -)")
        self.ledger.credit(cmd.account, self._unit_amount(cmd.amount))

    def _withdraw(self, cmd: c.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._amount(cmd.amount))

    def _withdraw_units(self, cmd: u.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._unit_amount(cmd.amount))

    def _debit(self, account: Account, amount: int) -> None:
        allowed = summarize(account, self.instruments, self.mark).max_withdraw
        if amount > allowed:
            raise Refusal(RejectReason.INSUFFICIENT_BALANCE,
                          f"can withdraw at most {format_cash(allowed)} USDT")
        self.ledger.debit(account, amount)

    def _set_leverage(self, cmd: c.SetLeverage) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        leverage = cmd.leverage
        if leverage < 1:
            raise Refusal(RejectReason.INVALID_LEVERAGE, f"leverage {leverage} must be >= 1")
        if leverage > instrument.max_leverage:
            raise Refusal(RejectReason.LEVERAGE_TOO_HIGH,
                          f"{cmd.symbol} allows at most {instrument.max_leverage}x")
        chosen = account.leverage.get(cmd.symbol)
        previous = instrument.default_leverage if chosen is None else chosen
        position = account.positions.get(cmd.symbol)
        if leverage < previous and position is not None and position.isolated and position.qty:
            # its margin was set at the old leverage; Binance refuses this too (-4161)
            raise Refusal(RejectReason.POSITION_OPEN,
                          "cannot lower the leverage of an open isolated position")
        if leverage > previous:
            for is_buy in (True, False):
                self.entry.check_tier(account, instrument, is_buy, 0, 0, leverage)
        account.leverage[cmd.symbol] = leverage
        after = summarize(account, self.instruments, self.mark)
        if after.available_balance < 0 and leverage < previous:
            if chosen is None:  # a refusal changes nothing: not even the default's entry
                del account.leverage[cmd.symbol]
            else:
                account.leverage[cmd.symbol] = chosen
            raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                          f"{leverage}x needs {format_cash(-after.available_balance)} USDT more "
                          "margin than is available")
        self.outbox.emit(e.Leverage, account=account.id, symbol=cmd.symbol, leverage=leverage)

    def _set_margin_mode(self, cmd: c.SetMarginMode) -> None:
        account = self._account(cmd.account)
        self._instrument(cmd.symbol)
        if account.position_qty(cmd.symbol) or account.orders_on(cmd.symbol):
            raise Refusal(RejectReason.POSITION_OPEN,
                          f"close the {cmd.symbol} position and its orders before changing "
                          "margin mode")
        self.ledger.set_margin_mode(account, cmd.symbol, cmd.mode is MarginMode.ISOLATED)
        self.outbox.emit(e.MarginModeSet, account=account.id, symbol=cmd.symbol, mode=cmd.mode)

    def _adjust_isolated_margin(self, cmd: c.AdjustIsolatedMargin) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        position = account.positions.get(cmd.symbol)
        if position is None or not position.isolated or position.qty == 0:
            raise Refusal(RejectReason.NO_ISOLATED_POSITION,
                          f"{account.id} has no isolated {cmd.symbol} position")
        try:
            amount = cash_from_decimal(cmd.amount)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {exc}") from exc
        if amount == 0:
            raise Refusal(RejectReason.INVALID_AMOUNT, "amount must not be zero")
        mark = self._mark(cmd.symbol)
        if amount > 0:
            available = summarize(account, self.instruments, self.mark).available_balance
            if amount > available:
                raise Refusal(RejectReason.INSUFFICIENT_BALANCE,
                              f"{format_cash(max(0, available))} USDT available to add")
        else:
            leverage = account.leverage.get(cmd.symbol, instrument.default_leverage)
            held = position_initial_margin(instrument, position.qty, mark, leverage)
            margin = position.isolated_margin
            removable = max(0, min(margin, margin
                                   + position.unrealized_pnl(mark, instrument.cash_per_tick_lot)
                                   - held))
            if -amount > removable:
                raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                              f"at most {format_cash(removable)} USDT can be removed")
        self.ledger.move_isolated_margin(account, cmd.symbol, amount)

    # -- market inputs -------------------------------------------------------------------------

    def _set_index(self, cmd: c.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self.pricing.new_index(cmd.symbol, self._ticks(instrument, cmd.price, "price"))

    def _set_index_units(self, cmd: u.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self.pricing.new_index(cmd.symbol, self._positive_ticks(instrument, cmd.price, "price"))

    def _advance_time_units(self, cmd: u.AdvanceTime) -> None:
        self.pricing.advance_clock(self._unit_time(cmd.ts))

    def _market_step(self, cmd: u.MarketStep) -> None:
        ts = self._unit_time(cmd.ts)
        prices = {}
        for symbol, price in cmd.index.items():  # every price is checked before any is set
            prices[symbol] = self._positive_ticks(self._instrument(symbol), price, "index")
        self.pricing.advance_clock(ts, prices)

    def _unit_time(self, ts: int) -> int:
        if type(ts) is not int or not 0 <= ts < 2**63:
            raise Refusal(RejectReason.INVALID_TIMESTAMP,
                          f"ts {ts!r} is not nanoseconds since 1970 in a signed 64-bit int")
        if ts < self.now:
            raise Refusal(RejectReason.TIME_GOES_BACKWARDS,
                          f"{format_timestamp(ts)} is before the engine clock")
        return ts

    def _after_mark_change(self, symbol: str) -> None:
        """Mark-triggered orders fire, then accounts that fail the margin test are
        liquidated; liquidation fills can move the last price and fire more orders."""
        self.entry.fire_triggers(symbol)
        self.liquidator.check_liquidations(symbol)
        self.entry.fire_triggers(symbol)

    def _check_liquidations(self, symbol: str) -> None:
        self.liquidator.check_liquidations(symbol)

    def _advance_time(self, cmd: c.AdvanceTime) -> None:
        try:
            ts = parse_timestamp(cmd.ts)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_TIMESTAMP, str(exc)) from exc
        if ts < self.now:
            raise Refusal(RejectReason.TIME_GOES_BACKWARDS,
                          f"{cmd.ts} is before the engine clock")
        self.pricing.advance_clock(ts)

    # -- queries -------------------------------------------------------------------------------

    def _query(self, cmd: c.Query) -> None:
        if cmd.what == "account":
            if cmd.account is None:
                raise Refusal(RejectReason.UNKNOWN_ACCOUNT, "query account needs an account")
            data = views.account_view(self, self._account(cmd.account))
        elif cmd.what == "book":
            if cmd.symbol is None:
                raise Refusal(RejectReason.UNKNOWN_SYMBOL, "query book needs a symbol")
            self._instrument(cmd.symbol)
            data = views.book_view(self, cmd.symbol, cmd.depth)
        elif cmd.what == "instruments":
            data = views.instruments_view(self.instruments)
        else:
            data = views.insurance_view(self)
        self.outbox.emit(e.Answer, what=cmd.what, data=data)

    # -- state ---------------------------------------------------------------------------------

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate the next settlement would use if the interval ended now."""
        return self.pricing.predicted_funding_rate(symbol)

    def next_funding(self, symbol: str) -> int:
        return self.pricing.next_funding(symbol)

    def state_hash(self) -> str:
        """A digest of the whole state: equal states give equal hashes (engine/digest.py)."""
        return digest.state_hash(self)

    def check_invariants(self) -> None:
        """Raise InvariantViolation if any invariant of DESIGN.md §3 does not hold."""
        invariants.check_invariants(self)
