"""The ticket's preview: a burst of keys costs one preview at once and one a PREVIEW_DELAY
later (from the frame loop), the last edit the one previewed; the pending edit of a ticket
that has closed is dropped. (What a preview says is Session.what_if's: test_session_what_if.)"""

from __future__ import annotations

import pytest
import ui_market

import tui.app
from tui.app import PerpApp
from tui.ticket import TicketScreen

SIZE = (120, 36)
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


async def test_a_burst_of_keys_is_previewed_at_once_then_by_the_next_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's clock is the test's: a preview at once, then none until the clock has moved
    PREVIEW_DELAY and a frame runs; that frame previews the last edit."""
    monkeypatch.setattr(tui.app, "PREVIEW_DELAY", DELAY)
    clock = [0.0]
    app = PerpApp(ui_market.session(), run_clock=False, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        asked = counting(app)
        await pilot.press("b", "shift+tab", "space", "down", "enter", "tab")  # a market order
        clock[0] += DELAY
        app.frame_tick()
        await pilot.pause()
        clock[0] += DELAY  # a pause in the typing
        asked.clear()
        await pilot.press("1", "2", "5")
        await pilot.pause()
        assert asked == ["1"], "the first key is previewed at once, the rest wait"
        clock[0] += DELAY / 2
        app.frame_tick()
        assert asked == ["1"], "not yet: the last preview is younger than PREVIEW_DELAY"
        clock[0] += DELAY / 2
        app.frame_tick()
        await pilot.pause()
        assert asked == ["1", "125"]
        screen = app.screen
        assert isinstance(screen, TicketScreen) and screen.preview is not None
        assert screen.preview.ok and screen.preview.position_size == 125_000
        app.frame_tick()
        assert asked == ["1", "125"], "nothing pending: no preview"


async def test_a_pending_preview_of_a_closed_ticket_is_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tui.app, "PREVIEW_DELAY", DELAY)
    clock = [0.0]
    app = PerpApp(ui_market.session(), run_clock=False, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        asked = counting(app)
        await pilot.press("b", "7", "escape")  # "7" waits for the frame; the ticket closes
        await pilot.pause()
        clock[0] += DELAY
        app.frame_tick()
        await pilot.pause()
        assert not isinstance(app.screen, TicketScreen)
        assert "7" not in asked, "no preview for a ticket that is gone"
