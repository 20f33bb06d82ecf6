"""The account panel: wallet, unrealized PnL, margin balance, maintenance, available, and the
margin ratio with a bar that turns warning at 80 % and danger at 90 %."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.units import RATE_SCALE
from tui import format as fmt
from tui.frame import Frame

WARNING = 80 * RATE_SCALE // 100
DANGER = 90 * RATE_SCALE // 100


def ratio_level(ratio: int | None) -> str:
    """``ok``, ``warning`` (>= 80 %) or ``danger`` (>= 90 %, or no margin balance left)."""
    if ratio is None:
        return "danger"
    return "danger" if ratio >= DANGER else "warning" if ratio >= WARNING else "ok"


class AccountPanel(Widget):
    DEFAULT_CSS = """
    AccountPanel { height: 8; min-width: 30; }
    AccountPanel.-warning { color: $warning; }
    AccountPanel.-danger { color: $error; text-style: bold; }
    """

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def watch_frame(self, frame: Frame | None) -> None:
        account = None if frame is None else frame.snapshot.account
        # no maintenance margin: nothing at risk, whatever the ratio reads
        level = "ok" if account is None or not account.maintenance_margin \
            else ratio_level(account.margin_ratio)
        self.set_class(level == "warning", "-warning")
        self.set_class(level == "danger", "-danger")

    def render(self) -> Text:
        account = None if self.frame is None else self.frame.snapshot.account
        if account is None:
            return Text("no account")
        ratio = account.margin_ratio
        width = max(10, self.size.width - 16)
        filled = width if ratio is None else min(width, ratio * width // RATE_SCALE)
        # the ratio first: it is what a small terminal must not cut off
        lines = [
            f"ratio {fmt.rate_percent(ratio, 1):>7} " + "█" * filled + "░" * (width - filled),
            f"wallet     {fmt.cash(account.wallet_balance):>14}",
            f"uPnL       {fmt.cash(account.unrealized_pnl):>14}",
            f"margin bal {fmt.cash(account.margin_balance):>14}",
            f"maint.     {fmt.cash(account.maintenance_margin):>14}",
            f"available  {fmt.cash(account.available_balance):>14}",
        ]
        return Text("\n".join(lines))
