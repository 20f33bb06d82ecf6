"""The person's open orders; the app cancels (``c``) or amends (``a``) the selected one."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import DataTable

from tui import format as fmt
from tui.frame import Frame
from tui.widgets.tables import setup_columns, sync_rows

COLUMNS = ("id", "symbol", "side", "type", "qty", "filled", "price", "trigger", "flags")


class OrdersTable(DataTable):
    """One row per open order (resting or waiting for its trigger)."""

    DEFAULT_CSS = "OrdersTable { height: auto; max-height: 7; }"

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
        for o in () if account is None else account.orders:
            instrument = frame.instruments[o.symbol]
            flags = " ".join(f for f, on in (("post", o.post_only), ("reduce", o.reduce_only),
                                              ("armed", not o.resting)) if on)
            rows[str(o.order_id)] = (
                str(o.order_id), o.symbol, o.side.value, o.type.value, fmt.qty(instrument, o.qty),
                fmt.qty(instrument, o.filled), fmt.price(instrument, o.price),
                fmt.price(instrument, o.trigger_price), f"{o.tif.value} {flags}".strip())
        sync_rows(self, COLUMNS, rows)

    @property
    def selected_order(self) -> int | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return int(key.value)
