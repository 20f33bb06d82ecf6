"""The recent-trades tape of the selected symbol, newest first."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.enums import Side
from tui import format as fmt
from tui.frame import Frame


class TradesTape(Widget):
    DEFAULT_CSS = "TradesTape { min-width: 30; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def render(self) -> Text:
        frame = self.frame
        text = Text("time      price        qty\n", style="bold", no_wrap=True, overflow="crop")
        if frame is None:
            return text
        instrument = frame.instrument
        for trade in reversed(frame.symbol.trades[-max(1, self.size.height - 1):]):
            style = "green" if trade.taker_side is Side.BUY else "red"
            text.append(f"{fmt.clock(trade.ts)[11:19]} {fmt.price(instrument, trade.price):>9} "
                        f"{fmt.qty(instrument, trade.qty):>10}\n", style=style)
        return text
