"""Read models: immutable snapshots of the venue in engine units, cheap enough to read every frame.

The layers above (participants, the replay, the terminal UI) read the venue through these
instead of ``query``: building one changes no state, consumes no ``seq`` and leaves
``state_hash()`` as it was, so a screen that polls ten times a second cannot change what a
replay does. Every number is an integer in engine units (ticks, lots, cash units, rates over
RATE_SCALE, nanoseconds); ``engine.units`` and ``Instrument.format_*`` turn them into text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

from engine.enums import OrderType, Side, TimeInForce, TriggerBy
from engine.margin import (
    collateral_behind,
    maintenance_margin,
    position_initial_margin,
    solve_price,
    summarize,
)

if TYPE_CHECKING:
    from engine.account import Account
    from engine.book import Order
    from engine.exchange import Exchange


class View(msgspec.Struct, frozen=True, kw_only=True):
    pass


class OrderView(View):
    order_id: int
    symbol: str
    side: Side
    type: OrderType
    qty: int
    """Total lots, the filled part included."""
    filled: int
    price: int | None
    trigger_price: int | None
    trigger_by: TriggerBy | None
    tif: TimeInForce
    post_only: bool
    reduce_only: bool
    client_id: str | None
    resting: bool
    """In the book (False: waiting for its trigger)."""

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


class PositionView(View):
    symbol: str
    size: int
    """Signed lots: long > 0."""
    cost: int
    """Entry notional of the open lots in cash units: entry price = cost / (|size| x cash per
    tick-lot), exact."""
    mark: int
    unrealized_pnl: int
    initial_margin: int
    maintenance_margin: int
    leverage: int
    isolated: bool
    isolated_margin: int
    liquidation_price: int | None
    """Ticks, rounded against the trader (long: up, short: down); None where no price is."""
    bankruptcy_price: int | None


class AccountView(View):
    account: str
    wallet_balance: int
    unrealized_pnl: int
    margin_balance: int
    position_margin: int
    order_margin: int
    maintenance_margin: int
    margin_ratio: int | None
    """Maintenance / margin balance over RATE_SCALE, rounded up; None when the balance <= 0."""
    available_balance: int
    max_withdraw: int
    realized_pnl: int
    fees_paid: int
    funding_pnl: int
    positions: tuple[PositionView, ...]
    orders: tuple[OrderView, ...]


class BookView(View):
    symbol: str
    bids: tuple[tuple[int, int], ...]
    """(price ticks, lots) best first."""
    asks: tuple[tuple[int, int], ...]


class SymbolView(View):
    symbol: str
    index: int | None
    mark: int | None
    last: int | None
    funding_rate: int
    """The predicted rate of the next settlement, over RATE_SCALE."""
    last_funding_rate: int
    next_funding: int
    open_interest: int
    """Lots held long (= held short)."""


class InsuranceView(View):
    balance: int
    venue_backstop: int
    """What the venue has put into the fund to keep it from going below zero (>= 0)."""
    positions: tuple[tuple[str, int], ...]
    """(symbol, signed lots) the fund holds."""


def order_view(order: Order) -> OrderView:
    return OrderView(order_id=order.order_id, symbol=order.symbol, side=order.side,
                     type=order.type, qty=order.qty, filled=order.filled, price=order.price,
                     trigger_price=order.trigger_price, trigger_by=order.trigger_by,
                     tif=order.tif, post_only=order.post_only, reduce_only=order.reduce_only,
                     client_id=order.client_id, resting=order.live)


def account_view(exchange: Exchange, account: Account) -> AccountView:
    margin = summarize(account, exchange.instruments, exchange.mark)
    positions = []
    for symbol in sorted(account.positions):
        position = account.positions[symbol]
        if position.qty == 0:
            continue
        instrument = exchange.instruments[symbol]
        mark = exchange.mark[symbol]
        assert mark is not None
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        liquidation, bankruptcy = risk_ticks(exchange, account, symbol)
        positions.append(PositionView(
            symbol=symbol, size=position.qty, cost=position.cost, mark=mark,
            unrealized_pnl=position.unrealized_pnl(mark, instrument.cash_per_tick_lot),
            initial_margin=position_initial_margin(instrument, position.qty, mark, leverage),
            maintenance_margin=maintenance_margin(instrument, position.qty, mark),
            leverage=leverage, isolated=position.isolated,
            isolated_margin=position.isolated_margin, liquidation_price=liquidation,
            bankruptcy_price=bankruptcy))
    return AccountView(
        account=account.id, wallet_balance=margin.wallet_balance,
        unrealized_pnl=margin.unrealized_pnl, margin_balance=margin.margin_balance,
        position_margin=margin.position_margin, order_margin=margin.order_margin,
        maintenance_margin=margin.maintenance_margin, margin_ratio=margin.margin_ratio,
        available_balance=margin.available_balance, max_withdraw=margin.max_withdraw,
        realized_pnl=account.realized_pnl, fees_paid=account.fees_paid,
        funding_pnl=account.funding_pnl, positions=tuple(positions),
        orders=tuple(order_view(o) for o in account.orders.values()))


def risk_ticks(exchange: Exchange, account: Account,
               symbol: str) -> tuple[int | None, int | None]:
    """Liquidation and bankruptcy price of one position for display, rounded to the tick
    against the trader (long: up, short: down); None where no positive price exists. Cross
    positions hold the account's other cross positions at their current marks."""
    instrument = exchange.instruments[symbol]
    position = account.positions[symbol]
    collateral, others_mm = collateral_behind(account, symbol, exchange.instruments,
                                              exchange.mark)
    out: list[int | None] = []
    for with_maintenance in (True, False):
        price = solve_price(instrument, position, collateral, others_mm, with_maintenance)
        if price is None:
            out.append(None)
            continue
        ticks = math.ceil(price) if position.qty > 0 else math.floor(price)
        out.append(ticks if ticks > 0 else None)
    return out[0], out[1]


def book_view(exchange: Exchange, symbol: str, depth: int) -> BookView:
    book = exchange.books[symbol]
    return BookView(symbol=symbol, bids=tuple(book.depth(Side.BUY, depth)),
                    asks=tuple(book.depth(Side.SELL, depth)))


def symbol_view(exchange: Exchange, symbol: str) -> SymbolView:
    return SymbolView(symbol=symbol, index=exchange.index[symbol], mark=exchange.mark[symbol],
                      last=exchange.last[symbol],
                      funding_rate=exchange.predicted_funding_rate(symbol),
                      last_funding_rate=exchange.prices[symbol].funding_rate,
                      next_funding=exchange.next_funding(symbol),
                      open_interest=exchange.open_interest[symbol])


def insurance_view(exchange: Exchange) -> InsuranceView:
    fund = exchange.insurance
    return InsuranceView(balance=fund.wallet, venue_backstop=-exchange.backstop,
                         positions=tuple((s, p.qty) for s, p in sorted(fund.positions.items())
                                         if p.qty))
