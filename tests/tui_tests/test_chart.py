"""The chart places the session's prices on rows: a candle's wick and body, the mark and the
index, the person's fills and liquidations at their bucket and price, the entry and the
liquidation price as lines; the range leaves out a level that would squash the candles; the
candle width follows the speed."""

from __future__ import annotations

import ui_market

from engine.units import NS_PER_SECOND
from scenarios.candles import Candle
from tui.app import PerpApp, chart_timeframe
from tui.widgets.chart import LIQ, Level, Marker, chart_cells, price_range, time_axis

M = 60 * NS_PER_SECOND


def glyphs(grid) -> list[str]:  # type: ignore[no-untyped-def]
    return ["".join(glyph for glyph, _ in row) for row in grid]


def test_a_candle_is_a_wick_from_high_to_low_and_a_body_from_open_to_close() -> None:
    # rows for 100..104 on 5 rows: 104 is row 0, 100 row 4
    candle = Candle(ts=0, open=101, high=104, low=100, close=103, volume=1)
    assert glyphs(chart_cells((candle,), 1, 5, 100, 104)) == ["│", "┃", "┃", "┃", "│"]


def test_mark_and_index_show_where_no_candle_is_and_candles_align_right() -> None:
    flat = Candle(ts=0, mark=104, index=100)
    traded = Candle(ts=M, open=102, high=102, low=102, close=102, volume=1, mark=102, index=102)
    grid = glyphs(chart_cells((flat, traded), 3, 5, 100, 104))
    assert grid == [" ─ ", "   ", "  ┃", "   ", " · "]


def test_fills_and_liquidations_sit_at_their_bucket_and_price_and_levels_cross() -> None:
    candles = tuple(Candle(ts=n * M, mark=102, index=102) for n in range(4))
    markers = (Marker(ts=M + 5, price=104, glyph="▲", style=LIQ),
               Marker(ts=3 * M + 59, price=100, glyph="✖", style=LIQ),
               Marker(ts=9 * M, price=100, glyph="?", style=LIQ))  # off the chart: not drawn
    levels = (Level(103, "entry", LIQ),)
    grid = glyphs(chart_cells(candles, 4, 5, 100, 104, markers, levels, M))
    assert grid == [" ▲  ", "┄┄┄┄", "────", "    ", "   ✖"]


def test_a_far_liquidation_price_does_not_squash_the_candles() -> None:
    candles = (Candle(ts=0, open=100, high=110, low=100, close=105, volume=1),)
    near, far = Level(95, "liq", LIQ), Level(50, "liq", LIQ)
    assert price_range(candles, (near,)) == (95, 110)
    assert price_range(candles, (far,)) == (100, 110)
    assert price_range((), (near,)) is None
    # each level is measured against the candles, not against a range another level widened
    assert price_range(candles, (Level(92, "entry", LIQ), Level(82, "liq", LIQ))) == (92, 110)


def test_the_candle_width_follows_the_speed() -> None:
    assert [chart_timeframe(s) for s in (1, 10, 60, 600, 3600)] == [60, 60, 300, 3600, 14400]


def test_the_time_axis_spans_the_plot_and_shows_dates_across_days() -> None:
    day = 86_400 * NS_PER_SECOND
    assert time_axis(0, 1_800 * NS_PER_SECOND, 60, 30) == "00:00         1m         00:30"
    assert time_axis(0, day, 3600, 30) == "01-01 00:00   1h   01-02 00:00"
    assert time_axis(0, day, 3600, 12) == " 01-02 00:00", "too narrow: the last time alone"


async def test_the_app_shows_the_sessions_candles_at_the_speeds_width() -> None:
    session = ui_market.session()
    app = PerpApp(session, run_clock=False, clock=lambda: 0.0)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(30):
            await pilot.press("full_stop")
        await pilot.pause()
        assert app.frame is not None and app.frame.timeframe == 60
        assert app.frame.candles == session.candles("XAGUSDT", 60)
        await pilot.press("space", *["plus"] * 4)   # 3600x: 4-hour candles
        await pilot.pause()
        assert app.frame.timeframe == 14_400
        assert app.frame.candles == session.candles("XAGUSDT", 14_400)
