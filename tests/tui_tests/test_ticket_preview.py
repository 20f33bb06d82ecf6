"""The ticket's preview: a burst of keys costs one preview at once and one when the typing
pauses, and the last edit is the one previewed; an order that waits for its trigger shows the
liquidation price once it triggers and fills, not the position's of now."""

from __future__ import annotations

from decimal import Decimal

import pytest
import ui_market

import tui.app
from engine import commands as c
from engine.enums import OrderType, Side, TimeInForce
from tui.app import PerpApp
from tui.ticket import TicketScreen

SIZE = (120, 36)
SILVER = "XAGUSDT"
DELAY = 0.3


def counting(app: PerpApp) -> list[str]:
    """The quantity of every what-if the app asks the session for."""
    asked: list[str] = []
    what_if = app.session.what_if

    def spy(symbol, side, qty, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(qty)
        return what_if(symbol, side, qty, **kwargs)

    app.session.what_if = spy  # type: ignore[method-assign]
    return asked


async def test_a_burst_of_keys_is_previewed_twice_and_the_last_edit_wins(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tui.app, "PREVIEW_DELAY", DELAY)
    app = PerpApp(ui_market.session(), run_clock=False, clock=lambda: 0.0)
    async with app.run_test(size=SIZE) as pilot:
        asked = counting(app)
        await pilot.press("b", "shift+tab", "space", "down", "enter", "tab")  # a market order
        await pilot.pause(DELAY * 2)
        asked.clear()
        await pilot.press("1", "2", "5")
        await pilot.pause()
        assert asked == ["1"], "the first key is previewed at once, the rest wait"
        await pilot.pause(DELAY * 2)
        assert asked == ["1", "125"]
        screen = app.screen
        assert isinstance(screen, TicketScreen) and screen.preview is not None
        assert screen.preview.ok and screen.preview.position_size == 125_000


def test_a_stop_shows_the_liquidation_price_once_triggered_and_filled() -> None:
    """A buy stop of 50 at 80.00, 20x, on 600 USDT; then the same order filled by hand at 80
    (a limit, the others' orders out of the way, a seller taking it): the same liquidation
    price."""
    session = ui_market.session(balance="600")
    for _ in range(20):
        session.step()
    answer = session.what_if(SILVER, "buy", "50", type="stop_market", trigger="80",
                             leverage="20")
    assert answer.ok and answer.waits and not answer.rests and answer.filled == 0
    assert answer.fill_price == 8_000 and answer.position_size == 50_000
    assert answer.cost == 0 and answer.cost_on_fill is not None and answer.cost_on_fill > 0
    assert answer.liquidation_price is not None and answer.liquidation_price < 8_000
    assert session.snapshot().account.positions == (), "the what-if changed nothing"
    market = session.replay.market
    for account_id, account in list(session.exchange.accounts.items()):
        for order in list(account.orders.values()):
            if account_id != session.account_id and order.symbol == SILVER and order.live:
                market.submit(c.CancelOrder(account=account_id, order_id=order.order_id))
    assert session.set_leverage(SILVER, 20).ok
    assert session.place(SILVER, "buy", "50", price="80.00").ok
    market.submit(c.Deposit(account="seller", amount=Decimal(10**9)))
    market.submit(c.PlaceOrder(account="seller", symbol=SILVER, side=Side.SELL,
                               type=OrderType.LIMIT, qty=Decimal(50), price=Decimal("80.00"),
                               tif=TimeInForce.IOC))
    (position,) = session.snapshot().account.positions
    assert position.size == 50_000
    assert position.liquidation_price == answer.liquidation_price
    available = session.snapshot().account.available_balance
    assert Decimal(600) * 10**8 - available == answer.cost_on_fill
