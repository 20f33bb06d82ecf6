"""The order-book ladder, a Line API widget: asks above, bids below, depth bars, the spread,
and the person's own resting orders marked."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui import format as fmt
from tui.frame import Frame

ASK = Style(color="red")
BID = Style(color="green")
ASK_BAR = Style(bgcolor="rgb(70,20,20)")
BID_BAR = Style(bgcolor="rgb(20,60,20)")
OWN = Style(bold=True, color="yellow")


class BookLadder(Widget):
    """Each line is one level; rendering a line costs the width of the terminal, not a
    widget tree (no DataTable rebuilt every frame)."""

    DEFAULT_CSS = "BookLadder { height: 23; min-width: 28; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def _rows(self) -> list[tuple[str, int, int, int] | str]:
        """(side, price ticks, lots, own lots) per line, asks first, best at the middle."""
        frame = self.frame
        if frame is None:
            return []
        book = frame.symbol.book
        own: dict[int, int] = {}
        account = frame.snapshot.account
        if account is not None:
            for order in account.orders:
                if order.symbol == frame.selected and order.resting and order.price is not None:
                    own[order.price] = own.get(order.price, 0) + order.remaining
        depth = max(1, (self.size.height - 1) // 2)
        asks = list(book.asks[:depth])[::-1]
        bids = list(book.bids[:depth])
        rows: list[tuple[str, int, int, int] | str] = [("ask", p, q, own.get(p, 0))
                                                       for p, q in asks]
        instrument = frame.instrument
        if book.asks and book.bids:
            spread = book.asks[0][0] - book.bids[0][0]
            rows.append(f"spread {instrument.format_price(spread)}")
        else:
            rows.append("no spread")
        rows += [("bid", p, q, own.get(p, 0)) for p, q in bids]
        return rows

    def render_line(self, y: int) -> Strip:
        rows = self._rows()
        width = self.size.width
        frame = self.frame
        if frame is None or y >= len(rows):
            return Strip.blank(width)
        row = rows[y]
        if isinstance(row, str):
            return Strip([Segment(row.center(width), Style(dim=True))]).crop(0, width)
        side, price, lots, own = row
        instrument = frame.instrument
        biggest = max([q for r in rows if not isinstance(r, str) for q in (r[2],)] or [1])
        mark = "◆" if own else " "
        label = (f"{mark}{fmt.price(instrument, price):>10} {fmt.qty(instrument, lots):>10}"
                 f" {fmt.qty(instrument, own) if own else '':>8}")
        label = label.ljust(width)[:width]
        bar = max(0, min(width, round(width * lots / biggest))) if biggest else 0
        style = ASK if side == "ask" else BID
        bar_style = ASK_BAR if side == "ask" else BID_BAR
        segments = [Segment(label[:bar], style + bar_style), Segment(label[bar:], style)]
        if own:
            segments.insert(0, Segment("", OWN))
        return Strip(segments)
