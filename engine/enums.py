"""The closed vocabularies of the venue. Their values are the lower-case strings of the protocol."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT_MARKET = "take_profit_market"
    TAKE_PROFIT_LIMIT = "take_profit_limit"

    # the member sets are module constants (below the class): an enum attribute read costs a
    # metaclass lookup, and these run on every order
    @property
    def is_conditional(self) -> bool:
        return self not in _IMMEDIATE

    @property
    def has_limit_price(self) -> bool:
        return self in _WITH_LIMIT_PRICE

    @property
    def is_take_profit(self) -> bool:
        return self in _TAKE_PROFIT

    @property
    def triggered_type(self) -> OrderType:
        """What a conditional order becomes when its trigger fires."""
        return OrderType.LIMIT if self.has_limit_price else OrderType.MARKET


_IMMEDIATE = frozenset((OrderType.LIMIT, OrderType.MARKET))
_WITH_LIMIT_PRICE = frozenset((OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT))
_TAKE_PROFIT = frozenset((OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT_LIMIT))


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class TriggerBy(StrEnum):
    MARK = "mark"
    LAST = "last"


class StpMode(StrEnum):
    """Self-trade prevention; the taker's mode decides (PERP-MECHANICS.md §5, pitfall 10)."""

    EXPIRE_TAKER = "expire_taker"
    EXPIRE_MAKER = "expire_maker"
    EXPIRE_BOTH = "expire_both"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class RejectReason(StrEnum):
    """Why a command changed nothing. Grouped by the subsystem that refuses."""

    # the command itself
    INVALID_PRICE = "invalid_price"
    INVALID_QTY = "invalid_qty"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_LEVERAGE = "invalid_leverage"
    INVALID_ORDER = "invalid_order"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIME_GOES_BACKWARDS = "time_goes_backwards"
    INVALID_FUNDING_TERMS = "invalid_funding_terms"
    # references
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    # instrument filters
    BELOW_MIN_QTY = "below_min_qty"
    ABOVE_MAX_QTY = "above_max_qty"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    NO_MARK_PRICE = "no_mark_price"
    # matching
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLED = "fok_not_filled"
    NO_LIQUIDITY = "no_liquidity"
    WOULD_IMMEDIATELY_TRIGGER = "would_immediately_trigger"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    # risk
    INSUFFICIENT_MARGIN = "insufficient_margin"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    LEVERAGE_TOO_HIGH = "leverage_too_high"
    POSITION_OPEN = "position_open"
    NO_ISOLATED_POSITION = "no_isolated_position"


class CancelReason(StrEnum):
    """Why an accepted order left the book (or its trigger list) without filling in full."""

    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    STP = "stp"
    REDUCE_ONLY = "reduce_only"
    BAND = "band"
    BANKRUPTCY_PRICE = "bankruptcy_price"
    """A reducing taker reached its account's bankruptcy price; the waterfall takes it on."""
    NO_LIQUIDITY = "no_liquidity"
    LIQUIDATION = "liquidation"
    ADL = "adl"
    # a triggered order that fails its entry checks is cancelled with the reject reason
    INSUFFICIENT_MARGIN = "insufficient_margin"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLED = "fok_not_filled"
    LEVERAGE_TOO_HIGH = "leverage_too_high"
    NO_MARK_PRICE = "no_mark_price"


class BalanceKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    ISOLATED_MARGIN = "isolated_margin"


class AmendReason(StrEnum):
    USER = "user"
    REDUCE_ONLY = "reduce_only"
    """The engine shrank a resting reduce-only order to the position it reduces."""


class LiquidationStage(StrEnum):
    REDUCE = "reduce"
    TAKEOVER = "takeover"
    ADL = "adl"


CANCEL_REASON_OF_REFUSAL: dict[RejectReason, CancelReason] = {
    RejectReason.INSUFFICIENT_MARGIN: CancelReason.INSUFFICIENT_MARGIN,
    RejectReason.PRICE_OUT_OF_BAND: CancelReason.PRICE_OUT_OF_BAND,
    RejectReason.POST_ONLY_WOULD_TAKE: CancelReason.POST_ONLY_WOULD_TAKE,
    RejectReason.FOK_NOT_FILLED: CancelReason.FOK_NOT_FILLED,
    RejectReason.LEVERAGE_TOO_HIGH: CancelReason.LEVERAGE_TOO_HIGH,
    RejectReason.NO_MARK_PRICE: CancelReason.NO_MARK_PRICE,
    RejectReason.NO_LIQUIDITY: CancelReason.NO_LIQUIDITY,
}
"""A conditional order whose trigger fired and that then fails an entry check is cancelled
with the reason a new order would have been rejected with; every entry refusal has one."""
