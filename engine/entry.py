"""Order entry and pre-trade risk: place, amend, cancel, the ladder replace, matching what is
placed, and the conditional orders waiting for their trigger.

A new order and a conditional order whose trigger fired run the same checks (``refusal``);
a new order that fails them is rejected, a triggered one is cancelled with the same reason.
Matching is ``engine.matching``; its fills come back through ``trade``, which books both
sides in the ledger and keeps resting reduce-only orders no larger than the position they
reduce. The bankruptcy price caps a closing taker (engine/liquidator.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from engine import commands as c
from engine import events as e
from engine import refusals
from engine import unit_commands as u
from engine.account import Account
from engine.book import Order, OrderBook
from engine.enums import (
    CANCEL_REASON_OF_REFUSAL,
    AmendReason,
    CancelReason,
    Liquidity,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    TriggerBy,
)
from engine.instrument import Instrument
from engine.ledger import Ledger
from engine.liquidator import bankruptcy_tick
from engine.margin import (
    available_balance,
    collateral,
    solvent_at,
)
from engine.matching import fillable, match
from engine.outbox import Outbox
from engine.refusals import Refusal
from engine.reserve import EMPTY, Ladder, SymbolReserve, lone_order_margin, plain_margin
from engine.triggers import TriggerBook, is_triggered
from engine.units import RATE_SCALE, ceil_div, format_cash, mul_rate_up

_LIMIT, _GTC, _IOC = OrderType.LIMIT, TimeInForce.GTC, TimeInForce.IOC
_BUY, _SELL = Side.BUY, Side.SELL
"""Bound once: an enum member read through its class costs a metaclass lookup."""
_QUEUED = attrgetter("queued")
"""An order's time priority in its book, as a sort key."""


class OrderEntry:
    """Books, conditional orders, order and trade ids; every change to an order."""

    def __init__(self, instruments: Mapping[str, Instrument], books: Mapping[str, OrderBook],
                 ledger: Ledger, outbox: Outbox, marks: Mapping[str, int | None],
                 last: dict[str, int | None]) -> None:
        self.instruments = instruments
        self.ledger = ledger
        self.outbox = outbox
        self.mark = marks
        """Each symbol's mark price (pricing's; read only)."""
        self.last = last
        """Each symbol's last trade price (pricing's): written on every trade."""
        self.books = books
        """The order books: entry is their one writer (pricing reads them, the liquidator
        trades into them through ``trade``)."""
        self.conditional = {s: TriggerBook() for s in instruments}
        """Orders waiting for their trigger, per symbol, by trigger price (engine/triggers.py)."""
        self.next_order_id = 1
        self.next_trade_id = 1

    def take_order_id(self) -> int:
        """A new order id (the liquidator's orders take theirs here too)."""
        order_id = self.next_order_id
        self.next_order_id += 1
        return order_id

    # -- lookups that refuse (engine/refusals.py) ----------------------------------------------

    def _account(self, account_id: str) -> Account:
        return refusals.account_of(self.ledger.accounts, account_id)

    def _instrument(self, symbol: str) -> Instrument:
        return refusals.instrument_of(self.instruments, symbol)

    def _mark(self, symbol: str) -> int:
        return refusals.mark_of(self.mark, symbol)

    _ticks = staticmethod(refusals.ticks)
    _positive_ticks = staticmethod(refusals.positive_ticks)
    _lots = staticmethod(refusals.lots)
    _checked_lots = staticmethod(refusals.checked_lots)

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

    # -- orders: entry -------------------------------------------------------------------------

    def place(self, cmd: c.PlaceOrder) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        kind = cmd.type
        is_market = not kind.has_limit_price
        qty = self._lots(instrument, cmd.qty,
                         instrument.max_market_qty if is_market else instrument.max_qty)
        price = self._order_price(instrument, kind, cmd.price, self._ticks)
        trigger = self._order_trigger(instrument, kind, cmd.trigger_price, self._ticks)
        self._submit(account, instrument, cmd, qty, price, trigger)

    def place_units(self, cmd: u.PlaceOrder) -> None:
        if self._place_quiet_limit(cmd):
            return
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        kind = cmd.type
        qty = self._checked_lots(instrument, cmd.qty, instrument.max_qty if kind.has_limit_price
                                 else instrument.max_market_qty)
        price = self._order_price(instrument, kind, cmd.price, self._positive_ticks)
        trigger = self._order_trigger(instrument, kind, cmd.trigger_price, self._positive_ticks)
        self._submit(account, instrument, cmd, qty, price, trigger)

    def _place_quiet_limit(self, cmd: u.PlaceOrder) -> bool:
        """The most common order, placed without the general machinery: a GTC or IOC limit in
        engine units, neither post-only nor reduce-only, that does not reach the other side of
        the book (it cannot trade: it rests, or an IOC expires) and that the bankruptcy cap
        cannot touch. It runs the checks of ``place_units`` and ``refusal`` with the same
        arithmetic and changes the state and emits the events ``_submit`` would. On the first
        check that would refuse, and for any other order, nothing has changed and it returns
        False: the general path then places it, or words the refusal. O(1) plus the running
        totals' cost (engine/reserve.py)."""
        if (cmd.type is not _LIMIT or cmd.post_only or cmd.reduce_only
                or cmd.trigger_price is not None):
            return False
        tif = cmd.tif
        if tif is not _GTC and tif is not _IOC:
            return False
        account = self.ledger.accounts.get(cmd.account)
        symbol = cmd.symbol
        instrument = self.instruments.get(symbol)
        if account is None or instrument is None:
            return False
        qty, price, client_id = cmd.qty, cmd.price, cmd.client_id
        if (type(qty) is not int or not 0 < qty <= instrument.max_qty
                or qty < instrument.min_qty or type(price) is not int or price <= 0
                or (client_id is not None and client_id in account.client_ids)):
            return False
        mark = self.mark[symbol]
        if mark is None:
            return False
        is_buy = cmd.side is _BUY
        book = self.books[symbol]
        # book.would_cross, band and the tier check inlined: this runs on most orders
        if is_buy:
            best = book.asks.best
            if best is not None and best.price <= price:
                return False
        else:
            best = book.bids.best
            if best is not None and best.price >= price:
                return False
        position = account.positions.get(symbol)
        held = 0 if position is None else position.qty
        outbox = self.outbox
        ioc_unread = tif is _IOC and e.Cancelled in outbox.skipped
        if held and (held > 0) != is_buy and not ioc_unread and not solvent_at(
                instrument, position, collateral(account, symbol, self.instruments, self.mark),
                price):
            # a close the bankruptcy price may cap (``_execute``): a GTC order would not rest,
            # an IOC's cancel would give that reason. An IOC that cannot trade leaves the same
            # state either way, so when its cancel is not read the cap is moot.
            return False
        per_lot = instrument.cash_per_tick_lot
        notional = price * qty * per_lot
        if notional < instrument.min_notional:
            return False
        if (price > mark * (RATE_SCALE + instrument.price_band) // RATE_SCALE if is_buy
                else price < ceil_div(mark * (RATE_SCALE - instrument.price_band), RATE_SCALE)):
            return False  # outside the band (``band``)
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        reserve = account.reserves.get(symbol, EMPTY)
        ladder = reserve.plain[is_buy]
        keys = ladder.keys  # the side's highest price: ``ladder.highest()``
        worst = price if price > mark else mark
        if keys:
            highest = -keys[0] if is_buy else keys[-1]
            if highest > worst:
                worst = highest
        exposure = (held if is_buy else -held) + qty + ladder.total
        if exposure > 0:
            reach = worst * exposure * per_lot
            if (instrument.max_leverage_for(reach) if reach > instrument.tier_caps[0]
                    else instrument.tiers[0].max_leverage) < leverage:
                return False
        if reserve.held:
            before, after = reserve.order_cost(instrument, held, mark, leverage, is_buy, price,
                                               qty)
        else:  # ``order_cost`` with nothing resting on either side
            before = 0
            after = lone_order_margin(per_lot, held, mark, leverage, is_buy, price, qty)
        cost = after - before
        if cost > 0:
            cost += mul_rate_up(notional, instrument.taker_fee)
            if cost > available_balance(account, self.instruments, self.mark, symbol, before):
                return False
        # accepted: what _submit, _open and _execute do for an order that cannot trade
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        if not outbox.skip(e.Accepted):
            outbox.emit(e.Accepted, order_id=order_id, account=account.id, symbol=symbol,
                        side=cmd.side, type=_LIMIT, qty=qty, tif=tif, post_only=False,
                        reduce_only=False, stp=cmd.stp, price=price, trigger_price=None,
                        trigger_by=None, client_id=client_id)
        if tif is _IOC:
            # opened and closed at once: the account's orders and totals end as they were
            if not outbox.skip(e.Cancelled):
                outbox.emit(e.Cancelled, order_id=order_id, account=account.id, symbol=symbol,
                            reason=CancelReason.IOC_REMAINDER, remaining=qty,
                            client_id=client_id)
            return True
        order = Order(order_id=order_id, account=account.id, symbol=symbol, side=cmd.side,
                      type=_LIMIT, qty=qty, price=price, client_id=client_id, stp=cmd.stp)
        account.add_order(order)
        book.add(order)
        account.refresh_order(order)
        return True

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
            refusal = self.refusal(account, instrument, order, mark)
            if refusal is not None:
                raise refusal
        self.next_order_id += 1
        self._open(account, order)
        if not self.outbox.skip(e.Accepted):
            self.outbox.emit(e.Accepted, order_id=order.order_id, account=order.account,
                             symbol=order.symbol, side=order.side, type=order.type, qty=order.qty,
                             tif=order.tif, post_only=order.post_only,
                             reduce_only=order.reduce_only, stp=order.stp, price=order.price,
                             trigger_price=order.trigger_price, trigger_by=order.trigger_by,
                             client_id=order.client_id)
        if kind.is_conditional:
            self.conditional[order.symbol][order.order_id] = order
            return
        if self._execute(account, instrument, order):
            self.fire_triggers(order.symbol)

    def _check_reduces(self, account: Account, symbol: str, is_buy: bool) -> None:
        position = account.position_qty(symbol)
        if position == 0 or (position > 0) == is_buy:
            raise Refusal(RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                          "reduce_only order would open or increase a position"
                          if position == 0 else
                          "reduce_only order is on the same side as the position")

    def band(self, instrument: Instrument, is_buy: bool, mark: int) -> int:
        """The furthest price an order of this side may rest at or trade at, in ticks."""
        if is_buy:
            return mark * (RATE_SCALE + instrument.price_band) // RATE_SCALE
        return ceil_div(mark * (RATE_SCALE - instrument.price_band), RATE_SCALE)

    def refusal(self, account: Account, instrument: Instrument, order: Order,
                mark: int | None = None) -> Refusal | None:
        """The first rule an order breaks on entering the book, or None. Changes nothing.
        ``mark``: the symbol's mark, when the caller has just read it."""
        symbol, is_buy = order.symbol, order.is_buy
        book = self.books[symbol]
        if mark is None:
            mark = self._mark(symbol)
        band = self.band(instrument, is_buy, mark)
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
                lambda maker: abs(self.ledger.accounts[maker].position_qty(symbol)))
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
        reserve = account.reserve_on(symbol)
        position = account.position_qty(symbol)
        # check_tier at the mark already read: the exposure valued at the highest price it
        # could be reached at
        resting, highest = reserve.exposure(is_buy)
        worst = max(assume_price, mark) if highest is None else max(assume_price, mark, highest)
        try:
            self._check_reach(instrument, is_buy, position, qty + resting, worst, leverage)
        except Refusal as refusal:
            return refusal
        before, after = reserve.order_cost(instrument, position, mark, leverage, is_buy,
                                           assume_price, qty)
        cost = after - before
        if cost > 0:
            # an order that opens also needs its taker fee: fees come out of the wallet, and an
            # isolated open must not leave the cross wallet short of them
            cost += mul_rate_up(instrument.notional(assume_price, qty), instrument.taker_fee)
            available = available_balance(account, self.instruments, self.mark, symbol, before)
            if cost > available:
                return Refusal(RejectReason.INSUFFICIENT_MARGIN,
                               f"order needs {format_cash(cost)} USDT of margin and fees, "
                               f"{format_cash(max(0, available))} available")
        return None

    def check_tier(self, account: Account, instrument: Instrument, is_buy: bool, qty: int,
                    price: int, leverage: int) -> None:
        """Refuse unless the largest position this side could reach fits a tier that allows
        ``leverage`` (Binance: max leverage is bounded by the bracket of the notional)."""
        symbol = instrument.symbol
        mark = self._mark(symbol) if self.mark[symbol] is not None else price
        # notional grows with price on either side: value the exposure at the highest price
        # it could be reached at
        resting, highest = account.reserve_on(symbol).exposure(is_buy)
        worst = max(price, mark) if highest is None else max(price, mark, highest)
        self._check_reach(instrument, is_buy, account.position_qty(symbol), qty + resting,
                          worst, leverage)

    @staticmethod
    def _check_reach(instrument: Instrument, is_buy: bool, position: int, lots: int,
                     worst: int, leverage: int) -> None:
        """The tier check of a side whose orders add ``lots`` to ``position``, valued at
        ``worst``."""
        exposure = (position if is_buy else -position) + lots
        if exposure <= 0:
            return
        notional = instrument.notional(worst, exposure)
        if instrument.max_leverage_for(notional) < leverage:
            raise Refusal(RejectReason.LEVERAGE_TOO_HIGH,
                          f"a {format_cash(notional)} USDT position is above the cap for "
                          f"{leverage}x on {instrument.symbol}; lower the leverage")

    def _open(self, account: Account, order: Order) -> None:
        account.add_order(order)

    def _close(self, order: Order) -> None:
        """Forget an order that is done (filled, cancelled or expired)."""
        self.ledger.accounts[order.account].remove_order(order)

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
                    self.outbox.cancelled(order, CancelReason.REDUCE_ONLY)
                    self._close(order)
                    return False
        book = self.books[symbol]
        # (the entry checks have read the mark: a limit order needs no band here)
        limit = order.price if order.price is not None else self.band(
            instrument, order.is_buy, self._mark(symbol))
        position = account.position_qty(symbol)
        capped = False
        if position and (position > 0) != order.is_buy and not solvent_at(
                instrument, account.positions[symbol],
                collateral(account, symbol, self.instruments, self.mark), limit):
            # closing through the bankruptcy price would leave the account owing money: a
            # reducing taker stops there (the liquidation waterfall handles what is left);
            # the solver runs only when the limit may reach that price
            bankruptcy = bankruptcy_tick(self.instruments, self.mark, account, symbol)
            capped = bankruptcy > limit if not order.is_buy else bankruptcy < limit
            if capped:
                limit = bankruptcy
        filled_before = order.filled
        stp_expired = match(book, order, limit, self._on_fill_for(order), self.on_stp)
        traded = order.filled > filled_before
        if order.remaining == 0:
            self._close(order)
        elif stp_expired:
            self.outbox.cancelled(order, CancelReason.STP)
            self._close(order)
        elif capped:
            self.outbox.cancelled(order, CancelReason.BANKRUPTCY_PRICE)
            self._close(order)
        elif order.price is None:
            best = book.best_level(Side.SELL if order.is_buy else Side.BUY)
            self.outbox.cancelled(order, CancelReason.NO_LIQUIDITY if best is None
                            else CancelReason.BAND)
            self._close(order)
        elif order.tif is TimeInForce.GTC:
            book.add(order)
            account.refresh_order(order)
            if order.reduce_only:  # with the others resting, it may now reduce too much
                self.fit_reduce_only(account, symbol)
        else:
            self.outbox.cancelled(order, CancelReason.IOC_REMAINDER if order.tif is TimeInForce.IOC
                            else CancelReason.FOK_NOT_FILLED)
            self._close(order)
        return traded

    def _on_fill_for(self, taker: Order) -> Callable[[Order, int, int], None]:
        def on_fill(maker: Order, price: int, qty: int) -> None:
            self.trade(taker, maker, price, qty)
        return on_fill

    def on_stp(self, maker: Order) -> None:
        self.outbox.cancelled(maker, CancelReason.STP)
        self._close(maker)

    def trade(self, taker: Order, maker: Order, price: int, qty: int,
               taker_pays_fee: bool = True, taker_liquidated: bool = False) -> int:
        """Book a trade between a taker and a resting maker; return the trade id.
        ``taker_liquidated``: the taker is the liquidation waterfall's order."""
        symbol = taker.symbol
        instrument = self.instruments[symbol]
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        self.last[symbol] = price
        self.outbox.trade(trade_id, symbol, price, qty, taker.side)
        notional = instrument.notional(price, qty)
        taker_fee = mul_rate_up(notional, instrument.taker_fee) if taker_pays_fee else 0
        taker_account = self.ledger.owner(taker.account)
        maker_account = self.ledger.accounts[maker.account]
        self._settle_fill(taker_account, taker, trade_id, price, qty, taker_fee,
                          Liquidity.TAKER, taker_liquidated)
        self._settle_fill(maker_account, maker, trade_id, price, qty,
                          mul_rate_up(notional, instrument.maker_fee), Liquidity.MAKER)
        if not maker.live:
            maker_account.remove_order(maker)  # _close
        if maker_account.reducing.get(symbol):
            self.fit_reduce_only(maker_account, symbol)
        reducing = taker_account.reducing.get(symbol)
        if reducing and (len(reducing) > 1 or taker.order_id not in reducing):
            # (a reduce-only taker is listed there while it matches, but it does not rest)
            self.fit_reduce_only(taker_account, symbol)
        return trade_id

    def _settle_fill(self, account: Account, order: Order, trade_id: int, price: int, qty: int,
                     fee: int, liquidity: Liquidity, liquidated: bool = False) -> None:
        symbol = order.symbol
        reserve = account.reserves.get(symbol)
        if reserve is not None:  # a maker's fill shrank it or took it out of the book
            reserve.refresh(order)
        elif order.live:
            account.refresh_order(order)
        realized = self.ledger.settle_fill(account, symbol, qty if order.is_buy else -qty,
                                           price, fee, liquidated)
        self.outbox.fill(trade_id, order, account.id, price, qty, -fee, liquidity, realized,
                         account.positions[symbol].qty)

    def _shrink(self, order: Order, qty: int, book: OrderBook | None) -> None:
        """Take ``qty`` off an order's size for reduce-only, keeping its place in the queue."""
        if book is not None:
            book.reduce(order, qty, filled=False)
            self.ledger.owner(order.account).refresh_order(order)
        else:
            order.qty -= qty
        if order.remaining:
            if not self.outbox.skip(e.Amended):
                self.outbox.emit(e.Amended, order_id=order.order_id, account=order.account,
                                 symbol=order.symbol, qty=order.qty, remaining=order.remaining,
                                 price=order.price, reason=AmendReason.REDUCE_ONLY,
                                 client_id=order.client_id)

    def fit_reduce_only(self, account: Account, symbol: str) -> None:
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
                self.outbox.cancelled(order, CancelReason.REDUCE_ONLY)
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

    def fire_triggers(self, symbol: str) -> None:
        """Fire every conditional order of ``symbol`` whose trigger is reached, oldest first;
        a fired order that trades can move the last price and fire more. Orders the prices do
        not reach are not looked at (engine/triggers.py)."""
        pending = self.conditional[symbol]
        mark, last = self.mark, self.last
        while True:  # (an empty book's reach is infinite: next_fired is then one test)
            fired = pending.next_fired(mark[symbol], last[symbol])
            if fired is None:
                return
            del pending[fired.order_id]
            self._trigger(fired)

    def _trigger(self, order: Order) -> None:
        assert order.trigger_price is not None and order.trigger_by is not None
        order.type = order.type.triggered_type
        self.outbox.emit(e.Triggered, order_id=order.order_id, account=order.account,
                         symbol=order.symbol, trigger_price=order.trigger_price,
                         trigger_by=order.trigger_by, type=order.type, client_id=order.client_id)
        account = self.ledger.accounts[order.account]
        instrument = self.instruments[order.symbol]
        if order.reduce_only:
            position = account.position_qty(order.symbol)
            if position == 0 or (position > 0) == order.is_buy:
                self.outbox.cancelled(order, CancelReason.REDUCE_ONLY)
                self._close(order)
                return
        refusal = self.refusal(account, instrument, order)
        if refusal is not None:
            self.outbox.cancelled(order, CANCEL_REASON_OF_REFUSAL[refusal.reason])
            self._close(order)
            return
        self._execute(account, instrument, order)

    # -- orders: cancel and amend --------------------------------------------------------------

    def remove_open(self, order: Order) -> None:
        if order.live:
            self.books[order.symbol].remove(order)
        else:
            self.conditional[order.symbol].pop(order.order_id, None)
        self._close(order)

    def cancel(self, cmd: c.CancelOrder) -> None:
        account = self._account(cmd.account)
        order = self._find_order(account, cmd.order_id, cmd.client_id)
        self.remove_open(order)
        self.outbox.cancelled(order, CancelReason.USER)

    def cancel_all(self, cmd: c.CancelAll) -> None:
        account = self._account(cmd.account)
        if cmd.symbol is not None:
            self._instrument(cmd.symbol)
        for order in [o for o in account.orders.values()
                      if cmd.symbol is None or o.symbol == cmd.symbol]:
            self.remove_open(order)
            self.outbox.cancelled(order, CancelReason.USER)

    def amend(self, cmd: c.AmendOrder) -> None:
        self._amend_with(cmd, self._lots, self._ticks)

    def amend_units(self, cmd: u.AmendOrder) -> None:
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
            refusal = self.refusal(account, instrument, candidate)
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
            self.fire_triggers(order.symbol)

    def _amended(self, order: Order) -> None:
        if not self.outbox.skip(e.Amended):
            self.outbox.emit(e.Amended, order_id=order.order_id, account=order.account,
                             symbol=order.symbol, qty=order.qty, remaining=order.remaining,
                             price=order.price, client_id=order.client_id)

    # -- orders: the ladder replace of a quoting participant -----------------------------------

    def replace_ladder(self, cmd: u.ReplaceLadder) -> None:
        """All of one account's quotes on a symbol at once (unit_commands.ReplaceLadder):
        everything is checked, one margin check included, before anything changes."""
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        symbol = cmd.symbol
        mark = self._mark(symbol)
        book = self.books[symbol]
        reserve = account.reserve_on(symbol)
        cancel: list[Order] = []
        shrink: list[tuple[Order, int]] = []
        new: list[tuple[bool, int, int]] = []
        # [is_buy]: the side's plain lots by price as the replace leaves them (the levels it
        # lists: each rests as listed, kept, shrunk or placed anew), None for a side not given
        plain_lots: list[dict[int, int] | None] = [None, None]
        best_new: list[int | None] = [None, None]  # [is_buy]: the side's best new quote
        # the account's plain resting orders of each side, in queue order: the reserve counts
        # exactly those (engine/reserve.py), so the account's other orders are not looked at
        orders = account.orders
        resting: tuple[list[Order], list[Order]] = ([], [])  # [is_buy]
        for order_id, (buy, _, _, reduce_only) in reserve.held.items():
            if not reduce_only:
                resting[buy].append(orders[order_id])
        max_qty, min_qty = instrument.max_qty, instrument.min_qty
        per_lot, min_notional = instrument.cash_per_tick_lot, instrument.min_notional
        for is_buy, levels in ((True, cmd.bids), (False, cmd.asks)):
            if levels is None:
                continue
            wanted: dict[int, int] = {}
            band = self.band(instrument, is_buy, mark)
            for price, lots in levels:
                if type(price) is not int or price <= 0:  # the checks raise only then
                    self._positive_ticks(instrument, price, "price")
                if type(lots) is not int or not 0 < lots <= max_qty or lots < min_qty:
                    self._checked_lots(instrument, lots, max_qty)
                if price in wanted:
                    raise Refusal(RejectReason.INVALID_ORDER,
                                  f"price {instrument.format_price(price)} is listed twice")
                if price > band if is_buy else price < band:
                    raise Refusal(RejectReason.PRICE_OUT_OF_BAND,
                                  f"{'bid above' if is_buy else 'ask below'} the "
                                  f"{instrument.format_price(band)} limit of the price band")
                if price * lots * per_lot < min_notional:  # instrument.notional, inlined
                    raise Refusal(RejectReason.BELOW_MIN_NOTIONAL,
                                  f"notional below the minimum "
                                  f"{format_cash(instrument.min_notional)} USDT")
                wanted[price] = lots
            plain_lots[is_buy] = dict(wanted)
            quotes = resting[is_buy]
            quotes.sort(key=_QUEUED)
            for order in quotes:
                lots = wanted.pop(order.price, None)  # type: ignore[arg-type]
                if lots is None or lots > order.remaining:
                    cancel.append(order)
                    if lots is not None:
                        wanted[order.price] = lots  # type: ignore[index]  # to the back
                elif lots < order.remaining:
                    shrink.append((order, order.remaining - lots))
            if wanted:
                best_new[is_buy] = max(wanted) if is_buy else min(wanted)
                new += [(is_buy, price, lots) for price, lots in wanted.items()]
        # the new quotes are not in the book yet: the book check below cannot see a new bid
        # at or above a new ask of the same ladder
        top_bid, low_ask = best_new[True], best_new[False]
        if top_bid is not None and low_ask is not None and top_bid >= low_ask:
            raise Refusal(RejectReason.INVALID_ORDER,
                          f"the ladder's bid at {instrument.format_price(top_bid)} is at or "
                          f"above its ask at {instrument.format_price(low_ask)}")
        # only the best new quote of a side can be the first to reach the other side
        if ((top_bid is not None and book.would_cross(True, top_bid))
                or (low_ask is not None and book.would_cross(False, low_ask))):
            leaving = {order.order_id for order in cancel}
            for is_buy, price in ((True, top_bid), (False, low_ask)):
                if price is not None and self._crosses_after(book, is_buy, price, account.id,
                                                             leaving):
                    raise Refusal(RejectReason.POST_ONLY_WOULD_TAKE,
                                  f"a quote at {instrument.format_price(price)} would trade "
                                  "against the book")
        plain = self._check_ladder_margin(account, instrument, reserve, plain_lots, new)
        outbox = self.outbox
        changed = []  # the orders shrunk or placed: the totals are replaced once, at the end
        for order in cancel:
            book.remove(order)
            account.unlist_order(order)  # _close, but for the totals
        if not outbox.skip_all(e.Cancelled, len(cancel)):
            for order in cancel:
                outbox.cancelled(order, CancelReason.USER)
        for order, lots in shrink:
            book.reduce(order, lots, filled=False)
            changed.append(order)
            self._amended(order)
        order_id = self.next_order_id
        self.next_order_id = order_id + len(new)
        account_id = account.id
        placed = [Order(order_id=order_id + n, account=account_id, symbol=symbol,
                        side=_BUY if is_buy else _SELL, type=_LIMIT, qty=lots, price=price,
                        post_only=True)
                  for n, (is_buy, price, lots) in enumerate(new)]
        for order in placed:
            account.add_order(order)  # _open
        if not outbox.skip_all(e.Accepted, len(placed)):
            for order in placed:
                outbox.emit(e.Accepted, order_id=order.order_id, account=account_id,
                            symbol=symbol, side=order.side, type=_LIMIT, qty=order.qty,
                            tif=order.tif, post_only=True, reduce_only=False, stp=order.stp,
                            price=order.price)
        for order in placed:
            book.add(order)
        changed += placed
        account.replace_quotes(symbol, cancel, changed, plain)

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

    @staticmethod
    def _ladder_after(is_buy: bool, lots: dict[int, int] | None, held: Ladder) -> Ladder:
        """A side's plain ladder after a replace: the listed levels, or what it held when the
        replace leaves the side out (a fresh ladder for an empty side: ``EMPTY``'s are
        shared)."""
        if lots is not None:
            return Ladder.of(is_buy, lots)
        return held if held.total else Ladder(is_buy)

    def _check_ladder_margin(self, account: Account, instrument: Instrument,
                             reserve: SymbolReserve, plain_lots: list[dict[int, int] | None],
                             new: list[tuple[bool, int, int]]) -> tuple[Ladder, Ladder]:
        """One margin check for the whole new ladder: the tier of each side's reach, and the
        order margin (plus the fees of what would open) against the available balance.
        Returns the plain ladders (engine/reserve.py) as the replace would leave them: a side
        the ladder lists holds exactly its levels (``plain_lots``), a side it leaves out holds
        what it held; built here, checked, and installed by the replace once it has moved the
        orders."""
        symbol = instrument.symbol
        mark = self._mark(symbol)
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        position = account.position_qty(symbol)
        # built afresh from the levels: a replace rewrites most of a side, so that is cheaper
        # than moving the running totals level by level, and "before" is the running total
        held = reserve.plain
        plain = (self._ladder_after(False, plain_lots[False], held[False]),
                 self._ladder_after(True, plain_lots[True], held[True]))
        # the reach of each side the ladder adds to: its lots and its highest price (or mark);
        # ``new`` lists the bids before the asks, so its ends name the sides it adds to
        for is_buy in {new[0][0], new[-1][0]} if new else ():
            ladder = plain[is_buy]
            highest = ladder.highest()
            self._check_reach(instrument, is_buy, position, ladder.total,
                              mark if highest is None else max(highest, mark), leverage)
        before = reserve.order_margin(instrument, position, mark, leverage)
        cost = plain_margin(plain, instrument, position, mark, leverage) - before
        if cost > 0:
            cost += mul_rate_up(sum([p * q for _, p, q in new]) * instrument.cash_per_tick_lot,
                                instrument.taker_fee)
            available = available_balance(account, self.instruments, self.mark, symbol, before)
            if cost > available:
                raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                              f"the ladder needs {format_cash(cost)} USDT of margin and fees, "
                              f"{format_cash(max(0, available))} available")
        return plain
