"""The person's positions: size, margin mode and leverage, entry, mark, liquidation price,
margin, uPnL and ROE."""

from __future__ import annotations

from scenarios.session import entry_ticks, roe
from tui import format as fmt
from tui.frame import Frame
from tui.widgets.tables import FrameTable


class PositionsTable(FrameTable):
    """One row per open position; the app closes the selected one on ``x``."""

    DEFAULT_CSS = "PositionsTable { height: auto; max-height: 6; }"
    COLUMNS = ("symbol", "size", "mode", "entry", "mark", "liq", "margin", "uPnL", "ROE")

    def frame_rows(self, frame: Frame) -> dict[str, tuple[str, ...]]:
        account = frame.snapshot.account
        rows = {}
        for p in () if account is None else account.positions:
            instrument = frame.instruments[p.symbol]
            margin = p.isolated_margin if p.isolated else p.initial_margin
            rows[p.symbol] = (
                p.symbol, fmt.qty(instrument, p.size),
                f"{'isolated' if p.isolated else 'cross'} {p.leverage}x",
                fmt.price(instrument, entry_ticks(p, instrument)),
                fmt.price(instrument, p.mark), fmt.price(instrument, p.liquidation_price),
                fmt.cash(margin), fmt.cash(p.unrealized_pnl), fmt.rate_percent(roe(p), 2))
        return rows

    @property
    def selected_symbol(self) -> str | None:
        return self.selected_key
