"""The liquidation waterfall (PERP-MECHANICS.md §4.1), run after every mark change and after
every funding settlement.

For each account that fails the margin test (a cross account as a whole, or one isolated
position), in account-id order:

1. cancel its open orders (all of them for cross, the symbol's for isolated);
2. reduce tier by tier: an IOC order for the smallest quantity that moves the position's
   notional into the next lower tier (all of it in tier 1), priced no worse than the
   position's bankruptcy price, into the book; re-check after each step;
3. charge the clearance fee on each liquidation fill to the insurance fund, never more than
   what the account has left;
4. if the book cannot absorb a step at or better than the bankruptcy price and the account
   still fails the test, the insurance fund takes the rest over at the bankruptcy price;
5. if the fund cannot afford that (its equity would go negative), auto-deleverage: close the
   most profitable, most leveraged opposite positions (BitMEX ranking) at that price.

A bankrupt account's remaining collateral goes to the fund. A cross wallet the waterfall (or a
close by hand) leaves below zero while other cross positions hold gains is paid from them:
they are closed for the lots the deficit needs (``_pay_deficit``). No wallet is left below
zero.
The liquidator owns the waterfall; money and positions move through the ledger, orders
through the order desk it is given (cancel, trade, refit reduce-only, fire triggers).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

from engine import events as e
from engine.book import Order
from engine.enums import (
    CancelReason,
    LiquidationStage,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
)
from engine.margin import (
    Health,
    bankruptcy_ticks,
    collateral,
    cross_fails,
    cross_health,
    isolated_health,
    maintenance_margin,
)
from engine.matching import crosses, match
from engine.units import mul_rate_up

if TYPE_CHECKING:
    from engine.account import Account, Position
    from engine.book import OrderBook
    from engine.instrument import Instrument
    from engine.ledger import Ledger
    from engine.outbox import Outbox


class OrderDesk(Protocol):
    """What the waterfall asks of order entry (engine/entry.py), wired by the exchange."""

    def take_order_id(self) -> int: ...
    def band(self, instrument: Instrument, is_buy: bool, mark: int) -> int: ...
    def remove_open(self, order: Order) -> None: ...
    def trade(self, taker: Order, maker: Order, price: int, qty: int,
              taker_pays_fee: bool = True, taker_liquidated: bool = False) -> int: ...
    def on_stp(self, maker: Order) -> None: ...
    def fit_reduce_only(self, account: Account, symbol: str) -> None: ...
    def fire_triggers(self, symbol: str) -> None: ...


def bankruptcy_tick(instruments: Mapping[str, Instrument], marks: Mapping[str, int | None],
                    account: Account, symbol: str) -> int:
    """The bankruptcy price on the tick that leaves the account no deficit: up for a long,
    down for a short (PERP-MECHANICS.md E13). At least one tick."""
    position = account.positions[symbol]
    price = bankruptcy_ticks(instruments[symbol], position,
                             collateral(account, symbol, instruments, marks))
    if price is None:
        # a long: the collateral covers the whole cost, any price is solvent. A short: no
        # price is, the rest of the account lost more than this position is worth; the
        # mark is the least arbitrary place to close it
        mark = marks[symbol]
        assert mark is not None
        return 1 if position.qty > 0 else mark
    return max(1, price)


class Liquidator:
    """The waterfall, the insurance fund's takeovers and unwinds, ADL."""

    def __init__(self, instruments: Mapping[str, Instrument], books: Mapping[str, OrderBook],
                 marks: dict[str, int | None], ledger: Ledger, outbox: Outbox,
                 orders: OrderDesk) -> None:
        self.instruments = instruments
        self.books = books
        self.mark = marks
        """Each symbol's mark price (pricing's; read only)."""
        self.ledger = ledger
        self.outbox = outbox
        self.orders = orders

    def check_liquidations(self, symbol: str) -> None:
        """Liquidate every holder of ``symbol`` that fails the margin test now, in account-id
        order. The numpy screen (engine/sweep.py) names the candidates; each is confirmed
        exactly. ADL can leave a counterparty failing the test, so repeat until none does;
        then the fund unwinds and every trigger the prices now reach fires (the exchange's
        ``_after_mark_change`` counts on this last step)."""
        mark = self.mark[symbol]
        assert mark is not None
        while True:
            self.ledger.screen.refresh(self.ledger.accounts)
            failing = []
            for account_id in sorted(self.ledger.screen.candidates(symbol, mark)):
                account = self.ledger.accounts[account_id]
                position = account.positions[symbol]
                unit = symbol if position.isolated else None
                if position.qty and self._health(account, unit).is_liquidatable:
                    failing.append((account, unit))
            if not failing:
                self._unwind_fund(symbol)
                self.orders.fire_triggers(symbol)  # their fills move the last price
                return
            for account, unit in failing:
                position = account.positions[symbol]
                if position.qty and self._health(account, unit).is_liquidatable:
                    self._liquidate(account, unit)

    def check_moved_accounts(self) -> None:
        """A fill far from the mark (a resting order the market ran through, a takeover, an
        ADL close) can leave an account failing the margin test with no mark move to notice
        it: check every account whose positions changed, as a venue's risk engine does after
        fills. Liquidating can move more accounts; repeat until none is left to check."""
        while self.ledger.moved:
            moved = sorted(self.ledger.moved)
            self.ledger.moved.clear()
            for account_id in moved:
                account = self.ledger.accounts[account_id]
                # (a position is isolated only in a symbol the account set isolated)
                isolated = [s for s, p in account.positions.items() if p.isolated and p.qty
                            ] if account.isolated_symbols else ()
                if cross_fails(account, self.instruments, self.mark):
                    self._liquidate(account, None)
                elif account.wallet < 0:
                    self._pay_deficit(account)
                if isolated:
                    for unit in sorted(isolated):
                        if self._health(account, unit).is_liquidatable:
                            self._liquidate(account, unit)

    def check_account(self, account: Account, isolated_symbol: str | None) -> None:
        """Liquidate the account's cross part (``None``) or one isolated position if it
        fails the margin test now; a passing cross part with its wallet below zero pays the
        deficit from its gains."""
        if self._health(account, isolated_symbol).is_liquidatable:
            self._liquidate(account, isolated_symbol)
        elif isolated_symbol is None and account.wallet < 0:
            self._pay_deficit(account)

    def _health(self, account: Account, isolated_symbol: str | None) -> Health:
        if isolated_symbol is None:
            return cross_health(account, self.instruments, self.mark)
        mark = self.mark[isolated_symbol]
        assert mark is not None
        return isolated_health(self.instruments[isolated_symbol],
                               account.positions[isolated_symbol], mark)

    def _liquidate(self, account: Account, isolated_symbol: str | None) -> None:
        for order in [o for o in account.orders.values()
                      if isolated_symbol is None or o.symbol == isolated_symbol]:
            self.orders.remove_open(order)
            self.outbox.cancelled(order, CancelReason.LIQUIDATION)
        while self._health(account, isolated_symbol).is_liquidatable:
            symbol = isolated_symbol or self._riskiest_cross_position(account)
            step = self._reduction_step(symbol, account.positions[symbol])
            filled = self._reduce(account, symbol, step)
            if filled < step and self._health(account, isolated_symbol).is_liquidatable:
                self._take_over(account, symbol, isolated=isolated_symbol is not None)
        if isolated_symbol is None:
            self._pay_deficit(account)

    def _pay_deficit(self, account: Account) -> None:
        """A cross wallet below zero while other cross positions hold gains (a loss realized
        beyond the wallet, by a close or a liquidation priced against the whole account's
        margin balance) is paid by those gains: the most profitable cross position is closed,
        only as many lots as the deficit needs after the clearance fee, into the book no
        worse than its bankruptcy price, and the fund takes at the mark what the book cannot
        fill, until the wallet is back at zero or above (DESIGN.md §3: no wallet is left below
        zero). The account passes the margin test here, so its gains at the mark cover the
        deficit."""
        while account.wallet < 0:
            held = [s for s, p in account.positions.items() if p.qty and not p.isolated]
            if not held:
                self.ledger.seize(account, account.wallet)  # negative: the fund tops it up
                return
            gains = {s: self._unrealized(account, s) for s in held}
            symbol = max(held, key=lambda s: (gains[s], s))
            position, gain = account.positions[symbol], gains[symbol]
            if gain <= 0:  # the margin balance is below zero: bankrupt, the waterfall's case
                self._take_over(account, symbol, isolated=False)
                continue
            size, mark = abs(position.qty), self.mark[symbol]
            assert mark is not None
            instrument = self.instruments[symbol]
            net = gain - mul_rate_up(instrument.notional(mark, size), instrument.clearance_fee)
            lots = size if net <= 0 else min(size, -(account.wallet * size // net))  # ceil
            if self._reduce(account, symbol, lots) == 0:
                self._fund_takes_at_mark(account, symbol, lots)

    def _unrealized(self, account: Account, symbol: str) -> int:
        mark = self.mark[symbol]
        assert mark is not None
        return account.positions[symbol].unrealized_pnl(
            mark, self.instruments[symbol].cash_per_tick_lot)

    def _fund_takes_at_mark(self, account: Account, symbol: str, lots: int) -> None:
        """The fund takes ``lots`` of a solvent account's position at the mark: the close
        realizes the gain the margin test already counted, and costs the fund nothing."""
        mark = self.mark[symbol]
        assert mark is not None
        position = account.positions[symbol]
        signed = lots if position.qty > 0 else -lots
        bankruptcy = self.bankruptcy_tick(account, symbol)
        self.ledger.move_position(account, symbol, -signed, mark, liquidated=True)
        self.ledger.move_position(self.ledger.insurance, symbol, signed, mark)
        self.orders.fit_reduce_only(account, symbol)
        self.outbox.emit(e.Liquidation, account=account.id, symbol=symbol,
                         side=Side.SELL if signed > 0 else Side.BUY, qty=lots, price=mark,
                         bankruptcy_price=bankruptcy, fee=0, insurance_delta=0,
                         stage=LiquidationStage.TAKEOVER)

    # -- choosing what to sell ------------------------------------------------------------------

    def _riskiest_cross_position(self, account: Account) -> str:
        """The cross position losing the most at the mark, then the largest maintenance
        margin, then the symbol: the loss is closed where it is, so that a healthy position
        is not closed at a price that carries another symbol's loss."""
        def risk(symbol: str) -> tuple[int, int, str]:
            position, mark = account.positions[symbol], self.mark[symbol]
            assert mark is not None
            instrument = self.instruments[symbol]
            return (position.unrealized_pnl(mark, instrument.cash_per_tick_lot),
                    -maintenance_margin(instrument, position.qty, mark), symbol)
        return min((s for s, p in account.positions.items() if p.qty and not p.isolated),
                   key=risk)

    def _reduction_step(self, symbol: str, position: Position) -> int:
        """Lots that move the notional at mark into the next lower tier; all of it in tier 1."""
        instrument, mark = self.instruments[symbol], self.mark[symbol]
        assert mark is not None
        size = abs(position.qty)
        tier = instrument.tier_for(instrument.notional(mark, size)) or instrument.tiers[-1]
        if tier.floor == 0:
            return size
        keep = tier.floor // (mark * instrument.cash_per_tick_lot)  # the next tier's cap
        return max(1, size - keep)

    def bankruptcy_tick(self, account: Account, symbol: str) -> int:
        return bankruptcy_tick(self.instruments, self.mark, account, symbol)

    # -- step 2 and 3: into the book ------------------------------------------------------------

    def _reduce(self, account: Account, symbol: str, qty: int) -> int:
        """IOC sells (buys) of ``qty`` lots into the book, never worse than the bankruptcy
        price; returns the lots filled.

        One resting order at a time: each fill's clearance fee leaves less collateral behind
        the rest of the position, which moves its bankruptcy price, so the limit is worked out
        again before the next order is taken.
        """
        position = account.positions[symbol]
        side = Side.SELL if position.qty > 0 else Side.BUY
        book = self.books[symbol]
        order_id = self.orders.take_order_id()
        filled = 0
        while filled < qty and position.qty:
            level = book.best_level(Side.BUY if side is Side.SELL else Side.SELL)
            bankruptcy = self.bankruptcy_tick(account, symbol)
            if level is None or not crosses(side is Side.BUY, bankruptcy, level.price):
                break
            order = Order(order_id=order_id, account=account.id, symbol=symbol, side=side,
                          type=OrderType.LIMIT, qty=min(qty - filled, level.front().remaining),
                          price=bankruptcy, tif=TimeInForce.IOC, stp=StpMode.EXPIRE_MAKER)

            def on_fill(maker: Order, price: int, lots: int, order: Order = order) -> None:
                wallet_before = account.wallet
                self.orders.trade(order, maker, price, lots, taker_pays_fee=False,
                            taker_liquidated=True)
                self._clearance_fee(account, order, price, lots,
                                    released=account.wallet - wallet_before)

            match(book, order, level.price, on_fill, self.orders.on_stp)
            if order.filled == 0:
                break
            filled += order.filled
        return filled

    def _clearance_fee(self, account: Account, order: Order, price: int, qty: int,
                       released: int) -> None:
        """Charge the clearance fee of one liquidation fill to the insurance fund, capped by
        what the account (or the isolated position) still has (PERP-MECHANICS.md §1.15)."""
        symbol = order.symbol
        instrument = self.instruments[symbol]
        position = account.positions[symbol]
        if position.isolated and position.qty:
            left = self._health(account, symbol).equity
        elif position.isolated:
            left = released  # the close gave the rest of the position's margin back
        else:
            left = self._health(account, None).equity
        fee = min(mul_rate_up(instrument.notional(price, qty), instrument.clearance_fee),
                  max(0, left))
        self.ledger.charge_clearance_fee(account, symbol, fee)
        assert order.price is not None
        self.outbox.emit(e.Liquidation, account=account.id, symbol=symbol, side=order.side, qty=qty,
                         price=price, bankruptcy_price=order.price, fee=-fee, insurance_delta=fee,
                         stage=LiquidationStage.REDUCE)

    def _unwind_fund(self, symbol: str) -> None:
        """The fund sells what it took over back into the book (IOC within the price band,
        no fee): it is a backstop, not a trader (PERP-MECHANICS.md §4.1 step 5)."""
        held = self.ledger.insurance.position_qty(symbol)
        if held == 0:
            return
        side = Side.SELL if held > 0 else Side.BUY
        mark = self.mark[symbol]
        assert mark is not None
        limit = self.orders.band(self.instruments[symbol], side is Side.BUY, mark)
        order = Order(order_id=self.orders.take_order_id(), account=self.ledger.insurance.id,
                      symbol=symbol, side=side, type=OrderType.LIMIT, qty=abs(held), price=limit,
                      tif=TimeInForce.IOC, stp=StpMode.EXPIRE_MAKER)

        def on_fill(maker: Order, price: int, lots: int) -> None:
            self.orders.trade(order, maker, price, lots, taker_pays_fee=False)

        match(self.books[symbol], order, limit, on_fill, self.orders.on_stp)
        self.ledger.backstop_fund()

    # -- steps 4 and 5: takeover or ADL ---------------------------------------------------------

    def _take_over(self, account: Account, symbol: str, isolated: bool) -> None:
        """The fund takes the rest of the position at the bankruptcy price, or ADL closes it
        there if the fund cannot afford to; the bankrupt account's leftover goes to the fund."""
        position = account.positions[symbol]
        bankruptcy = self.bankruptcy_tick(account, symbol)
        qty = position.qty
        mark = self.mark[symbol]
        assert mark is not None
        instrument = self.instruments[symbol]
        wallet_before = account.wallet
        fund_equity = cross_health(self.ledger.insurance, self.instruments, self.mark).equity
        # the fund would hold the position from the bankruptcy price, marked at the mark
        deleveraged = fund_equity + qty * (mark - bankruptcy) * instrument.cash_per_tick_lot < 0
        if deleveraged:
            self._deleverage(account, symbol, bankruptcy)
        else:
            self.ledger.move_position(account, symbol, -qty, bankruptcy, liquidated=True)
            self.ledger.move_position(self.ledger.insurance, symbol, qty, bankruptcy)
            self.orders.fit_reduce_only(account, symbol)
        # what is left of a bankrupt position (isolated) or account (cross, once flat)
        if isolated:
            leftover = account.wallet - wallet_before
        elif any(p.qty and not p.isolated for p in account.positions.values()):
            leftover = 0
        else:
            leftover = account.wallet
        self.ledger.seize(account, leftover)
        self.outbox.emit(e.Liquidation, account=account.id, symbol=symbol,
                         side=Side.SELL if qty > 0 else Side.BUY, qty=abs(qty), price=bankruptcy,
                         bankruptcy_price=bankruptcy, fee=0, insurance_delta=leftover,
                         stage=LiquidationStage.ADL if deleveraged else LiquidationStage.TAKEOVER)

    def _deleverage(self, account: Account, symbol: str, price: int) -> None:
        """Close ``account``'s position at ``price`` against the top-ranked opposite
        positions, the insurance fund last."""
        position = account.positions[symbol]
        remaining = abs(position.qty)
        is_long = position.qty > 0
        for counterparty in self._adl_ranking(symbol, not is_long, exclude=account.id):
            if remaining == 0:
                break
            held = counterparty.positions[symbol]
            qty = min(remaining, abs(held.qty))
            remaining -= qty
            for order in [o for o in counterparty.orders.values() if o.symbol == symbol]:
                self.orders.remove_open(order)
                self.outbox.cancelled(order, CancelReason.ADL)
            for who, other, lots in ((counterparty, account, qty if is_long else -qty),
                                     (account, counterparty, -qty if is_long else qty)):
                realized = self.ledger.move_position(who, symbol, lots, price,
                                                     liquidated=who is account)
                self.outbox.emit(e.Adl, account=who.id, symbol=symbol,
                                 side=Side.BUY if lots > 0 else Side.SELL, qty=qty, price=price,
                                 counterparty=other.id, realized_pnl=realized,
                                 position=who.positions[symbol].qty)
                self.orders.fit_reduce_only(who, symbol)

    def _adl_ranking(self, symbol: str, long_side: bool, exclude: str) -> list[Account]:
        """Holders of the given side, highest BitMEX score first: profit % x effective
        leverage when in profit, profit % / effective leverage otherwise; ties by larger
        position, then account id. The insurance fund comes last."""
        mark = self.mark[symbol]
        assert mark is not None
        instrument = self.instruments[symbol]

        def score(account: Account) -> tuple[Fraction, int, str]:
            position = account.positions[symbol]
            pnl = Fraction(position.unrealized_pnl(mark, instrument.cash_per_tick_lot),
                           max(1, position.cost))
            equity = self._health(account, symbol if position.isolated else None).equity
            value = abs(instrument.notional(mark, position.qty))
            leverage = Fraction(value, equity) if equity > 0 else Fraction(10**12)
            ranked = pnl * leverage if pnl > 0 else pnl / leverage
            return (-ranked, -abs(position.qty), account.id)

        holders = [a for a in self.ledger.accounts.values()
                   if a.id != exclude and (a.position_qty(symbol) > 0) == long_side
                   and a.position_qty(symbol) != 0]
        ranked = sorted(holders, key=score)
        if self.ledger.insurance.position_qty(symbol) and (
                self.ledger.insurance.position_qty(symbol) > 0) == long_side:
            ranked.append(self.ledger.insurance)
        return ranked


__all__ = ["Liquidator", "bankruptcy_tick"]
