"""Closing the selected position with a reduce-only limit at a price (``X``). ``enter``
submits, ``escape`` leaves."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class CloseLimitScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("enter", "submit", "Close at limit", id="close_limit.submit"),
        Binding("escape", "dismiss", "Leave", id="close_limit.leave"),
    ]
    DEFAULT_CSS = """
    CloseLimitScreen { align: center middle; }
    CloseLimitScreen > Vertical { width: 50; height: auto; border: thick $accent;
                                  padding: 0 1; background: $surface; }
    """

    class Submitted(Message):
        def __init__(self, symbol: str, price: str) -> None:
            super().__init__()
            self.symbol, self.price = symbol, price

    def __init__(self, symbol: str, price: str) -> None:
        super().__init__()
        self.symbol, self.price = symbol, price

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Close the {self.symbol} position with a reduce-only limit at")
            yield Input(self.price, placeholder="price", id="price")

    def on_mount(self) -> None:
        self.query_one("#price", Input).focus()

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self.symbol, self.query_one("#price", Input).value))
