"""The one immutable thing the widgets are given each frame: the session's snapshot, the
symbol the person is looking at and the references the screen formats against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine import Instrument
from scenarios.candles import TIMEFRAMES, Candle
from scenarios.session import SessionSnapshot, SymbolSnapshot


@dataclass(frozen=True)
class Frame:
    snapshot: SessionSnapshot
    selected: str
    """The symbol the book, tape, chart and ticket show."""
    instruments: Mapping[str, Instrument]
    day_open: Mapping[str, int | None]
    """Index ticks a day ago per symbol (``Session.day_open``)."""
    candles: tuple[Candle, ...] = ()
    """The selected symbol's chart, oldest first, the last still forming."""
    timeframe: int = TIMEFRAMES[0]
    """Seconds a candle covers."""
    behind: bool = False
    """The last frame's step bound stopped the market short of the speed (it runs as fast as
    the machine allows)."""
    funding: tuple[int, ...] = ()
    """Recent predicted funding rates of the selected symbol (over RATE_SCALE)."""
    open_interest: tuple[int, ...] = ()
    """Recent open interest of the selected symbol, lots."""

    @property
    def symbol(self) -> SymbolSnapshot:
        return self.snapshot.symbol(self.selected)

    @property
    def instrument(self) -> Instrument:
        return self.instruments[self.selected]


def frozen(mapping: dict) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(dict(mapping))
