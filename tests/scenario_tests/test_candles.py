"""Candles for the chart: OHLC and volume of the trades in each UTC-aligned bucket, the mark's
range and close and the index's close, the forming candle last, and a session's candles agree
with the trades and marks it ran."""

from __future__ import annotations

import pytest
import synthetic

from engine.units import NS_PER_SECOND
from scenarios.candles import TIMEFRAMES, Candle, CandleSeries, CandleStore, timeframe_label
from scenarios.session import Session

S = NS_PER_SECOND
T0 = 1_767_780_000 * S  # 2026-01-07T10:00:00Z, a multiple of every width


def test_trades_make_open_high_low_close_and_volume_per_bucket() -> None:
    series = CandleSeries(60)
    for second, price, qty in ((5, 100, 1), (20, 104, 2), (30, 98, 3), (59, 101, 4),
                               (60, 101, 1), (119, 99, 1)):
        series.trade(T0 + second * S, price, qty)
    assert series.candles() == (
        Candle(ts=T0, open=100, high=104, low=98, close=101, volume=10),
        Candle(ts=T0 + 60 * S, open=101, high=101, low=99, close=99, volume=2))


def test_buckets_start_at_utc_multiples_of_their_width() -> None:
    series = CandleSeries(3_600)
    series.trade(T0 + 125 * S, 7, 1)  # 10:02:05 is in the 10:00 hour
    assert series.candles()[0].ts == T0
    series.trade(T0 + 3_600 * S, 8, 1)
    assert [c.ts for c in series.candles()] == [T0, T0 + 3_600 * S]


def test_the_mark_range_and_close_and_the_index_close() -> None:
    series = CandleSeries(60)
    for second, mark, index in ((1, 100, 99), (2, 103, None), (3, 97, 98), (4, 99, None)):
        series.prices(T0 + second * S, mark, index)
    (candle,) = series.candles()
    assert (candle.mark, candle.mark_high, candle.mark_low, candle.index) == (99, 103, 97, 98)
    assert candle.open is None and candle.volume == 0, "no trade: no OHLC"
    series.prices(T0 + 61 * S, 101, 100)
    # the new bucket's range starts from the last mark: the move across the boundary shows
    assert series.candles()[-1].mark_low == 99 and series.candles()[-1].mark_high == 101


def test_time_only_goes_forward_and_only_keep_candles_are_kept() -> None:
    series = CandleSeries(60, keep=3)
    for minute in range(5):
        series.trade(T0 + minute * 60 * S, 100 + minute, 1)
    series.trade(T0, 1, 1)  # an older time is ignored
    assert [c.open for c in series.candles()] == [102, 103, 104]


def test_the_labels() -> None:
    assert [timeframe_label(s) for s in TIMEFRAMES] == ["1m", "5m", "15m", "1h", "4h"]


@pytest.mark.parametrize("seconds", [60, 300])
def test_a_sessions_candles_are_its_trades_and_marks(seconds: int) -> None:
    session = Session(synthetic.setup(), "candles:7", keep=10_000)
    marks: list[tuple[int, int | None]] = []
    feed = session.charts.prices

    def spy(ts, mark, index):  # type: ignore[no-untyped-def]
        marks.append((ts, mark["XAGUSDT"]))
        feed(ts, mark, index)

    session.charts.prices = spy  # type: ignore[method-assign]
    session.advance(900)
    trades = session.snapshot().symbol("XAGUSDT").trades
    width = seconds * S
    candles = session.candles("XAGUSDT", seconds)
    assert trades and len(candles) >= 900 // seconds
    for candle in candles:
        inside = [t for t in trades if candle.ts <= t.ts < candle.ts + width]
        if not inside:
            assert candle.open is None
            continue
        assert (candle.open, candle.close) == (inside[0].price, inside[-1].price)
        assert (candle.high, candle.low) == (max(t.price for t in inside),
                                            min(t.price for t in inside))
        assert candle.volume == sum(t.qty for t in inside)
        seen = [m for ts, m in marks if candle.ts <= ts < candle.ts + width]
        before = [m for ts, m in marks if ts < candle.ts][-1:]  # the range starts from it
        assert candle.mark == seen[-1]
        assert (candle.mark_high, candle.mark_low) == (max(seen + before), min(seen + before))


def test_charts_feed_every_width_of_a_symbol() -> None:
    charts = CandleStore(("A",), timeframes=(60, 300))
    charts.trade("A", T0 + 61 * S, 5, 2)
    charts.prices(T0 + 61 * S, {"A": 6}, {"A": 7})
    one, five = charts.candles("A", 60), charts.candles("A", 300)
    assert one[-1].ts == T0 + 60 * S and five[-1].ts == T0
    assert (one[-1].close, one[-1].mark, five[-1].close, five[-1].index) == (5, 6, 5, 7)
