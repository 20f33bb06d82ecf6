"""The person's open orders; the app cancels (``c``) or amends (``a``) the selected one."""

from __future__ import annotations

from tui import format as fmt
from tui.frame import Frame
from tui.widgets.tables import FrameTable


class OrdersTable(FrameTable):
    """One row per open order (resting or waiting for its trigger)."""

    DEFAULT_CSS = "OrdersTable { height: auto; max-height: 7; }"
    COLUMNS = ("id", "symbol", "side", "type", "qty", "filled", "price", "trigger", "flags")

    def frame_rows(self, frame: Frame) -> dict[str, tuple[str, ...]]:
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
        return rows

    @property
    def selected_order(self) -> int | None:
        key = self.selected_key
        return None if key is None else int(key)
