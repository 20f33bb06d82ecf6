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

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine import commands as c
from engine import events as e
from engine import readmodels as rm
from engine import unit_commands as u
from engine import views
from engine.account import Account
from engine.book import Order, OrderBook
from engine.enums import (
    CANCEL_REASON_OF_REFUSAL,
    AmendReason,
    BalanceKind,
    CancelReason,
    Liquidity,
    MarginMode,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    TriggerBy,
)
from engine.instrument import Instrument, default_instruments
from engine.liquidation import LiquidationEngine
from engine.margin import collateral_behind, position_initial_margin, solvent_at, summarize
from engine.matching import fillable, match
from engine.pricing import PriceEngine, PriceState
from engine.sweep import MarginScreen
from engine.triggers import TriggerBook, is_triggered
from engine.units import (
    MAX_UNITS,
    RATE_SCALE,
    TooLarge,
    UnitError,
    cash_from_decimal,
    ceil_div,
    format_cash,
    format_timestamp,
    mul_rate_up,
    parse_timestamp,
)

INSURANCE = "@insurance"
"""The insurance fund's account id; the protocol's account ids cannot contain '@'."""


class Refusal(Exception):
    """Raised inside a handler to reject the command; carries the reason and a message.

    Never escapes the exchange: ``execute`` turns it into a ``rejected`` event. Handlers raise
    it before they change anything, which is what makes a rejected command change nothing.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Exchange(PriceEngine, LiquidationEngine):
    """A deterministic perpetual-futures venue: books, accounts, margin, matching,
    liquidation."""

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self.instruments: dict[str, Instrument] = dict(
            default_instruments() if instruments is None else instruments)
        symbols = list(self.instruments)
        self.books = {s: OrderBook(s) for s in symbols}
        self.index: dict[str, int | None] = dict.fromkeys(symbols)
        self.mark: dict[str, int | None] = dict.fromkeys(symbols)
        self.last: dict[str, int | None] = dict.fromkeys(symbols)
        self.prices = {s: PriceState(i) for s, i in self.instruments.items()}
        self.conditional = {s: TriggerBook() for s in symbols}
        """Orders waiting for their trigger, per symbol, by trigger price (engine/triggers.py)."""
        self.accounts: dict[str, Account] = {}
        self._moved: set[str] = set()
        self._liquidating: Account | None = None
        """The account the waterfall is working on: its isolated margin is not released."""
        """Accounts whose positions changed in this command: checked before it returns."""
        self.writes = 0
        """Counts writes to wallets and positions (``_touch``): a sweep at an unchanged mark
        with no write since the symbol's last one is skipped (pricing._remark)."""
        self._swept_at: dict[str, int] = dict.fromkeys(symbols, -1)
        self.screen = MarginScreen(self.instruments)
        """Arrays of every position for the vectorised mark sweep (engine/sweep.py)."""
        self.now = 0
        """Simulated time in ns since the epoch; moves only by the ``time`` command."""
        self.seq = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.fee_income = 0
        self.insurance = Account(INSURANCE)
        """The insurance fund: an account that collects clearance fees and takes over what
        bankrupt accounts leave; its positions count in open interest."""
        self.rounding = 0
        """Residue of rounding funding against both sides: keeps money conserved exactly."""
        self.backstop = 0
        """What the venue has put into its insurance fund (negative) to keep the fund's wallet
        from going below zero: funding on positions it holds, or unwinding them at a loss."""
        self.deposits = 0
        self.withdrawals = 0
        self.open_interest: dict[str, int] = dict.fromkeys(symbols, 0)
        """Lots held long (= held short) per symbol, the insurance fund included."""
        self._out: list[e.Event] = []
        self._skipped: frozenset[type] = frozenset()
        """Event kinds the caller does not want built (``select_events``)."""
        self._dispatch: dict[type, Callable[[Any], None]] = {
            c.Deposit: self._deposit,
            c.Withdraw: self._withdraw,
            c.SetLeverage: self._set_leverage,
            c.SetMarginMode: self._set_margin_mode,
            c.AdjustIsolatedMargin: self._adjust_isolated_margin,
            c.PlaceOrder: self._place,
            c.CancelOrder: self._cancel,
            c.AmendOrder: self._amend,
            c.CancelAll: self._cancel_all,
            c.SetIndex: self._set_index,
            c.AdvanceTime: self._advance_time,
            c.Query: self._query,
            u.Deposit: self._deposit_units,
            u.Withdraw: self._withdraw_units,
            u.SetLeverage: self._set_leverage,
            u.PlaceOrder: self._place_units,
            u.CancelOrder: self._cancel,
            u.AmendOrder: self._amend_units,
            u.CancelAll: self._cancel_all,
            u.SetIndex: self._set_index_units,
            u.AdvanceTime: self._advance_time_units,
            u.MarketStep: self._market_step,
            u.ReplaceLadder: self._replace_ladder,
        }

    # -- the entry point -----------------------------------------------------------------------

    def execute(self, command: c.Command | u.UnitCommand) -> list[e.Event]:
        """Apply one command; return the events it caused, in order."""
        self._out = out = []
        handler = self._dispatch.get(type(command))
        if handler is None:
            raise TypeError(f"not a command: {type(command).__name__}")
        try:
            handler(command)
        except Refusal as refusal:
            self._reject(command, refusal.reason, refusal.message)
        self._check_moved_accounts()
        return out

    def error(self, line: int, message: str) -> list[e.Event]:
        """An ``error`` event for input that is not a command at all (numbered like the rest)."""
        self._out = out = []
        self._emit(e.Error, line=line, message=message)
        return out

    def select_events(self, kinds: Iterable[type[e.Event]] | None) -> None:
        """Build only events of these kinds from now on (None: all of them).

        A skipped event is not built, but it still takes its ``seq``: the numbering, and so
        ``state_hash()``, are the same whichever events a caller reads, and the state that
        decides future behaviour is identical either way. A replay that does not read maker
        acknowledgements saves building millions of them.
        """
        wanted = set(e.ALL_EVENTS if kinds is None else kinds)
        self._skipped = frozenset(cls for cls in e.ALL_EVENTS if cls not in wanted)

    # -- read models (DESIGN.md §3.1): no state changes, no seq --------------------------------

    def view_account(self, account_id: str) -> rm.AccountView | None:
        """The account in engine units, or None when there is no such account."""
        account = self.accounts.get(account_id)
        return None if account is None else rm.account_view(self, account)

    def view_book(self, symbol: str, depth: int = 10) -> rm.BookView:
        return rm.book_view(self, symbol, depth)

    def view_symbol(self, symbol: str) -> rm.SymbolView:
        return rm.symbol_view(self, symbol)

    def view_insurance(self) -> rm.InsuranceView:
        return rm.insurance_view(self)

    # -- events --------------------------------------------------------------------------------

    def _emit(self, cls: type[e.Event], **fields: Any) -> None:
        self.seq += 1
        if cls not in self._skipped:
            self._out.append(cls(seq=self.seq, ts=self.now, **fields))

    def _reject(self, command: c.Command | u.UnitCommand, reason: RejectReason,
                message: str) -> None:
        tag = (command.name if isinstance(command, u.UnitCommand)
               else type(command).__struct_config__.tag)
        order_id = getattr(command, "order_id", None)
        self._emit(e.Rejected, cmd=tag, reason=reason, message=message,
                   account=getattr(command, "account", None),
                   symbol=getattr(command, "symbol", None),
                   order_id=order_id, client_id=getattr(command, "client_id", None))

    def _cancelled(self, order: Order, reason: CancelReason) -> None:
        self._emit(e.Cancelled, order_id=order.order_id, account=order.account,
                   symbol=order.symbol, reason=reason, remaining=order.remaining,
                   client_id=order.client_id)

    # -- lookups that refuse -------------------------------------------------------------------

    def _account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise Refusal(RejectReason.UNKNOWN_ACCOUNT,
                          f"no account {account_id!r}: deposit to open one")
        return account

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise Refusal(RejectReason.UNKNOWN_SYMBOL,
                          f"no instrument {symbol!r}; listed: {', '.join(self.instruments)}")
        return instrument

    def _mark(self, symbol: str) -> int:
        mark = self.mark[symbol]
        if mark is None:
            raise Refusal(RejectReason.NO_MARK_PRICE, f"{symbol} has no mark price yet")
        return mark

    @staticmethod
    def _amount(value: Any) -> int:
        try:
            amount = cash_from_decimal(value)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {exc}") from exc
        return Exchange._positive_amount(amount, value)

    @staticmethod
    def _positive_amount(amount: int, shown: Any = None) -> int:
        if amount <= 0:
            shown = format_cash(amount) if shown is None else shown
            raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {shown} must be positive")
        return amount

    @staticmethod
    def _ticks(instrument: Instrument, value: Any, field: str) -> int:
        try:
            ticks = instrument.price_to_ticks(value)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_PRICE,
                          f"{field} {exc} (tick size {instrument.tick_size})") from exc
        return Exchange._positive_ticks(instrument, ticks, field, value)

    @staticmethod
    def _positive_ticks(instrument: Instrument, ticks: int, field: str,
                        shown: Any = None) -> int:
        if type(ticks) is not int or ticks <= 0:
            shown = (instrument.format_price(ticks) if type(ticks) is int else repr(ticks)
                     ) if shown is None else shown
            raise Refusal(RejectReason.INVALID_PRICE, f"{field} {shown} must be positive")
        return ticks

    @staticmethod
    def _lots(instrument: Instrument, value: Any, max_lots: int) -> int:
        try:
            lots = instrument.qty_to_lots(value)
        except TooLarge as exc:
            raise Refusal(RejectReason.ABOVE_MAX_QTY, f"qty {exc}") from exc
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_QTY,
                          f"qty {exc} (lot size {instrument.lot_size})") from exc
        return Exchange._checked_lots(instrument, lots, max_lots, value)

    @staticmethod
    def _checked_lots(instrument: Instrument, lots: int, max_lots: int, value: Any = None) -> int:
        """Refuse a size off the instrument's limits; ``value`` is how the caller wrote it."""
        if type(lots) is not int:
            raise Refusal(RejectReason.INVALID_QTY, f"qty {lots!r} is not a whole number of lots")
        if value is None:
            value = instrument.format_qty(lots)
        if lots <= 0:
            raise Refusal(RejectReason.INVALID_QTY, f"qty {value} must be positive")
        if lots > max_lots:
            limit = instrument.format_qty(max_lots)
            raise Refusal(RejectReason.ABOVE_MAX_QTY, f"qty {value} is above the maximum {limit}")
        if lots < instrument.min_qty:
            limit = instrument.format_qty(instrument.min_qty)
            raise Refusal(RejectReason.BELOW_MIN_QTY, f"qty {value} is below the minimum {limit}")
        return lots

    def _find_order(self, account: Account, order_id: int | None,
                    client_id: str | None) -> Order:
        if order_id is None and client_id is None:
            raise Refusal(RejectReason.INVALID_ORDER, "give an order_id or a client_id")
        if order_id is None:
            order_id = account.client_ids.get(client_id or "")
        order = account.orders.get(order_id) if order_id is not None else None
        if order is None:
            which = f"order_id {order_id}" if client_id is None else f"client_id {client_id!r}"
            raise Refusal(RejectReason.UNKNOWN_ORDER,
                          f"{account.id} has no open order with {which}")
        return order

    # -- money ---------------------------------------------------------------------------------

    def _deposit(self, cmd: c.Deposit) -> None:
        self._credit(cmd.account, self._amount(cmd.amount))

    def _deposit_units(self, cmd: u.Deposit) -> None:
        if "@" in cmd.account or not cmd.account:
            raise Refusal(RejectReason.UNKNOWN_ACCOUNT,
                          f"{cmd.account!r} is not an account id (letters, digits, _ . : -)")
        self._credit(cmd.account, self._unit_amount(cmd.amount))

    def _credit(self, account_id: str, amount: int) -> None:
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = Account(account_id)
        account.wallet += amount
        account.deposited += amount
        self._touch(account)
        self.deposits += amount
        self._emit(e.Balance, account=account.id, amount=amount, kind=BalanceKind.DEPOSIT,
                   wallet_balance=account.wallet)

    def _withdraw(self, cmd: c.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._amount(cmd.amount))

    def _withdraw_units(self, cmd: u.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._unit_amount(cmd.amount))

    @staticmethod
    def _unit_amount(amount: int) -> int:
        if type(amount) is not int or amount > MAX_UNITS:
            raise Refusal(RejectReason.INVALID_AMOUNT,
                          f"amount {amount!r} is not a whole number of cash units up to "
                          f"{MAX_UNITS}")
        return Exchange._positive_amount(amount)

    def _debit(self, account: Account, amount: int) -> None:
        allowed = summarize(account, self.instruments, self.mark).max_withdraw
        if amount > allowed:
            raise Refusal(RejectReason.INSUFFICIENT_BALANCE,
                          f"can withdraw at most {format_cash(allowed)} USDT")
        account.wallet -= amount
        account.withdrawn += amount
        self._touch(account)
        self.withdrawals += amount
        self._emit(e.Balance, account=account.id, amount=-amount, kind=BalanceKind.WITHDRAW,
                   wallet_balance=account.wallet)

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
                self._check_tier(account, instrument, is_buy, 0, 0, leverage)
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
        self._emit(e.Leverage, account=account.id, symbol=cmd.symbol, leverage=leverage)

    def _set_margin_mode(self, cmd: c.SetMarginMode) -> None:
        account = self._account(cmd.account)
        self._instrument(cmd.symbol)
        if account.position_qty(cmd.symbol) or account.orders_on(cmd.symbol):
            raise Refusal(RejectReason.POSITION_OPEN,
                          f"close the {cmd.symbol} position and its orders before changing "
                          "margin mode")
        isolated = cmd.mode is MarginMode.ISOLATED
        if isolated:
            account.isolated_symbols.add(cmd.symbol)
        else:
            account.isolated_symbols.discard(cmd.symbol)
        position = account.positions.get(cmd.symbol)
        if position is not None:
            position.isolated = isolated
        self._touch(account)
        self._emit(e.MarginModeSet, account=account.id, symbol=cmd.symbol, mode=cmd.mode)

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
        account.wallet -= amount
        position.isolated_margin += amount
        self._touch(account)
        self._emit(e.Balance, account=account.id, amount=amount, kind=BalanceKind.ISOLATED_MARGIN,
                   wallet_balance=account.wallet, symbol=cmd.symbol)

    # -- orders: entry -------------------------------------------------------------------------

    def _place(self, cmd: c.PlaceOrder) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        kind = cmd.type
        is_market = not kind.has_limit_price
        qty = self._lots(instrument, cmd.qty,
                         instrument.max_market_qty if is_market else instrument.max_qty)
        price = self._order_price(instrument, kind, cmd.price, self._ticks)
        trigger = self._order_trigger(instrument, kind, cmd.trigger_price, self._ticks)
        self._submit(account, instrument, cmd, qty, price, trigger)

    def _place_units(self, cmd: u.PlaceOrder) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        kind = cmd.type
        qty = self._checked_lots(instrument, cmd.qty, instrument.max_qty if kind.has_limit_price
                                 else instrument.max_market_qty)
        price = self._order_price(instrument, kind, cmd.price, self._positive_ticks)
        trigger = self._order_trigger(instrument, kind, cmd.trigger_price, self._positive_ticks)
        self._submit(account, instrument, cmd, qty, price, trigger)

    @staticmethod
    def _order_price(instrument: Instrument, kind: OrderType, given: Any,
                     to_ticks: Callable[[Instrument, Any, str], int]) -> int | None:
        if kind.has_limit_price:
            if given is None:
                raise Refusal(RejectReason.INVALID_PRICE, f"a {kind} order needs a price")
            return to_ticks(instrument, given, "price")
        if given is not None:
            raise Refusal(RejectReason.INVALID_ORDER, f"a {kind} order takes no price")
        return None

    @staticmethod
    def _order_trigger(instrument: Instrument, kind: OrderType, given: Any,
                       to_ticks: Callable[[Instrument, Any, str], int]) -> int | None:
        if kind.is_conditional:
            if given is None:
                raise Refusal(RejectReason.INVALID_PRICE, f"a {kind} order needs a trigger_price")
            return to_ticks(instrument, given, "trigger_price")
        if given is not None:
            raise Refusal(RejectReason.INVALID_ORDER, f"a {kind} order takes no trigger_price")
        return None

    def _submit(self, account: Account, instrument: Instrument, cmd: c.PlaceOrder | u.PlaceOrder,
                qty: int, price: int | None, trigger: int | None) -> None:
        """Every new order, from the wire or in engine units, once its numbers are ticks and
        lots: the entry checks, then matching, resting or waiting for the trigger."""
        kind = cmd.type
        is_market = not kind.has_limit_price
        if cmd.post_only and (is_market or cmd.tif is not TimeInForce.GTC):
            raise Refusal(RejectReason.INVALID_ORDER, "post_only needs a gtc limit order")
        if cmd.client_id is not None and cmd.client_id in account.client_ids:
            raise Refusal(RejectReason.DUPLICATE_CLIENT_ID,
                          f"client_id {cmd.client_id!r} is already used by an open order")
        mark = self._mark(cmd.symbol)
        is_buy = cmd.side is Side.BUY
        if cmd.reduce_only:
            self._check_reduces(account, cmd.symbol, is_buy)
        elif instrument.notional(price or mark, qty) < instrument.min_notional:
            # reduce-only orders are exempt so that a dust position can always be closed
            raise Refusal(RejectReason.BELOW_MIN_NOTIONAL,
                          f"notional below the minimum {format_cash(instrument.min_notional)} "
                          "USDT")
        order = Order(order_id=self.next_order_id, account=account.id, symbol=cmd.symbol,
                      side=cmd.side, type=kind, qty=qty, price=price, trigger_price=trigger,
                      trigger_by=cmd.trigger_by if trigger is not None else None, tif=cmd.tif,
                      post_only=cmd.post_only, reduce_only=cmd.reduce_only,
                      client_id=cmd.client_id, stp=cmd.stp)
        if kind.is_conditional:
            reference = self._trigger_reference(order)
            if reference is not None and is_triggered(order, reference):
                raise Refusal(RejectReason.WOULD_IMMEDIATELY_TRIGGER,
                              f"{order.trigger_by} price is already past the trigger")
        else:
            refusal = self._entry_refusal(account, instrument, order)
            if refusal is not None:
                raise refusal
        self.next_order_id += 1
        self._open(account, order)
        self._emit(e.Accepted, order_id=order.order_id, account=order.account,
                   symbol=order.symbol, side=order.side, type=order.type, qty=order.qty,
                   tif=order.tif, post_only=order.post_only, reduce_only=order.reduce_only,
                   stp=order.stp, price=order.price, trigger_price=order.trigger_price,
                   trigger_by=order.trigger_by, client_id=order.client_id)
        if kind.is_conditional:
            self.conditional[order.symbol][order.order_id] = order
            return
        if self._execute(account, instrument, order):
            self._fire_triggers(order.symbol)

    def _check_reduces(self, account: Account, symbol: str, is_buy: bool) -> None:
        position = account.position_qty(symbol)
        if position == 0 or (position > 0) == is_buy:
            raise Refusal(RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                          "reduce_only order would open or increase a position"
                          if position == 0 else
                          "reduce_only order is on the same side as the position")

    def _band(self, instrument: Instrument, is_buy: bool, mark: int) -> int:
        """The furthest price an order of this side may rest at or trade at, in ticks."""
        if is_buy:
            return mark * (RATE_SCALE + instrument.price_band) // RATE_SCALE
        return ceil_div(mark * (RATE_SCALE - instrument.price_band), RATE_SCALE)

    def _entry_refusal(self, account: Account, instrument: Instrument,
                       order: Order) -> Refusal | None:
        """The first rule an order breaks on entering the book, or None. Changes nothing."""
        symbol, is_buy = order.symbol, order.is_buy
        book = self.books[symbol]
        mark = self._mark(symbol)
        band = self._band(instrument, is_buy, mark)
        if order.price is not None and (order.price > band if is_buy else order.price < band):
            return Refusal(RejectReason.PRICE_OUT_OF_BAND,
                           f"{'buy above' if is_buy else 'sell below'} the "
                           f"{instrument.format_price(band)} limit of the "
                           "price band around the mark")
        if order.post_only and book.would_cross(is_buy, order.price or 0):
            return Refusal(RejectReason.POST_ONLY_WOULD_TAKE,
                           "post_only order would trade against the book")
        qty = order.remaining
        if order.reduce_only:
            qty = min(qty, abs(account.position_qty(symbol)))
        assume_price = order.price
        if order.price is None or order.tif is TimeInForce.FOK:
            limit = band if order.price is None else order.price
            can_fill, worst = fillable(
                book, is_buy, limit, qty, account.id, order.stp,
                lambda maker: abs(self.accounts[maker].position_qty(symbol)))
            if order.tif is TimeInForce.FOK and can_fill < qty:
                return Refusal(RejectReason.FOK_NOT_FILLED,
                               "fill-or-kill order cannot be filled in full now")
            if order.price is None:
                if can_fill == 0:
                    best = book.best_level(Side.SELL if is_buy else Side.BUY)
                    if best is not None and (best.price > band if is_buy else best.price < band):
                        return Refusal(RejectReason.PRICE_OUT_OF_BAND,
                                       "the best opposite price is outside the price band")
                    return Refusal(RejectReason.NO_LIQUIDITY,
                                   "no resting liquidity for a market order")
                qty, assume_price = can_fill, worst
        if order.reduce_only:
            return None
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        assert assume_price is not None
        try:
            self._check_tier(account, instrument, is_buy, qty, assume_price, leverage)
        except Refusal as refusal:
            return refusal
        reserve = account.reserve_on(symbol)
        position = account.position_qty(symbol)
        cost = (reserve.order_margin(instrument, position, mark, leverage,
                                     ((is_buy, assume_price, qty),))
                - reserve.order_margin(instrument, position, mark, leverage))
        if cost > 0:
            # an order that opens also needs its taker fee: fees come out of the wallet, and an
            # isolated open must not leave the cross wallet short of them
            cost += mul_rate_up(instrument.notional(assume_price, qty), instrument.taker_fee)
            available = summarize(account, self.instruments, self.mark).available_balance
            if cost > available:
                return Refusal(RejectReason.INSUFFICIENT_MARGIN,
                               f"order needs {format_cash(cost)} USDT of margin and fees, "
                               f"{format_cash(max(0, available))} available")
        return None

    def _check_tier(self, account: Account, instrument: Instrument, is_buy: bool, qty: int,
                    price: int, leverage: int) -> None:
        """Refuse unless the largest position this side could reach fits a tier that allows
        ``leverage`` (Binance: max leverage is bounded by the bracket of the notional)."""
        symbol = instrument.symbol
        mark = self._mark(symbol) if self.mark[symbol] is not None else price
        sign = 1 if is_buy else -1
        exposure = sign * account.position_qty(symbol) + qty
        # notional grows with price on either side: value the exposure at the highest price
        # it could be reached at
        worst = max(price, mark)
        resting, highest = account.reserve_on(symbol).exposure(is_buy)
        exposure += resting
        if highest is not None:
            worst = max(worst, highest)
        if exposure <= 0:
            return
        notional = instrument.notional(worst, exposure)
        if instrument.max_leverage_for(notional) < leverage:
            raise Refusal(RejectReason.LEVERAGE_TOO_HIGH,
                          f"a {format_cash(notional)} USDT position is above the cap for "
                          f"{leverage}x on {symbol}; lower the leverage")

    def _open(self, account: Account, order: Order) -> None:
        account.add_order(order)

    def _close(self, order: Order) -> None:
        """Forget an order that is done (filled, cancelled or expired)."""
        self.accounts[order.account].remove_order(order)

    # -- orders: matching ----------------------------------------------------------------------

    def _execute(self, account: Account, instrument: Instrument, order: Order) -> bool:
        """Match ``order`` as a taker, then rest or cancel what is left.

        Returns:
            True if anything traded (the last price may have moved).
        """
        symbol = order.symbol
        if order.reduce_only:
            allowed = abs(account.position_qty(symbol))
            if order.remaining > allowed:
                self._shrink(order, order.remaining - allowed, book=None)
                if order.remaining == 0:
                    self._cancelled(order, CancelReason.REDUCE_ONLY)
                    self._close(order)
                    return False
        book = self.books[symbol]
        band = self._band(instrument, order.is_buy, self._mark(symbol))
        limit = band if order.price is None else order.price
        position = account.position_qty(symbol)
        capped = False
        if position and (position > 0) != order.is_buy and not solvent_at(
                instrument, account.positions[symbol],
                collateral_behind(account, symbol, self.instruments, self.mark)[0], limit):
            # closing through the bankruptcy price would leave the account owing money: a
            # reducing taker stops there (the liquidation waterfall handles what is left);
            # the solver runs only when the limit may reach that price
            bankruptcy = self._bankruptcy_tick(account, symbol)
            capped = bankruptcy > limit if not order.is_buy else bankruptcy < limit
            if capped:
                limit = bankruptcy
        filled_before = order.filled
        stp_expired = match(book, order, limit, self._on_fill_for(order), self._on_stp)
        traded = order.filled > filled_before
        if order.remaining == 0:
            self._close(order)
        elif stp_expired:
            self._cancelled(order, CancelReason.STP)
            self._close(order)
        elif capped:
            self._cancelled(order, CancelReason.BANKRUPTCY_PRICE)
            self._close(order)
        elif order.price is None:
            best = book.best_level(Side.SELL if order.is_buy else Side.BUY)
            self._cancelled(order, CancelReason.NO_LIQUIDITY if best is None
                            else CancelReason.BAND)
            self._close(order)
        elif order.tif is TimeInForce.GTC:
            book.add(order)
            account.refresh_order(order)
            if order.reduce_only:  # with the others resting, it may now reduce too much
                self._fit_reduce_only(account, symbol)
        else:
            self._cancelled(order, CancelReason.IOC_REMAINDER if order.tif is TimeInForce.IOC
                            else CancelReason.FOK_NOT_FILLED)
            self._close(order)
        return traded

    def _on_fill_for(self, taker: Order) -> Callable[[Order, int, int], None]:
        def on_fill(maker: Order, price: int, qty: int) -> None:
            self._trade(taker, maker, price, qty)
        return on_fill

    def _on_stp(self, maker: Order) -> None:
        self._cancelled(maker, CancelReason.STP)
        self._close(maker)

    def _trade(self, taker: Order, maker: Order, price: int, qty: int,
               taker_pays_fee: bool = True) -> int:
        """Book a trade between a taker and a resting maker; return the trade id."""
        symbol = taker.symbol
        instrument = self.instruments[symbol]
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        self.last[symbol] = price
        self._emit(e.Trade, trade_id=trade_id, symbol=symbol, price=price, qty=qty,
                   taker_side=taker.side)
        notional = instrument.notional(price, qty)
        taker_fee = mul_rate_up(notional, instrument.taker_fee) if taker_pays_fee else 0
        self._settle_fill(taker, trade_id, price, qty, taker_fee, Liquidity.TAKER)
        self._settle_fill(maker, trade_id, price, qty, mul_rate_up(notional, instrument.maker_fee),
                          Liquidity.MAKER)
        if not maker.live:
            self._close(maker)
        self._fit_reduce_only(self.accounts[maker.account], symbol)
        self._fit_reduce_only(self._owner(taker.account), symbol)
        return trade_id

    def _owner(self, account_id: str) -> Account:
        """The account of an order: a trader's, or the insurance fund unwinding."""
        return self.insurance if account_id == INSURANCE else self.accounts[account_id]

    def _settle_fill(self, order: Order, trade_id: int, price: int, qty: int, fee: int,
                     liquidity: Liquidity) -> None:
        account = self._owner(order.account)
        account.refresh_order(order)  # a maker's fill shrank it or took it out of the book
        realized = self._move_position(account, order.symbol, qty if order.is_buy else -qty,
                                       price)
        self._charge_fee(account, fee)
        position = account.positions[order.symbol]
        if position.isolated and position.qty and account.wallet < 0:
            # the margin moved in (at a better price than reserved) or the fee overdrew the
            # cross wallet: the position pays it back from its own margin, and the margin
            # test (run after the command) liquidates it if that leaves it short
            cover = -account.wallet
            position.isolated_margin -= cover
            account.wallet = 0
        self._emit(e.Fill, trade_id=trade_id, order_id=order.order_id, account=account.id,
                   symbol=order.symbol, side=order.side, price=price, qty=qty, fee=-fee,
                   liquidity=liquidity, realized_pnl=realized,
                   position=account.positions[order.symbol].qty, client_id=order.client_id)

    def _touch(self, account: Account) -> None:
        """Note that ``account``'s wallet or positions changed: the margin screen re-reads it
        before its next sweep. Every write to a wallet or a position must call this."""
        self.writes += 1
        if account is not self.insurance:
            self.screen.dirty.add(account.id)

    def _charge_fee(self, account: Account, fee: int) -> None:
        self._touch(account)
        account.wallet -= fee
        account.fees_paid += fee
        self.fee_income += fee

    def _move_position(self, account: Account, symbol: str, signed_qty: int, price: int) -> int:
        """Trade ``signed_qty`` lots of ``account``'s position at ``price``; return the
        realized PnL. Every position change goes through here: fills, takeovers, ADL.

        Cross: realized PnL goes to the wallet. Isolated: it goes to the position's own margin
        first; closing then releases the closed share of that margin to the wallet, and
        opening moves ``notional / leverage`` from the wallet into it.
        """
        instrument = self.instruments[symbol]
        position = account.position(symbol)
        self._touch(account)
        if account is not self.insurance:
            self._moved.add(account.id)
        before = position.qty
        realized = position.apply_fill(signed_qty, price, instrument.cash_per_tick_lot)
        self.open_interest[symbol] += max(0, position.qty) - max(0, before)
        account.realized_pnl += realized
        if not position.isolated:
            account.wallet += realized
            return realized
        margin = position.isolated_margin
        position.isolated_margin += realized  # the position's own margin takes its PnL
        reducing = before != 0 and (before > 0) != (signed_qty > 0)
        closing = min(abs(before), abs(signed_qty)) if reducing else 0
        if closing:
            left = position.isolated_margin
            if closing == abs(before):
                released = left  # closed: whatever is left goes back to the wallet
            elif account is self._liquidating:
                released = 0  # while it is liquidated, all of it stays behind the rest
            else:
                # the closed share of the margin plus the realized PnL, so the rest of the
                # position keeps its margin ratio; never negative, never more than is there
                released = max(0, min(margin * closing // abs(before) + realized, left))
            position.isolated_margin -= released
            account.wallet += released
        opening = abs(signed_qty) - closing
        if opening:
            leverage = account.leverage.get(symbol, instrument.default_leverage)
            moved = ceil_div(opening * price * instrument.cash_per_tick_lot, leverage)
            account.wallet -= moved
            position.isolated_margin += moved
        return realized

    def _shrink(self, order: Order, qty: int, book: OrderBook | None) -> None:
        """Take ``qty`` off an order's size for reduce-only, keeping its place in the queue."""
        if book is not None:
            book.reduce(order, qty, filled=False)
            self._owner(order.account).refresh_order(order)
        else:
            order.qty -= qty
        if order.remaining:
            self._emit(e.Amended, order_id=order.order_id, account=order.account,
                       symbol=order.symbol, qty=order.qty, remaining=order.remaining,
                       price=order.price, reason=AmendReason.REDUCE_ONLY, client_id=order.client_id)

    def _fit_reduce_only(self, account: Account, symbol: str) -> None:
        """Shrink or cancel resting reduce-only orders so that together, in priority order,
        they never exceed the position they reduce (PERP-MECHANICS.md §5, pitfall 11)."""
        ids = account.reducing.get(symbol)
        if not ids:
            return
        resting = [o for o in map(account.orders.__getitem__, ids)
                   if o.live and o.price is not None and not o.type.is_conditional]
        if not resting:
            return
        position = account.position_qty(symbol)
        room = abs(position)
        closing_is_buy = position < 0
        resting.sort(key=lambda o: (o.price if not o.is_buy else -o.price, o.queued))
        book = self.books[symbol]
        for order in resting:
            if position == 0 or order.is_buy != closing_is_buy or room == 0:
                book.remove(order)
                self._cancelled(order, CancelReason.REDUCE_ONLY)
                self._close(order)
            elif order.remaining > room:
                self._shrink(order, order.remaining - room, book)
                room = 0
            else:
                room -= order.remaining

    # -- orders: conditional -------------------------------------------------------------------

    def _trigger_reference(self, order: Order) -> int | None:
        source = self.mark if order.trigger_by is TriggerBy.MARK else self.last
        return source[order.symbol]

    def _fire_triggers(self, symbol: str) -> None:
        """Fire every conditional order of ``symbol`` whose trigger is reached, oldest first;
        a fired order that trades can move the last price and fire more. Orders the prices do
        not reach are not looked at (engine/triggers.py)."""
        pending = self.conditional[symbol]
        while pending:
            fired = pending.next_fired(self.mark[symbol], self.last[symbol])
            if fired is None:
                return
            del pending[fired.order_id]
            self._trigger(fired)

    def _trigger(self, order: Order) -> None:
        assert order.trigger_price is not None and order.trigger_by is not None
        order.type = order.type.triggered_type
        self._emit(e.Triggered, order_id=order.order_id, account=order.account,
                   symbol=order.symbol, trigger_price=order.trigger_price,
                   trigger_by=order.trigger_by, type=order.type, client_id=order.client_id)
        account = self.accounts[order.account]
        instrument = self.instruments[order.symbol]
        if order.reduce_only:
            position = account.position_qty(order.symbol)
            if position == 0 or (position > 0) == order.is_buy:
                self._cancelled(order, CancelReason.REDUCE_ONLY)
                self._close(order)
                return
        refusal = self._entry_refusal(account, instrument, order)
        if refusal is not None:
            self._cancelled(order, CANCEL_REASON_OF_REFUSAL[refusal.reason])
            self._close(order)
            return
        self._execute(account, instrument, order)

    # -- orders: cancel and amend --------------------------------------------------------------

    def _remove_open(self, order: Order) -> None:
        if order.live:
            self.books[order.symbol].remove(order)
        else:
            self.conditional[order.symbol].pop(order.order_id, None)
        self._close(order)

    def _cancel(self, cmd: c.CancelOrder) -> None:
        account = self._account(cmd.account)
        order = self._find_order(account, cmd.order_id, cmd.client_id)
        self._remove_open(order)
        self._cancelled(order, CancelReason.USER)

    def _cancel_all(self, cmd: c.CancelAll) -> None:
        account = self._account(cmd.account)
        if cmd.symbol is not None:
            self._instrument(cmd.symbol)
        for order in [o for o in account.orders.values()
                      if cmd.symbol is None or o.symbol == cmd.symbol]:
            self._remove_open(order)
            self._cancelled(order, CancelReason.USER)

    def _amend(self, cmd: c.AmendOrder) -> None:
        self._amend_with(cmd, self._lots, self._ticks)

    def _amend_units(self, cmd: u.AmendOrder) -> None:
        self._amend_with(cmd, self._checked_lots, self._positive_ticks)

    def _amend_with(self, cmd: c.AmendOrder | u.AmendOrder,
                    to_lots: Callable[[Instrument, Any, int], int],
                    to_ticks: Callable[[Instrument, Any, str], int]) -> None:
        account = self._account(cmd.account)
        order = self._find_order(account, cmd.order_id, cmd.client_id)
        instrument = self.instruments[order.symbol]
        if cmd.qty is None and cmd.price is None:
            raise Refusal(RejectReason.INVALID_ORDER, "amend needs a qty or a price")
        is_market = not order.type.has_limit_price
        new_qty = order.qty if cmd.qty is None else to_lots(
            instrument, cmd.qty, instrument.max_market_qty if is_market else instrument.max_qty)
        if new_qty <= order.filled:
            raise Refusal(RejectReason.INVALID_QTY,
                          f"qty must stay above the {instrument.format_qty(order.filled)} "
                          "already filled")
        if cmd.price is not None and is_market:
            raise Refusal(RejectReason.INVALID_ORDER, f"a {order.type} order has no price to amend")
        new_price = order.price if cmd.price is None else to_ticks(instrument, cmd.price,
                                                                    "price")
        if order.type.is_conditional:  # not in a book: no queue to keep, no margin held yet
            order.qty, order.price = new_qty, new_price
            self._amended(order)
            return
        assert new_price is not None
        book = self.books[order.symbol]
        if new_price == order.price and new_qty <= order.qty:
            if new_qty < order.qty:
                book.reduce(order, order.qty - new_qty, filled=False)
                account.refresh_order(order)
            self._amended(order)
            return
        # a new price or a larger size loses queue priority: check it as a fresh order
        candidate = Order(order_id=order.order_id, account=order.account, symbol=order.symbol,
                          side=order.side, type=order.type, qty=new_qty - order.filled,
                          price=new_price, tif=order.tif, post_only=order.post_only,
                          reduce_only=order.reduce_only, client_id=order.client_id,
                          stp=order.stp)
        # the order's own margin and size must not count against its replacement; hiding it
        # for the checks takes it out of the running totals, and it keeps its queue place if
        # the amend is refused
        with account.hiding((order,)):
            if not order.reduce_only and instrument.notional(
                    new_price, new_qty - order.filled) < instrument.min_notional:
                raise Refusal(RejectReason.BELOW_MIN_NOTIONAL,
                              f"notional below the minimum {format_cash(instrument.min_notional)}"
                              " USDT")
            refusal = self._entry_refusal(account, instrument, candidate)
        if refusal is not None:
            raise refusal
        # the replacement is a new object: the old one may linger dead in its level's deque
        # (lazy deletion), and reviving it would make it live in two places
        book.remove(order)
        account.refresh_order(order)
        candidate.qty, candidate.filled = new_qty, order.filled
        account.orders[order.order_id] = candidate
        self._amended(candidate)
        if self._execute(account, instrument, candidate):
            self._fire_triggers(order.symbol)

    def _amended(self, order: Order) -> None:
        self._emit(e.Amended, order_id=order.order_id, account=order.account,
                   symbol=order.symbol, qty=order.qty, remaining=order.remaining,
                   price=order.price, client_id=order.client_id)

    # -- orders: the ladder replace of a quoting participant -----------------------------------

    def _replace_ladder(self, cmd: u.ReplaceLadder) -> None:
        """All of one account's quotes on a symbol at once (unit_commands.ReplaceLadder):
        everything is checked, one margin check included, before anything changes."""
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        symbol = cmd.symbol
        mark = self._mark(symbol)
        book = self.books[symbol]
        cancel: list[Order] = []
        shrink: list[tuple[Order, int]] = []
        new: list[tuple[bool, int, int]] = []
        for is_buy, levels in ((True, cmd.bids), (False, cmd.asks)):
            if levels is None:
                continue
            wanted: dict[int, int] = {}
            band = self._band(instrument, is_buy, mark)
            for price, lots in levels:
                self._positive_ticks(instrument, price, "price")
                self._checked_lots(instrument, lots, instrument.max_qty)
                if price in wanted:
                    raise Refusal(RejectReason.INVALID_ORDER,
                                  f"price {instrument.format_price(price)} is listed twice")
                if price > band if is_buy else price < band:
                    raise Refusal(RejectReason.PRICE_OUT_OF_BAND,
                                  f"{'bid above' if is_buy else 'ask below'} the "
                                  f"{instrument.format_price(band)} limit of the price band")
                if instrument.notional(price, lots) < instrument.min_notional:
                    raise Refusal(RejectReason.BELOW_MIN_NOTIONAL,
                                  f"notional below the minimum "
                                  f"{format_cash(instrument.min_notional)} USDT")
                wanted[price] = lots
            quotes = sorted((o for o in account.orders.values()
                             if o.symbol == symbol and o.live and o.is_buy == is_buy
                             and not o.reduce_only), key=lambda o: o.queued)
            for order in quotes:
                lots = wanted.pop(order.price, None)  # type: ignore[arg-type]
                if lots is None or lots > order.remaining:
                    cancel.append(order)
                    if lots is not None:
                        wanted[order.price] = lots  # type: ignore[index]  # to the back
                elif lots < order.remaining:
                    shrink.append((order, order.remaining - lots))
            new.extend((is_buy, price, lots) for price, lots in wanted.items())
        leaving = {order.order_id for order in cancel}
        for is_buy, price, _ in new:
            if self._crosses_after(book, is_buy, price, account.id, leaving):
                raise Refusal(RejectReason.POST_ONLY_WOULD_TAKE,
                              f"a quote at {instrument.format_price(price)} would trade "
                              "against the book")
        self._check_ladder_margin(account, instrument, cancel, shrink, new)
        for order in cancel:
            book.remove(order)
            self._close(order)
            self._cancelled(order, CancelReason.USER)
        for order, lots in shrink:
            book.reduce(order, lots, filled=False)
            account.refresh_order(order)
            self._amended(order)
        for is_buy, price, lots in new:
            order = Order(order_id=self.next_order_id, account=account.id, symbol=symbol,
                          side=Side.BUY if is_buy else Side.SELL, type=OrderType.LIMIT,
                          qty=lots, price=price, post_only=True)
            self.next_order_id += 1
            self._open(account, order)
            self._emit(e.Accepted, order_id=order.order_id, account=order.account,
                       symbol=symbol, side=order.side, type=order.type, qty=lots,
                       tif=order.tif, post_only=True, reduce_only=False, stp=order.stp,
                       price=price)
            book.add(order)
            account.refresh_order(order)

    @staticmethod
    def _crosses_after(book: OrderBook, is_buy: bool, price: int, account_id: str,
                       leaving: set[int]) -> bool:
        """Would a post-only quote at ``price`` meet an opposite order that stays in the book?
        The account's own quotes that the same replace cancels do not count."""
        for level in book.levels(Side.SELL if is_buy else Side.BUY):
            if level.price > price if is_buy else level.price < price:
                return False
            for order in level.live_orders():
                if order.account != account_id or order.order_id not in leaving:
                    return True
        return False

    def _check_ladder_margin(self, account: Account, instrument: Instrument,
                             cancel: list[Order], shrink: list[tuple[Order, int]],
                             new: list[tuple[bool, int, int]]) -> None:
        """One margin check for the whole new ladder: the tier of each side's reach, and the
        order margin (plus the fees of what would open) against the available balance."""
        symbol = instrument.symbol
        mark = self._mark(symbol)
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        # hidden from the checks, as an amend hides the order it replaces
        with account.hiding(cancel):
            for side in (True, False):
                added = [(price, lots) for is_buy, price, lots in new if is_buy == side]
                if added:
                    self._check_tier(account, instrument, side, sum(q for _, q in added),
                                     max(p for p, _ in added), leverage)
        position = account.position_qty(symbol)
        reserve = account.reserve_on(symbol)
        changes = [(o.is_buy, o.price, -o.remaining) for o in cancel]
        changes.extend((o.is_buy, o.price, -lots) for o, lots in shrink)
        changes.extend(new)
        cost = (reserve.order_margin(instrument, position, mark, leverage, changes)  # type: ignore[arg-type]
                - reserve.order_margin(instrument, position, mark, leverage))
        if cost > 0:
            cost += mul_rate_up(sum(instrument.notional(p, q) for _, p, q in new),
                                instrument.taker_fee)
            available = summarize(account, self.instruments, self.mark).available_balance
            if cost > available:
                raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                              f"the ladder needs {format_cash(cost)} USDT of margin and fees, "
                              f"{format_cash(max(0, available))} available")

    # -- market inputs -------------------------------------------------------------------------

    def _set_index(self, cmd: c.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self._new_index(cmd.symbol, self._ticks(instrument, cmd.price, "price"))

    def _set_index_units(self, cmd: u.SetIndex) -> None:
        instrument = self._instrument(cmd.symbol)
        self._new_index(cmd.symbol, self._positive_ticks(instrument, cmd.price, "price"))

    def _advance_time_units(self, cmd: u.AdvanceTime) -> None:
        self._advance_clock(self._unit_time(cmd.ts))

    def _market_step(self, cmd: u.MarketStep) -> None:
        ts = self._unit_time(cmd.ts)
        prices = {}
        for symbol, price in cmd.index.items():  # every price is checked before any is set
            prices[symbol] = self._positive_ticks(self._instrument(symbol), price, "index")
        self._advance_clock(ts, prices)

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
        self._fire_triggers(symbol)
        self._check_liquidations(symbol)
        self._fire_triggers(symbol)

    def _advance_time(self, cmd: c.AdvanceTime) -> None:
        try:
            ts = parse_timestamp(cmd.ts)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_TIMESTAMP, str(exc)) from exc
        if ts < self.now:
            raise Refusal(RejectReason.TIME_GOES_BACKWARDS,
                          f"{cmd.ts} is before the engine clock")
        self._advance_clock(ts)

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
        self._emit(e.Answer, what=cmd.what, data=data)

    # -- state ---------------------------------------------------------------------------------

    def recount_open_interest(self) -> None:
        """Rebuild the open-interest totals from the positions (after a snapshot is loaded)."""
        for symbol in self.instruments:
            self.open_interest[symbol] = sum(
                max(0, a.position_qty(symbol)) for a in [*self.accounts.values(), self.insurance])

    def state_hash(self) -> str:
        """A digest of the whole state: equal states give equal hashes (blake2b of the repr of
        the canonical state: lists, ints of any size, strings, bools and None only)."""
        return hashlib.blake2b(repr(views.canonical_state(self)).encode(),
                               digest_size=16).hexdigest()

    def check_invariants(self) -> None:
        """Raise InvariantViolation if any invariant of DESIGN.md §3 does not hold."""
        views.check_invariants(self)
