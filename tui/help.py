"""The help screen (``?``): every key of the app."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("b", "buy: open the ticket on the buy side, quantity focused"),
    ("s", "sell: open the ticket on the sell side"),
    ("enter", "submit the ticket (or the amendment)"),
    ("escape", "leave the ticket / this screen"),
    ("space", "pause / resume the market"),
    (".", "single step (one step of the replay)"),
    ("+ / -", "faster / slower (paused, 1x, 10x, 60x, 600x, 3600x)"),
    ("1 2 3", "symbols: XAGUSDT, XAUUSDT, BTCUSDT"),
    ("c", "cancel the selected open order"),
    ("a", "amend the selected open order"),
    ("x", "close the selected position at market"),
    ("X", "close the selected position with a reduce-only limit"),
    ("n", "jump to the next calendar event"),
    ("tab", "move between the tables"),
    ("?", "this help"),
    ("q", "quit (the session is saved; start again to resume)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; height: auto; border: thick $accent; padding: 0 1;
                            background: $surface; }
    """

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical():
            yield Static("perpsim — keys", classes="title")
            yield Static(table)
