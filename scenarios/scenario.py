"""Scenario files: the TOML format, its loader and the instruments a scenario lists.

A scenario is a TOML file (bundled ones in ``scenarios/data/``) plus CSV price data whose paths
are relative to the TOML file. All times are TOML offset datetimes in UTC
(``2026-01-02T00:00:00Z``); durations are whole seconds. Decimals are read exactly.

``[scenario]``
    ``name``, ``title``, ``description`` (one line), ``real`` (what is real data),
    ``synthesized`` (what is made up), ``sources`` (list of strings), ``start``, ``end``
    (``start < end``), ``seed`` (int), ``step`` (the default time step in seconds, 60),
    ``events`` (optional CSV calendar with columns ``ts_utc,event,detail``).
``[[window]]`` (optional, any number)
    ``from``, ``to``, ``step`` (seconds), ``reason``: a finer step for part of the range.
    Windows lie inside ``[start, end]`` and do not overlap.
``[[symbol]]``
    ``symbol``: a default instrument (``engine.default_instruments()``) or one declared in
    ``[instruments.SYMBOL]``; ``[symbol.path]`` says where its index comes from, by ``kind``:

    - ``"bars"``: real OHLC bars. ``max_gap`` (seconds) and one or more
      ``[[symbol.path.segment]]`` with ``file``, ``time_column`` (the bar's open time: a date
      means 00:00 UTC, a datetime without offset is UTC), ``bar_seconds``, optional ``from`` /
      ``to`` (use the rows whose bar opens in ``[from, to)``). The CSV has columns ``open``,
      ``high``, ``low``, ``close``. Rows are in time order, never overlap, have
      ``low <= open, close <= high`` and positive prices. A *gap* is the space between one
      bar's end and the next bar's start (or the scenario's start / end) longer than
      ``max_gap``: set it to the longest closure the data has (a daily metals file skips
      weekends, so 3 days; a 12-hour file 36 hours), and a missing weekday bar is caught.
    - ``"points"``: sparse anchors bridged with ``vol_per_sqrt_day`` (a log-price volatility).
      One or more ``[[symbol.path.source]]`` with ``file``, ``date_column``, optional
      ``time_column`` (``HH:MM`` UTC), ``price_column``, ``default_time`` (a TOML local time:
      the time of a row without one, e.g. the New York close) or ``skip_untimed = true``,
      optional ``select_column`` + ``select`` (keep rows whose column is one of the values),
      optional ``from`` / ``to``. Anchors outside ``[start, end]`` are dropped; two anchors at
      the same time are an error, and so is an anchor of a market-hours instrument (metals)
      while its market is shut: the index is frozen then, so it could not be met there.
    - ``"gbm"``: synthetic. ``start`` (price), ``drift_per_day``, ``vol_per_day``,
      ``[[symbol.path.jump]]`` (``at`` after the start, ``move``: relative, > -1; a gap at a
      reopen is a jump there), ``[[symbol.path.regime]]`` (``from``, in increasing time,
      ``drift_per_day``, ``vol_per_day``). Volatilities are of log price per square-root day.
``[instruments.SYMBOL]`` (optional)
    Overrides of engine instrument fields (``funding_interval_hours = 4``,
    ``funding_cap = 0.00375``), rebuilt through ``engine.parse_instruments`` so that they are
    validated exactly as the instrument file is. ``base = "XAGUSDT"`` declares a new symbol as
    a copy of a default instrument.
``[[change]]`` (optional)
    Timed venue changes: ``at``, ``symbol``, ``funding_interval_hours`` and/or ``funding_cap``,
    ``reason``. Only data here; the replay applies them.
``[participants]``
    A table of tables (``[participants.makers]``, ...), validated by the participants' code.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import msgspec

from engine import default_instruments, parse_instruments
from engine.instrument import Instrument, InstrumentError, InstrumentSpec
from scenarios.scenario_errors import ScenarioError, key_lines, line_of

Seconds = Annotated[int, msgspec.Meta(ge=1)]
Text = Annotated[str, msgspec.Meta(min_length=1)]


class _Spec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class Header(_Spec):
    name: Text
    title: Text
    description: Text
    real: Text
    synthesized: Text
    sources: Annotated[tuple[Text, ...], msgspec.Meta(min_length=1)]
    start: datetime
    end: datetime
    seed: int
    step: Seconds = 60
    events: str | None = None


class Window(_Spec):
    from_: datetime = msgspec.field(name="from")
    to: datetime
    step: Seconds
    reason: Text


class BarSegment(_Spec):
    file: Text
    time_column: Text
    bar_seconds: Seconds
    from_: datetime | None = msgspec.field(default=None, name="from")
    to: datetime | None = None


class BarsPath(_Spec, tag_field="kind", tag="bars"):
    max_gap: Annotated[int, msgspec.Meta(ge=0)]
    segment: Annotated[tuple[BarSegment, ...], msgspec.Meta(min_length=1)]


class PointSource(_Spec):
    file: Text
    date_column: Text
    price_column: Text
    time_column: str | None = None
    default_time: time | None = None
    skip_untimed: bool = False
    select_column: str | None = None
    select: tuple[str, ...] | None = None
    from_: datetime | None = msgspec.field(default=None, name="from")
    to: datetime | None = None


class PointsPath(_Spec, tag_field="kind", tag="points"):
    vol_per_sqrt_day: Annotated[float, msgspec.Meta(ge=0)]
    source: Annotated[tuple[PointSource, ...], msgspec.Meta(min_length=1)]


class Jump(_Spec):
    at: datetime
    move: Annotated[float, msgspec.Meta(gt=-1)]


class Regime(_Spec):
    from_: datetime = msgspec.field(name="from")
    drift_per_day: float
    vol_per_day: Annotated[float, msgspec.Meta(ge=0)]


class GbmPath(_Spec, tag_field="kind", tag="gbm"):
    start: Annotated[float, msgspec.Meta(gt=0)]
    vol_per_day: Annotated[float, msgspec.Meta(ge=0)]
    drift_per_day: float = 0.0
    jump: tuple[Jump, ...] = ()
    regime: tuple[Regime, ...] = ()


class SymbolSpec(_Spec):
    symbol: Text
    path: BarsPath | PointsPath | GbmPath


class Change(_Spec):
    at: datetime
    symbol: Text
    funding_interval_hours: int | None = None
    funding_cap: Decimal | None = None
    reason: str = ""


class ScenarioFile(_Spec):
    scenario: Header
    symbol: Annotated[tuple[SymbolSpec, ...], msgspec.Meta(min_length=1)]
    participants: dict[str, Any]
    """A table of tables (checked in _check: msgspec would not name the bad key)."""
    window: tuple[Window, ...] = ()
    instruments: dict[str, Any] = {}
    change: tuple[Change, ...] = ()


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    """A loaded, validated scenario. Times are ns UTC; CSV paths resolve against ``directory``."""

    file: str
    """The TOML file, as named in errors."""
    directory: str
    spec: ScenarioFile
    lines: dict[str, int]
    events: tuple[tuple[int, str, str], ...]
    """The calendar inside ``[start, end]``: (ts_ns, title, detail), in time order."""

    @property
    def name(self) -> str:
        return self.spec.scenario.name

    @property
    def start_ns(self) -> int:
        return to_ns(self.spec.scenario.start)

    @property
    def end_ns(self) -> int:
        return to_ns(self.spec.scenario.end)

    @property
    def windows(self) -> tuple[tuple[int, int, int], ...]:
        """(from_ns, to_ns, step_s) for ``pricepath.time_grid``."""
        return tuple((to_ns(w.from_), to_ns(w.to), w.step) for w in self.spec.window)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.spec.symbol)

    def error(self, field: str, message: str, **csv: Any) -> ScenarioError:
        return ScenarioError(self.file, line_of(self.lines, field), field, message, **csv)


def to_ns(moment: datetime) -> int:
    """A validated (UTC) datetime as integer ns, exactly."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_BUNDLED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def data_dir() -> Path:
    """The bundled scenarios' directory (package data)."""
    return Path(str(resources.files("scenarios").joinpath("data")))


def bundled_names() -> list[str]:
    return sorted(p.stem for p in data_dir().glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario: a bundled name (``jan-2026-silver``) or a TOML file path.

    Everything is checked, the CSV data included (``scenarios.series``).

    Raises:
        ScenarioError: the message names the file, the field path and the line.
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and _BUNDLED_NAME.match(text_name):
        path = data_dir() / f"{text_name}.toml"
        if not path.is_file() and Path(text_name).is_file():
            path = Path(text_name)
        elif not path.is_file():
            known = ", ".join(bundled_names())
            raise ScenarioError(text_name, 1, "", f"no bundled scenario of that name "
                                f"(bundled: {known})")
    else:
        path = Path(name_or_path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(file, 1, "", f"cannot read: {exc}") from None
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise ScenarioError(file, int(found.group(1)) if found else 1, "",
                            f"not valid TOML: {exc}") from None
    lines = key_lines(text)
    try:
        spec = msgspec.convert(raw, ScenarioFile)
    except msgspec.ValidationError as exc:
        raise _located(file, lines, str(exc)) from None
    provisional = Scenario(file=file, directory=str(path.parent), spec=spec, lines=lines,
                           events=())
    _check(provisional)
    instruments_for(provisional)
    scenario = msgspec.structs.replace(provisional, events=_read_events(provisional))
    from scenarios.series import load_series  # the CSVs are validated on load too
    load_series(scenario)
    return scenario


def _located(file: str, lines: dict[str, int], message: str) -> ScenarioError:
    """A msgspec error (``... - at `$.symbol[0].path```) as a ScenarioError at that field."""
    found = re.match(r"^(.*?)(?: - at `\$(.*)`)?$", message)
    assert found is not None
    detail, path = found.group(1), (found.group(2) or "").lstrip(".")
    field_name = re.search(r"(?:missing required|unknown) field `([^`]+)`", detail)
    if field_name:
        path = f"{path}.{field_name.group(1)}" if path else field_name.group(1)
    path = re.sub(r"\.(?=\[)", "", path)
    return ScenarioError(file, line_of(lines, path), path, detail)


def _check(scenario: Scenario) -> None:
    spec = scenario.spec
    header = spec.scenario
    fail = scenario.error

    def utc(moment: datetime | None, field: str) -> None:
        if moment is None:
            return
        if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
            raise fail(field, f"{moment.isoformat()} must be a UTC datetime (end it with Z)")

    def inside(moment: datetime, field: str) -> None:
        if not header.start <= moment <= header.end:
            raise fail(field, f"{moment.isoformat()} is outside the scenario's range "
                       f"{header.start.isoformat()} .. {header.end.isoformat()}")

    utc(header.start, "scenario.start")
    utc(header.end, "scenario.end")
    if header.start >= header.end:
        raise fail("scenario.end", "must be after scenario.start")

    previous: tuple[datetime, str] | None = None
    for number, window in sorted(enumerate(spec.window), key=lambda item: item[1].from_):
        at = f"window[{number}]"
        utc(window.from_, f"{at}.from")
        utc(window.to, f"{at}.to")
        if window.from_ >= window.to:
            raise fail(f"{at}.to", "must be after from")
        inside(window.from_, f"{at}.from")
        inside(window.to, f"{at}.to")
        if previous is not None and window.from_ < previous[0]:
            raise fail(f"{at}.from", f"overlaps {previous[1]}")
        previous = (window.to, at)

    defaults = default_instruments()
    known = set(defaults) | set(spec.instruments)
    seen: set[str] = set()
    for number, symbol in enumerate(spec.symbol):
        at = f"symbol[{number}]"
        if symbol.symbol not in known:
            raise fail(f"{at}.symbol", f"unknown symbol {symbol.symbol!r}: not a default "
                       f"instrument ({', '.join(defaults)}) nor declared in [instruments]")
        if symbol.symbol in seen:
            raise fail(f"{at}.symbol", f"{symbol.symbol} is listed twice")
        seen.add(symbol.symbol)
        path = symbol.path
        if isinstance(path, BarsPath):
            for index, segment in enumerate(path.segment):
                utc(segment.from_, f"{at}.path.segment[{index}].from")
                utc(segment.to, f"{at}.path.segment[{index}].to")
        elif isinstance(path, PointsPath):
            for index, source in enumerate(path.source):
                where = f"{at}.path.source[{index}]"
                utc(source.from_, f"{where}.from")
                utc(source.to, f"{where}.to")
                if source.default_time is None and not source.skip_untimed:
                    raise fail(f"{where}.default_time", "say when a row without a time is "
                               "(default_time) or set skip_untimed = true")
                if (source.select is None) != (source.select_column is None):
                    raise fail(f"{where}.select", "select and select_column go together")
        else:
            for index, jump in enumerate(path.jump):
                utc(jump.at, f"{at}.path.jump[{index}].at")
                inside(jump.at, f"{at}.path.jump[{index}].at")
                if jump.at == header.start:
                    raise fail(f"{at}.path.jump[{index}].at", "a jump must come after the "
                               "start (give the start price instead)")
            for index, regime in enumerate(path.regime):
                utc(regime.from_, f"{at}.path.regime[{index}].from")
                inside(regime.from_, f"{at}.path.regime[{index}].from")
                if index and regime.from_ <= path.regime[index - 1].from_:
                    raise fail(f"{at}.path.regime[{index}].from", "regimes must be in "
                               f"strictly increasing time (after regime[{index - 1}])")

    for group in ("participants", "instruments"):
        for key, table in getattr(spec, group).items():
            if not isinstance(table, dict):
                raise fail(f"{group}.{key}", f"must be a table ([{group}.{key}]), "
                           f"not a {type(table).__name__}")

    for symbol, override in spec.instruments.items():
        base = override.get("base", symbol)
        if symbol not in defaults and base not in defaults:
            raise fail(f"instruments.{symbol}.base", f"{symbol} is not a default instrument: "
                       f"give base = one of {', '.join(defaults)}")

    for number, change in enumerate(spec.change):
        at = f"change[{number}]"
        utc(change.at, f"{at}.at")
        inside(change.at, f"{at}.at")
        if change.symbol not in seen:
            raise fail(f"{at}.symbol", f"{change.symbol!r} is not a symbol of this scenario")
        if change.funding_interval_hours is None and change.funding_cap is None:
            raise fail(at, "changes nothing (give funding_interval_hours or funding_cap)")


# -- instruments ---------------------------------------------------------------------------------


def _default_specs() -> dict[str, dict[str, Any]]:
    text = resources.files("engine").joinpath("instruments.toml").read_text(encoding="utf-8")
    return {item["symbol"]: item
            for item in tomllib.loads(text, parse_float=Decimal)["instrument"]}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"a {type(value).__name__} is not an instrument value")


def _build_one(fields: dict[str, Any]) -> Instrument:
    text = "[[instrument]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in fields.items())
    return next(iter(parse_instruments(text).values()))


def _instrument_error(scenario: Scenario, prefix: str, exc: InstrumentError) -> ScenarioError:
    message = str(exc)
    located = re.match(r"^instrument\[0\] \([^)]*\)\.([^:]+): (.*)$", message, re.S)
    if located:
        return scenario.error(f"{prefix}.{located.group(1)}", located.group(2))
    located = re.match(r"^instrument file: (.*) - at `\$\.instrument\[0\]\.?(.*)`$", message)
    if located:
        field = f"{prefix}.{located.group(2)}".rstrip(".")
        return scenario.error(field, located.group(1))
    return scenario.error(prefix, message)


def _spec_fields(scenario: Scenario, symbol: str) -> dict[str, Any]:
    """The instrument file entry of ``symbol`` with the scenario's overrides applied."""
    specs = _default_specs()
    override = dict(scenario.spec.instruments.get(symbol, {}))
    fields = dict(specs[override.pop("base", symbol)])
    allowed = set(InstrumentSpec.__struct_fields__) - {"symbol"}
    for key, value in override.items():
        if key not in allowed:
            raise scenario.error(f"instruments.{symbol}.{key}", "not an instrument field")
        try:
            _toml_value(value)
        except TypeError as exc:
            raise scenario.error(f"instruments.{symbol}.{key}", str(exc)) from None
    fields.update(override, symbol=symbol)
    return fields


def instruments_for(scenario: Scenario) -> dict[str, Instrument]:
    """The instruments of the scenario's symbols (in ``[[symbol]]`` order) at its start: the
    defaults with ``[instruments.SYMBOL]`` applied, built and validated by the engine's own
    instrument parser. Every ``[[change]]`` is validated the same way.

    Raises:
        ScenarioError: a bad override or change, naming ``instruments.SYMBOL.field`` or
            ``change[i].field`` and its line.
    """
    built: dict[str, Instrument] = {}
    for symbol in scenario.symbols:
        fields = _spec_fields(scenario, symbol)
        try:
            built[symbol] = _build_one(fields)
        except InstrumentError as exc:
            raise _instrument_error(scenario, f"instruments.{symbol}", exc) from None
    for number, change in enumerate(scenario.spec.change):
        fields = _spec_fields(scenario, change.symbol)
        for key in ("funding_interval_hours", "funding_cap"):
            if getattr(change, key) is not None:
                fields[key] = getattr(change, key)
        try:
            _build_one(fields)
        except InstrumentError as exc:
            raise _instrument_error(scenario, f"change[{number}]", exc) from None
    return built


def changed_instrument(scenario: Scenario, base: Instrument, change: Change) -> Instrument:
    """``base`` with one validated ``[[change]]`` applied (for the replay)."""
    updates: dict[str, Any] = {}
    if change.funding_interval_hours is not None:
        updates["funding_interval_ns"] = change.funding_interval_hours * 3600 * 1_000_000_000
    if change.funding_cap is not None:
        fields = _spec_fields(scenario, change.symbol)
        fields["funding_cap"] = change.funding_cap
        updates["funding_cap"] = _build_one(fields).funding_cap
    return msgspec.structs.replace(base, **updates)


def funding_changes(scenario: Scenario) -> tuple[tuple[int, str, int, int], ...]:
    """The ``[[change]]`` tables as full funding terms, in time order:
    ``(at_ns, symbol, funding_interval_ns, funding_cap)`` (the cap over RATE_SCALE), a term a
    change leaves out carried from the instrument as it stood before it."""
    current = instruments_for(scenario)
    terms = []
    for change in sorted(scenario.spec.change, key=lambda c: c.at):
        current[change.symbol] = changed_instrument(scenario, current[change.symbol], change)
        instrument = current[change.symbol]
        terms.append((to_ns(change.at), change.symbol, instrument.funding_interval_ns,
                      instrument.funding_cap))
    return tuple(terms)


# -- the events calendar -------------------------------------------------------------------------


def _read_events(scenario: Scenario) -> tuple[tuple[int, str, str], ...]:
    name = scenario.spec.scenario.events
    if name is None:
        return ()
    from scenarios.series import parse_time, read_csv

    rows = read_csv(scenario, "scenario.events", name, ("ts_utc", "event", "detail"))
    events = []
    for row in rows:
        ts = parse_time(scenario, "scenario.events", row, "ts_utc")
        if scenario.start_ns <= ts <= scenario.end_ns:
            events.append((ts, row.values["event"], row.values["detail"]))
    return tuple(sorted(events, key=lambda event: event[0]))

