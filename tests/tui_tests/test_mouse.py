"""The mouse works too: a click on a symbol selects it, a click on a footer key runs its
action (open the ticket, play), the ticket's fields take clicks, a click on a row of the open
orders selects the order the cancel key acts on."""

from __future__ import annotations

import ui_market
from textual.widgets import Checkbox

from tui.app import PerpApp
from tui.ticket import TicketScreen
from tui.widgets.orders import OrdersTable
from tui.widgets.symbols import SymbolBar

SIZE = (120, 36)


def make() -> PerpApp:
    return PerpApp(ui_market.session(), run_clock=False, clock=lambda: 0.0)


async def footer_key(pilot, action: str):  # type: ignore[no-untyped-def]
    """The footer's key for ``action``, found by its CSS type (the class is Textual's own)."""
    await pilot.pause()  # the footer lays its keys out once the screen is up
    return next(key for key in pilot.app.screen.query("FooterKey") if key.action == action)


async def test_a_click_on_a_symbol_selects_it() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.selected == "XAGUSDT"
        assert await pilot.click(SymbolBar, offset=(4, 1))   # the second line: gold
        await pilot.pause()
        assert app.selected == "XAUUSDT"
        assert app.frame is not None and app.frame.selected == "XAUUSDT"


async def test_footer_keys_open_the_ticket_and_play() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.paused
        await pilot.click(await footer_key(pilot, "toggle_pause"))  # asserted by its effect
        await pilot.pause()
        assert not app.session.paused
        assert await pilot.click(await footer_key(pilot, "ticket('sell')"))
        await pilot.pause()
        assert isinstance(app.screen, TicketScreen) and app.screen.request.side == "sell"


async def test_the_ticket_takes_clicks_and_a_clicked_order_is_the_one_cancelled() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for price in ("77.50", "77.40"):
            await pilot.press("b", "1", "tab", *price)
            assert await pilot.click("#post_only")
            await pilot.pause()
            assert app.screen.query_one("#post_only", Checkbox).value
            await pilot.press("enter")  # from the checkbox: enter submits, it does not toggle
            await pilot.pause()
            assert not isinstance(app.screen, TicketScreen), app.results[-1]
        orders = app.session.snapshot().account.orders
        assert [o.post_only for o in orders] == [True, True]
        # the border, the header, the first row, then the second
        assert await pilot.click(OrdersTable, offset=(3, 3))
        await pilot.pause()
        table = app.query_one(OrdersTable)
        assert table.selected_order == orders[1].order_id
        assert await pilot.click(await footer_key(pilot, "cancel_order"))
        await pilot.pause()
        (left,) = app.session.snapshot().account.orders
        assert left.order_id == orders[0].order_id
