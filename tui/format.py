"""Text for the screen: formatting only (the numbers come from the session's views)."""

from __future__ import annotations

from engine import Instrument
from engine.units import NS_PER_SECOND, format_cash, format_rate, format_timestamp


def price(instrument: Instrument, ticks: int | None) -> str:
    return "—" if ticks is None else instrument.format_price(ticks)


def qty(instrument: Instrument, lots: int) -> str:
    return instrument.format_qty(lots)


def cash(units: int, places: int = 2) -> str:
    """USDT with ``places`` decimals (cut, not rounded: the view's value is exact)."""
    text = format_cash(units)
    whole, _, frac = text.partition(".")
    return whole if places == 0 else f"{whole}.{(frac + '0' * places)[:places]}"


def rate_percent(units: int | None, places: int = 4) -> str:
    """A rate over RATE_SCALE as a percentage."""
    if units is None:
        return "—"
    return f"{float(format_rate(units)) * 100:.{places}f}%"


def clock(ns: int) -> str:
    """``2026-01-29 14:05:00``."""
    return format_timestamp(ns)[:19].replace("T", " ")


def countdown(ns: int) -> str:
    seconds = max(0, ns // NS_PER_SECOND)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def change_percent(now: int | None, then: int | None) -> str:
    if now is None or not then:
        return "—"
    return f"{(now - then) * 100 / then:+.2f}%"
