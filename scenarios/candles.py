"""Candles for a chart: per symbol and time frame, the open, high, low and close of the last
trade price and the traded lots, with the mark's range and close and the index's close in the
same bucket. What a venue's chart shows, built from the replay as it runs: trades from the
events, the mark and the index after every step. Integer ticks, lots and ns; buckets start at
UTC multiples of their width, so a 1-hour candle is 10:00-11:00 whatever the first step was.
"""

from __future__ import annotations

from collections import deque

import msgspec

from engine.units import NS_PER_SECOND

TIMEFRAMES = (60, 300, 900, 3_600, 14_400)
"""Seconds a candle covers: 1m, 5m, 15m, 1h, 4h."""
KEEP = 240
"""Candles kept per series: more than any screen is wide."""


def timeframe_label(seconds: int) -> str:
    """``60`` -> ``1m``, ``3600`` -> ``1h``.

    >>> [timeframe_label(s) for s in TIMEFRAMES]
    ['1m', '5m', '15m', '1h', '4h']
    """
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


class Candle(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket of one symbol's chart."""

    ts: int
    """Start of the bucket, ns."""
    open: int | None = None
    """Trade price ticks; the four are None when nothing traded in the bucket."""
    high: int | None = None
    low: int | None = None
    close: int | None = None
    volume: int = 0
    """Lots traded."""
    mark: int | None = None
    """The mark at the bucket's last step, ticks (None before the first mark)."""
    mark_high: int | None = None
    mark_low: int | None = None
    index: int | None = None
    """The index at the bucket's last step."""


class CandleSeries:
    """The candles of one symbol at one width: the closed ones kept as immutable ``Candle``s,
    the forming one as running values. Feed it in time order."""

    def __init__(self, seconds: int, keep: int = KEEP) -> None:
        self.width = seconds * NS_PER_SECOND
        self._closed: deque[Candle] = deque(maxlen=keep - 1)
        self._ts: int | None = None
        self._trade: list[int] | None = None
        """open, high, low, close of the forming candle."""
        self._volume = 0
        self._mark: int | None = None
        self._mark_high: int | None = None
        self._mark_low: int | None = None
        self._index: int | None = None

    def _roll_to(self, ts: int) -> bool:
        """Move to the bucket of ``ts`` (closing the forming one); False for a time before
        it (ignored: the series only goes forward)."""
        bucket = ts - ts % self.width
        if self._ts is None:
            self._ts = bucket
        elif bucket != self._ts:
            if bucket < self._ts:
                return False
            self._closed.append(self._forming())
            self._ts, self._trade, self._volume = bucket, None, 0
            self._mark_high = self._mark_low = self._mark
        return True

    def trade(self, ts: int, price: int, qty: int) -> None:
        if not self._roll_to(ts):
            return
        candle = self._trade
        if candle is None:
            self._trade = [price, price, price, price]
        else:
            if price > candle[1]:
                candle[1] = price
            elif price < candle[2]:
                candle[2] = price
            candle[3] = price
        self._volume += qty

    def prices(self, ts: int, mark: int | None, index: int | None) -> None:
        """The mark and index after the step at ``ts``."""
        if not self._roll_to(ts):
            return
        if mark is not None:
            self._mark = mark
            if self._mark_high is None or mark > self._mark_high:
                self._mark_high = mark
            if self._mark_low is None or mark < self._mark_low:
                self._mark_low = mark
        if index is not None:
            self._index = index

    def _forming(self) -> Candle:
        assert self._ts is not None
        trade = self._trade or (None, None, None, None)
        return Candle(ts=self._ts, open=trade[0], high=trade[1], low=trade[2], close=trade[3],
                      volume=self._volume, mark=self._mark, mark_high=self._mark_high,
                      mark_low=self._mark_low, index=self._index)

    def candles(self) -> tuple[Candle, ...]:
        """Oldest first, the forming one last."""
        if self._ts is None:
            return ()
        return (*self._closed, self._forming())


class CandleStore:
    """Every symbol's series at every width, fed from a replay."""

    def __init__(self, symbols: tuple[str, ...], timeframes: tuple[int, ...] = TIMEFRAMES,
                 keep: int = KEEP) -> None:
        self.series = {symbol: {seconds: CandleSeries(seconds, keep) for seconds in timeframes}
                       for symbol in symbols}
        self._series_of = {symbol: tuple(widths.values()) for symbol, widths in self.series.items()}

    def trade(self, symbol: str, ts: int, price: int, qty: int) -> None:
        for series in self._series_of[symbol]:
            series.trade(ts, price, qty)

    def prices(self, ts: int, mark: dict[str, int | None], index: dict[str, int | None]) -> None:
        for symbol, widths in self._series_of.items():
            m, i = mark.get(symbol), index.get(symbol)
            for series in widths:
                series.prices(ts, m, i)

    def candles(self, symbol: str, seconds: int) -> tuple[Candle, ...]:
        return self.series[symbol][seconds].candles()
