"""Done means (issue 6/8), through the app as a person drives it, on jan-2026-silver: go long
20x on silver from the ticket on the evening of Jan 29 (isolated, 100 oz), press play at
3600x and watch the position liquidated on Jan 30 with the reason on screen; quit, start
again, and find the session where it was. The session is opened as ``perpsim trade --from``
opens it. ``PERPSIM_LONG=1`` starts at the scenario's start (Jan 2) and gets to Jan 28's FOMC
with ``n`` (eleven jumps) and to the evening of Jan 29 by playing, as a person would.

Asserts the session's state and the notifications, not rendered text.
"""

from __future__ import annotations

import argparse
import os

from textual.notifications import Notify

from engine.events import Liquidation
from engine.units import format_timestamp, parse_timestamp
from tui.app import PerpApp
from tui.trade_command import open_session

LONG = os.environ.get("PERPSIM_LONG") == "1"
SILVER = "XAGUSDT"
EVENING = parse_timestamp("2026-01-29T23:30:00Z")
SIZE = (120, 36)
MAX_FRAMES = 20_000


def arguments(data_dir) -> argparse.Namespace:  # type: ignore[no-untyped-def]
    start = None if LONG else EVENING
    return argparse.Namespace(scenario="jan-2026-silver", start=start, balance="10000",
                              speed=1, data_dir=data_dir)


def notes(seen: list, title: str) -> list[str]:
    return [m.notification.message for m in seen
            if isinstance(m, Notify) and m.notification.title == title]


async def play_until(app: PerpApp, pilot, done, clock: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Frames as the timer would run them (a quarter second of real time each), the screen
    refreshed every few frames, until ``done()``."""
    frames = 0
    while not done():
        assert not app.session.finished, "the replay ended first"
        assert frames < MAX_FRAMES, "no end in sight"
        assert not app.session.paused or app.session.target is not None, \
            "the market stopped (a failing frame pauses it)"
        clock[0] += 0.25
        app.frame_tick()
        frames += 1
        if frames % 25 == 0:
            await pilot.pause()
    await pilot.pause()


async def test_a_20x_long_opened_on_the_evening_of_jan_29_dies_on_jan_30(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = [0.0]
    seen: list = []
    app = PerpApp(open_session(arguments(tmp_path)), run_clock=False, clock=lambda: clock[0])
    session = app.session
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        if LONG:
            for _ in range(11):                       # Jan 3 ... Jan 28 19:00, the FOMC
                await pilot.press("n")
                await play_until(app, pilot, lambda: session.target is None, clock)
            assert format_timestamp(session.now).startswith("2026-01-28T19:00")
            await pilot.press("space", *["plus"] * 4)   # 3600x to the evening of Jan 29
            await play_until(app, pilot, lambda: session.now >= EVENING, clock)
            await pilot.press("space")
        assert format_timestamp(session.now)[:10] == "2026-01-29"
        # the ticket: buy 100, isolated at 20x, at market
        await pilot.press("b", "1", "0", "0", "shift+tab", "space", "down", "enter")  # market
        await pilot.press("tab", "tab", "tab", "tab", "tab", *"20", "tab")           # leverage
        await pilot.press("space", "down", "enter", "tab", "tab")                   # isolated
        await pilot.pause()
        preview = app.screen.preview
        assert preview is not None and preview.ok and preview.liquidation_price is not None
        await pilot.press("enter")
        await pilot.pause()
        positions = session.snapshot().account.positions
        assert len(positions) == 1, (app.results, notes(seen, "rejected"))
        (position,) = positions
        assert (position.size, position.leverage, position.isolated) == (100_000, 20, True)
        assert position.liquidation_price == preview.liquidation_price, "as the ticket said"
        assert notes(seen, "fill")
        await pilot.press("space", *["plus"] * 4)       # play at 3600x
        assert session.speed == 3600 and not session.paused
        await play_until(app, pilot, lambda: bool(session.snapshot().liquidations), clock)
        (liquidation, *_) = session.snapshot().liquidations
        assert isinstance(liquidation, Liquidation) and liquidation.symbol == SILVER
        assert format_timestamp(liquidation.ts)[:10] == "2026-01-30"
        (message, *_) = notes(seen, "liquidated")
        assert message.startswith(f"{SILVER} 100.000 liquidated at ")
        assert "margin ratio reached 100 %" in message
        assert session.snapshot().account.positions == ()
        assert app.frame is not None and liquidation in app.frame.snapshot.liquidations
        await pilot.press("q")
    before, now = session.state_hash(), session.now
    again = PerpApp(open_session(arguments(tmp_path)), run_clock=False, clock=lambda: 0.0)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.session.state_hash() == before
        assert again.session.now >= now - 60 * 10**9  # within the last journalled step
        assert again.session.snapshot().liquidations
