"""Snapshots (pytest-textual-snapshot) of the screen on the fixed synthetic market, paused,
with no frame timer: the main screen at 120x36 and 80x24, the ticket, the help screen and a
liquidation notification. Review the HTML report before ``--snapshot-update``."""

from __future__ import annotations

import pytest
import ui_market
from textual.widgets import Input

from tui.app import PerpApp

STEPS = ["full_stop"] * 40
"""Forty steps in: a book, trades and a line on the chart."""


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


def make(**kwargs) -> PerpApp:  # type: ignore[no-untyped-def]
    return PerpApp(ui_market.session(**kwargs), run_clock=False, clock=lambda: 0.0)


def test_main_screen_120x36(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make(), press=STEPS, terminal_size=(120, 36))


def test_main_screen_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make(), press=STEPS, terminal_size=(80, 24))


def test_ticket_with_its_preview(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = [*STEPS, "b", "1", "0", "tab", "7", "8", "full_stop", "0", "0", "tab", "tab",
            "tab", "2", "0"]
    assert snap_compare(make(), press=keys, terminal_size=(120, 36))


def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make(), press=["question_mark"], terminal_size=(120, 36))


def test_liquidation_notification(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make(crash_at=120, crash=-0.12, drift=0.0, balance="500")

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        session = app.session
        assert session.set_leverage("XAGUSDT", 20).ok
        assert session.place("XAGUSDT", "buy", "100", type="market").ok
        app.frame_tick()
        await pilot.pause()  # the fill toasts arrive as messages: let them land, then clear
        app.clear_notifications()
        session.jump_to_next_event()
        while session.target is not None:
            session.tick(0.0)
        app.frame_tick()
        await pilot.pause()
        assert session.snapshot().liquidations

    assert snap_compare(app, run_before=run, terminal_size=(120, 36))
