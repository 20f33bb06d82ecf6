"""Query answers of the exchange, formatted as text (the state digest is engine/digest.py,
the invariants engine/invariants.py).

Answers are plain dicts of decimal strings, ready for the protocol and the screen, so no
reader has to compute money. They are built on request, never on the hot path.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from engine import readmodels
from engine.enums import Side
from engine.instrument import Instrument
from engine.units import CASH_SCALE, format_cash, format_rate, format_timestamp

if TYPE_CHECKING:
    from engine.account import Account
    from engine.book import Order
    from engine.exchange import Exchange


def price_text(instrument: Instrument, ticks: int | None) -> str | None:
    return None if ticks is None else instrument.format_price(ticks)


def qty_text(instrument: Instrument, lots: int) -> str:
    return instrument.format_qty(lots)


def entry_price_text(instrument: Instrument, qty: int, cost: int) -> str | None:
    """The average entry price of ``qty`` lots that cost ``cost`` cash units, exact to 8
    decimals (half-even), never fewer than the tick's."""
    if qty == 0:
        return None
    price = (Decimal(cost) / (abs(qty) * CASH_SCALE)) / instrument.lot_size
    whole, fraction = format(price.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN),
                             "f").split(".")
    fraction = fraction.rstrip("0").ljust(instrument.price_decimals, "0")
    return f"{whole}.{fraction}" if fraction else whole


def account_view(exchange: Exchange, account: Account) -> dict[str, Any]:
    """The ``query account`` answer: the read model (engine/readmodels.py) as text."""
    view = readmodels.account_view(exchange, account)
    positions = []
    for p in view.positions:
        instrument = exchange.instruments[p.symbol]
        positions.append({
            "symbol": p.symbol,
            "size": qty_text(instrument, p.size),
            "entry_price": entry_price_text(instrument, p.size, p.cost),
            "mark_price": price_text(instrument, p.mark),
            "unrealized_pnl": format_cash(p.unrealized_pnl),
            "initial_margin": format_cash(p.initial_margin),
            "maintenance_margin": format_cash(p.maintenance_margin),
            "leverage": p.leverage,
            "margin_mode": "isolated" if p.isolated else "cross",
            "isolated_margin": format_cash(p.isolated_margin),
            "liquidation_price": price_text(instrument, p.liquidation_price),
            "bankruptcy_price": price_text(instrument, p.bankruptcy_price),
        })
    ratio = view.margin_ratio
    return {
        "account": account.id,
        "wallet_balance": format_cash(view.wallet_balance),
        "unrealized_pnl": format_cash(view.unrealized_pnl),
        "margin_balance": format_cash(view.margin_balance),
        "maintenance_margin": format_cash(view.maintenance_margin),
        "margin_ratio": None if ratio is None else format_rate(ratio),
        "position_margin": format_cash(view.position_margin),
        "order_margin": format_cash(view.order_margin),
        "available_balance": format_cash(view.available_balance),
        "max_withdraw": format_cash(view.max_withdraw),
        "realized_pnl": format_cash(view.realized_pnl),
        "fees_paid": format_cash(view.fees_paid),
        "positions": positions,
        "orders": [order_view(exchange.instruments[o.symbol], o)
                   for o in account.orders.values()],
    }


def order_view(instrument: Instrument, order: Order) -> dict[str, Any]:
    view: dict[str, Any] = {
        "order_id": order.order_id,
        "client_id": order.client_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "qty": qty_text(instrument, order.qty),
        "filled_qty": qty_text(instrument, order.filled),
        "price": price_text(instrument, order.price),
        "trigger_price": price_text(instrument, order.trigger_price),
        "trigger_by": None if order.trigger_by is None else order.trigger_by.value,
        "tif": order.tif.value,
        "flags": [flag for flag, on in (("post_only", order.post_only),
                                         ("reduce_only", order.reduce_only)) if on],
    }
    return {k: v for k, v in view.items() if v is not None}


def book_view(exchange: Exchange, symbol: str, depth: int) -> dict[str, Any]:
    instrument = exchange.instruments[symbol]
    book = exchange.books[symbol]

    def side(levels: list[tuple[int, int]]) -> list[list[str]]:
        return [[instrument.format_price(p), qty_text(instrument, q)]
                for p, q in levels]

    return {
        "symbol": symbol,
        "bids": side(book.depth(Side.BUY, depth)),
        "asks": side(book.depth(Side.SELL, depth)),
        "index": price_text(instrument, exchange.index[symbol]),
        "mark": price_text(instrument, exchange.mark[symbol]),
        "last": price_text(instrument, exchange.last[symbol]),
        "funding_rate": format_rate(exchange.predicted_funding_rate(symbol)),
        "next_funding": format_timestamp(exchange.next_funding(symbol)),
    }


def instruments_view(instruments: dict[str, Instrument]) -> dict[str, Any]:
    out = []
    for instrument in instruments.values():
        out.append({
            "symbol": instrument.symbol,
            "tick_size": str(instrument.tick_size),
            "lot_size": str(instrument.lot_size),
            "min_qty": qty_text(instrument, instrument.min_qty),
            "max_qty": qty_text(instrument, instrument.max_qty),
            "max_market_qty": qty_text(instrument, instrument.max_market_qty),
            "min_notional": format_cash(instrument.min_notional),
            "maker_fee": format_rate(instrument.maker_fee),
            "taker_fee": format_rate(instrument.taker_fee),
            "clearance_fee": format_rate(instrument.clearance_fee),
            "funding_interval_hours": instrument.funding_interval_ns // (3600 * 10**9),
            "interest_rate": format_rate(instrument.interest_rate),
            "funding_cap": format_rate(instrument.funding_cap),
            "impact_margin_notional": format_cash(instrument.impact_margin_notional),
            "price_band": format_rate(instrument.price_band),
            "mark_method": instrument.mark_method,
            "market_hours": instrument.market_hours,
            "default_leverage": instrument.default_leverage,
            "tiers": [{"notional_floor": format_cash(t.floor), "notional_cap": format_cash(t.cap),
                       "max_leverage": t.max_leverage, "mmr": format_rate(t.mmr),
                       "maintenance_amount": format_cash(t.cum)} for t in instrument.tiers],
        })
    return {"instruments": out}


def insurance_view(exchange: Exchange) -> dict[str, Any]:
    fund = exchange.insurance
    positions = [{"symbol": s, "size": qty_text(exchange.instruments[s], p.qty),
                  "entry_price": entry_price_text(exchange.instruments[s], p.qty, p.cost)}
                 for s, p in sorted(fund.positions.items()) if p.qty]
    return {"funds": [{"fund": "main", "symbols": list(exchange.instruments),
                       "balance": format_cash(fund.wallet), "positions": positions}],
            "venue_backstop": format_cash(-exchange.backstop)}
