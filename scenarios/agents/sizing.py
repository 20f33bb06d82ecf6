"""Turning a participant's intent (a notional in USDT, a price offset in basis points) into the
engine's integers: lots on the instrument's step, ticks on its grid."""

from __future__ import annotations

from engine import Instrument
from engine.units import CASH_SCALE


def lots_for(instrument: Instrument, notional_usdt: float, price_ticks: int) -> int:
    """The lots closest below ``notional_usdt`` at ``price_ticks``, at least the minimum
    quantity and enough for the minimum notional; 0 when the price is not positive."""
    if price_ticks <= 0 or notional_usdt <= 0:
        return 0
    per_lot = price_ticks * instrument.cash_per_tick_lot  # cash units of one lot
    lots = int(notional_usdt * CASH_SCALE // per_lot)
    floor = max(instrument.min_qty, -(-instrument.min_notional // per_lot))
    return min(max(lots, floor), instrument.max_qty)


def market_lots(instrument: Instrument, lots: int) -> int:
    """``lots`` capped at what one market order may carry."""
    return min(lots, instrument.max_market_qty)


def offset_ticks(price_ticks: int, basis_points: float) -> int:
    """``basis_points`` of ``price_ticks`` as a whole number of ticks (at least one)."""
    return max(1, round(price_ticks * basis_points / 10_000))


def usdt(amount: float) -> int:
    """USDT as cash units."""
    return int(round(amount * CASH_SCALE))
