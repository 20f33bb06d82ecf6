"""The event outbox: the one ``seq`` counter, the events of the command being executed, and
the kinds of events the caller chose not to build (``Exchange.select_events``).

Every part of the exchange is given the same outbox and emits through it, so events are
numbered in the order they happen whichever part causes them. ``now`` is the engine clock
that stamps them; only pricing moves it (the ``time`` command and the market step).
"""

from __future__ import annotations

from typing import Any

from engine import events as e
from engine.book import Order
from engine.enums import CancelReason, Liquidity, Side


class Outbox:
    """Numbers, stamps and collects the events of one command."""

    __slots__ = ("seq", "now", "out", "skipped")

    def __init__(self) -> None:
        self.seq = 0
        self.now = 0
        """Simulated time in ns since the epoch; moves only by the ``time`` command."""
        self.out: list[e.Event] = []
        self.skipped: frozenset[type] = frozenset()
        """Event kinds the caller does not want built (``select_events``)."""

    def start(self) -> list[e.Event]:
        """A fresh list for the events of the next command (or error line)."""
        self.out = out = []
        return out

    def emit(self, cls: type[e.Event], **fields: Any) -> None:
        self.seq += 1
        if cls not in self.skipped:
            self.out.append(cls(seq=self.seq, ts=self.now, **fields))

    def skip(self, cls: type[e.Event]) -> bool:
        """Take the ``seq`` of an event of ``cls`` that the caller does not want, and say so:
        a hot path asks before it gathers the fields of an event that will not be built."""
        if cls in self.skipped:
            self.seq += 1
            return True
        return False

    def skip_all(self, cls: type[e.Event], count: int) -> bool:
        """``skip`` of ``count`` events of ``cls`` at once (a ladder's quotes)."""
        if cls in self.skipped:
            self.seq += count
            return True
        return False

    # the events of every fill, built with their fields named (``emit``'s ``**fields`` costs
    # about a microsecond more an event, on the path of every trade)

    def trade(self, trade_id: int, symbol: str, price: int, qty: int, taker_side: Side) -> None:
        self.seq = seq = self.seq + 1
        if e.Trade not in self.skipped:
            self.out.append(e.Trade(seq=seq, ts=self.now, trade_id=trade_id, symbol=symbol,
                                    price=price, qty=qty, taker_side=taker_side))

    def fill(self, trade_id: int, order: Order, account_id: str, price: int, qty: int, fee: int,
             liquidity: Liquidity, realized_pnl: int, position: int) -> None:
        self.seq = seq = self.seq + 1
        if e.Fill not in self.skipped:
            self.out.append(e.Fill(
                seq=seq, ts=self.now, trade_id=trade_id, order_id=order.order_id,
                account=account_id, symbol=order.symbol, side=order.side, price=price, qty=qty,
                fee=fee, liquidity=liquidity, realized_pnl=realized_pnl, position=position,
                client_id=order.client_id))

    def cancelled(self, order: Order, reason: CancelReason) -> None:
        if self.skip(e.Cancelled):
            return
        self.emit(e.Cancelled, order_id=order.order_id, account=order.account,
                  symbol=order.symbol, reason=reason, remaining=order.remaining,
                  client_id=order.client_id)
