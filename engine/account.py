"""Accounts and one-way positions, in integer units.

A position keeps its signed size in lots and its *cost*: the exact entry notional in cash units
of the lots still open. The average entry price is ``cost / (|size| x cash_per_tick_lot)`` and is
never stored rounded, so unrealized PnL is exact and money is conserved to the last unit:
whatever share of the cost a partial close removes (floor division), the same cash leaves the
position as realized PnL, so ``realized - sign x cost`` moves by exactly the traded value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from engine.book import Order
from engine.reserve import EMPTY, Ladder, SymbolReserve


class Position:
    __slots__ = ("qty", "cost", "isolated", "isolated_margin")

    def __init__(self, isolated: bool = False) -> None:
        self.qty = 0
        """Signed size in lots: long > 0, short < 0."""
        self.cost = 0
        """Entry notional of the open lots in cash units (>= 0)."""
        self.isolated = isolated
        """Isolated margin: the position has its own wallet and is liquidated on its own."""
        self.isolated_margin = 0
        """The isolated position's own wallet in cash units; 0 for cross positions."""

    def apply_fill(self, signed_qty: int, price: int, cash_per_tick_lot: int) -> int:
        """Add a fill of ``signed_qty`` lots at ``price`` ticks; return the realized PnL.

        Increase: cost grows by the fill's notional. Reduce: the closed share of the cost is
        removed and the difference to the exit value realized. Flip: close all, then open the
        rest at ``price`` (PERP-MECHANICS.md §1.12).
        """
        qty = self.qty
        if qty == 0 or (qty > 0) == (signed_qty > 0):
            self.qty = qty + signed_qty
            self.cost += abs(signed_qty) * price * cash_per_tick_lot
            return 0
        size, fill = abs(qty), abs(signed_qty)
        closing = min(size, fill)
        cost_closed = self.cost * closing // size
        exit_value = closing * price * cash_per_tick_lot
        realized = exit_value - cost_closed if qty > 0 else cost_closed - exit_value
        self.cost -= cost_closed
        if fill > size:  # flip: the rest opens a new position at the fill price
            self.qty = signed_qty + qty
            self.cost = (fill - size) * price * cash_per_tick_lot
        else:
            self.qty = qty + signed_qty
        return realized

    def unrealized_pnl(self, mark: int, cash_per_tick_lot: int) -> int:
        """``q x (mark - entry)`` in cash units, exact."""
        value = self.qty * mark * cash_per_tick_lot
        return value - self.cost if self.qty > 0 else value + self.cost

    @property
    def signed_cost(self) -> int:
        """``sign(q) x cost``: what the open lots cost a long, or brought a short."""
        return self.cost if self.qty > 0 else -self.cost


class Account:
    """A trader's wallet, positions and open orders. The exchange is the only writer."""

    __slots__ = ("id", "wallet", "positions", "leverage", "isolated_symbols", "orders",
                 "client_ids", "reducing", "reserves", "open_on", "deposited", "withdrawn",
                 "realized_pnl", "fees_paid", "funding_pnl", "liquidation_transfers")

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.wallet = 0
        """Cross wallet in cash units. With the isolated margins it makes up deposits -
        withdrawals + realized PnL - fees + funding + liquidation transfers."""
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, int] = {}
        self.isolated_symbols: set[str] = set()
        """Symbols this account trades in isolated margin mode (cross is the default)."""
        self.orders: dict[int, Order] = {}
        """Open orders (resting or waiting for a trigger), by order id."""
        self.client_ids: dict[str, int] = {}
        self.reducing: dict[str, set[int]] = {}
        """Ids of the open reduce-only orders per symbol: refitting them after a fill looks at
        these, not at every order of the account."""
        self.reserves: dict[str, SymbolReserve] = {}
        """Running totals of the resting orders per symbol (engine/reserve.py): pre-trade
        risk reads these, not the orders."""
        self.open_on: dict[str, int] = {}
        """How many open orders (resting or waiting) each symbol has; no zero entries."""
        self.deposited = 0
        self.withdrawn = 0
        self.realized_pnl = 0
        self.fees_paid = 0
        """Trading and clearance fees, positive when paid."""
        self.funding_pnl = 0
        """Funding received (+) or paid (-)."""
        self.liquidation_transfers = 0
        """Cash moved to (-) or from (+) the insurance fund by liquidation: remaining
        collateral of a bankrupt account, or the fund topping a deficit up to zero."""

    def position(self, symbol: str) -> Position:
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position(symbol in self.isolated_symbols)
        return position

    @property
    def equity_ledger(self) -> int:
        """What the ledger says the wallet plus isolated margins must hold."""
        return (self.deposited - self.withdrawn + self.realized_pnl - self.fees_paid
                + self.funding_pnl + self.liquidation_transfers)

    @property
    def cash(self) -> int:
        """The cross wallet plus every isolated margin."""
        return self.wallet + sum(p.isolated_margin for p in self.positions.values())

    def position_qty(self, symbol: str) -> int:
        position = self.positions.get(symbol)
        return position.qty if position is not None else 0

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.client_id is not None:
            self.client_ids[order.client_id] = order.order_id
        if order.reduce_only:
            self.reducing.setdefault(order.symbol, set()).add(order.order_id)
        self.open_on[order.symbol] = self.open_on.get(order.symbol, 0) + 1
        if order.live:  # restored from a snapshot already resting
            self.refresh_order(order)

    def remove_order(self, order: Order) -> None:
        self.unlist_order(order)
        reserve = self.reserves.get(order.symbol)
        if reserve is not None:  # kept when empty: an account quoting on and off reuses it
            reserve.drop(order.order_id)

    def unlist_order(self, order: Order) -> None:
        """``remove_order`` but for the running totals: the caller replaces them
        (``replace_quotes``)."""
        del self.orders[order.order_id]
        if order.client_id is not None:
            del self.client_ids[order.client_id]
        if order.reduce_only:
            self.reducing[order.symbol].discard(order.order_id)
        symbol = order.symbol
        left = self.open_on[symbol] - 1
        if left:
            self.open_on[symbol] = left
        else:
            del self.open_on[symbol]

    def refresh_order(self, order: Order) -> None:
        """Re-read an open order into the running totals: call it whenever the order enters
        or leaves a book or its remaining quantity changes."""
        reserve = self.reserves.get(order.symbol)
        if reserve is None:
            if not order.live:
                return
            reserve = self.reserves[order.symbol] = SymbolReserve()
        reserve.refresh(order)

    def replace_quotes(self, symbol: str, unlisted: Iterable[Order], quotes: list[Order],
                       plain: tuple[Ladder, Ladder]) -> None:
        """The running totals after a ladder replace on ``symbol``: ``remove_order``'s drop of
        each of ``unlisted``, ``refresh_order`` of each of ``quotes``, and the plain ladders
        the replace built (``SymbolReserve.replace_quotes``)."""
        reserve = self.reserves.get(symbol)
        if reserve is None:  # nothing was counted: only quotes that start resting can count
            if not quotes:
                return
            reserve = self.reserves[symbol] = SymbolReserve()
        reserve.replace_quotes([order.order_id for order in unlisted], quotes, plain)

    def reserve_on(self, symbol: str) -> SymbolReserve:
        """The running totals of the resting orders on ``symbol`` (empty if none rests)."""
        return self.reserves.get(symbol, EMPTY)

    @contextmanager
    def hiding(self, orders: Iterable[Order]) -> Iterator[None]:
        """Hide resting orders from the checks (not live, not counted) while the block runs:
        an amend's or a ladder's orders must not count against their replacements. They keep
        their queue places; the book itself is not touched."""
        hidden = list(orders)
        for order in hidden:
            order.live = False
            self.refresh_order(order)
        try:
            yield
        finally:
            for order in hidden:
                order.live = True
                self.refresh_order(order)

    def orders_on(self, symbol: str) -> list[Order]:
        return [order for order in self.orders.values() if order.symbol == symbol]
