"""The symbol switcher: index, mark, last and the day's change of every symbol."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tui import format as fmt
from tui.frame import Frame


class SymbolBar(Widget):
    """One line per symbol; the selected one highlighted. A click selects."""

    DEFAULT_CSS = "SymbolBar { height: auto; }"

    frame: reactive[Frame | None] = reactive(None, layout=True)
    """The latest frame."""

    class Selected(Message):
        """The person chose a symbol."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def render(self) -> Text:
        frame = self.frame
        text = Text()
        if frame is None:
            return text
        for number, item in enumerate(frame.snapshot.symbols, start=1):
            p = item.prices
            instrument = frame.instruments[p.symbol]
            change = fmt.change_percent(p.index, frame.day_open.get(p.symbol))
            style = "bold reverse" if p.symbol == frame.selected else ""
            if number > 1:
                text.append("\n")
            text.append(f"{number} {p.symbol:<8}", style=style)
            text.append(f" idx {fmt.price(instrument, p.index):>10} mark "
                        f"{fmt.price(instrument, p.mark):>10} last "
                        f"{fmt.price(instrument, p.last):>10} ")
            text.append(f"{change:>7}", style="green" if change.startswith("+") else "red")
        return text

    def on_click(self, event) -> None:  # type: ignore[no-untyped-def]
        frame = self.frame
        if frame is not None and 0 <= event.y < len(frame.snapshot.symbols):
            self.post_message(self.Selected(frame.snapshot.symbols[event.y].prices.symbol))
