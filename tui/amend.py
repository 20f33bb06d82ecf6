"""Amending an open order: a new quantity and/or price. ``enter`` submits, ``escape``
leaves."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AmendScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("enter", "submit", "Amend", id="amend.submit"),
        Binding("escape", "dismiss", "Leave", id="amend.leave"),
    ]
    DEFAULT_CSS = """
    AmendScreen { align: center middle; }
    AmendScreen > Vertical { width: 50; height: auto; border: thick $accent; padding: 0 1;
                             background: $surface; }
    """

    class Submitted(Message):
        def __init__(self, order_id: int, qty: str, price: str) -> None:
            super().__init__()
            self.order_id, self.qty, self.price = order_id, qty, price

    def __init__(self, order_id: int, qty: str, price: str) -> None:
        super().__init__()
        self.order_id, self.qty, self.price = order_id, qty, price

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Amend order {self.order_id}")
            yield Input(self.qty, placeholder="qty (contracts)", id="qty")
            yield Input(self.price, placeholder="price", id="price")

    def on_mount(self) -> None:
        self.query_one("#price", Input).focus()

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self.order_id, self.query_one("#qty", Input).value,
                                         self.query_one("#price", Input).value))
