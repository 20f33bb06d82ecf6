"""The stylized facts a replay's market should show, checked on what the replay recorded.

Real 1-minute returns of liquid futures have heavy tails, volatility that clusters and almost no
linear autocorrelation; liquidations arrive in cascades. Each check here is computed per symbol
from the ``MinuteRow`` marks and liquidation tallies of a ``ReplayRecord`` (pure numpy) and
states its bound; the bounds are loose on purpose (a realism smoke test, not an estimate).

The return series: ``r = ln(mark_t / mark_{t-1})`` over consecutive minute rows of the symbol
(rows exactly one minute apart; a missing minute starts a new stretch), keeping only the minutes
where the mark moved. Dropping ``r == 0`` removes the frozen off-hours stretches of a metals perp
(index closed, mark pinned); it also drops the odd quiet minute without a tick, which only lowers
the kurtosis (zeros fatten the peak), so the kurtosis check stays conservative.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from engine.units import format_timestamp
from scenarios.record import MinuteRow, ReplayRecord

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
MIN_RETURNS = 50
"""Fewer moving minutes than this and the return checks say "not applicable"."""
ACF_LAGS = 10
LAG1_BOUND = 0.1
WORST_MINUTE_SHARE = 0.2


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One stylized fact for one symbol."""

    name: str
    symbol: str
    value: float | None
    """None when there is too little data to compute it."""
    bound: str
    """The pass condition on ``value``, e.g. ``> 3.33``."""
    passed: bool | None
    """None: not applicable (too few moving minutes, no liquidation)."""
    detail: str


def mark_returns(minutes: tuple[MinuteRow, ...] | list[MinuteRow], symbol: str) -> np.ndarray:
    """The symbol's 1-minute log returns of the mark where it moved (module docstring)."""
    rows = [row for row in minutes if row.symbol == symbol]
    if len(rows) < 2:
        return np.zeros(0)
    ts = np.array([row.ts for row in rows], dtype=np.int64)
    mark = np.array([row.mark for row in rows], dtype=np.float64)
    consecutive = np.diff(ts) == MINUTE_NS
    returns = np.diff(np.log(mark))[consecutive]
    return returns[returns != 0.0]


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis ``m4 / m2**2`` (a normal distribution has 3, not 0)."""
    centred = x - x.mean()
    m2 = float(np.mean(centred**2))
    return float(np.mean(centred**4)) / (m2 * m2) if m2 > 0 else 0.0


def autocorrelation(x: np.ndarray, lag: int) -> float:
    """The usual estimator ``sum((x_t - m)(x_{t+lag} - m)) / sum((x_t - m)**2)``."""
    centred = x - x.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0 or lag >= len(x):
        return 0.0
    return float(np.dot(centred[:-lag], centred[lag:])) / denominator


def realism(record: ReplayRecord) -> list[Check]:
    """The checks for every symbol of the record, in the record's symbol order."""
    checks: list[Check] = []
    for symbol in record.symbols:
        returns = mark_returns(record.minutes, symbol)
        checks += _return_checks(symbol, returns)
        checks += _liquidation_checks(symbol, [r for r in record.minutes if r.symbol == symbol])
    return checks


def _return_checks(symbol: str, r: np.ndarray) -> list[Check]:
    n = len(r)
    if n < MIN_RETURNS:
        why = f"{n} moving minutes < {MIN_RETURNS}"
        return [Check(name=name, symbol=symbol, value=None, bound=bound, passed=None, detail=why)
                for name, bound in (("kurtosis", "> 3"), ("abs_return_acf", "> 0"),
                                    ("lag1_acf", f"|x| < {LAG1_BOUND}"))]
    # A normal sample's kurtosis has standard error sqrt(24/n): "above 3" means above 3 by three
    # of them, or half of all i.i.d. Gaussian series would pass.
    kurt_bound = 3 + 3 * math.sqrt(24 / n)
    kurt = kurtosis(r)
    # Each lag's autocorrelation of an i.i.d. series has standard error ~1/sqrt(n), nearly
    # independent across lags, so their mean over ten lags has 1/sqrt(10 n): three of those.
    abs_r = np.abs(r)
    acf_bound = 3 / math.sqrt(ACF_LAGS * n)
    acf = float(np.mean([autocorrelation(abs_r, lag) for lag in range(1, ACF_LAGS + 1)]))
    # A martingale index has none; bid-ask bounce (negative) or a lagging, smoothed mark
    # (positive) would show here. Liquid futures at one minute stay within a few hundredths,
    # and 0.1 is 4.5 standard errors at the smallest n allowed.
    lag1 = autocorrelation(r, 1)
    return [
        Check(name="kurtosis", symbol=symbol, value=kurt, bound=f"> {kurt_bound:.2f}",
              passed=kurt > kurt_bound,
              detail=f"Pearson kurtosis of {n} 1-minute mark log returns (normal: 3)"),
        Check(name="abs_return_acf", symbol=symbol, value=acf, bound=f"> {acf_bound:.4f}",
              passed=acf > acf_bound,
              detail=f"mean autocorrelation of |returns| at lags 1-{ACF_LAGS} (volatility "
                     "clustering)"),
        Check(name="lag1_acf", symbol=symbol, value=lag1, bound=f"|x| < {LAG1_BOUND}",
              passed=abs(lag1) < LAG1_BOUND,
              detail="lag-1 autocorrelation of returns (little linear predictability)"),
    ]


def _liquidation_checks(symbol: str, rows: list[MinuteRow]) -> list[Check]:
    counts = np.array([r.long_liquidations + r.short_liquidations for r in rows], dtype=np.int64)
    total = int(counts.sum()) if len(counts) else 0
    if total == 0:
        why = "no liquidation"
        return [Check(name=name, symbol=symbol, value=None, bound=bound, passed=None, detail=why)
                for name, bound in (("worst_minute_share", f">= {WORST_MINUTE_SHARE}"),
                                    ("liquidation_dispersion", "> 1"))]
    share, hour = worst_minute_share(rows)
    n = len(counts)
    dispersion = float(counts.var(ddof=1) / counts.mean()) if n > 1 else 0.0
    # A Poisson count's dispersion index has standard error ~sqrt(2 / (n - 1)).
    dispersion_bound = 1 + 3 * math.sqrt(2 / (n - 1)) if n > 1 else math.inf
    return [
        Check(name="worst_minute_share", symbol=symbol, value=share,
              bound=f">= {WORST_MINUTE_SHARE}", passed=share >= WORST_MINUTE_SHARE,
              detail=f"the worst minute's share of the liquidated notional of the worst clock "
                     f"hour (from {format_timestamp(hour)}); even spread: 1/60"),
        Check(name="liquidation_dispersion", symbol=symbol, value=dispersion,
              bound=f"> {dispersion_bound:.4f}", passed=dispersion > dispersion_bound,
              detail=f"variance / mean of liquidations per minute over {n} minutes "
                     "(Poisson: 1)"),
    ]


def worst_minute_share(rows: list[MinuteRow]) -> tuple[float, int]:
    """The largest minute's share of the liquidated notional of the clock hour (UTC) with the
    most, and that hour's start in ns (the earliest on a tie)."""
    hours: dict[int, list[int]] = {}
    for row in rows:
        notional = row.long_liquidated + row.short_liquidated
        if notional:
            hours.setdefault(row.ts - row.ts % HOUR_NS, []).append(notional)
    if not hours:
        return 0.0, rows[0].ts - rows[0].ts % HOUR_NS
    hour = max(sorted(hours), key=lambda h: sum(hours[h]))
    return max(hours[hour]) / sum(hours[hour]), hour
