"""Charts of a replay: a PNG with matplotlib (the optional ``report`` extra), a text chart
without it. Both are built from the ``ReplayRecord`` alone and are byte-identical for the same
record: integer bucketing for the text, the Agg renderer, default style, a fixed DPI and no
software or date stamp in the PNG's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from engine import Instrument
from engine.units import format_timestamp
from scenarios.record import ReplayRecord

PNG_HINT = "for a PNG chart: pip install 'perpsim[report]' (matplotlib)"
DPI = 100
TEXT_WIDTH = 72
TEXT_HEIGHT = 10


def text_chart(values: Sequence[int], *, width: int = TEXT_WIDTH, height: int = TEXT_HEIGHT,
               label: Callable[[int], str] = str) -> list[str]:
    """A line chart in characters: each column covers an equal run of ``values`` and draws the
    run's low to high (``│``, or ``•`` when they share a row); the top and bottom rows are
    labelled with the high and low. Integer arithmetic only.

    >>> text_chart([1, 2, 3], width=3, height=3)
    ['3 │  •', '  │ • ', '1 │•  ']
    """
    if not values:
        return ["(no data)"]
    columns = min(width, len(values))
    low, high = min(values), max(values)
    if low == high:
        height = 1  # a flat line needs one row
    span = max(high - low, 1)

    def level(value: int) -> int:
        return (value - low) * (height - 1) // span

    grid = [[" "] * columns for _ in range(height)]
    for column in range(columns):
        run = values[column * len(values) // columns:(column + 1) * len(values) // columns]
        bottom, top = level(min(run)), level(max(run))
        for row in range(bottom, top + 1):
            grid[height - 1 - row][column] = "•" if bottom == top else "│"
    top_label, bottom_label = label(high), label(low)
    gutter = max(len(top_label), len(bottom_label))
    lines = []
    for number, cells in enumerate(grid):
        text = top_label if number == 0 else bottom_label if number == height - 1 else ""
        if height == 1:
            text = top_label
        lines.append(f"{text.rjust(gutter)} │{''.join(cells)}")
    return lines


def mark_chart(record: ReplayRecord, instrument: Instrument, *, width: int = TEXT_WIDTH,
               height: int = TEXT_HEIGHT) -> list[str]:
    """The text chart of one symbol's mark at each minute's end, titled with its time range."""
    rows = [row for row in record.minutes if row.symbol == instrument.symbol]
    title = f"{instrument.symbol} mark"
    if rows:
        title += f", {format_timestamp(rows[0].ts)} .. {format_timestamp(rows[-1].ts)}"
    return [title, *text_chart([row.mark for row in rows], width=width, height=height,
                               label=instrument.format_price)]


def write_chart(record: ReplayRecord, instruments: Mapping[str, Instrument],
                directory: Path) -> Path:
    """``chart.png`` when matplotlib can be imported, else ``chart.txt`` that says how to get
    the PNG. Returns the path written."""
    try:
        import matplotlib  # noqa: F401  (optional: the report extra)
    except ImportError:
        path = directory / "chart.txt"
        lines = [f"chart.txt: {PNG_HINT}", ""]
        for symbol in record.symbols:
            lines += [*mark_chart(record, instruments[symbol]), ""]
        path.write_text("\n".join(lines), encoding="utf-8")
        return path
    path = directory / "chart.png"
    _write_png(record, instruments, path)
    return path


def _write_png(record: ReplayRecord, instruments: Mapping[str, Instrument], path: Path) -> None:
    """Per symbol: index and mark with the liquidations marked, and the premium in bp below."""
    import matplotlib.style
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # the default style, whatever matplotlibrc the user has: the same record, the same bytes
    with matplotlib.style.context("default"):
        figure = Figure(figsize=(11, 3.6 * len(record.symbols)), dpi=DPI)
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(2 * len(record.symbols), 1,
                                   height_ratios=[3, 1] * len(record.symbols))
        for number, symbol in enumerate(record.symbols):
            tick = float(instruments[symbol].tick_size)
            rows = [row for row in record.minutes if row.symbol == symbol]
            when = np.array([row.ts for row in rows], dtype="datetime64[ns]")
            index = np.array([row.index for row in rows], dtype=np.float64)
            mark = np.array([row.mark for row in rows], dtype=np.float64)
            prices = figure.add_subplot(grid[2 * number])
            prices.plot(when, index * tick, label="index", linewidth=0.8, color="tab:gray")
            prices.plot(when, mark * tick, label="mark", linewidth=0.8, color="tab:blue")
            liquidated = [r for r in record.liquidations if r.symbol == symbol]
            if liquidated:
                prices.scatter(np.array([r.ts for r in liquidated], dtype="datetime64[ns]"),
                               np.array([r.price for r in liquidated], dtype=np.float64) * tick,
                               s=6, color="tab:red", label="liquidation", zorder=3)
            prices.set_title(f"{record.scenario} (seed {record.seed}): {symbol}", fontsize=9)
            prices.legend(loc="upper left", fontsize=7)
            premium = figure.add_subplot(grid[2 * number + 1], sharex=prices)
            premium.plot(when, (mark - index) / np.where(index == 0, 1, index) * 1e4,
                         linewidth=0.6, color="tab:purple")
            premium.set_ylabel("premium bp", fontsize=7)
            premium.axhline(0.0, color="black", linewidth=0.4)
            premium.set_xlabel("UTC", fontsize=7)
        figure.tight_layout()
        figure.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
