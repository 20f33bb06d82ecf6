"""The person's recent fills and funding payments, newest first (to the minute, the symbol's
first three letters: a line fits the side column)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.enums import Side
from tui import format as fmt
from tui.frame import Frame


class HistoryLog(Widget):
    DEFAULT_CSS = "HistoryLog { height: 1fr; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def render(self) -> Text:
        text = Text("fills and funding\n", style="bold", no_wrap=True, overflow="crop")
        frame = self.frame
        if frame is None:
            return text
        snap = frame.snapshot
        lines = []
        for fill in snap.fills:
            instrument = frame.instruments[fill.symbol]
            lines.append((fill.seq, f"{fmt.clock(fill.ts)[5:16]} {fill.symbol[:3]} "
                          f"{fill.side.value} {fmt.qty(instrument, fill.qty)} @ "
                          f"{instrument.format_price(fill.price)}",
                          "green" if fill.side is Side.BUY else "red"))
        for pay in snap.funding:
            lines.append((pay.seq, f"{fmt.clock(pay.ts)[5:16]} {pay.symbol[:3]} funding "
                          f"{fmt.cash(pay.amount, 4)}", "cyan"))
        for _, line, style in sorted(lines, reverse=True)[: max(1, self.size.height - 1)]:
            text.append(line + "\n", style=style)
        return text
