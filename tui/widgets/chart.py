"""A line of the selected symbol's mark (and index) over the recent frames, with the person's
entries (▲ buy, ▼ sell) and liquidations (✖) marked at their prices."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.enums import Side
from tui.frame import Frame

BLOCKS = " ▁▂▃▄▅▆▇█"


class PriceChart(Widget):
    DEFAULT_CSS = "PriceChart { height: 5; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame (its ``marks`` are the line)."""

    def render(self) -> Text:
        frame = self.frame
        if frame is None or not frame.marks:
            return Text("chart: waiting for prices", style="dim")
        width = max(1, self.size.width)
        height = max(1, self.size.height - 1)
        marks = frame.marks[-width:]
        low, high = min(marks), max(marks)
        span = max(1, high - low)
        levels = height * 8
        cells = [(m - low) * (levels - 1) // span for m in marks]
        rows = []
        for row in range(height - 1, -1, -1):
            line = []
            for value in cells:
                part = value - row * 8
                line.append(BLOCKS[max(0, min(8, part + 1))] if part >= 0 else " ")
            rows.append("".join(line))
        text = Text("\n".join(rows), style="cyan")
        instrument = frame.instrument
        notes = [f"mark {instrument.format_price(marks[-1])}  "
                 f"range {instrument.format_price(low)}–{instrument.format_price(high)}"]
        for fill in frame.snapshot.fills[-3:]:
            if fill.symbol == frame.selected:
                arrow = "▲" if fill.side is Side.BUY else "▼"
                notes.append(f"{arrow}{instrument.format_price(fill.price)}")
        for liq in frame.snapshot.liquidations[-2:]:
            if liq.symbol == frame.selected:
                notes.append(f"✖{instrument.format_price(liq.price)}")
        text.append("\n" + "  ".join(notes), style="dim")
        return text
