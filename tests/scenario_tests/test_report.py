"""The report of a replay (scenarios.report, .realism, .chart) on hand-made records: per-day
aggregates worked by hand, the PnL split and drawdown, the realism checks firing both ways,
deterministic files, the text-chart fallback and the terminal summary."""

from __future__ import annotations

import io
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from records import (
    MINUTE,
    SILVER,
    account,
    adl,
    funding,
    liquidation,
    marks_record,
    minute,
    path_from_returns,
    record,
)
from rich.console import Console

from engine import default_instruments
from engine.enums import Side
from engine.units import CASH_SCALE, parse_timestamp
from scenarios.chart import PNG_HINT, text_chart
from scenarios.realism import autocorrelation, kurtosis, mark_returns, realism
from scenarios.report import (
    ReportError,
    max_drawdown,
    render_terminal,
    summarize,
    summary_json,
    write_report,
)

INSTRUMENTS = default_instruments()
GOLDEN = Path(__file__).parent / "golden" / "report-summary.json"
BITCOIN = "BTCUSDT"
USDT = CASH_SCALE
T = parse_timestamp("2026-01-29T23:58:00Z")


def two_days():
    """Setup: silver over two minutes of Jan 29 and two of Jan 30 (index 100.00-100.20, tick
    0.01), bitcoin one minute on Jan 29; two funding settlements and one liquidation minute on
    Jan 29, an ADL on Jan 30; the insurance fund 100 -> 90 -> 80 -> 85 USDT; one account of
    interest, liquidated."""
    rows = [
        minute(T, index=10_000, mark=10_010, last=10_005, mid=20_011, open_interest=5_000,
               insurance=100 * USDT, trades=3, volume=1_500, depth=40_000),
        minute(T, symbol=BITCOIN, index=900_000, mark=900_450, last=900_100,
               open_interest=2_000, insurance=100 * USDT),
        minute(T + MINUTE, index=10_020, mark=10_000, open_interest=7_000, insurance=90 * USDT,
               long_liquidations=2, long_liquidated=3 * USDT, short_liquidations=1,
               short_liquidated=1 * USDT, trades=2, volume=500),
        minute(T + 2 * MINUTE, index=10_000, mark=10_000, last=9_990, open_interest=4_000,
               insurance=80 * USDT),
        minute(T + 3 * MINUTE, index=10_000, mark=9_995, last=9_995, open_interest=6_000,
               insurance=85 * USDT),
    ]
    liquidated = liquidation(T + MINUTE + 5 * 10**9, account="user", qty=2_000, price=9_990,
                             notional=2 * 9_990 * 10**5 * 10, stage="takeover",
                             insurance_delta=-3 * USDT)
    user = account(name="user", label="20x long", deposited=1_000 * USDT,
                   equity=[(T, 1_000 * USDT), (T + MINUTE, 1_100 * USDT),
                           (T + 2 * MINUTE, 900 * USDT), (T + 3 * MINUTE, 1_050 * USDT)],
                   final_equity=1_050 * USDT, realized_pnl=150 * USDT, funding_pnl=-20 * USDT,
                   fees_paid=30 * USDT, liquidation_loss=50 * USDT, liquidations=[liquidated],
                   adl=[adl(T + 3 * MINUTE, account="user", side=Side.SELL, qty=10,
                            price=9_995, counterparty="crowd-7")])
    return record(rows, symbols=(SILVER, BITCOIN), liquidations=[liquidated],
                  funding=[funding(T, -5_000), funding(T + MINUTE, 10_000),
                           funding(T, 7_000, symbol=BITCOIN, mark=900_450)],
                  adl=[adl(T + 3 * MINUTE)], accounts=[user], insurance_start=100 * USDT)


# -- per day and symbol -----------------------------------------------------------------------


def test_per_day_aggregates_worked_by_hand() -> None:
    """Setup: two_days(). Premiums in bp: +10.00 and -19.96 (-20/100.20) on Jan 29; 0 and -5
    on Jan 30."""
    days = summarize(two_days(), INSTRUMENTS)["days"]

    assert list(days) == ["2026-01-29", "2026-01-30"]
    first, second = days["2026-01-29"]["symbols"][SILVER], days["2026-01-30"]["symbols"][SILVER]
    assert first["index"] == {"low": "100.00", "high": "100.20"}
    assert first["mark"] == {"low": "100.00", "high": "100.10"}
    assert first["last"] == {"low": "100.05", "high": "100.05"}, "a None last is no price"
    assert first["funding"] == {"settlements": 2, "min": "-0.00005", "max": "0.0001",
                                "mean": "0.000025"}
    assert first["premium_bp"] == {"mean": "-4.98", "max_abs": "19.96", "calm_hour": "14.98",
                                   "worst_hour": "14.98",
                                   "worst_hour_at": "2026-01-29T23:00:00Z"}
    assert first["open_interest"] == {"start": "5.000", "end": "7.000", "min": "5.000",
                                      "max": "7.000"}
    assert first["liquidations"] == {"long": {"count": 2, "notional": "3.00"},
                                     "short": {"count": 1, "notional": "1.00"}}
    assert (first["trades"], first["volume"], first["minutes"], first["adl"]) == (5, "2.000", 2, 0)
    assert days["2026-01-29"]["insurance"] == {"start": "100.00", "end": "90.00"}

    assert second["last"] == {"low": "99.90", "high": "99.95"}
    assert second["funding"] == {"settlements": 0, "min": None, "max": None, "mean": None}
    assert second["premium_bp"]["mean"] == "-2.50" and second["premium_bp"]["max_abs"] == "5.00"
    assert second["open_interest"] == {"start": "7.000", "end": "6.000", "min": "4.000",
                                       "max": "6.000"}, "the day starts where the last ended"
    assert second["adl"] == 1
    assert days["2026-01-30"]["insurance"] == {"start": "90.00", "end": "85.00"}

    bitcoin = days["2026-01-29"]["symbols"][BITCOIN]
    assert bitcoin["index"] == {"low": "90000.00", "high": "90000.00"}
    assert bitcoin["premium_bp"]["max_abs"] == "5.00"
    assert bitcoin["funding"]["mean"] == "0.00007"
    assert BITCOIN not in days["2026-01-30"]["symbols"]


def test_calm_hour_is_the_median_hour_and_worst_the_largest() -> None:
    """Setup: four clock hours whose mean |premium| is 1, 3, 2 and 4 bp (index 10 000 ticks):
    the calm hour is the lower middle (2 bp), the worst the 4 bp hour."""
    start = parse_timestamp("2026-01-07T00:00:00Z")
    rows = [minute(start + hour * 60 * MINUTE + k * MINUTE, index=10_000,
                   mark=10_000 + sign * bp)
            for hour, bp in enumerate((1, 3, 2, 4)) for k, sign in enumerate((1, -1))]
    premium = summarize(record(rows), INSTRUMENTS)["days"]["2026-01-07"]["symbols"][SILVER]
    assert premium["premium_bp"] == {"mean": "0.00", "max_abs": "4.00", "calm_hour": "2.00",
                                     "worst_hour": "4.00",
                                     "worst_hour_at": "2026-01-07T03:00:00Z"}


def test_a_symbol_without_instrument_is_named() -> None:
    with pytest.raises(ReportError, match="no instrument for BTCUSDT"):
        summarize(two_days(), {SILVER: INSTRUMENTS[SILVER]})


# -- accounts ---------------------------------------------------------------------------------


def test_pnl_split_and_liquidation_story() -> None:
    """Setup: deposited 1000, realized +150, funding -20, fees 30, liquidation 50, final 1050
    (no position left): the parts add to +50 and nothing is left unrealized."""
    (user,) = summarize(two_days(), INSTRUMENTS)["accounts"]
    assert user["pnl"] == {"realized": "150.00", "unrealized": "0.00", "funding": "-20.00",
                           "fees": "-30.00", "liquidation": "-50.00", "total": "50.00"}
    assert user["liquidations"] == [{
        "at": "2026-01-29T23:59:05Z", "symbol": SILVER, "position": "long", "stage": "takeover",
        "qty": "2.000", "price": "99.90", "notional": "199.80", "insurance_delta": "-3.00"}]
    assert user["adl"] == [{"at": "2026-01-30T00:01:00Z", "symbol": SILVER,
                            "position": "short", "qty": "0.010", "price": "99.95",
                            "counterparty": "crowd-7"}]


@settings(max_examples=50)
@given(st.lists(st.integers(-10**12, 10**12), min_size=5, max_size=5),
       st.integers(0, 10**12))
def test_pnl_parts_sum_to_the_equity_change(parts: list[int], deposited: int) -> None:
    """Setup: an account whose final equity is what its deposit and its parts make."""
    realized, unrealized, funding_pnl, fees, liquidation_loss = parts
    fees, liquidation_loss = abs(fees), abs(liquidation_loss)
    final = deposited + realized + unrealized + funding_pnl - fees - liquidation_loss
    one = account(deposited=deposited, final_equity=final, realized_pnl=realized,
                  unrealized_pnl=unrealized, funding_pnl=funding_pnl, fees_paid=fees,
                  liquidation_loss=liquidation_loss)
    (summary,) = summarize(record([minute(T)], accounts=[one]), INSTRUMENTS)["accounts"]
    pnl = {key: Decimal(value) for key, value in summary["pnl"].items()}
    assert pnl["total"] == Decimal(final - deposited) / USDT
    assert sum(v for k, v in pnl.items() if k != "total") == pnl["total"]
    assert pnl == {"realized": Decimal(realized) / USDT,
                   "unrealized": Decimal(unrealized) / USDT,
                   "funding": Decimal(funding_pnl) / USDT, "fees": -Decimal(fees) / USDT,
                   "liquidation": -Decimal(liquidation_loss) / USDT,
                   "total": Decimal(final - deposited) / USDT}


def test_max_drawdown_exact() -> None:
    """Setup: equity 100, 120, 90, 130, 95, 125: the falls are 30 (from 120) and 35 (from 130);
    the largest is 35 = 26.92 % of 130."""
    points = [(T + k * MINUTE, v * USDT) for k, v in enumerate((100, 120, 90, 130, 95, 125))]
    assert max_drawdown(points) == {"amount": "35.00", "percent": "26.92", "peak": "130.00",
                                    "peak_at": "2026-01-30T00:01:00Z",
                                    "trough_at": "2026-01-30T00:02:00Z"}
    rising = [(T + k * MINUTE, v) for k, v in enumerate((1, 2, 3))]
    assert max_drawdown(rising) == {"amount": "0.00", "percent": "0.00", "peak": "0.00000001",
                                    "peak_at": None, "trough_at": None}
    assert max_drawdown([]) is None
    (user,) = summarize(two_days(), INSTRUMENTS)["accounts"]
    assert user["max_drawdown"]["amount"] == "200.00"  # 1100 -> 900


@settings(max_examples=50)
@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=30))
def test_max_drawdown_is_the_largest_earlier_minus_later(values: list[int]) -> None:
    expected = max([0] + [values[i] - values[j] for i in range(len(values))
                          for j in range(i + 1, len(values))])
    found = max_drawdown([(k, v) for k, v in enumerate(values)])
    assert found is not None and Decimal(found["amount"]) == Decimal(expected) / USDT


# -- realism ----------------------------------------------------------------------------------


def garch_returns(n: int, seed: int) -> np.ndarray:
    """GARCH(1,1) with Student-t(4) shocks: heavy tails and clustered volatility."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, n) / np.sqrt(2.0)
    out, variance = np.empty(n), 1e-6
    for t in range(n):
        out[t] = np.sqrt(variance) * shocks[t]
        variance = 1e-8 + 0.15 * out[t] ** 2 + 0.8 * variance
    return out


def by_name(checks):
    return {check.name: check for check in checks}


def test_estimators_on_numbers_worked_by_hand() -> None:
    assert kurtosis(np.array([1.0, -1.0, 1.0, -1.0])) == 1.0
    assert autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 1) == 0.25


def test_heavy_tailed_clustered_series_passes() -> None:
    checks = by_name(realism(marks_record(path_from_returns(garch_returns(4000, 1)))))
    assert checks["kurtosis"].passed is True, checks["kurtosis"]
    assert checks["abs_return_acf"].passed is True, checks["abs_return_acf"]
    assert checks["lag1_acf"].passed is True, checks["lag1_acf"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gaussian_iid_series_fails_tails_and_clustering(seed: int) -> None:
    returns = np.random.default_rng(seed).normal(0.0, 1e-3, 4000)
    checks = by_name(realism(marks_record(path_from_returns(returns))))
    assert checks["kurtosis"].passed is False, checks["kurtosis"]
    assert checks["abs_return_acf"].passed is False, checks["abs_return_acf"]
    assert checks["lag1_acf"].passed is True, checks["lag1_acf"]


def test_planted_lag1_autocorrelation_fails() -> None:
    """Setup: AR(1) returns r_t = 0.4 r_{t-1} + e_t."""
    noise = np.random.default_rng(5).normal(0.0, 1e-3, 4000)
    returns = np.empty_like(noise)
    returns[0] = noise[0]
    for t in range(1, len(noise)):
        returns[t] = 0.4 * returns[t - 1] + noise[t]
    lag1 = by_name(realism(marks_record(path_from_returns(returns))))["lag1_acf"]
    assert lag1.passed is False and lag1.value is not None and lag1.value > 0.3


def test_frozen_minutes_and_gaps_are_left_out() -> None:
    """Setup: the same moving minutes with a frozen stretch (constant mark) inserted, and a
    record whose second half starts after a gap: the returns are those of the moving,
    consecutive minutes only."""
    marks = path_from_returns(garch_returns(300, 2))
    frozen = np.concatenate([marks[:100], np.full(500, marks[99]), marks[100:]])
    moving = mark_returns(marks_record(marks).minutes, SILVER)
    assert np.array_equal(mark_returns(marks_record(frozen).minutes, SILVER), moving)
    rows = list(marks_record(marks).minutes)
    gapped = rows[:100] + [msgspec.structs.replace(r, ts=r.ts + 10 * MINUTE) for r in rows[100:]]
    assert len(mark_returns(gapped, SILVER)) == len(moving) - 1


def test_too_few_minutes_is_not_applicable() -> None:
    checks = realism(marks_record(np.array([10_000, 10_001, 10_003])))
    assert [c.passed for c in checks] == [None] * 5
    assert all(c.value is None for c in checks)


def test_clustered_liquidations_pass_and_even_ones_fail() -> None:
    """Setup: three hours; clustered: a cascade minute of twelve liquidations and 80 USDT among
    five minutes of one 5-USDT liquidation, all after midnight; even: one 5-USDT liquidation
    every minute."""
    marks = path_from_returns(garch_returns(180, 3))
    clustered = [(0, 0)] * 181
    for k in (125, 130, 131, 140, 150):
        clustered[k] = (1, 5 * USDT)
    clustered[132] = (12, 80 * USDT)
    checks = by_name(realism(marks_record(marks, liquidated=clustered)))
    assert checks["worst_minute_share"].value == pytest.approx(80 / 105)
    assert checks["worst_minute_share"].passed is True
    assert checks["liquidation_dispersion"].passed is True

    even = by_name(realism(marks_record(marks, liquidated=[(1, 5 * USDT)] * 181)))
    assert even["worst_minute_share"].value == pytest.approx(1 / 60)
    assert even["worst_minute_share"].passed is False
    assert even["liquidation_dispersion"].passed is False


def test_poisson_liquidation_counts_are_not_clustered() -> None:
    counts = np.random.default_rng(4).poisson(0.5, 2000)
    rows = [minute(T + k * MINUTE, long_liquidations=int(c), long_liquidated=int(c) * USDT)
            for k, c in enumerate(counts)]
    assert by_name(realism(record(rows)))["liquidation_dispersion"].passed is False


# -- files ------------------------------------------------------------------------------------


def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes ``import matplotlib`` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_files_are_byte_identical_across_calls(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    no_matplotlib(monkeypatch)
    first = write_report(two_days(), INSTRUMENTS, tmp_path / "a")
    second = write_report(two_days(), INSTRUMENTS, tmp_path / "b")
    assert [p.name for p in first] == ["summary.json", "minutes.csv", "liquidations.csv",
                                       "funding.csv", "adl.csv", "chart.txt"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_golden_summary(request: pytest.FixtureRequest) -> None:
    """The summary.json of two_days(), compared byte for byte (``--update-golden`` rewrites
    it; review the diff)."""
    data = summary_json(two_days(), INSTRUMENTS)
    if request.config.getoption("--update-golden"):
        GOLDEN.write_bytes(data)
    assert data == GOLDEN.read_bytes()


def test_csv_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_matplotlib(monkeypatch)
    write_report(two_days(), INSTRUMENTS, tmp_path)
    minutes = (tmp_path / "minutes.csv").read_text().splitlines()
    assert minutes[0] == ("ts,symbol,index,mark,last,mid,premium_bp,funding_rate,"
                          "open_interest,depth,trades,volume,long_liquidations,"
                          "long_liquidated,short_liquidations,short_liquidated,insurance")
    assert minutes[1] == ("2026-01-29T23:58:00Z,XAGUSDT,100.00,100.10,100.05,100.055,10.00,"
                          "0.0001,5.000,40.000,3,1.500,0,0.00,0,0.00,100.00")
    assert minutes[3] == ("2026-01-29T23:59:00Z,XAGUSDT,100.20,100.00,,,-19.96,0.0001,7.000,"
                          "0.000,2,0.500,2,3.00,1,1.00,90.00")
    assert len(minutes) == 6
    assert (tmp_path / "liquidations.csv").read_text().splitlines() == [
        "ts,account,symbol,position,stage,qty,price,notional,insurance_delta",
        "2026-01-29T23:59:05Z,user,XAGUSDT,long,takeover,2.000,99.90,199.80,-3.00"]
    assert (tmp_path / "funding.csv").read_text().splitlines()[1:] == [
        "2026-01-29T23:58:00Z,XAGUSDT,-0.00005,100.00",
        "2026-01-29T23:59:00Z,XAGUSDT,0.0001,100.00",
        "2026-01-29T23:58:00Z,BTCUSDT,0.00007,90045.00"]
    assert (tmp_path / "adl.csv").read_text().splitlines()[1] == (
        "2026-01-30T00:01:00Z,mm,XAGUSDT,short,0.010,100.00,crowd-1")


def test_text_chart_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_matplotlib(monkeypatch)
    paths = write_report(two_days(), INSTRUMENTS, tmp_path)
    assert paths[-1] == tmp_path / "chart.txt" and not (tmp_path / "chart.png").exists()
    text = paths[-1].read_text()
    assert text.splitlines()[0] == f"chart.txt: {PNG_HINT}"
    assert "pip install 'perpsim[report]'" in text
    assert "XAGUSDT mark, 2026-01-29T23:58:00Z .. 2026-01-30T00:01:00Z" in text


def test_png_chart_with_matplotlib(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib",
                        reason="the optional report extra (matplotlib) is not installed")
    first = write_report(two_days(), INSTRUMENTS, tmp_path / "a")[-1]
    second = write_report(two_days(), INSTRUMENTS, tmp_path / "b")[-1]
    assert first.name == "chart.png" and not (tmp_path / "a" / "chart.txt").exists()
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


def test_text_chart_draws_ranges_exactly() -> None:
    assert text_chart([1, 2, 3], width=3, height=3) == ["3 │  •", "  │ • ", "1 │•  "]
    # six values in three columns: each column spans its pair's low to high
    assert text_chart([0, 2, 2, 2, 2, 4], width=3, height=3) == [
        "4 │  │", "  ││•│", "0 ││  "]
    assert text_chart([], width=3, height=3) == ["(no data)"]


# -- terminal ---------------------------------------------------------------------------------


def test_terminal_summary_has_its_sections() -> None:
    console = Console(file=io.StringIO(), width=120)
    render_terminal(two_days(), INSTRUMENTS, console)
    out = console.file.getvalue()
    for section in ("Replay hand-made", "2026-01-29T23:58:00Z .. 2026-01-30T00:02:00Z",
                    "XAGUSDT: prices and premium (bp) by day",
                    "XAGUSDT: funding, open interest, liquidations by day",
                    "BTCUSDT: prices and premium (bp) by day", "Insurance fund by day",
                    "Accounts of interest", "20x long (user)",
                    "liquidated 2026-01-29T23:59:05Z: XAGUSDT long 2.000 by takeover at 99.90",
                    "auto-deleveraged 2026-01-30T00:01:00Z", "Realism", "n/a",
                    "XAGUSDT mark, 2026-01-29T23:58:00Z"):
        assert section in out, f"{section!r} missing from:\n{out}"
    assert "19.96" in out and "200.00 (18.18 %)" in out
