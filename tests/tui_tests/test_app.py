"""The trading app driven by key presses (App.run_test): the ticket places orders, amend and
cancel work on the selected order, a position opens and closes, symbols switch, the clock
pauses and steps, a liquidation arrives. Asserts on the session's state, the app's results
and the messages (notifications), never on rendered text. The frame timer is off
(``run_clock=False``): time moves only by the step key or by calling the frame function."""

from __future__ import annotations

import ui_market
from textual.notifications import Notify

from scenarios.session import Session
from tui.amend import AmendScreen
from tui.app import PerpApp
from tui.ticket import TicketScreen
from tui.widgets.orders import OrdersTable
from tui.widgets.positions import PositionsTable

SIZE = (120, 36)


def make(session: Session | None = None) -> PerpApp:
    return PerpApp(session or ui_market.session(), run_clock=False, clock=lambda: 0.0)


def notes(seen: list, title: str) -> list[str]:
    return [m.notification.message for m in seen
            if isinstance(m, Notify) and m.notification.title == title]


async def place_limit(pilot, side: str, qty: str, price: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(side[0])          # b / s: the ticket, quantity focused
    await pilot.press(*qty, "tab", *price, "enter")
    await pilot.pause()


async def test_the_ticket_places_a_limit_order_from_key_presses() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, TicketScreen)
        assert app.focused is not None and app.focused.id == "qty"
        await pilot.press("1", "0", "tab", *"78.00")
        await pilot.pause()
        preview = app.screen.preview
        assert preview is not None and preview.ok and preview.cost > 0, preview
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, TicketScreen), "an accepted order closes the ticket"
        (order,) = app.session.snapshot().account.orders
        assert (order.side.value, order.qty, order.price) == ("buy", 10_000, 7800)
        assert app.results[-1].ok and app.results[-1].order_id == order.order_id


async def test_a_reject_keeps_the_ticket_and_notifies_the_reason() -> None:
    app = make()
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("b", "1", "enter")       # a limit order without a price
        await pilot.pause()
        assert isinstance(app.screen, TicketScreen)
        assert app.results[-1].reason == "invalid_price"
        assert any("invalid_price" in text for text in notes(seen, "rejected"))
        assert app.session.snapshot().account.orders == ()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TicketScreen)


async def test_amend_then_cancel_the_selected_order() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await place_limit(pilot, "buy", "5", "77.50")
        app.query_one(OrdersTable).focus()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AmendScreen)
        await pilot.press(*["backspace"] * 5, *"77.60", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, AmendScreen)
        (order,) = app.session.snapshot().account.orders
        assert order.price == 7760
        await pilot.press("c")
        await pilot.pause()
        assert app.session.snapshot().account.orders == ()
        assert app.results[-1].ok


async def test_open_a_position_at_market_then_close_it_with_x() -> None:
    app = make()
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("b", *"2", "shift+tab")   # to the type select
        await pilot.press("space", "down", "enter")  # limit -> market
        await pilot.pause()
        assert app.screen.request.type == "market"
        await pilot.press("tab", "enter")            # back on qty: submit
        await pilot.pause()
        (position,) = app.session.snapshot().account.positions
        assert position.size == 2_000
        assert notes(seen, "fill"), "a fill is notified"
        table = app.query_one(PositionsTable)
        app.show(app.session.snapshot())  # a frame now, not on the timer's next tick
        await pilot.pause()
        mode = table.get_row(position.symbol)[PositionsTable.COLUMNS.index("mode")]
        assert mode == f"cross {position.leverage}x"
        table.focus()
        await pilot.press("x")
        await pilot.pause()
        assert app.session.snapshot().account.positions == ()


async def test_symbols_switch_with_1_2_3() -> None:
    app = make()
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        assert app.selected == "XAGUSDT"
        await pilot.press("2")
        await pilot.pause()
        assert app.selected == "XAUUSDT" and app.frame.symbol.prices.symbol == "XAUUSDT"
        await pilot.press("3")                         # no bitcoin in this market
        await pilot.pause()
        assert app.selected == "XAUUSDT"
        assert any(isinstance(m, Notify) and m.notification.severity == "warning" for m in seen)
        await pilot.press("1")
        await pilot.pause()
        assert app.selected == "XAGUSDT"


async def test_pause_step_and_speed_keys() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        first = session.snapshot().step
        await pilot.press(".", ".", ".")
        await pilot.pause()
        assert session.snapshot().step == first + 3 == app.frame.snapshot.step
        assert session.paused
        await pilot.press("space")
        assert not session.paused
        await pilot.press("plus", "plus")
        assert session.speed == 60
        await pilot.press("minus")
        assert session.speed == 10
        await pilot.press("space")
        await pilot.pause()
        assert session.paused and app.frame.snapshot.paused


async def test_the_frame_runs_the_market_at_the_speed_and_shows_one_snapshot() -> None:
    now = [0.0]
    app = PerpApp(ui_market.session(), run_clock=False, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")                    # 1x
        before = app.session.now
        now[0] = 0.2
        app.frame_tick()
        assert app.session.now - before == 200_000_000
        assert app.frame.snapshot.now == app.session.now


async def test_a_20x_long_is_liquidated_in_a_crash_and_notified() -> None:
    session = ui_market.session(crash_at=120, crash=-0.12, drift=0.0, balance="500")
    app = make(session)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("b", *"100", "tab", "tab", "tab", "tab", *"20")  # qty, leverage
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab", "shift+tab",
                          "space", "down", "enter")   # type: market
        await pilot.pause()
        assert app.screen.request.leverage == "20" and app.screen.request.type == "market"
        await pilot.press("tab", "enter")
        await pilot.pause()
        (position,) = session.snapshot().account.positions
        assert position.leverage == 20 and position.size > 0
        await pilot.press("n")                        # jump to the news, through the crash
        while session.target is not None:
            app.frame_tick()
        await pilot.pause()
        assert session.snapshot().liquidations, "the crash liquidates the long"
        assert notes(seen, "liquidated"), "the liquidation is notified"
        assert session.snapshot().account.positions == ()


async def test_close_at_a_limit_with_shift_x() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.place("XAGUSDT", "buy", "1", type="market").ok
        await pilot.press("full_stop")
        app.query_one(PositionsTable).focus()
        await pilot.press("X")
        await pilot.pause()
        await pilot.press(*["backspace"] * 8, *"90.00", "enter")
        await pilot.pause()
        (order,) = app.session.snapshot().account.orders
        assert (order.side.value, order.price, order.reduce_only) == ("sell", 9000, True)
        assert order.qty == 1_000


def test_the_margin_ratio_bar_warns_at_80_and_alarms_at_90_percent() -> None:
    from engine.units import RATE_SCALE
    from tui.widgets.account import ratio_level
    percent = RATE_SCALE // 100
    assert ratio_level(79 * percent + 99) == "ok"
    assert ratio_level(80 * percent) == "warning"
    assert ratio_level(90 * percent - 1) == "warning"
    assert ratio_level(90 * percent) == "danger"
    assert ratio_level(None) == "danger"      # no margin balance left


async def test_quitting_and_starting_again_resumes_the_same_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = PerpApp(ui_market.session(data_dir=tmp_path), run_clock=False, clock=lambda: 0.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["full_stop"] * 5)
        await place_limit(pilot, "buy", "5", "77.50")
        await pilot.press(*["full_stop"] * 5)
        await pilot.press("q")
    before = app.session.state_hash()
    # the second session opens the same directory: it would be refused (locked) had quitting
    # not closed the first
    again = PerpApp(ui_market.session(data_dir=tmp_path), run_clock=False, clock=lambda: 0.0)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.session.state_hash() == before
        (order,) = again.session.snapshot().account.orders
        assert order.price == 7750


async def test_a_falling_market_warns_at_80_then_90_percent_before_the_liquidation() -> None:
    now = [0.0]
    session = ui_market.session(drift=-0.08, balance="100")
    app = PerpApp(session, run_clock=False, clock=lambda: now[0])
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        assert session.set_leverage("XAGUSDT", 20).ok
        assert session.place("XAGUSDT", "buy", "20", type="market").ok
        await pilot.press("space")
        while not session.snapshot().liquidations and not session.finished:
            now[0] += 1.0                              # one real second a frame at 1x
            app.frame_tick()
        await pilot.pause()
        titles = [m.notification.title for m in seen if isinstance(m, Notify)]
        assert "liquidated" in titles
        assert titles.index("margin warning") < titles.index("margin danger") \
            < titles.index("liquidated"), titles


async def test_the_ticket_takes_a_quantity_in_usdt() -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("full_stop", "b", "shift+tab", "space", "down", "enter")  # market
        await pilot.press("tab", *"500", "tab", "tab", "tab")                       # to "in"
        await pilot.press("space", "down", "enter")                                 # USDT
        await pilot.pause()
        assert app.screen.request.qty_in == "usdt" and app.screen.request.type == "market"
        await pilot.press("shift+tab", "enter")       # from a text field: submit
        await pilot.pause()
        assert app.results[-1].ok, app.results[-1]
        (position,) = app.session.snapshot().account.positions
        instrument = app.session.instruments["XAGUSDT"]
        notional = position.size * position.mark * instrument.cash_per_tick_lot
        assert 0 < notional <= 500 * 10**8


async def test_a_failing_frame_pauses_and_says_so() -> None:
    app = make()
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("space")

        def broken(real_seconds: float):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        app.session.tick = broken  # type: ignore[method-assign]
        app.frame_tick()
        await pilot.pause()
        assert app.session.paused
        assert any("boom" in text for text in notes(seen, "error"))
