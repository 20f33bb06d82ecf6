"""A leveraged buy-and-hold: open a long at market at the start and keep it.

    perpsim replay jan-2026-silver \
        --strategy scenarios/strategies/buy_and_hold.py:LeveragedBuyAndHold

Copy the file and change the class attributes (or subclass it) to size the position, set the
leverage, and add a stop-loss or a take-profit. Both are reduce-only conditional orders on the
mark price, so they can only close the position, never open a short. When one of them fills,
the other is cancelled; a liquidation is written to the log.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from scenarios.strategy import Context, FillInfo, LiquidationInfo, Number, Strategy, StrategyError


class LeveragedBuyAndHold(Strategy):
    """Buy at market at the start, hold to the end (or to the stop, the target, the
    liquidation)."""

    balance: Number = "1000"
    """USDT deposited at the start: the margin behind the position (cross)."""
    symbol: str = "XAGUSDT"
    leverage: int = 10
    """The symbol's leverage setting: the initial margin is notional / leverage."""
    notional: Number | None = "5000"
    """Size of the position in USDT at the opening mark (rounded down to the lot)."""
    qty: Number | None = None
    """Size in contracts (oz, BTC); when set, it is used instead of ``notional``."""
    stop_loss_pct: Number | None = None
    """Close at market if the mark falls this many percent below the entry (e.g. ``"5"``)."""
    take_profit_pct: Number | None = None
    """Close at market if the mark rises this many percent above the entry."""

    def __init__(self) -> None:
        # checked here, so that a bad copy fails when it is loaded, before the replay runs
        name = type(self).__name__
        if not isinstance(self.leverage, int) or self.leverage < 1:
            raise StrategyError(f"{name}.leverage: {self.leverage!r} is not a whole number >= 1")
        if self.qty is None and self.notional is None:
            raise StrategyError(f"{name}: set notional (USDT) or qty (contracts)")
        for field in ("notional", "qty", "stop_loss_pct", "take_profit_pct"):
            value = getattr(self, field)
            if value is not None and not _positive(value):
                raise StrategyError(f"{name}.{field}: {value!r} is not a positive number")
        if self.stop_loss_pct is not None and Decimal(str(self.stop_loss_pct)) >= 100:
            raise StrategyError(f"{name}.stop_loss_pct: must be below 100")
        self.entry: Decimal | None = None
        """Average price of the opening fills."""
        self.stop_id: int | None = None
        self.target_id: int | None = None
        self._bought = Decimal(0)
        self._cost = Decimal(0)

    def on_start(self, ctx: Context) -> None:
        symbol = self.symbol
        if not ctx.set_leverage(symbol, self.leverage):
            ctx.log(f"leverage {self.leverage}x refused: {ctx.rejections[-1][1]}")
            return
        qty = self._size(ctx)
        if qty is None or ctx.buy(symbol, qty) is None:
            reason = ctx.rejections[-1][1] if ctx.rejections else "below one lot"
            ctx.log(f"opening {symbol} long refused: {reason}")
            return
        # the opening fills have arrived by now (on_fill ran before buy returned)
        self.entry = self._cost / self._bought
        held = ctx.position(symbol)
        ctx.log(f"long {held} {symbol} at {self.entry:.2f} ({self.leverage}x)")
        tick = ctx.instrument(symbol).tick_size
        if self.stop_loss_pct is not None:
            # rounded toward the entry: the loss is never more than asked
            stop = _to_tick(self.entry * (1 - _pct(self.stop_loss_pct)), tick, ROUND_CEILING)
            self.stop_id = self._protect(ctx, "stop_market", stop, held, "stop-loss")
        if self.take_profit_pct is not None:
            target = _to_tick(self.entry * (1 + _pct(self.take_profit_pct)), tick, ROUND_FLOOR)
            self.target_id = self._protect(ctx, "take_profit_market", target, held,
                                           "take-profit")

    def on_fill(self, ctx: Context, fill: FillInfo) -> None:
        if self.entry is None and fill.side == "buy":
            self._bought += fill.qty
            self._cost += fill.qty * fill.price
            return
        if fill.order_id in (self.stop_id, self.target_id) and ctx.position(self.symbol) == 0:
            which = "stop-loss" if fill.order_id == self.stop_id else "take-profit"
            ctx.log(f"{which} closed the position at {fill.price}")
            other = self.target_id if fill.order_id == self.stop_id else self.stop_id
            if other is not None:
                ctx.cancel(other)  # one-cancels-the-other
            self.stop_id = self.target_id = None

    def on_liquidation(self, ctx: Context, liquidation: LiquidationInfo) -> None:
        ctx.log(f"liquidated: {liquidation.qty} {liquidation.symbol} at {liquidation.price} "
                f"({liquidation.stage})")

    # -- helpers ------------------------------------------------------------------------------

    def _size(self, ctx: Context) -> Decimal | None:
        """Contracts to buy: ``qty``, or ``notional`` at the mark rounded down to the lot."""
        if self.qty is not None:
            return Decimal(str(self.qty))
        price = ctx.mark(self.symbol) or ctx.index(self.symbol)
        if price is None:
            return None
        lot = ctx.instrument(self.symbol).lot_size
        qty = _to_tick(Decimal(str(self.notional)) / price, lot, ROUND_FLOOR)
        return qty if qty > 0 else None

    def _protect(self, ctx: Context, kind: str, trigger: Decimal, qty: Decimal,
                 what: str) -> int | None:
        order_id = ctx.place(self.symbol, "sell", qty, type=kind, trigger=trigger,
                             reduce_only=True)
        if order_id is None:
            ctx.log(f"{what} at {trigger} refused: {ctx.rejections[-1][1]}")
        else:
            ctx.log(f"{what} at {trigger}")
        return order_id


def _positive(value: Number) -> bool:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return False
    return number.is_finite() and number > 0


def _pct(value: Number) -> Decimal:
    return Decimal(str(value)) / 100


def _to_tick(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step
