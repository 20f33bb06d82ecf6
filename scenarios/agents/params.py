"""The ``[participants]`` table of a scenario file, validated: one struct a kind, every field
with a default a scenario may override. Money is in USDT, spreads in basis points, times in
seconds, volatilities as a fraction per square-root second (0.0002 is 0.02 % in a second,
about 2.6 % in a day of 86 400 s).

``[participants.makers.symbol.XAGUSDT]`` (and likewise for the other kinds that have one)
overrides the kind's fields for one symbol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

Positive = Annotated[float, msgspec.Meta(gt=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class ParticipantsError(ValueError):
    """A ``[participants]`` table that does not validate; the message names the field."""


class _Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class MakerParams(_Params):
    count: Count = 2
    """Market makers per symbol."""
    levels: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    level_notional: Positive = 25_000.0
    """USDT quoted at each level."""
    half_spread_bp: Positive = 2.0
    """Distance of the first level from the centre in calm markets."""
    level_step_bp: Positive = 2.0
    vol_spread: float = 40_000.0
    """Basis points of half-spread added per unit of volatility (fraction per sqrt s)."""
    requote_s: Positive = 5.0
    """Seconds between re-quotes (jittered +-30 %); sooner when the index moves."""
    pull_vol: Positive = 0.0012
    """Above this volatility quotes go far (10x the spread) and small (a quarter)."""
    inventory_limit: Positive = 400_000.0
    """USDT of position past which the side that adds to it is quoted far and small (10x the
    spread, a quarter of the size); past twice this it is pulled."""
    skew: Share = 0.8
    """Share of the half-spread the centre moves per full inventory limit."""
    hedge_share: Share = 0.0
    """Share of its position the maker counts as hedged off this venue (spot, another
    exchange), as a real perp maker hedges: the lean and the inventory limits count only the
    rest. Only the quoting sees the hedge: the venue account still carries the whole
    position's PnL and margin (its capital is sized for it), and the hedge's own PnL is not
    simulated. A crowd that stays net long for weeks leaves an unhedged maker past its limits
    and that side of the book empty."""
    capital: Positive = 5_000_000.0
    leverage: Annotated[int, msgspec.Meta(ge=1)] = 10


class ArbitrageurParams(_Params):
    count: Count = 1
    """Arbitrageurs per symbol."""
    capital_usdt: Positive = 500_000.0
    leverage: Annotated[int, msgspec.Meta(ge=1)] = 5
    threshold_bp: Positive = 8.0
    """Premium of the touch over the index at which an arbitrageur may trade."""
    clip: Positive = 20_000.0
    """USDT per trade."""
    wake_s: Positive = 2.0
    max_position: Positive = 1_500_000.0
    """USDT of position beyond which it does not add."""


class NoiseParams(_Params):
    count: Count = 20
    """Noise and value traders in all (each trades every symbol)."""
    rate_per_min: Positive = 2.0
    """Orders a minute per symbol, all noise traders together (Poisson)."""
    median_notional: Positive = 3_000.0
    sigma: Positive = 1.0
    """Of the lognormal order notional."""
    value_share: Share = 0.3
    """Share of orders from value traders, who lean toward the index."""
    capital: Positive = 2_000_000.0
    leverage: Annotated[int, msgspec.Meta(ge=1)] = 3
    max_position: Positive = 300_000.0


class CrowdParams(_Params):
    accounts: Count = 1_000
    median_equity: Positive = 1_500.0
    """USDT; equity is lognormal."""
    equity_sigma: Positive = 1.4
    long_bias: Share = 0.5
    """Probability of a long entry with no trend."""
    momentum: Positive = 25.0
    """How strongly the trend (log change over ``trend_hours``) moves the long probability."""
    contrarian_share: Share = 0.25
    trend_hours: Positive = 24.0
    mean_wait_hours: Positive = 8.0
    """Mean time between an account's decisions (exponential)."""
    hold_hours: Positive = 36.0
    """Mean holding time before a voluntary exit."""
    stop_share: Share = 0.35
    """Share of accounts that rest a stop-loss."""
    stop_pct: Positive = 6.0
    take_profit_share: Share = 0.3
    take_profit_pct: Positive = 8.0
    panic_vol: Positive = 0.0006
    """Above this volatility of the index (fraction per sqrt s) a flat account waits instead
    of entering: the crowd does not pile in while the market crashes, so open interest falls."""
    reentry_hours: Positive = 12.0
    """Mean delay before a liquidated account deposits again and re-enters."""
    symbol_weights: dict[str, float] = {}
    """Share of accounts per symbol; empty: silver 0.5 and the rest shared equally."""


class Participants(_Params):
    makers: MakerParams = MakerParams()
    arbitrageurs: ArbitrageurParams = ArbitrageurParams()
    noise: NoiseParams = NoiseParams()
    crowd: CrowdParams = CrowdParams()


T = TypeVar("T", bound=_Params)


def parse(table: Mapping[str, Any]) -> tuple[Participants, dict[str, dict[str, Any]]]:
    """The participants and the per-symbol overrides of each kind (``kind -> symbol -> raw``).

    Raises:
        ParticipantsError: naming ``participants.<kind>.<field>``.
    """
    overrides: dict[str, dict[str, Any]] = {}
    plain: dict[str, Any] = {}
    for kind, fields in table.items():
        if isinstance(fields, Mapping) and "symbol" in fields:
            fields = dict(fields)
            by_symbol = fields.pop("symbol")
            if not isinstance(by_symbol, Mapping):
                raise ParticipantsError(f"participants.{kind}.symbol: expected a table of "
                                        "symbols")
            overrides[kind] = dict(by_symbol)
        plain[kind] = fields
    try:
        return msgspec.convert(plain, Participants), overrides
    except msgspec.ValidationError as exc:
        raise ParticipantsError(_where(str(exc), "participants")) from None


def for_symbol(params: T, overrides: Mapping[str, Any] | None, kind: str, symbol: str) -> T:
    """``params`` with one symbol's overrides applied."""
    if not overrides:
        return params
    merged = msgspec.structs.asdict(params) | dict(overrides)
    try:
        return msgspec.convert(merged, type(params))
    except msgspec.ValidationError as exc:
        raise ParticipantsError(_where(str(exc), f"participants.{kind}.symbol.{symbol}")
                                ) from None


def _where(message: str, prefix: str) -> str:
    """msgspec says ``... - at `$.crowd.accounts```: name the field as the file does."""
    text, sep, path = message.rpartition(" - at `$")
    if not sep:
        return f"{prefix}: {message}"
    return f"{prefix}{path.rstrip('`')}: {text}"
