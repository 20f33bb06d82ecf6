"""The invariants of DESIGN.md §3, checked after every step by the tests and on loading a
snapshot: books sound, orders indexed, open interest balanced, money conserved, the margin
screen a faithful mirror of the accounts. A broken one raises InvariantViolation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import InvariantViolation
from engine.reserve import check_reserve

if TYPE_CHECKING:
    from engine.account import Account
    from engine.book import Order
    from engine.exchange import Exchange


def check_invariants(exchange: Exchange) -> None:
    """DESIGN.md §3: books sound, orders indexed, open interest balanced, money conserved."""
    open_ids: dict[int, Order] = {}
    everyone = [*exchange.accounts.values(), exchange.insurance]
    for account in everyone:
        if not (account.cash == account.equity_ledger):
            raise InvariantViolation(f"{account.id}: cash != its ledger")
        if not (account.wallet >= 0):
            raise InvariantViolation(f"{account.id}: negative wallet {account.wallet}")
        for symbol, position in account.positions.items():
            if not (position.isolated or position.isolated_margin == 0):
                raise InvariantViolation(f"{account.id} {symbol}")
            # the check after fills looks for isolated positions only on such accounts
            if not (position.isolated == (symbol in account.isolated_symbols)):
                raise InvariantViolation(
                    f"{account.id} {symbol}: the position's margin mode is not the account's")
            # no wallet and no isolated margin below zero, open or closed (a funding payment
            # the margin cannot make is covered by the wallet, then the fund: _settle_funding)
            if not (position.isolated_margin >= 0):
                raise InvariantViolation(
                    f"{account.id} {symbol}: negative isolated margin {position.isolated_margin}")
        for order_id, order in account.orders.items():
            if not (order.account == account.id and order.order_id == order_id):
                raise InvariantViolation(f"{order!r} is filed under {account.id} {order_id}")
            if not (0 < order.remaining <= order.qty):
                raise InvariantViolation(f"{order!r}: open with nothing left")
            open_ids[order_id] = order
        for client_id, order_id in account.client_ids.items():
            if not (account.orders[order_id].client_id == client_id):
                raise InvariantViolation(f"client_id {client_id}")
        if not (len(account.client_ids) == sum(
                o.client_id is not None for o in account.orders.values())):
            raise InvariantViolation(f"{account.id}: client ids and orders differ")
        reducing = {(o.symbol, o.order_id) for o in account.orders.values() if o.reduce_only}
        if not (reducing == {(s, i) for s, ids in account.reducing.items() for i in ids}):
            raise InvariantViolation(f"{account.id}: the reduce-only index is stale")
        for symbol, position in account.positions.items():
            if not ((position.qty == 0) == (position.cost == 0)):
                raise InvariantViolation(f"{account.id} {symbol}: cost")
            fit_reduce_only_holds(account, symbol)
    for symbol, book in exchange.books.items():
        book.check_invariants()
        for order_id, order in book.orders.items():
            if open_ids.get(order_id) is not order:
                raise InvariantViolation(f"book order {order_id} not on its account")
            if order.type.is_conditional:
                raise InvariantViolation(f"conditional {order!r} rests in the book")
        exchange.conditional[symbol].check_invariants()
        for order_id, order in exchange.conditional[symbol].items():
            if not (open_ids.get(order_id) is order and order.type.is_conditional):
                raise InvariantViolation(f"waiting order {order_id} is not an open conditional")
        long = sum(a.position_qty(symbol) for a in everyone if a.position_qty(symbol) > 0)
        short = -sum(a.position_qty(symbol) for a in everyone if a.position_qty(symbol) < 0)
        if not (long == short):
            raise InvariantViolation(f"{symbol}: open interest long {long} != short {short}")
        if not (exchange.open_interest[symbol] == long):
            raise InvariantViolation(f"{symbol}: open interest total is stale")
    for account in exchange.accounts.values():  # after the books: it trusts their orders
        check_reserve(account, exchange.instruments, exchange.mark)
    resting = sum(len(b.orders) for b in exchange.books.values())
    waiting = sum(len(w) for w in exchange.conditional.values())
    if not (resting + waiting == len(open_ids)):
        raise InvariantViolation("an open order is neither resting nor waiting")
    # sum of (wallet - what open positions cost) plus the venue's own accounts must equal the
    # net deposits: trades move cash between accounts at one price, fees move it to the venue
    # accounts and the insurance fund alike; isolated margins are part of an account's cash
    held = sum(a.cash - sum(p.signed_cost for p in a.positions.values() if p.qty)
               for a in everyone)
    if not (held + exchange.fee_income + exchange.rounding + exchange.backstop == (
            exchange.deposits - exchange.withdrawals)):
        raise InvariantViolation("money is not conserved")
    if not (exchange.insurance.wallet >= 0):
        raise InvariantViolation("the insurance fund went negative")
    check_screen_mirrors_accounts(exchange)


def check_screen_mirrors_accounts(exchange: Exchange) -> None:
    """Every account the margin screen will not re-read must match its arrays exactly: a
    change to a wallet or position that forgot ``Ledger.touch`` would hide it from the sweep."""
    screen = exchange.screen
    for symbol, table in screen.tables.items():
        if any(reach < table.watch_floor for reach, _ in table.watch.values()):
            raise InvariantViolation(f"{symbol}: a watched reach is below the watch's floor")
    for account_id, account in exchange.accounts.items():
        if account_id in screen.dirty:
            continue
        slot = screen.index.get(account_id)
        if not (slot is not None and screen.wallet[slot] == account.wallet):
            raise InvariantViolation(f"{account_id}: the screen's wallet is stale")
        for symbol, table in screen.tables.items():
            position = account.positions.get(symbol)
            row = table.rows.get(account_id)
            if position is None or position.qty == 0:
                if row is not None:
                    raise InvariantViolation(
                        f"{account_id} {symbol}: the screen holds a closed position")
                continue
            if not (row is not None):
                raise InvariantViolation(f"{account_id} {symbol}: missing from the screen")
            # compared as float64: the arrays hold what float() of each integer gives
            if not ((table.qty[row], table.cost[row], table.isolated[row],
                        table.isolated_margin[row]) == (float(position.qty), float(position.cost),
                                                        position.isolated,
                                                        float(position.isolated_margin))):
                raise InvariantViolation(f"{account_id} {symbol}: the screen's row is stale")


def fit_reduce_only_holds(account: Account, symbol: str) -> None:
    position = account.position_qty(symbol)
    reducing = [o for o in account.orders.values() if o.symbol == symbol and o.reduce_only
                and o.live and not o.type.is_conditional]
    if not reducing:
        return
    if not (position != 0):
        raise InvariantViolation(f"{account.id} {symbol}: reduce-only orders with no position")
    if not (all(o.is_buy == (position < 0) for o in reducing)):
        raise InvariantViolation("reduce-only on the wrong side")
    if not (sum(o.remaining for o in reducing) <= abs(position)):
        raise InvariantViolation("reduce-only exceeds position")

