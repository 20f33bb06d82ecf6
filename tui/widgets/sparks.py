"""One-line sparklines of the selected symbol's predicted funding rate and open interest over
the recent frames."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui import format as fmt
from tui.frame import Frame

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[int, ...], width: int) -> str:
    """The last ``width`` values as bars scaled between their low and high."""
    values = values[-width:] if width > 0 else ()
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span == 0:
        return BARS[0] * len(values)
    return "".join(BARS[(v - low) * (len(BARS) - 1) // span] for v in values)


class FundingSparks(Widget):
    DEFAULT_CSS = "FundingSparks { height: 2; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame (its ``funding`` and ``open_interest`` histories)."""

    def render(self) -> Text:
        frame = self.frame
        if frame is None:
            return Text("")
        prices = frame.symbol.prices
        label_rate = f"fund {fmt.rate_percent(prices.funding_rate)} "
        label_oi = f"OI {frame.instrument.format_qty(prices.open_interest)} "
        width = max(0, self.size.width - max(len(label_rate), len(label_oi)))
        text = Text(no_wrap=True, overflow="crop")
        text.append(label_rate.ljust(len(label_oi)))
        text.append(sparkline(frame.funding, width) + "\n", style="magenta")
        text.append(label_oi.ljust(len(label_rate)))
        text.append(sparkline(frame.open_interest, width), style="blue")
        return text
