"""A scenario's price data read into arrays for the path API (scenarios/pricepath.py).

Deterministic and random-free: this only reads and checks the CSVs (see scenarios/scenario.py
for the rules) and hands back bars, anchors or generator parameters; the seeded synthesis
happens in pricepath. Prices are float64 USD, times int64 ns UTC.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np

from engine.mark import is_metals_market_open
from scenarios.pricepath import Bars
from scenarios.scenario import (
    BarsPath,
    GbmPath,
    PointSource,
    PointsPath,
    Scenario,
    instruments_for,
    to_ns,
)
from scenarios.scenario_errors import ScenarioError

_NS = 1_000_000_000


BarsData = Bars
"""Real OHLC bars, in time order: the bridge's own input (``pricepath.Bars``)."""


@dataclass(frozen=True)
class PointsData:
    """Anchors to bridge, in strictly increasing time."""

    point_ns: np.ndarray
    point_price: np.ndarray
    vol_per_sqrt_day: float


@dataclass(frozen=True)
class GbmData:
    """Parameters of ``pricepath.gbm``; jumps ``(ts_ns, move)``, regimes
    ``(from_ns, drift_per_day, vol_per_day)``."""

    start: float
    drift_per_day: float
    vol_per_day: float
    jumps: tuple[tuple[int, float], ...]
    regimes: tuple[tuple[int, float, float], ...]


SeriesData = BarsData | PointsData | GbmData


@dataclass(frozen=True)
class Row:
    values: dict[str, str]
    line: int
    file: str


def read_csv(scenario: Scenario, field: str, name: str, columns: tuple[str, ...]) -> list[Row]:
    """The rows of CSV ``name`` (relative to the scenario file), checking its header has
    ``columns``. ``field`` is the scenario field that named the file (for errors)."""
    path = Path(scenario.directory) / name
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise scenario.error(field, f"cannot read CSV {shown}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in columns if column not in header]
    if missing:
        raise scenario.error(field, f"missing column(s) {', '.join(missing)} "
                             f"(the header has {', '.join(header) or 'nothing'})",
                             csv_file=shown, csv_line=1)
    rows = []
    for values in reader:
        if None in values or any(values.get(column) is None for column in columns):
            raise scenario.error(field, "wrong number of columns", csv_file=shown,
                                 csv_line=reader.line_num)
        rows.append(Row({k: (v or "").strip() for k, v in values.items()}, reader.line_num,
                        shown))
    return rows


def _csv_error(scenario: Scenario, field: str, row: Row, message: str) -> ScenarioError:
    return scenario.error(field, message, csv_file=row.file, csv_line=row.line)


def parse_time(scenario: Scenario, field: str, row: Row, column: str,
               clock: time | None = None) -> int:
    """A date (00:00 UTC, or ``clock``) or an ISO datetime (UTC unless it has an offset)."""
    text = row.values[column]
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), clock or time(0))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _csv_error(scenario, field, row, f"{column}: {text!r} is not a date or "
                         "time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_ns(moment)


def _price(scenario: Scenario, field: str, row: Row, column: str) -> float:
    text = row.values[column]
    try:
        value = float(text)
    except ValueError:
        raise _csv_error(scenario, field, row, f"{column}: {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise _csv_error(scenario, field, row, f"{column}: {text} is not a positive price")
    return value


def _bars(scenario: Scenario, at: str, path: BarsPath) -> BarsData:
    start_ns, end_ns = scenario.start_ns, scenario.end_ns
    gap_ns = path.max_gap * _NS
    starts: list[int] = []
    ends: list[int] = []
    prices: list[tuple[float, float, float, float]] = []
    previous_end, previous_where = start_ns, "the scenario's start"
    for index, segment in enumerate(path.segment):
        field = f"{at}.path.segment[{index}].file"
        low_ns = to_ns(segment.from_) if segment.from_ else None
        high_ns = to_ns(segment.to) if segment.to else None
        rows = read_csv(scenario, field, segment.file,
                        (segment.time_column, "open", "high", "low", "close"))
        parsed = []
        last_start: int | None = None
        for row in rows:  # the whole file is checked, selected rows or not
            bar_start = parse_time(scenario, field, row, segment.time_column)
            if last_start is not None and bar_start == last_start:
                raise _csv_error(scenario, field, row, "duplicate bar time "
                                 f"{row.values[segment.time_column]}")
            if last_start is not None and bar_start < last_start:
                raise _csv_error(scenario, field, row, "bar out of time order: "
                                 f"{row.values[segment.time_column]} comes after a later bar")
            last_start = bar_start
            o, h, lo, c = (_price(scenario, field, row, k) for k in ("open", "high", "low",
                                                                      "close"))
            if h < lo:
                raise _csv_error(scenario, field, row, f"high {h} is below the low {lo}")
            if h < max(o, c):
                raise _csv_error(scenario, field, row, f"high {h} is below the open or close")
            if lo > min(o, c):
                raise _csv_error(scenario, field, row, f"low {lo} is above the open or close")
            parsed.append((row, bar_start, (o, h, lo, c)))
        used = 0
        for row, bar_start, ohlc in parsed:
            bar_end = bar_start + segment.bar_seconds * _NS
            selected = ((low_ns is None or bar_start >= low_ns)
                        and (high_ns is None or bar_start < high_ns)
                        and bar_end > start_ns and bar_start < end_ns)
            if not selected:
                continue
            if bar_start < previous_end and starts:
                raise _csv_error(scenario, field, row, f"bar overlaps {previous_where}")
            if bar_start - previous_end > gap_ns:
                raise _csv_error(scenario, field, row, "gap in the bar data: "
                                 f"{(bar_start - previous_end) / 3.6e12:g} h without a bar "
                                 f"after {previous_where}, more than max_gap "
                                 f"{path.max_gap} s")
            previous_end, previous_where = bar_end, f"the bar at line {row.line} of {row.file}"
            starts.append(bar_start)
            ends.append(bar_end)
            prices.append(ohlc)
            used += 1
        if not used:
            raise scenario.error(field, "no bar of this segment falls inside the scenario "
                                 "and its from/to")
    if end_ns - previous_end > gap_ns:
        raise scenario.error(f"{at}.path", "gap in the bar data: the bars end "
                             f"{(end_ns - previous_end) / 3.6e12:g} h before the scenario's "
                             f"end, more than max_gap {path.max_gap} s")
    table = np.array(prices, dtype=np.float64)
    return BarsData(start_ns=np.array(starts, dtype=np.int64),
                    end_ns=np.array(ends, dtype=np.int64),
                    open=table[:, 0].copy(), high=table[:, 1].copy(),
                    low=table[:, 2].copy(), close=table[:, 3].copy())


def _source_points(scenario: Scenario, field: str, source: PointSource
                   ) -> list[tuple[int, float, Row]]:
    columns = [source.date_column, source.price_column]
    for extra in (source.time_column, source.select_column):
        if extra is not None:
            columns.append(extra)
    rows = read_csv(scenario, field, source.file, tuple(columns))
    low_ns = to_ns(source.from_) if source.from_ else scenario.start_ns
    high_ns = to_ns(source.to) if source.to else scenario.end_ns
    points: list[tuple[int, float, Row]] = []
    last: tuple[int, int] | None = None
    for row in rows:
        if source.select_column is not None and source.select is not None:
            if row.values[source.select_column] not in source.select:
                continue
        clock_text = row.values[source.time_column] if source.time_column else ""
        if clock_text:
            try:
                clock = time.fromisoformat(clock_text)
            except ValueError:
                raise _csv_error(scenario, field, row, f"{source.time_column}: "
                                 f"{clock_text!r} is not a time (HH:MM)") from None
        elif source.default_time is not None:
            clock = source.default_time
        else:
            continue  # skip_untimed: a row whose time is unknown is no anchor
        ts = parse_time(scenario, field, row, source.date_column, clock)
        price = _price(scenario, field, row, source.price_column)
        if last is not None and ts <= last[0]:
            what = "duplicate time" if ts == last[0] else "out of time order"
            raise _csv_error(scenario, field, row, f"{what}: this row's time is not after "
                             f"the previous anchor's (line {last[1]})")
        last = (ts, row.line)
        if low_ns <= ts <= high_ns and scenario.start_ns <= ts <= scenario.end_ns:
            points.append((ts, price, row))
    return points


def _points(scenario: Scenario, at: str, path: PointsPath, market_hours: bool) -> PointsData:
    merged: list[tuple[int, float, Row]] = []
    for index, source in enumerate(path.source):
        merged.extend(_source_points(scenario, f"{at}.path.source[{index}].file", source))
    merged.sort(key=lambda point: point[0])
    for before, after in zip(merged, merged[1:], strict=False):
        if before[0] == after[0]:
            raise scenario.error(f"{at}.path.source", "two anchors at the same time: "
                                 f"{before[2].file} line {before[2].line} and "
                                 f"{after[2].file} line {after[2].line}",
                                 csv_file=after[2].file, csv_line=after[2].line)
    if not merged:
        raise scenario.error(f"{at}.path.source", "no anchor falls inside the scenario")
    if market_hours:
        # the index is frozen while the market is shut, so an anchor then could not be met
        for ts, _, row in merged:
            if not is_metals_market_open(ts):
                raise scenario.error(f"{at}.path.source", "anchor at a time the metals "
                                     "market is closed (it could not be reached: the index "
                                     "is frozen then)", csv_file=row.file, csv_line=row.line)
    return PointsData(point_ns=np.array([p[0] for p in merged], dtype=np.int64),
                      point_price=np.array([p[1] for p in merged], dtype=np.float64),
                      vol_per_sqrt_day=path.vol_per_sqrt_day)


def _gbm(path: GbmPath) -> GbmData:
    return GbmData(start=path.start, drift_per_day=path.drift_per_day,
                   vol_per_day=path.vol_per_day,
                   jumps=tuple(sorted((to_ns(j.at), j.move) for j in path.jump)),
                   regimes=tuple(sorted((to_ns(r.from_), r.drift_per_day, r.vol_per_day)
                                        for r in path.regime)))


def load_series(scenario: Scenario) -> dict[str, SeriesData]:
    """Every symbol's price data, keyed by symbol in ``[[symbol]]`` order.

    Raises:
        ScenarioError: a CSV error names the CSV file and line and the scenario field.
    """
    instruments = instruments_for(scenario)
    series: dict[str, SeriesData] = {}
    for number, symbol in enumerate(scenario.spec.symbol):
        at = f"symbol[{number}]"
        if isinstance(symbol.path, BarsPath):
            series[symbol.symbol] = _bars(scenario, at, symbol.path)
        elif isinstance(symbol.path, PointsPath):
            series[symbol.symbol] = _points(scenario, at, symbol.path,
                                             instruments[symbol.symbol].market_hours)
        else:
            series[symbol.symbol] = _gbm(symbol.path)
    return series
