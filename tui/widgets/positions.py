"""The person's positions: size, entry, mark, liquidation price, margin, uPnL and ROE."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import DataTable

from scenarios.session import entry_ticks, roe
from tui import format as fmt
from tui.frame import Frame
from tui.widgets.tables import setup_columns, sync_rows

COLUMNS = ("symbol", "size", "entry", "mark", "liq", "margin", "uPnL", "ROE")


class PositionsTable(DataTable):
    """One row per open position; the app closes the selected one on ``x``."""

    DEFAULT_CSS = "PositionsTable { height: auto; max-height: 6; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        setup_columns(self, COLUMNS)

    def watch_frame(self, frame: Frame | None) -> None:
        if frame is None:
            return
        account = frame.snapshot.account
        rows = {}
        for p in () if account is None else account.positions:
            instrument = frame.instruments[p.symbol]
            margin = p.isolated_margin if p.isolated else p.initial_margin
            rows[p.symbol] = (
                p.symbol, fmt.qty(instrument, p.size), fmt.price(instrument,
                                                                 entry_ticks(p, instrument)),
                fmt.price(instrument, p.mark), fmt.price(instrument, p.liquidation_price),
                fmt.cash(margin), fmt.cash(p.unrealized_pnl), fmt.rate_percent(roe(p), 2))
        sync_rows(self, COLUMNS, rows)

    @property
    def selected_symbol(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value
