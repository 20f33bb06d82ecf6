"""Scenario files: the bundled ones load, bad ones give one ScenarioError naming the place."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.catalog import bundled
from scenarios.scenario import (
    ScenarioError,
    bundled_names,
    changed_instrument,
    data_dir,
    funding_changes,
    instruments_for,
    load_scenario,
)
from scenarios.scenario_errors import key_lines
from scenarios.series import BarsData, GbmData, PointsData, load_series

BUNDLED = ["flash-crash", "funding-squeeze", "jan-2026-silver", "jan-2026-week2",
           "jan-30-crash", "weekend-gap"]

# A small valid scenario: three 12-hour silver bars and a gold anchor file.
TOML = """\
[scenario]
name = "tiny"
title = "Tiny"
description = "a tiny test scenario"
real = "nothing"
synthesized = "everything"
sources = ["tests"]
start = 2026-01-12T00:00:00Z
end = 2026-01-13T12:00:00Z
seed = 1
step = 60

[[window]]
from = 2026-01-12T10:00:00Z
to = 2026-01-12T11:00:00Z
step = 1
reason = "test"

[[symbol]]
symbol = "XAGUSDT"

[symbol.path]
kind = "bars"
max_gap = 0

[[symbol.path.segment]]
file = "bars.csv"
time_column = "datetime_utc"
bar_seconds = 43200

[[symbol]]
symbol = "XAUUSDT"

[symbol.path]
kind = "points"
vol_per_sqrt_day = 0.02

[[symbol.path.source]]
file = "points.csv"
date_column = "date"
time_column = "time_utc"
price_column = "price"
default_time = 21:59:00

[instruments.XAGUSDT]
funding_interval_hours = 4
funding_cap = 0.00375

[[change]]
at = 2026-01-12T12:15:00Z
symbol = "XAGUSDT"
funding_interval_hours = 8
funding_cap = 0.0005
reason = "test"

[participants.crowd]
accounts = 10
"""

BARS = """\
datetime_utc,open,high,low,close
2026-01-12T00:00,81.461,84.451,81.333,83.668
2026-01-12T12:00,83.668,86.163,83.400,84.358
2026-01-13T00:00,84.358,86.157,83.592,85.758
"""

POINTS = """\
date,time_utc,price
2026-01-12,10:30,4600.5
2026-01-12,,4604.3
"""


def write(tmp_path: Path, toml: str = TOML, bars: str = BARS, points: str = POINTS) -> Path:
    (tmp_path / "bars.csv").write_text(bars)
    (tmp_path / "points.csv").write_text(points)
    path = tmp_path / "tiny.toml"
    path.write_text(toml)
    return path


def line(text: str, snippet: str, occurrence: int = 0) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` that starts with ``snippet``."""
    found = [n for n, content in enumerate(text.splitlines(), start=1)
             if content.startswith(snippet)]
    return found[occurrence]


def fails(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value


# -- the bundled scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenario_loads_with_its_series(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.start_ns < scenario.end_ns
    series = load_series(scenario)
    assert list(series) == list(scenario.symbols)
    assert set(instruments_for(scenario)) == set(scenario.symbols)
    for data in series.values():
        if isinstance(data, BarsData):
            assert np.all(np.diff(data.start_ns) > 0)
            assert np.all(data.high >= np.maximum(data.open, data.close))
        elif isinstance(data, PointsData):
            assert np.all(np.diff(data.point_ns) > 0)
            assert scenario.start_ns <= data.point_ns[0] <= data.point_ns[-1] <= scenario.end_ns


def test_bundled_names_are_the_six_and_each_file_header_says_real_and_synthesized() -> None:
    assert bundled_names() == BUNDLED
    for name in BUNDLED:
        header = (data_dir() / f"{name}.toml").read_text().split("[scenario]")[0]
        assert "REAL" in header and "SYNTHESIZED" in header


def test_catalog_lists_all_six_with_range_and_what_is_real() -> None:
    summaries = bundled()
    assert [s.name for s in summaries] == BUNDLED
    silver = next(s for s in summaries if s.name == "jan-2026-silver")
    assert silver.start == datetime(2026, 1, 2, tzinfo=UTC)
    assert silver.end == datetime(2026, 2, 7, tzinfo=UTC)
    assert "12-hour" in silver.real
    assert all("\n" not in s.description and s.real for s in summaries)


def _csv_rows(name: str) -> list[dict[str, str]]:
    with open(data_dir() / "jan-2026" / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_jan_2026_silver_bars_equal_the_csv_highs_and_lows() -> None:
    bars = load_series(load_scenario("jan-2026-silver"))["XAGUSDT"]
    assert isinstance(bars, BarsData)
    daily = [r for r in _csv_rows("xagusd_1d.csv") if r["date"] == "2026-01-02"]
    twelve = [r for r in _csv_rows("xagusd_12h.csv") if r["datetime_utc"] >= "2026-01-05T12:00"]
    derived = _csv_rows("xagusd_derived.csv")
    expected = daily + derived + twelve
    assert len(bars.high) == len(expected) == 1 + 1 + 53
    for column in ("open", "high", "low", "close"):
        assert getattr(bars, column).tolist() == [float(r[column]) for r in expected]
    # the bars tile Jan 2 .. Feb 7 with only weekends between them
    assert bars.start_ns[0] == load_scenario("jan-2026-silver").start_ns
    assert bars.end_ns[-1] == load_scenario("jan-2026-silver").end_ns
    assert bars.end_ns[-1] - bars.start_ns[-1] == 12 * 3600 * 10**9


def test_jan_2026_silver_series_are_deterministic() -> None:
    scenario = load_scenario("jan-2026-silver")
    first, second = load_series(scenario), load_series(scenario)
    for symbol, data in first.items():
        other = second[symbol]
        for field in data.__dataclass_fields__:
            value = getattr(data, field)
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, getattr(other, field))


def test_untimed_gold_closes_sit_at_2159_utc_and_timed_quotes_at_their_time() -> None:
    gold = load_series(load_scenario("jan-2026-silver"))["XAUUSDT"]
    assert isinstance(gold, PointsData)
    times = {datetime.fromtimestamp(ns / 1e9, UTC): price
             for ns, price in zip(gold.point_ns.tolist(), gold.point_price.tolist(),
                                  strict=True)}
    assert times[datetime(2026, 1, 2, 21, 59, tzinfo=UTC)] == 4314.40
    assert times[datetime(2026, 1, 30, 18, 10, tzinfo=UTC)] == 4812.71
    assert 4549.71 not in times.values()  # an untimed record high is no anchor
    assert times[datetime(2026, 2, 3, tzinfo=UTC)] == 4779.01  # a 3-day bar open
    assert times[datetime(2026, 1, 29, 1, 20, tzinfo=UTC)] == 5500  # a headline level
    assert datetime(2026, 1, 25, tzinfo=UTC) not in times  # a weekend 3-day open is not used


def test_jan_2026_silver_events_are_the_calendar_in_time_order() -> None:
    scenario = load_scenario("jan-2026-silver")
    assert [ts for ts, _, _ in scenario.events] == sorted(ts for ts, _, _ in scenario.events)
    titles = [title for _, title, _ in scenario.events]
    assert "US December CPI" in titles and "Warsh nominated as Fed Chair" in titles
    warsh = next(ts for ts, title, _ in scenario.events if title.startswith("Warsh"))
    assert warsh == int(datetime(2026, 1, 30, 13, tzinfo=UTC).timestamp()) * 10**9


def test_jan_2026_silver_funding_overrides_and_change_apply() -> None:
    scenario = load_scenario("jan-2026-silver")
    instruments = instruments_for(scenario)
    hour = 3600 * 10**9
    for symbol in ("XAGUSDT", "XAUUSDT"):
        assert instruments[symbol].funding_interval_ns == 4 * hour
        assert instruments[symbol].funding_cap == 375_000  # 0.375 % over RATE_SCALE 1e8
    assert instruments["BTCUSDT"].funding_interval_ns == 8 * hour  # untouched
    change = scenario.spec.change[0]
    assert change.at == datetime(2026, 1, 30, 12, 15, tzinfo=UTC)
    after = changed_instrument(scenario, instruments[change.symbol], change)
    assert after.funding_interval_ns == 8 * hour and after.funding_cap == 50_000
    at = int(datetime(2026, 1, 30, 12, 15, tzinfo=UTC).timestamp()) * 10**9
    assert funding_changes(scenario) == ((at, "XAGUSDT", 8 * hour, 50_000),
                                         (at, "XAUUSDT", 8 * hour, 50_000))


def test_a_change_of_one_term_keeps_the_other(tmp_path: Path) -> None:
    text = TOML.replace("funding_interval_hours = 8\n", "")
    scenario = load_scenario(write(tmp_path, text))
    at = int(datetime(2026, 1, 12, 12, 15, tzinfo=UTC).timestamp()) * 10**9
    assert funding_changes(scenario) == ((at, "XAGUSDT", 4 * 3600 * 10**9, 50_000),)


def test_the_crash_runs_at_one_second_throughout() -> None:
    scenario = load_scenario("jan-30-crash")
    assert scenario.spec.scenario.step == 1 and scenario.windows == ()


# -- a valid tiny file, then each kind of bad file -----------------------------------------------


def test_the_tiny_scenario_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path))
    series = load_series(scenario)
    bars = series["XAGUSDT"]
    assert isinstance(bars, BarsData) and bars.high.tolist() == [84.451, 86.163, 86.157]
    points = series["XAUUSDT"]
    assert isinstance(points, PointsData) and points.point_price.tolist() == [4600.5, 4604.3]
    assert instruments_for(scenario)["XAGUSDT"].funding_cap == 375_000


def check(error: ScenarioError, path: Path, field: str, line_number: int, words: str) -> None:
    assert error.field == field
    assert error.line == line_number
    assert f"{path}:{line_number}: {field}" in str(error)
    assert words in str(error)


def test_a_missing_field_names_its_table_header(tmp_path: Path) -> None:
    path = write(tmp_path, TOML.replace("seed = 1\n", ""))
    check(fails(path), path, "scenario.seed", 1, "missing required field")


def test_a_missing_nested_field_names_its_array_table(tmp_path: Path) -> None:
    text = TOML.replace('file = "points.csv"\n', "")
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[1].path.source[0].file",
          line(text, "[[symbol.path.source]]"), "missing required field")


def test_a_wrong_type_names_the_key_line(tmp_path: Path) -> None:
    text = TOML.replace("bar_seconds = 43200", 'bar_seconds = "12h"')
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[0].path.segment[0].bar_seconds",
          line(text, "bar_seconds"), "Expected `int`, got `str`")


def test_an_unknown_field_is_refused(tmp_path: Path) -> None:
    text = TOML.replace("step = 60\n", "step = 60\ncolour = 3\n")
    path = write(tmp_path, text)
    check(fails(path), path, "scenario.colour", line(text, "colour"), "unknown field")


def test_a_toml_syntax_error_carries_its_line(tmp_path: Path) -> None:
    text = TOML.replace("seed = 1", "seed = = 1")
    path = write(tmp_path, text)
    error = fails(path)
    assert error.line == line(text, "seed") and "not valid TOML" in str(error)


def test_start_not_before_end(tmp_path: Path) -> None:
    text = TOML.replace("end = 2026-01-13T12:00:00Z", "end = 2026-01-12T00:00:00Z")
    path = write(tmp_path, text)
    check(fails(path), path, "scenario.end", line(text, "end ="), "must be after")


def test_a_local_datetime_is_not_utc(tmp_path: Path) -> None:
    text = TOML.replace("start = 2026-01-12T00:00:00Z", "start = 2026-01-12T00:00:00")
    path = write(tmp_path, text)
    check(fails(path), path, "scenario.start", line(text, "start ="), "UTC")


def test_a_window_outside_the_range(tmp_path: Path) -> None:
    text = TOML.replace("to = 2026-01-12T11:00:00Z", "to = 2026-01-14T11:00:00Z")
    path = write(tmp_path, text)
    check(fails(path), path, "window[0].to", line(text, "to ="), "outside the scenario")


def test_overlapping_windows(tmp_path: Path) -> None:
    extra = ('[[window]]\nfrom = 2026-01-12T10:30:00Z\nto = 2026-01-12T12:00:00Z\nstep = 1\n'
             'reason = "overlap"\n\n[[symbol]]\nsymbol = "XAGUSDT"')
    text = TOML.replace('[[symbol]]\nsymbol = "XAGUSDT"', extra)
    path = write(tmp_path, text)
    check(fails(path), path, "window[1].from", line(text, "from =", 1), "overlaps window[0]")


def test_an_unknown_path_kind(tmp_path: Path) -> None:
    text = TOML.replace('kind = "bars"', 'kind = "candles"')
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[0].path.kind", line(text, 'kind = "candles"'),
          "Invalid value 'candles'")


def test_an_unknown_bundled_name_lists_the_bundled_ones() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("jan-2027")
    assert "no bundled scenario" in str(caught.value) and "jan-30-crash" in str(caught.value)


def test_an_unknown_symbol(tmp_path: Path) -> None:
    text = TOML.replace('symbol = "XAUUSDT"', 'symbol = "XPTUSDT"')
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[1].symbol", line(text, 'symbol = "XPTUSDT"'),
          "unknown symbol 'XPTUSDT'")


def test_a_declared_symbol_is_known(tmp_path: Path) -> None:
    text = TOML.replace('symbol = "XAUUSDT"', 'symbol = "GOLD2"') + (
        '\n[instruments.GOLD2]\nbase = "XAUUSDT"\nmax_mark_deviation = 0.02\n')
    scenario = load_scenario(write(tmp_path, text))
    gold2 = instruments_for(scenario)["GOLD2"]
    assert gold2.symbol == "GOLD2" and gold2.max_mark_deviation == 2_000_000
    assert gold2.market_hours


def test_a_bad_override_value_names_the_instrument_field(tmp_path: Path) -> None:
    text = TOML.replace("funding_cap = 0.00375", "funding_cap = 0.9")
    path = write(tmp_path, text)
    check(fails(path), path, "instruments.XAGUSDT.funding_cap", line(text, "funding_cap = 0.9"),
          "must be positive and below 0.5")


def test_a_wrong_type_override_names_the_instrument_field(tmp_path: Path) -> None:
    text = TOML.replace("funding_interval_hours = 4", 'funding_interval_hours = "four"')
    path = write(tmp_path, text)
    check(fails(path), path, "instruments.XAGUSDT.funding_interval_hours",
          line(text, "funding_interval_hours = \"four\""), "Expected `int`")


def test_an_unknown_override_field(tmp_path: Path) -> None:
    text = TOML.replace("funding_cap = 0.00375", "funding_cap = 0.00375\nfunding_floor = 1")
    path = write(tmp_path, text)
    check(fails(path), path, "instruments.XAGUSDT.funding_floor", line(text, "funding_floor"),
          "not an instrument field")


def test_a_bad_change_names_the_change(tmp_path: Path) -> None:
    text = TOML.replace("funding_interval_hours = 8", "funding_interval_hours = 30")
    path = write(tmp_path, text)
    check(fails(path), path, "change[0].funding_interval_hours",
          line(text, "funding_interval_hours = 30"), "Expected `int` <= 24")


def test_participants_must_be_a_table_of_tables(tmp_path: Path) -> None:
    text = TOML.replace("[participants.crowd]\naccounts = 10\n", "[participants]\ncrowd = 10\n")
    path = write(tmp_path, text)
    check(fails(path), path, "participants.crowd", line(text, "crowd = 10"),
          "must be a table")


# -- bad CSV data: the CSV line and the scenario field that named the file -----------------------


def csv_fails(tmp_path: Path, field: str, csv_name: str, csv_line: int, words: str,
              **data: str) -> None:
    path = write(tmp_path, **data)
    error = fails(path)
    assert error.field == field
    assert error.line == line(TOML, 'file = "bars.csv"' if csv_name == "bars.csv"
                              else 'file = "points.csv"')
    assert error.csv_file == str(tmp_path / csv_name) and error.csv_line == csv_line
    assert str(error).startswith(f"{tmp_path / csv_name}:{csv_line}: ")
    assert str(path) in str(error) and words in str(error)


BARS_FIELD = "symbol[0].path.segment[0].file"
POINTS_FIELD = "symbol[1].path.source[0].file"


def test_bars_out_of_time_order(tmp_path: Path) -> None:
    rows = BARS.splitlines()
    bars = "\n".join([rows[0], rows[2], rows[1], rows[3]]) + "\n"
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 3, "out of time order", bars=bars)


def test_duplicate_bar_times(tmp_path: Path) -> None:
    bars = BARS.replace("2026-01-13T00:00", "2026-01-12T12:00")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 4, "duplicate bar time", bars=bars)


def test_a_high_below_the_low(tmp_path: Path) -> None:
    bars = BARS.replace("83.668,86.163,83.400,84.358", "83.668,83.000,83.400,84.358")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 3, "high 83.0 is below the low 83.4", bars=bars)


def test_a_high_below_the_close(tmp_path: Path) -> None:
    bars = BARS.replace("83.668,86.163,83.400,84.358", "83.668,84.000,83.400,84.358")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 3, "below the open or close", bars=bars)


def test_a_low_above_the_open(tmp_path: Path) -> None:
    bars = BARS.replace("81.461,84.451,81.333,83.668", "81.461,84.451,81.500,83.668")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 2, "above the open or close", bars=bars)


def test_a_gap_in_the_bars(tmp_path: Path) -> None:
    bars = "\n".join(BARS.splitlines()[:2] + BARS.splitlines()[3:]) + "\n"
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 3, "gap in the bar data: 12 h", bars=bars)


def test_a_gap_allowed_by_max_gap_loads(tmp_path: Path) -> None:
    bars = "\n".join(BARS.splitlines()[:2] + BARS.splitlines()[3:]) + "\n"
    path = write(tmp_path, TOML.replace("max_gap = 0", "max_gap = 43200"), bars=bars)
    assert len(load_series(load_scenario(path))["XAGUSDT"].high) == 2


def test_bars_ending_before_the_scenario_is_a_gap(tmp_path: Path) -> None:
    bars = "\n".join(BARS.splitlines()[:3]) + "\n"
    path = write(tmp_path, bars=bars)
    error = fails(path)
    assert error.field == "symbol[0].path" and error.line == line(TOML, "[symbol.path]")
    assert "before the scenario's end" in str(error)


def test_a_non_positive_price(tmp_path: Path) -> None:
    bars = BARS.replace("81.461,84.451,81.333", "81.461,84.451,-1")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 2, "low: -1 is not a positive price", bars=bars)


def test_an_unparsable_number(tmp_path: Path) -> None:
    bars = BARS.replace("84.358,86.157", "84.358,86.157x")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 4, "not a number", bars=bars)


def test_an_unparsable_time(tmp_path: Path) -> None:
    bars = BARS.replace("2026-01-12T12:00", "Jan 12 noon")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 3, "is not a date or time", bars=bars)


def test_a_missing_column(tmp_path: Path) -> None:
    bars = BARS.replace("datetime_utc,open,high,low,close", "datetime_utc,open,high,lo,close")
    csv_fails(tmp_path, BARS_FIELD, "bars.csv", 1, "missing column(s) low", bars=bars)


def test_points_out_of_time_order(tmp_path: Path) -> None:
    points = POINTS + "2026-01-12,09:00,4590\n"
    csv_fails(tmp_path, POINTS_FIELD, "points.csv", 4, "out of time order", points=points)


def test_an_unparsable_point_time(tmp_path: Path) -> None:
    points = POINTS.replace("10:30", "half past ten")
    csv_fails(tmp_path, POINTS_FIELD, "points.csv", 2, "is not a time", points=points)


def test_a_metals_anchor_while_the_market_is_shut(tmp_path: Path) -> None:
    points = POINTS.replace(",,4604.3", ",22:30,4604.3")  # Monday's break, 22:00-23:00 UTC
    path = write(tmp_path, points=points)
    error = fails(path)
    assert error.field == "symbol[1].path.source" and error.csv_line == 3
    assert "market is closed" in str(error)


def test_untimed_rows_need_a_declared_time(tmp_path: Path) -> None:
    text = TOML.replace("default_time = 21:59:00\n", "")
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[1].path.source[0].default_time",
          line(text, "[[symbol.path.source]]"), "skip_untimed")


def test_skip_untimed_drops_rows_without_a_time(tmp_path: Path) -> None:
    text = TOML.replace("default_time = 21:59:00\n", "skip_untimed = true\n")
    points = load_series(load_scenario(write(tmp_path, text)))["XAUUSDT"]
    assert isinstance(points, PointsData) and points.point_price.tolist() == [4600.5]


# -- gbm and the locator -------------------------------------------------------------------------


def test_gbm_jumps_must_lie_inside_the_range(tmp_path: Path) -> None:
    text = TOML.replace(
        '[symbol.path]\nkind = "points"\nvol_per_sqrt_day = 0.02\n\n[[symbol.path.source]]\n'
        'file = "points.csv"\ndate_column = "date"\ntime_column = "time_utc"\n'
        'price_column = "price"\ndefault_time = 21:59:00\n',
        '[symbol.path]\nkind = "gbm"\nstart = 4600\nvol_per_day = 0.01\n\n'
        '[[symbol.path.jump]]\nat = 2026-01-12T06:00:00Z\nmove = 0.04\n\n'
        '[[symbol.path.jump]]\nat = 2026-01-20T06:00:00Z\nmove = -0.04\n')
    path = write(tmp_path, text)
    check(fails(path), path, "symbol[1].path.jump[1].at", line(text, "at = 2026-01-20"),
          "outside the scenario")
    at_start = text.replace("2026-01-20T06:00:00Z", "2026-01-12T00:00:00Z")
    path = write(tmp_path, at_start)
    check(fails(path), path, "symbol[1].path.jump[1].at", line(at_start, "at = 2026-01-12T00"),
          "after the start")
    regimes = text.replace("2026-01-20T06", "2026-01-13T06") + (
        "\n[[symbol.path.regime]]\nfrom = 2026-01-12T08:00:00Z\ndrift_per_day = 0.0\n"
        "vol_per_day = 0.05\n\n[[symbol.path.regime]]\nfrom = 2026-01-12T08:00:00Z\n"
        "drift_per_day = 0.0\nvol_per_day = 0.01\n")
    path = write(tmp_path, regimes)
    check(fails(path), path, "symbol[1].path.regime[1].from",
          line(regimes, "from = 2026-01-12T08", 1), "strictly increasing")
    good = load_scenario(write(tmp_path, text.replace("2026-01-20T06", "2026-01-13T06")))
    gbm = load_series(good)["XAUUSDT"]
    assert isinstance(gbm, GbmData) and [move for _, move in gbm.jumps] == [0.04, -0.04]


def test_key_lines_follow_arrays_of_tables_and_skip_multiline_values() -> None:
    text = ('[a]\nx = 1\nlist = [\n  "y = 2",\n  { z = 3 },\n]\ns = """\n[fake]\nw = 4\n"""\n'
            '[[b]]\nk = 1\n[b.c]\nm = 2\n[[b]]\nk = 2\n[[b.d]]\nn = 1\n')
    lines = key_lines(text)
    assert lines["a.x"] == 2 and lines["a.list"] == 3 and lines["a.s"] == 7
    assert "a.y" not in lines and "fake" not in lines and "w" not in lines
    assert lines["b[0]"] == 11 and lines["b[0].k"] == 12 and lines["b[0].c.m"] == 14
    assert lines["b[1].k"] == 16 and lines["b[1].d[0].n"] == 18


# -- properties over random bar files ------------------------------------------------------------


@st.composite
def bar_rows(draw: st.DrawFn) -> list[tuple[float, float, float, float]]:
    count = draw(st.integers(3, 12))
    rows = []
    price = draw(st.floats(1, 1000))
    for _ in range(count):
        close = round(price * draw(st.floats(0.9, 1.1)), 3)
        high = round(max(price, close) * draw(st.floats(1, 1.05)), 3)
        low = round(min(price, close) * draw(st.floats(0.95, 1)), 3)
        rows.append((price, max(high, price, close), min(low, price, close), close))
        price = close
    return rows


def _bars_text(rows: list[tuple[float, float, float, float]]) -> str:
    lines = ["datetime_utc,open,high,low,close"]
    for number, (o, h, lo, c) in enumerate(rows):
        start = datetime(2026, 1, 12, tzinfo=UTC) + number * timedelta(hours=12)
        lines.append(f"{start:%Y-%m-%dT%H:%M},{o!r},{h!r},{lo!r},{c!r}")
    return "\n".join(lines) + "\n"


def _tiny_for(rows: list[tuple[float, float, float, float]]) -> str:
    end = datetime(2026, 1, 12, tzinfo=UTC) + len(rows) * timedelta(hours=12)
    return TOML.replace("end = 2026-01-13T12:00:00Z", f"end = {end:%Y-%m-%dT%H:%M:%SZ}")


@settings(max_examples=25, deadline=None)
@given(rows=bar_rows(), data=st.data())
def test_random_bars_load_exactly_and_a_corrupted_row_is_named(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[float, float, float, float]],
        data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("bars")
    path = write(folder, _tiny_for(rows), bars=_bars_text(rows))
    bars = load_series(load_scenario(path))["XAGUSDT"]
    assert isinstance(bars, BarsData)
    assert bars.open.tolist() == [r[0] for r in rows]
    assert bars.high.tolist() == [r[1] for r in rows]
    assert bars.low.tolist() == [r[2] for r in rows]
    assert bars.close.tolist() == [r[3] for r in rows]
    # a high pushed below the low is reported at its own CSV line, whichever row it is
    broken = data.draw(st.integers(0, len(rows) - 1))
    o, h, lo, c = rows[broken]
    bad = [*rows[:broken], (o, lo * 0.5, lo, c), *rows[broken + 1:]]
    write(folder, _tiny_for(rows), bars=_bars_text(bad))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.csv_line == broken + 2 and "is below the low" in str(caught.value)
