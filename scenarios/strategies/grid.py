"""A grid: a ladder of limit orders around the mark that buys low and sells one step higher.

    perpsim replay jan-2026-silver --strategy scenarios/strategies/grid.py:Grid

The grid is a lattice of prices ``centre + k x step`` for ``k`` from ``-levels`` to ``levels``,
``step`` being ``spacing`` percent of the centre (rounded to the tick). At the start it places
a limit buy of ``qty`` at each level below the centre and a limit sell at each level above.
When a buy fills in full it places a sell one step above it; when a sell fills, a buy one step
below. So every level holds at most one order and the grid never grows past its levels: it
turns the price's back-and-forth into round trips of one step each.

When the mark leaves the lattice, the grid cancels its orders and rebuilds the ladder around
the mark, keeping the position it holds: while long it places fewer buys, while short fewer
sells, so the position never exceeds ``levels x qty`` either way (the fills and their
replacements keep that bound too: each buy filled becomes a sell). An order the venue refuses
(not enough margin, out of the price band) is logged and its level left empty until the next
re-centre: it is not retried every step. After a liquidation the grid stops.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from scenarios.strategy import Context, FillInfo, LiquidationInfo, Number, Strategy, StrategyError


class Grid(Strategy):
    """A symmetric ladder of limit orders that refills one step away on every fill."""

    balance: Number = "10000"
    symbol: str = "XAGUSDT"
    levels: int = 5
    """Orders a side."""
    spacing: Number = "0.5"
    """Distance between two levels, percent of the centre price."""
    qty: Number = "1"
    """Contracts per level (oz, BTC)."""
    leverage: int = 5
    every: int = 60
    """Seconds between the checks that the mark is still inside the grid."""

    def __init__(self) -> None:
        name = type(self).__name__
        if not isinstance(self.levels, int) or self.levels < 1:
            raise StrategyError(f"{name}.levels: {self.levels!r} is not a whole number >= 1")
        if not isinstance(self.leverage, int) or self.leverage < 1:
            raise StrategyError(f"{name}.leverage: {self.leverage!r} is not a whole number >= 1")
        for field in ("spacing", "qty"):
            value = getattr(self, field)
            try:
                number = Decimal(str(value))
            except ArithmeticError:
                number = Decimal("NaN")
            if not number.is_finite() or number <= 0:
                raise StrategyError(f"{name}.{field}: {value!r} is not a positive number")
        self.centre: Decimal | None = None
        self.step: Decimal | None = None
        self.recentres = 0
        """How many times the ladder was rebuilt around a new centre."""
        self.stopped = False
        self._by_level: dict[int, int] = {}
        """Lattice level -> id of the open order there."""
        self._orders: dict[int, tuple[int, str, Decimal]] = {}
        """Order id -> (level, side, quantity still to fill)."""
        self._early: dict[int, Decimal] = {}
        """Fills of an order heard before ``place`` returned its id (it crossed on entry)."""

    # -- callbacks ----------------------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        if not ctx.set_leverage(self.symbol, self.leverage):
            ctx.log(f"leverage {self.leverage}x refused: {ctx.rejections[-1][1]}")
        self._build(ctx)

    def on_step(self, ctx: Context) -> None:
        if self.stopped:
            return
        self._forget_closed(ctx)
        mark = ctx.mark(self.symbol)
        if mark is None or self.centre is None or self.step is None:
            self._build(ctx)
            return
        reach = self.levels * self.step
        if not self.centre - reach <= mark <= self.centre + reach:
            ctx.cancel_all(self.symbol)
            self._by_level.clear()
            self._orders.clear()
            self.recentres += 1
            self._build(ctx)

    def on_fill(self, ctx: Context, fill: FillInfo) -> None:
        known = self._orders.get(fill.order_id)
        if known is None:
            # our own order trading on entry: ``_place`` settles it once it knows the id
            self._early[fill.order_id] = self._early.get(fill.order_id, Decimal(0)) + fill.qty
            return
        level, side, left = known
        left -= fill.qty
        if left > 0:
            self._orders[fill.order_id] = (level, side, left)
            return
        self._filled(ctx, fill.order_id)

    def on_liquidation(self, ctx: Context, liquidation: LiquidationInfo) -> None:
        if not self.stopped:
            ctx.log(f"liquidated: {liquidation.qty} {liquidation.symbol} at "
                    f"{liquidation.price} ({liquidation.stage}); the grid stops")
            self.stopped = True
            ctx.cancel_all(self.symbol)

    # -- the ladder ---------------------------------------------------------------------------

    def price(self, level: int) -> Decimal:
        """The lattice price of ``level`` (0 is the centre)."""
        assert self.centre is not None and self.step is not None
        return self.centre + level * self.step

    def _build(self, ctx: Context) -> None:
        """Centre the lattice on the mark and place the ladder, fewer buys while long and fewer
        sells while short: the position stays within ``levels x qty`` either way."""
        mark = ctx.mark(self.symbol) or ctx.index(self.symbol)
        if mark is None:
            return  # no price yet: the next step tries again
        tick = ctx.instrument(self.symbol).tick_size
        steps = (mark * Decimal(str(self.spacing)) / 100 / tick).to_integral_value(
            rounding=ROUND_HALF_EVEN)
        self.centre, self.step = mark, max(steps, 1) * tick
        held = ctx.position(self.symbol) / Decimal(str(self.qty))
        buys = max(0, min(self.levels, int(self.levels - held)))
        sells = max(0, min(self.levels, int(self.levels + held)))
        ctx.log(f"grid around {mark}, step {self.step}: {buys} buys, {sells} sells")
        for k in range(1, self.levels + 1):
            if k <= buys:
                self._place(ctx, -k, "buy")
            if k <= sells:
                self._place(ctx, k, "sell")

    def _place(self, ctx: Context, level: int, side: str) -> None:
        if level in self._by_level or self.stopped:
            return  # one order a level
        price = self.price(level)
        order_id = ctx.place(self.symbol, side, self.qty, price=price)
        if order_id is None:
            reason, message = ctx.rejections[-1]
            ctx.log(f"{side} {self.qty} at {price} refused ({reason}: {message}); the level "
                    "stays empty until the grid re-centres")
            return
        self._by_level[level] = order_id
        self._orders[order_id] = (level, side, Decimal(str(self.qty)))
        early = self._early.pop(order_id, None)
        if early is not None:
            _, _, left = self._orders[order_id]
            if left - early > 0:
                self._orders[order_id] = (level, side, left - early)
            else:
                self._filled(ctx, order_id)

    def _filled(self, ctx: Context, order_id: int) -> None:
        """A grid order filled in full: free its level, place the opposite one step away."""
        level, side, _ = self._orders.pop(order_id)
        del self._by_level[level]
        if side == "buy":
            self._place(ctx, level + 1, "sell")
        else:
            self._place(ctx, level - 1, "buy")

    def _forget_closed(self, ctx: Context) -> None:
        """Drop orders the venue closed without a fill of ours (cancelled by the band)."""
        open_ids = {order.order_id for order in ctx.orders(self.symbol)}
        for order_id in [known for known in self._orders if known not in open_ids]:
            level, _, _ = self._orders.pop(order_id)
            del self._by_level[level]
