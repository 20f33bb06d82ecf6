"""The report of a replay (DESIGN.md §6), built from the ``ReplayRecord`` alone: a JSON-ready
summary, per-minute CSV series, a chart and a terminal summary.

Every amount leaves as a decimal string in the instrument's or the venue's units (prices with
``Instrument.format_price``, quantities with ``format_qty``, money with
``engine.units.format_cash``, rates with ``format_rate``); derived figures are computed in
integers and rounded half-even once, so the same record gives the same bytes everywhere:

- premium of a minute, in basis points to 0.01: ``(mark - index) / index * 10_000``;
  a day's ``mean`` is the mean of the minutes' rounded premiums and ``max_abs`` the largest
  ``|premium|``; ``calm_hour`` is the median (the lower middle for an even count) and
  ``worst_hour`` the largest of the day's clock hours' mean ``|premium|``.
- funding: the day's settlements (``FundingRecord``), min, max and mean rate.
- a day's ``start`` values (open interest, insurance fund) are those at the end of the minute
  before the day's first (the record's ``insurance_start`` before the first minute; the first
  minute's own open interest when the record starts that day).
- PnL split of an account: each part is signed as it adds to the equity, so that
  ``realized + unrealized + funding + fees + liquidation == total == final_equity - deposited``
  (fees and liquidation are minus ``fees_paid`` and ``liquidation_loss``).
- max drawdown: the largest fall of the per-minute equity from an earlier peak, with the peak,
  the times of the peak and the trough and the fall as a percentage of the peak.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from engine import Instrument
from engine.enums import Side
from engine.units import format_cash, format_fixed, format_rate, format_timestamp, format_trimmed
from scenarios.chart import TEXT_HEIGHT, mark_chart, write_chart
from scenarios.realism import HOUR_NS, Check, realism
from scenarios.record import AccountRecord, MinuteRow, ReplayRecord

if TYPE_CHECKING:
    from rich.console import Console

DAY_NS = 24 * HOUR_NS
CENTI_BP = 1_000_000
"""Premium in hundredths of a basis point: (mark - index) * CENTI_BP / index."""


class ReportError(ValueError):
    """A record the report cannot be written for (a symbol without its instrument)."""


def _require_instruments(record: ReplayRecord, instruments: Mapping[str, Instrument]) -> None:
    used = set(record.symbols) | {row.symbol for row in record.minutes}
    used |= {r.symbol for r in record.liquidations} | {f.symbol for f in record.funding}
    used |= {a.symbol for a in record.adl}
    missing = sorted(used - set(instruments))
    if missing:
        raise ReportError(f"report of {record.scenario!r}: no instrument for "
                          f"{', '.join(missing)} (instruments: {', '.join(sorted(instruments))})")


# -- exact arithmetic -------------------------------------------------------------------------


def div_round(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even (denominator > 0).

    >>> div_round(5, 2), div_round(7, 2), div_round(-5, 2), div_round(-7, 3)
    (2, 4, -2, -2)
    """
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def premium_centi_bp(row: MinuteRow) -> int:
    """The minute's premium of the mark over the index, in 0.01 bp."""
    return div_round((row.mark - row.index) * CENTI_BP, row.index) if row.index > 0 else 0


def _bp(centi_bp: int) -> str:
    return format_fixed(centi_bp, 2)


def _day_of(ts: int) -> str:
    return format_timestamp(ts - ts % DAY_NS)[:10]


def _position(side: Side) -> str:
    """Records name the side of the position: buy is a long."""
    return "long" if side is Side.BUY else "short"


# -- the summary ------------------------------------------------------------------------------


def summarize(record: ReplayRecord, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    """The report as JSON-ready data: decimal strings for amounts, prices and rates (module
    docstring for the definitions). Rows are taken in the record's (time) order.

    Raises:
        ReportError: a symbol of the record has no instrument.
    """
    _require_instruments(record, instruments)
    return {
        "scenario": record.scenario,
        "seed": record.seed,
        "start": format_timestamp(record.start),
        "end": format_timestamp(record.end),
        "symbols": list(record.symbols),
        "steps": record.steps,
        "commands": record.commands,
        "trades": record.trades,
        "minutes": len(record.minutes),
        "liquidations": len(record.liquidations),
        "adl": len(record.adl),
        "insurance": {"start": format_cash(record.insurance_start),
                      "end": format_cash(record.insurance_end)},
        "days": _days(record, instruments),
        "accounts": [_account(account, instruments) for account in record.accounts],
        "realism": [_check(check) for check in realism(record)],
    }


def _days(record: ReplayRecord, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    days: dict[str, list[MinuteRow]] = {}
    for row in record.minutes:
        days.setdefault(_day_of(row.ts), []).append(row)
    out: dict[str, Any] = {}
    insurance = record.insurance_start
    previous: dict[str, MinuteRow] = {}
    for day, rows in days.items():
        symbols = {}
        for symbol in record.symbols:
            mine = [row for row in rows if row.symbol == symbol]
            if mine:
                symbols[symbol] = _day_symbol(record, instruments[symbol], day, mine,
                                              previous.get(symbol))
                previous[symbol] = mine[-1]
        out[day] = {"insurance": {"start": format_cash(insurance),
                                  "end": format_cash(rows[-1].insurance)},
                    "symbols": symbols}
        insurance = rows[-1].insurance
    return out


def _range(values: Sequence[int], write: Callable[[int], str]) -> dict[str, str] | None:
    return {"low": write(min(values)), "high": write(max(values))} if values else None


def _day_symbol(record: ReplayRecord, instrument: Instrument, day: str, rows: list[MinuteRow],
                before: MinuteRow | None) -> dict[str, Any]:
    symbol, price, qty = instrument.symbol, instrument.format_price, instrument.format_qty
    rates = [f.rate for f in record.funding if f.symbol == symbol and _day_of(f.ts) == day]
    interest = [row.open_interest for row in rows]
    return {
        "minutes": len(rows),
        "index": _range([row.index for row in rows], price),
        "mark": _range([row.mark for row in rows], price),
        "last": _range([row.last for row in rows if row.last is not None], price),
        "trades": sum(row.trades for row in rows),
        "volume": qty(sum(row.volume for row in rows)),
        "funding": {
            "settlements": len(rates),
            "min": format_rate(min(rates)) if rates else None,
            "max": format_rate(max(rates)) if rates else None,
            "mean": format_rate(div_round(sum(rates), len(rates))) if rates else None,
        },
        "premium_bp": _premium(rows),
        "open_interest": {
            "start": qty((before or rows[0]).open_interest),
            "end": qty(interest[-1]),
            "min": qty(min(interest)),
            "max": qty(max(interest)),
        },
        "liquidations": {
            "long": {"count": sum(row.long_liquidations for row in rows),
                     "notional": format_cash(sum(row.long_liquidated for row in rows))},
            "short": {"count": sum(row.short_liquidations for row in rows),
                      "notional": format_cash(sum(row.short_liquidated for row in rows))},
        },
        "adl": sum(1 for a in record.adl if a.symbol == symbol and _day_of(a.ts) == day),
    }


def _premium(rows: list[MinuteRow]) -> dict[str, str]:
    premiums = [premium_centi_bp(row) for row in rows]
    hours: dict[int, list[int]] = {}
    for row, premium in zip(rows, premiums, strict=True):
        hours.setdefault(row.ts - row.ts % HOUR_NS, []).append(abs(premium))
    hourly = {hour: div_round(sum(v), len(v)) for hour, v in hours.items()}
    ranked = sorted(hourly.values())
    worst = max(sorted(hourly), key=hourly.__getitem__)  # the earliest of equal hours
    return {
        "mean": _bp(div_round(sum(premiums), len(premiums))),
        "max_abs": _bp(max(abs(p) for p in premiums)),
        "calm_hour": _bp(ranked[(len(ranked) - 1) // 2]),
        "worst_hour": _bp(hourly[worst]),
        "worst_hour_at": format_timestamp(worst),
    }


def max_drawdown(equity: Iterable[tuple[int, int]]) -> dict[str, Any] | None:
    """The largest fall from an earlier peak of ``(ts, equity)`` points (module docstring);
    None without points. On equal falls the first is kept."""
    best: tuple[int, int, int, int] | None = None  # fall, peak, peak ts, trough ts
    peak: tuple[int, int] | None = None  # value, ts
    for ts, value in equity:
        if peak is None or value > peak[0]:
            peak = (value, ts)
        fall = peak[0] - value
        if best is None or fall > best[0]:
            best = (fall, peak[0], peak[1], ts)
    if best is None:
        return None
    fall, top, top_ts, trough_ts = best
    return {
        "amount": format_cash(fall),
        "percent": format_fixed(div_round(fall * 10_000, top), 2) if top > 0 else None,
        "peak": format_cash(top),
        "peak_at": format_timestamp(top_ts) if fall else None,
        "trough_at": format_timestamp(trough_ts) if fall else None,
    }


def _account(account: AccountRecord, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    unrealized = account.unrealized_pnl
    return {
        "account": account.account,
        "label": account.label,
        "deposited": format_cash(account.deposited),
        "final_equity": format_cash(account.final_equity),
        "pnl": {
            "realized": format_cash(account.realized_pnl),
            "unrealized": format_cash(unrealized),
            "funding": format_cash(account.funding_pnl),
            "fees": format_cash(-account.fees_paid),
            "liquidation": format_cash(-account.liquidation_loss),
            "total": format_cash(account.final_equity - account.deposited),
        },
        "max_drawdown": max_drawdown(account.equity),
        "liquidations": [
            {"at": format_timestamp(liq.ts), "symbol": liq.symbol,
             "position": _position(liq.side), "stage": liq.stage,
             "qty": instruments[liq.symbol].format_qty(liq.qty),
             "price": instruments[liq.symbol].format_price(liq.price),
             "notional": format_cash(liq.notional),
             "insurance_delta": format_cash(liq.insurance_delta)}
            for liq in account.liquidations],
        "adl": [
            {"at": format_timestamp(adl.ts), "symbol": adl.symbol,
             "position": _position(adl.side),
             "qty": instruments[adl.symbol].format_qty(adl.qty),
             "price": instruments[adl.symbol].format_price(adl.price),
             "counterparty": adl.counterparty}
            for adl in account.adl],
    }


def _check(check: Check) -> dict[str, Any]:
    return {"name": check.name, "symbol": check.symbol,
            "value": None if check.value is None else f"{check.value:.4f}",
            "bound": check.bound, "passed": check.passed, "detail": check.detail}


# -- files ------------------------------------------------------------------------------------

MINUTE_COLUMNS = ("ts", "symbol", "index", "mark", "last", "mid", "premium_bp", "funding_rate",
                  "open_interest", "depth", "trades", "volume", "long_liquidations",
                  "long_liquidated", "short_liquidations", "short_liquidated", "insurance")


def summary_json(record: ReplayRecord, instruments: Mapping[str, Instrument]) -> bytes:
    """``summary.json``: keys sorted, two-space indent, a final newline."""
    encoded = msgspec.json.encode(summarize(record, instruments), order="sorted")
    return msgspec.json.format(encoded, indent=2) + b"\n"


def write_report(record: ReplayRecord, instruments: Mapping[str, Instrument],
                 directory: Path | str) -> list[Path]:
    """Write summary.json, minutes.csv, liquidations.csv, funding.csv, adl.csv and the chart
    (chart.png, or chart.txt without matplotlib) into ``directory`` (created if missing).

    Returns:
        The paths written, in that order; the same record gives byte-identical files.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": summary_json(record, instruments),
        "minutes.csv": _csv(MINUTE_COLUMNS, _minute_rows(record, instruments)),
        "liquidations.csv": _csv(
            ("ts", "account", "symbol", "position", "stage", "qty", "price", "notional",
             "insurance_delta"),
            ((format_timestamp(r.ts), r.account, r.symbol, _position(r.side), r.stage,
              instruments[r.symbol].format_qty(r.qty), instruments[r.symbol].format_price(r.price),
              format_cash(r.notional), format_cash(r.insurance_delta))
             for r in record.liquidations)),
        "funding.csv": _csv(
            ("ts", "symbol", "rate", "mark"),
            ((format_timestamp(f.ts), f.symbol, format_rate(f.rate),
              instruments[f.symbol].format_price(f.mark)) for f in record.funding)),
        "adl.csv": _csv(
            ("ts", "account", "symbol", "position", "qty", "price", "counterparty"),
            ((format_timestamp(a.ts), a.account, a.symbol, _position(a.side),
              instruments[a.symbol].format_qty(a.qty), instruments[a.symbol].format_price(a.price),
              a.counterparty) for a in record.adl)),
    }
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    paths.append(write_chart(record, instruments, folder))
    return paths


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _mid(instrument: Instrument, half_ticks: int | None) -> str:
    """The mid from bid + ask (half-ticks), with one more decimal only when it is needed."""
    if half_ticks is None:
        return ""
    digits = half_ticks * instrument.price_digits_per_tick * 5
    return format_trimmed(digits, instrument.price_decimals + 1, instrument.price_decimals)


def _minute_rows(record: ReplayRecord,
                 instruments: Mapping[str, Instrument]) -> Iterable[tuple[object, ...]]:
    for row in record.minutes:
        inst = instruments[row.symbol]
        yield (format_timestamp(row.ts), row.symbol, inst.format_price(row.index),
               inst.format_price(row.mark),
               "" if row.last is None else inst.format_price(row.last), _mid(inst, row.mid),
               _bp(premium_centi_bp(row)), format_rate(row.funding_rate),
               inst.format_qty(row.open_interest), inst.format_qty(row.depth), row.trades,
               inst.format_qty(row.volume), row.long_liquidations,
               format_cash(row.long_liquidated), row.short_liquidations,
               format_cash(row.short_liquidated), format_cash(row.insurance))


# -- the terminal -----------------------------------------------------------------------------


def render_terminal(record: ReplayRecord, instruments: Mapping[str, Instrument],
                    console: Console) -> None:
    """Print the summary a trader reads: header, per-day tables per symbol, the accounts of
    interest (PnL split, drawdown, liquidations), the realism checks and a chart of the mark.

    rich is imported here, not at module level: scenarios/ loads no UI package on import
    (tests/test_architecture.py); only the caller, which owns a console, needs it.
    """
    from rich.table import Table
    from rich.text import Text

    summary = summarize(record, instruments)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key, value in (
        ("scenario", summary["scenario"]), ("seed", str(summary["seed"])),
        ("range", f"{summary['start']} .. {summary['end']}"),
        ("steps", f"{summary['steps']:,}"), ("trades", f"{summary['trades']:,}"),
        ("commands", f"{summary['commands']:,}"),
        ("liquidations", f"{summary['liquidations']:,}  (ADL {summary['adl']:,})"),
        ("insurance fund", f"{summary['insurance']['start']} -> {summary['insurance']['end']}"),
    ):
        head.add_row(key, Text(value))
    console.rule(f"Replay {record.scenario}")
    console.print(head)

    days = summary["days"]
    for symbol in record.symbols:
        blocks = [(day, block["symbols"][symbol]) for day, block in days.items()
                  if symbol in block["symbols"]]
        prices = _table(Table, f"{symbol}: prices and premium (bp) by day",
                        ("day", "index low", "index high", "mark low", "mark high", "last low",
                         "last high", "prem mean", "max |prem|", "calm hour", "worst hour"))
        for day, s in blocks:
            last, p = s["last"] or {"low": "-", "high": "-"}, s["premium_bp"]
            prices.add_row(day, s["index"]["low"], s["index"]["high"], s["mark"]["low"],
                           s["mark"]["high"], last["low"], last["high"], p["mean"],
                           p["max_abs"], p["calm_hour"], p["worst_hour"])
        console.print(prices)
        flows = _table(Table, f"{symbol}: funding, open interest, liquidations by day",
                       ("day", "settle", "fund mean", "fund max", "OI start", "OI end",
                        "long liq", "long USDT", "short liq", "short USDT", "ADL"))
        for day, s in blocks:
            f, oi, liq = s["funding"], s["open_interest"], s["liquidations"]
            flows.add_row(day, str(f["settlements"]), f["mean"] or "-", f["max"] or "-",
                          oi["start"], oi["end"], str(liq["long"]["count"]),
                          liq["long"]["notional"], str(liq["short"]["count"]),
                          liq["short"]["notional"], str(s["adl"]))
        console.print(flows)
    venue = _table(Table, "Insurance fund by day", ("day", "start", "end"))
    for day, block in days.items():
        venue.add_row(day, block["insurance"]["start"], block["insurance"]["end"])
    console.print(venue)

    console.rule("Accounts of interest")
    if not summary["accounts"]:
        console.print("none (add one with --position or --strategy)")
    for account in summary["accounts"]:
        _render_account(account, console, Table)

    console.rule("Realism (stylized facts of the 1-minute mark)")
    checks = _table(Table, "", ("symbol", "check", "value", "bound", "result"))
    for check in summary["realism"]:
        verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[dim]n/a[/]"}
        checks.add_row(check["symbol"], check["name"], check["value"] or "-", check["bound"],
                       verdict[check["passed"]])
    console.print(checks)

    console.rule("Mark")
    width = max(20, console.width - 20)
    for symbol in record.symbols:
        for line in mark_chart(record, instruments[symbol], width=width, height=TEXT_HEIGHT):
            console.print(Text(line), no_wrap=True)


def _table(table_type: Any, title: str, columns: Sequence[str]) -> Any:
    from rich import box
    from rich.markup import escape

    table = table_type(title=escape(title) if title else None, title_justify="left",
                       box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        if column in _TEXT_COLUMNS:
            table.add_column(column, justify="left", no_wrap=True)
        else:
            table.add_column(column, justify="right")
    return table


_TEXT_COLUMNS = ("day", "symbol", "check", "bound", "result")


def _render_account(account: dict[str, Any], console: Console, table_type: Any) -> None:
    pnl, drawdown = account["pnl"], account["max_drawdown"]
    table = _table(table_type, f"{account['label']} ({account['account']})",
                   ("deposited", "realized", "unrealized", "funding", "fees", "liquidation",
                    "total", "final equity", "max drawdown"))
    fall = "-" if drawdown is None else f"{drawdown['amount']} ({drawdown['percent']} %)"
    table.add_row(account["deposited"], pnl["realized"], pnl["unrealized"], pnl["funding"],
                  pnl["fees"], pnl["liquidation"], pnl["total"], account["final_equity"], fall)
    console.print(table)
    if not account["liquidations"]:
        console.print("  never liquidated", highlight=False)
    for liq in account["liquidations"]:
        console.print(f"  liquidated {liq['at']}: {liq['symbol']} {liq['position']} "
                      f"{liq['qty']} by {liq['stage']} at {liq['price']} "
                      f"(notional {liq['notional']}, insurance {liq['insurance_delta']})",
                      highlight=False, markup=False)
    for adl in account["adl"]:
        console.print(f"  auto-deleveraged {adl['at']}: {adl['symbol']} {adl['position']} "
                      f"{adl['qty']} at {adl['price']} against {adl['counterparty']}",
                      highlight=False, markup=False)
