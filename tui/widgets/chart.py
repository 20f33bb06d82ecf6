"""The price chart of the selected symbol: a candle a column (the last trade price's open,
high, low and close; ``┃`` body, ``│`` wick, green up, red down), the mark's close as a cyan
``─`` and the index's as a grey ``·``, the person's entries (``▲`` buy, ``▼`` sell) and
liquidations (``✖``) at their time and price, and the open position's entry and liquidation
prices as dashed lines. Newest on the right: it scrolls as the market runs; the candle width
follows the speed (``Frame.timeframe``). Everything it draws is a price from the session; the
chart only places it on rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.enums import Side
from engine.events import Liquidation
from engine.units import NS_PER_SECOND
from scenarios.candles import Candle, timeframe_label
from scenarios.session import entry_ticks
from tui import format as fmt
from tui.frame import Frame

UP = Style(color="green")
DOWN = Style(color="red")
MARK = Style(color="cyan")
INDEX = Style(color="grey62")
ENTRY = Style(color="yellow")
LIQ = Style(color="red", bold=True)
BUY = Style(color="bright_green", bold=True)
SELL = Style(color="bright_red", bold=True)
AXIS = Style(dim=True)

Cell = tuple[str, Style]


@dataclass(frozen=True)
class Marker:
    """Something the person did, drawn at its time and price."""

    ts: int
    price: int
    glyph: str
    style: Style


@dataclass(frozen=True)
class Level:
    """A price the person should see across the chart: the entry, the liquidation price."""

    price: int
    label: str
    style: Style


def price_range(candles: tuple[Candle, ...], levels: tuple[Level, ...]) -> tuple[int, int] | None:
    """Low and high over the candles' trades, mark and index, widened to take in each level
    within one span of them (so at most tripled); a level farther away, say a liquidation
    price, is shown at the edge."""
    values = [v for c in candles for v in (c.high, c.low, c.mark_high, c.mark_low, c.index)
              if v is not None]
    if not values:
        return None
    low, high = min(values), max(values)
    span = max(1, high - low)
    near = [level.price for level in levels if low - span <= level.price <= high + span]
    return min([low, *near]), max([high, *near])


def row_of(price: int, low: int, high: int, height: int) -> int:
    """The row (0 at the top) nearest ``price`` on a chart from ``low`` to ``high``, the price
    held to that range."""
    price = min(max(price, low), high)
    span = max(1, high - low)
    return (2 * (high - price) * (height - 1) + span) // (2 * span)


def chart_cells(candles: tuple[Candle, ...], width: int, height: int, low: int, high: int,
                markers: tuple[Marker, ...] = (), levels: tuple[Level, ...] = (),
                timeframe_ns: int = 60 * NS_PER_SECOND) -> list[list[Cell]]:
    """``height`` rows of ``width`` cells, the last ``width`` candles right-aligned. Layers,
    lowest first: levels, index, mark, candle, markers."""
    blank: Cell = (" ", Style())
    grid = [[blank] * width for _ in range(height)]

    def row(price: int) -> int | None:
        """Nearest row of ``price``; None off the chart."""
        return None if price < low or price > high else row_of(price, low, high, height)

    for level in levels:
        y = row(level.price)
        if y is not None:
            grid[y] = [("┄", level.style)] * width
    shown = candles[-width:]
    first = width - len(shown)
    column_of = {candle.ts: first + n for n, candle in enumerate(shown)}
    for n, candle in enumerate(shown):
        x = first + n
        for value, glyph, style in ((candle.index, "·", INDEX), (candle.mark, "─", MARK)):
            y = None if value is None else row(value)
            if y is not None:
                grid[y][x] = (glyph, style)
        if candle.high is None or candle.low is None or candle.open is None \
                or candle.close is None:
            continue
        style = UP if candle.close >= candle.open else DOWN
        top, bottom = row(candle.high), row(candle.low)
        body_top, body_bottom = row(max(candle.open, candle.close)), row(
            min(candle.open, candle.close))
        for y in range(0 if top is None else top, height if bottom is None else bottom + 1):
            inside = body_top is not None and body_bottom is not None \
                and body_top <= y <= body_bottom
            grid[y][x] = ("┃" if inside else "│", style)
    for marker in markers:
        x = column_of.get(marker.ts - marker.ts % timeframe_ns)
        y = row(marker.price)
        if x is not None and y is not None:
            grid[y][x] = (marker.glyph, marker.style)
    return grid


def time_axis(first: int, last: int, timeframe: int, width: int) -> str:
    """The bottom line: the first candle's time on the left, the last's on the right, the
    candle width between (dates only when the chart spans days).

    >>> time_axis(0, 1_800 * 10**9, 60, 30)
    '00:00         1m         00:30'
    """
    start, end = fmt.clock(first), fmt.clock(last)
    same_day = start[:10] == end[:10]
    left, right = (start[11:16], end[11:16]) if same_day else (start[5:16], end[5:16])
    middle = timeframe_label(timeframe)
    room = width - len(left) - len(right)
    if room < len(middle) + 2:
        return right.rjust(width)[:width]
    return left + middle.center(room) + right


class PriceChart(Widget):
    DEFAULT_CSS = "PriceChart { height: 1fr; min-height: 5; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame (its ``candles`` are the chart)."""

    def _markers(self, frame: Frame) -> tuple[Marker, ...]:
        snapshot, symbol = frame.snapshot, frame.selected
        out = [Marker(f.ts, f.price, "▲" if f.side is Side.BUY else "▼",
                      BUY if f.side is Side.BUY else SELL)
               for f in snapshot.fills if f.symbol == symbol]
        out += [Marker(liq.ts, liq.price, "✖", LIQ) for liq in snapshot.liquidations
                if liq.symbol == symbol and isinstance(liq, Liquidation)]
        return tuple(out)

    def _levels(self, frame: Frame) -> tuple[Level, ...]:
        account = frame.snapshot.account
        position = None if account is None else next(
            (p for p in account.positions if p.symbol == frame.selected and p.size), None)
        if position is None:
            return ()
        levels = [Level(entry_ticks(position, frame.instrument), "entry", ENTRY)]
        if position.liquidation_price is not None:
            levels.append(Level(position.liquidation_price, "liq", LIQ))
        return tuple(levels)

    def render(self) -> Text:
        frame = self.frame
        if frame is None or not frame.candles:
            return Text("chart: waiting for prices", style="dim")
        instrument = frame.instrument
        levels = self._levels(frame)
        bounds = price_range(frame.candles[-self.size.width:], levels)
        if bounds is None:
            return Text("chart: waiting for prices", style="dim")
        low, high = bounds
        gutter = max(len(instrument.format_price(high)), len(instrument.format_price(low))) + 8
        width, height = max(1, self.size.width - gutter), max(2, self.size.height - 1)
        candles = frame.candles[-width:]
        low, high = price_range(candles, levels) or bounds
        grid = chart_cells(candles, width, height, low, high, self._markers(frame), levels,
                           frame.timeframe * NS_PER_SECOND)
        labels = self._labels(frame, levels, low, high, height)
        text = Text(no_wrap=True, overflow="crop")
        for y, cells in enumerate(grid):
            run, run_style = "", None
            for glyph, style in cells:  # one span a run of one style, not one a cell
                if style is not run_style and run:
                    text.append(run, run_style)
                    run = ""
                run, run_style = run + glyph, style
            text.append(run, run_style)
            label, style = labels.get(y, ("", AXIS))
            text.append(f" {label}\n", style)
        # under the plot, not the gutter: the right end is the forming candle's start
        text.append(time_axis(candles[0].ts, candles[-1].ts, frame.timeframe, width), AXIS)
        return text

    @staticmethod
    def _labels(frame: Frame, levels: tuple[Level, ...], low: int, high: int,
                height: int) -> dict[int, tuple[str, Style]]:
        """The gutter: the high and the low, the mark now, the levels (an arrow at the edge
        for one off the chart)."""
        instrument = frame.instrument

        def row(price: int) -> int:
            return row_of(price, low, high, height)

        labels = {0: (fmt.price(instrument, high), AXIS),
                  height - 1: (fmt.price(instrument, low), AXIS)}
        mark = frame.symbol.prices.mark
        if mark is not None:
            labels[row(mark)] = (f"{fmt.price(instrument, mark)} mark", MARK)
        for level in levels:
            arrow = "↑" if level.price > high else "↓" if level.price < low else ""
            labels[row(level.price)] = (f"{level.label} {fmt.price(instrument, level.price)}"
                                        f"{arrow}", level.style)
        return labels
