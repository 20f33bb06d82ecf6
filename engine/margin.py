"""Margin arithmetic of a cross account (PERP-MECHANICS.md §1.8-§1.11), exact in cash units.

- Position initial margin: ``|q| x mark / leverage``, rounded up.
- Order margin per symbol: each side's *opening* quantity (the part that would grow |q| after
  the better-priced orders of that side filled; closing parts and reduce-only orders need
  nothing) at ``price / leverage``, plus the open loss of an order priced through the mark;
  the symbol reserves ``max(buys, sells)`` since both sides cannot fill into one position.
- Maintenance margin by the tier of the notional at mark, less the tier's ``cum``.
- Available balance = margin balance - position IM - order IM - the loss against the mark of
  resting closing orders (``closing_loss``); max withdrawable also keeps
  unrealized profit in the account (PERP-MECHANICS.md §1.10).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

import msgspec

from engine.account import Account, Position
from engine.instrument import Instrument
from engine.units import RATE_SCALE, ceil_div

OrderShape = tuple[bool, int, int]
"""(is_buy, price in ticks, remaining lots) of an order that would rest."""


def position_initial_margin(instrument: Instrument, qty: int, mark: int, leverage: int) -> int:
    return ceil_div(abs(qty) * mark * instrument.cash_per_tick_lot, leverage)


def order_initial_margin(instrument: Instrument, orders: Iterable[OrderShape], position_qty: int,
                         mark: int, leverage: int) -> int:
    """Margin reserved by the resting orders of one symbol. O(n log n) in the orders: the
    oracle of the running totals (``SymbolReserve.order_margin``)."""
    buys = sorted(((p, q) for is_buy, p, q in orders if is_buy), reverse=True)
    sells = sorted((p, q) for is_buy, p, q in orders if not is_buy)
    per_lot = instrument.cash_per_tick_lot
    reserved = []
    for levels, to_close, sign in ((buys, max(0, -position_qty), 1),
                                   (sells, max(0, position_qty), -1)):
        value = loss = 0
        for price, qty in levels:
            closing = min(qty, to_close)
            to_close -= closing
            opening = qty - closing
            value += opening * price
            # open loss: a buy above the mark (a sell below it) loses that much when filled
            loss += opening * max(0, sign * (price - mark))
        reserved.append(ceil_div(value * per_lot, leverage) + loss * per_lot)
    return max(reserved)


def closing_loss(instrument: Instrument, account: Account, symbol: str, position_qty: int,
                 mark: int) -> int:
    """What the resting orders that close ``position_qty`` (reduce-only or not) would lose
    against the mark if they filled: a buy closing a short above the mark, a sell closing a
    long below it. A closing fill realizes that loss into the wallet (or the isolated margin
    behind it), so withdrawals and new margin must leave it there: otherwise a close resting
    beyond the bankruptcy price fills as a maker and leaves the account owing money. Not part
    of the entry check of a close itself (a market close must never be refused for its loss).
    O(orders of the account): the oracle of ``SymbolReserve.closing_loss``.
    """
    if position_qty == 0:
        return 0
    is_buy = position_qty < 0
    sign = 1 if is_buy else -1
    closes = sorted(((o.price, o.remaining) for o in account.orders.values()
                     if o.symbol == symbol and o.live and o.price is not None
                     and o.is_buy == is_buy and not o.type.is_conditional),
                    reverse=is_buy)
    to_close, loss = abs(position_qty), 0
    for price, qty in closes:
        closing = min(qty, to_close)
        to_close -= closing
        loss += closing * max(0, sign * (price - mark))
        if to_close == 0:
            break
    return loss * instrument.cash_per_tick_lot


def resting_shapes(account: Account, symbol: str) -> list[OrderShape]:
    """The orders of ``account`` on ``symbol`` that reserve margin: resting, not reduce-only."""
    return [(o.is_buy, o.price, o.remaining) for o in account.orders.values()
            if o.symbol == symbol and o.live and o.price is not None and not o.reduce_only
            and not o.type.is_conditional]


class MarginSummary(msgspec.Struct, frozen=True, kw_only=True):
    """An account's margin in cash units; the margin ratio is over RATE_SCALE."""

    wallet_balance: int
    unrealized_pnl: int
    margin_balance: int
    position_margin: int
    order_margin: int
    maintenance_margin: int
    available_balance: int
    max_withdraw: int

    @property
    def margin_ratio(self) -> int | None:
        """maintenance / margin balance, rounded up; None when the balance is not positive."""
        if self.margin_balance <= 0:
            return None
        return ceil_div(self.maintenance_margin * RATE_SCALE, self.margin_balance)


def maintenance_margin(instrument: Instrument, qty: int, mark: int) -> int:
    """MM of a position of ``qty`` lots at ``mark`` ticks by its notional's tier (rounded up)."""
    return instrument.maintenance_margin(abs(qty) * mark * instrument.cash_per_tick_lot)


def summarize(account: Account, instruments: Mapping[str, Instrument],
              marks: Mapping[str, int | None]) -> MarginSummary:
    """The margin state of a cross account at the given marks, from the running totals of
    its resting orders (engine/reserve.py): O(symbols), plus the levels that close a position
    or rest through the mark."""
    upnl = position_im = order_im = maintenance = close_loss = 0
    # unordered: integer sums do not depend on the order, and a flat symbol with no orders
    # adds nothing (this runs on every opening order: no sort, no filtering pass)
    for symbol in account.positions.keys() | account.open_on.keys():
        mark = marks.get(symbol)
        if mark is None:  # no price yet: nothing can have traded, no order can rest
            continue
        instrument = instruments[symbol]
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        qty = account.position_qty(symbol)
        position = account.positions.get(symbol)
        if qty and position is not None and not position.isolated:
            upnl += position.unrealized_pnl(mark, instrument.cash_per_tick_lot)
            position_im += position_initial_margin(instrument, qty, mark, leverage)
            maintenance += maintenance_margin(instrument, qty, mark)
        # orders reserve from the cross wallet in either mode: an isolated position's margin
        # is only moved out of the wallet when its orders fill
        reserve = account.reserve_on(symbol)
        order_im += reserve.order_margin(instrument, qty, mark, leverage)
        close_loss += reserve.closing_loss(instrument, qty, mark)
    margin_balance = account.wallet + upnl
    available = margin_balance - position_im - order_im - close_loss
    return MarginSummary(
        wallet_balance=account.wallet,
        unrealized_pnl=upnl,
        margin_balance=margin_balance,
        position_margin=position_im,
        order_margin=order_im,
        maintenance_margin=maintenance,
        available_balance=available,
        max_withdraw=max(0, min(available,
                                account.wallet - position_im - order_im - close_loss)),
    )


def available_balance(account: Account, instruments: Mapping[str, Instrument],
                      marks: Mapping[str, int | None], symbol: str | None = None,
                      order_margin_on_symbol: int = 0) -> int:
    """``summarize(...).available_balance`` alone, for the pre-trade check of every opening
    order: no maintenance margin, no summary built. ``symbol``'s order margin may be given
    (``order_margin_on_symbol``) when the caller has just computed it. The symbols with a
    position, then those with only orders (no set of both built: this runs on every
    opening order)."""
    available = account.wallet
    positions, reserves, leverages = account.positions, account.reserves, account.leverage
    for held, position in positions.items():
        mark = marks.get(held)
        if mark is None:
            continue
        qty = position.qty
        reserve = reserves.get(held)
        if reserve is not None and not reserve.held:
            reserve = None  # kept with no order: it reserves nothing
        if not qty and reserve is None and held != symbol:
            continue  # a flat position with no order: nothing reserved
        instrument = instruments[held]
        leverage = leverages.get(held, instrument.default_leverage)
        if qty:
            if not position.isolated:
                # unrealized PnL less the position's initial margin (rounded up), inlined
                value = qty * mark * instrument.cash_per_tick_lot
                if qty > 0:
                    available += value - position.cost - (-(-value // leverage))
                else:
                    available += value + position.cost + (value // leverage)
            if reserve is not None:
                available -= reserve.closing_loss(instrument, qty, mark)
        if held == symbol:
            available -= order_margin_on_symbol
        elif reserve is not None:  # else no order rests: no order margin
            available -= reserve.order_margin(instrument, qty, mark, leverage)
    for held in account.open_on:
        if held in positions:
            continue
        mark = marks.get(held)
        if mark is None:
            continue
        if held == symbol:
            available -= order_margin_on_symbol
            continue
        reserve = reserves.get(held)
        if reserve is not None and reserve.held:
            instrument = instruments[held]
            available -= reserve.order_margin(instrument, 0, mark,
                                              leverages.get(held, instrument.default_leverage))
    return available


# -- liquidation and bankruptcy prices (PERP-MECHANICS.md §1.13-§1.14) ---------------------------


class Health(msgspec.Struct, frozen=True):
    """What the margin test compares: liquidation when ``equity <= maintenance > 0``."""

    equity: int
    maintenance: int

    @property
    def is_liquidatable(self) -> bool:
        return self.maintenance > 0 and self.equity <= self.maintenance


def cross_health(account: Account, instruments: Mapping[str, Instrument],
                 marks: Mapping[str, int | None]) -> Health:
    """Margin balance and maintenance margin of the cross part of an account."""
    equity, maintenance = account.wallet, 0
    for symbol, position in account.positions.items():
        if position.qty and not position.isolated:
            instrument, mark = instruments[symbol], marks[symbol]
            assert mark is not None
            equity += position.unrealized_pnl(mark, instrument.cash_per_tick_lot)
            maintenance += maintenance_margin(instrument, position.qty, mark)
    return Health(equity, maintenance)


def cross_fails(account: Account, instruments: Mapping[str, Instrument],
                marks: Mapping[str, int | None]) -> bool:
    """``cross_health(...).is_liquidatable``, with the PnL inlined and no ``Health`` built:
    the check of every account a fill moved (``Liquidator.check_moved_accounts``)."""
    equity, maintenance = account.wallet, 0
    for symbol, position in account.positions.items():
        qty = position.qty
        if qty and not position.isolated:
            instrument, mark = instruments[symbol], marks[symbol]
            assert mark is not None
            value = qty * mark * instrument.cash_per_tick_lot
            if qty > 0:
                equity += value - position.cost
                maintenance += instrument.maintenance_margin(value)
            else:
                equity += value + position.cost
                maintenance += instrument.maintenance_margin(-value)
    return maintenance > 0 and equity <= maintenance


def isolated_health(instrument: Instrument, position: Position, mark: int) -> Health:
    return Health(position.isolated_margin
                  + position.unrealized_pnl(mark, instrument.cash_per_tick_lot),
                  maintenance_margin(instrument, position.qty, mark))


def collateral_behind(account: Account, symbol: str, instruments: Mapping[str, Instrument],
                      marks: Mapping[str, int | None]) -> tuple[int, int]:
    """What stands behind one position in the margin test: (collateral, the other positions'
    maintenance margin). Isolated: its own margin. Cross: the wallet plus the other cross
    positions' unrealized PnL, held at their current marks (PERP-MECHANICS.md pitfall 8)."""
    position = account.positions[symbol]
    if position.isolated:
        return position.isolated_margin, 0
    collateral, others_mm = account.wallet, 0
    for other, held in account.positions.items():
        if other != symbol and held.qty and not held.isolated:
            mark = marks[other]
            assert mark is not None
            instrument = instruments[other]
            collateral += held.unrealized_pnl(mark, instrument.cash_per_tick_lot)
            others_mm += maintenance_margin(instrument, held.qty, mark)
    return collateral, others_mm


def collateral(account: Account, symbol: str, instruments: Mapping[str, Instrument],
               marks: Mapping[str, int | None]) -> int:
    """``collateral_behind(...)[0]`` alone (the solvency test of a close needs no maintenance
    margin): the isolated margin, or the wallet plus the other cross positions' PnL."""
    position = account.positions[symbol]
    if position.isolated:
        return position.isolated_margin
    total = account.wallet
    for other, held in account.positions.items():
        if other != symbol and held.qty and not held.isolated:
            mark = marks[other]
            assert mark is not None
            total += held.unrealized_pnl(mark, instruments[other].cash_per_tick_lot)
    return total


def solvent_at(instrument: Instrument, position: Position, collateral: int, limit: int) -> bool:
    """Would closing all of ``position`` at ``limit`` ticks leave its collateral at or above
    zero? Then the bankruptcy price (``solve_price``, rounded to the solvent tick) is not
    beyond ``limit`` and a closing order limited there cannot reach it: the solver is only
    needed when this is False. Exact integers, O(1).
    """
    value = abs(position.qty) * instrument.cash_per_tick_lot * limit
    if position.qty > 0:
        return position.cost - collateral <= value
    return collateral + position.cost >= value


def bankruptcy_ticks(instrument: Instrument, position: Position, collateral: int) -> int | None:
    """``solve_price(..., 0, False)`` rounded to the tick that leaves no deficit (up for a
    long, down for a short), in integers: the waterfall asks it of every closing order a
    liquidation sends, and a ``Fraction`` costs microseconds. None where no positive price
    exists; a short's may round down to 0."""
    qty = position.qty
    if qty == 0:
        return None
    lots_value = abs(qty) * instrument.cash_per_tick_lot
    # collateral + side x (Q x P x k - cost) = 0  =>  P = (cost - side x collateral) / (Q x k)
    if qty > 0:
        owed = position.cost - collateral
        return -(-owed // lots_value) if owed > 0 else None
    covered = collateral + position.cost
    return covered // lots_value if covered > 0 else None


def solve_price(instrument: Instrument, position: Position, collateral: int,
                others_maintenance: int, maintenance: bool) -> Fraction | None:
    """The price (in ticks, exact) at which the margin test of ``position`` is met exactly.

    Solves ``collateral + side x (Q x P x k - cost) = others_maintenance + MM(P)`` for P, with
    ``MM(P) = Q x P x k x mmr - cum`` of the tier that holds the notional at P (iterated until
    the tier is stable, PERP-MECHANICS.md pitfall 7), or with ``MM = 0`` for the bankruptcy
    price. ``collateral`` is the wallet plus the other positions' unrealized PnL (cross), or
    the isolated margin. Returns None where no positive price exists.
    """
    qty = abs(position.qty)
    if qty == 0:
        return None
    side = 1 if position.qty > 0 else -1
    lots_value = qty * instrument.cash_per_tick_lot
    base = others_maintenance - collateral + side * position.cost

    def solve(mmr: int, cum: int) -> Fraction:
        return Fraction((base - cum) * RATE_SCALE, lots_value * (side * RATE_SCALE - mmr))

    if not maintenance:
        price = solve(0, 0)
    else:
        tier = instrument.tier_for(position.cost) or instrument.tiers[-1]
        for _ in range(len(instrument.tiers)):
            price = solve(tier.mmr, tier.cum)
            at_price = instrument.tier_for(max(0, lots_value * price)) or instrument.tiers[-1]
            if at_price is tier:
                break
            tier = at_price
    return price if price > 0 else None
