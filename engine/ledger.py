"""The ledger: the one writer of wallets and positions.

Deposits and withdrawals, fees, fills, funding payments, isolated margin moved in and out,
liquidation fees and leftovers moved to the insurance fund: every change to an account's
money or positions is a method here, so every one of them keeps the open-interest totals,
the venue's own accounts (fee income, the rounding residue, the backstop) and the margin
screen (``touch``) right. Callers check their rules first (a refusal changes nothing); the
ledger does not refuse.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine import events as e
from engine.account import Account, Position
from engine.enums import BalanceKind
from engine.instrument import Instrument
from engine.outbox import Outbox
from engine.sweep import MarginScreen
from engine.units import ceil_div

INSURANCE = "@insurance"
"""The insurance fund's account id; the protocol's account ids cannot contain '@'."""


class Ledger:
    """Accounts, the insurance fund and the venue's own money."""

    def __init__(self, instruments: Mapping[str, Instrument], outbox: Outbox) -> None:
        self.instruments = instruments
        self.outbox = outbox
        self.accounts: dict[str, Account] = {}
        self.insurance = Account(INSURANCE)
        """The insurance fund: an account that collects clearance fees and takes over what
        bankrupt accounts leave; its positions count in open interest."""
        self.moved: set[str] = set()
        """Accounts whose positions changed in this command: checked before it returns."""
        self.writes = 0
        """Counts writes to wallets and positions (``touch``): a sweep at an unchanged mark
        with no write since the symbol's last one is skipped (Pricing.remark)."""
        self.screen = MarginScreen(instruments)
        """Arrays of every position for the vectorised mark sweep (engine/sweep.py)."""
        self.open_interest: dict[str, int] = dict.fromkeys(instruments, 0)
        """Lots held long (= held short) per symbol, the insurance fund included."""
        self.fee_income = 0
        self.rounding = 0
        """Residue of rounding funding against both sides: keeps money conserved exactly."""
        self.backstop = 0
        """What the venue has put into its insurance fund (negative) to keep the fund's wallet
        from going below zero: funding on positions it holds, or unwinding them at a loss."""
        self.deposits = 0
        self.withdrawals = 0

    def touch(self, account: Account) -> None:
        """Note that ``account``'s wallet or positions changed: the margin screen re-reads it
        before its next sweep. Every write to a wallet or a position must call this."""
        self.writes += 1
        if account is not self.insurance:
            self.screen.dirty.add(account.id)

    def owner(self, account_id: str) -> Account:
        """The account of an order: a trader's, or the insurance fund unwinding."""
        return self.insurance if account_id == INSURANCE else self.accounts[account_id]

    # -- money in and out ----------------------------------------------------------------------

    def credit(self, account_id: str, amount: int) -> None:
        """A deposit; the first one opens the account."""
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = Account(account_id)
        account.wallet += amount
        account.deposited += amount
        self.touch(account)
        self.deposits += amount
        self.outbox.emit(e.Balance, account=account.id, amount=amount,
                         kind=BalanceKind.DEPOSIT, wallet_balance=account.wallet)

    def debit(self, account: Account, amount: int) -> None:
        """A withdrawal the caller has checked against the account's max_withdraw."""
        account.wallet -= amount
        account.withdrawn += amount
        self.touch(account)
        self.withdrawals += amount
        self.outbox.emit(e.Balance, account=account.id, amount=-amount,
                         kind=BalanceKind.WITHDRAW, wallet_balance=account.wallet)

    def set_margin_mode(self, account: Account, symbol: str, isolated: bool) -> None:
        if isolated:
            account.isolated_symbols.add(symbol)
        else:
            account.isolated_symbols.discard(symbol)
        position = account.positions.get(symbol)
        if position is not None:
            position.isolated = isolated
        self.touch(account)

    def move_isolated_margin(self, account: Account, symbol: str, amount: int) -> None:
        """Move ``amount`` from the wallet into the isolated position's margin (negative: out)."""
        position = account.positions[symbol]
        account.wallet -= amount
        position.isolated_margin += amount
        self.touch(account)
        self.outbox.emit(e.Balance, account=account.id, amount=amount,
                         kind=BalanceKind.ISOLATED_MARGIN, wallet_balance=account.wallet,
                         symbol=symbol)

    # -- trading -------------------------------------------------------------------------------

    def settle_fill(self, account: Account, symbol: str, signed_qty: int, price: int, fee: int,
                    liquidated: bool = False) -> int:
        """One side of a trade: the position moves, the fee is paid; returns the realized PnL.
        ``liquidated``: the account is being liquidated (see ``move_position``)."""
        position = account.positions.get(symbol)
        if position is not None and not position.isolated:
            # a cross position (the common fill): move_position and charge_fee in one pass,
            # with the same writes; ``liquidated`` only matters to an isolated one
            self.writes += 2
            if account is not self.insurance:
                self.screen.dirty.add(account.id)
                self.moved.add(account.id)
            before = position.qty
            realized = position.apply_fill(signed_qty, price,
                                           self.instruments[symbol].cash_per_tick_lot)
            after = position.qty
            if before > 0 or after > 0:
                self.open_interest[symbol] += max(0, after) - max(0, before)
            account.realized_pnl += realized
            account.wallet += realized - fee
            account.fees_paid += fee
            self.fee_income += fee
            return realized
        realized = self.move_position(account, symbol, signed_qty, price, liquidated)
        self.charge_fee(account, fee)
        position = account.positions[symbol]
        if position.isolated and position.qty and account.wallet < 0:
            # the margin moved in (at a better price than reserved) or the fee overdrew the
            # cross wallet: the position pays it back from its own margin, and the margin
            # test (run after the command) liquidates it if that leaves it short
            cover = -account.wallet
            position.isolated_margin -= cover
            account.wallet = 0
        return realized

    def charge_fee(self, account: Account, fee: int) -> None:
        self.touch(account)
        account.wallet -= fee
        account.fees_paid += fee
        self.fee_income += fee

    def move_position(self, account: Account, symbol: str, signed_qty: int, price: int,
                      liquidated: bool = False) -> int:
        """Trade ``signed_qty`` lots of ``account``'s position at ``price``; return the
        realized PnL. Every position change goes through here: fills, takeovers, ADL.

        Cross: realized PnL goes to the wallet. Isolated: it goes to the position's own margin
        first; closing then releases the closed share of that margin to the wallet, and
        opening moves ``notional / leverage`` from the wallet into it. ``liquidated``: the
        account is in the liquidation waterfall, and a partial close releases nothing.
        """
        instrument = self.instruments[symbol]
        position = account.position(symbol)
        self.touch(account)
        if account is not self.insurance:
            self.moved.add(account.id)
        before = position.qty
        realized = position.apply_fill(signed_qty, price, instrument.cash_per_tick_lot)
        self.open_interest[symbol] += max(0, position.qty) - max(0, before)
        account.realized_pnl += realized
        if not position.isolated:
            account.wallet += realized
            return realized
        margin = position.isolated_margin
        position.isolated_margin += realized  # the position's own margin takes its PnL
        reducing = before != 0 and (before > 0) != (signed_qty > 0)
        closing = min(abs(before), abs(signed_qty)) if reducing else 0
        if closing:
            left = position.isolated_margin
            if closing == abs(before):
                released = left  # closed: whatever is left goes back to the wallet
            elif liquidated:
                released = 0  # while it is liquidated, all of it stays behind the rest
            else:
                # the closed share of the margin plus the realized PnL, so the rest of the
                # position keeps its margin ratio; never negative, never more than is there
                released = max(0, min(margin * closing // abs(before) + realized, left))
            position.isolated_margin -= released
            account.wallet += released
        opening = abs(signed_qty) - closing
        if opening:
            leverage = account.leverage.get(symbol, instrument.default_leverage)
            moved = ceil_div(opening * price * instrument.cash_per_tick_lot, leverage)
            account.wallet -= moved
            position.isolated_margin += moved
        return realized

    # -- funding -------------------------------------------------------------------------------

    def pay_funding(self, account: Account, position: Position, delta: int) -> None:
        """A funding payment (negative: paid) into the position's margin or the wallet."""
        self.touch(account)
        if position.isolated:
            position.isolated_margin += delta
        else:
            account.wallet += delta
        account.funding_pnl += delta

    def cover_funding_shortfall(self, account: Account, position: Position) -> bool:
        """After a payment larger than the cash behind it (a position in profit can owe more
        than its margin and still pass the margin test), leave nothing below zero. Returns
        whether the account's cross part must be checked: the cross wallet paid part of an
        isolated position's payment, or is left below zero for its cross gains to pay.

        What an isolated margin cannot pay is the account's debt, paid from its cross wallet
        (isolation caps what a liquidation takes, not what funding costs: Bybit-family venues
        charge funding to the available balance and the position margin alike); the cross
        part that paid is checked after the settlement. A cross wallet left below zero while
        cross positions are open is paid from their gains by that check. What the wallet of
        an account with no cross position open cannot pay, the insurance fund pays, as it
        tops a bankrupt wallet up to zero (PERP-MECHANICS.md §4.1 step 5): the receivers
        are paid in full and money stays conserved (the fund's own wallet is topped up by the
        venue's backstop)."""
        self.touch(account)
        drained = position.isolated_margin < 0
        if drained:
            account.wallet += position.isolated_margin
            position.isolated_margin = 0
        if account.wallet < 0 and any(p.qty and not p.isolated
                                      for p in account.positions.values()):
            return True  # the cross gains pay it (Liquidator._pay_deficit), not the fund
        if account.wallet < 0:
            self.transfer_to_fund(account, account.wallet)  # negative: the fund pays
            account.wallet = 0
        return drained

    def add_rounding(self, residue: int) -> None:
        """What rounding each payment against its payer left over: the venue keeps it."""
        self.rounding += residue

    # -- the insurance fund --------------------------------------------------------------------

    def charge_clearance_fee(self, account: Account, symbol: str, fee: int) -> None:
        """A liquidation fill's clearance fee, from what backs the position, to the fund."""
        position = account.positions[symbol]
        self.touch(account)
        if position.isolated and position.qty:
            position.isolated_margin -= fee
        else:
            account.wallet -= fee
        self.transfer_to_fund(account, fee)

    def seize(self, account: Account, leftover: int) -> None:
        """What a bankrupt position or account has left goes from its wallet to the fund."""
        account.wallet -= leftover
        self.touch(account)
        self.transfer_to_fund(account, leftover)

    def transfer_to_fund(self, account: Account, amount: int) -> None:
        """Move ``amount`` (negative: the fund pays) from the account's ledger to the fund's."""
        account.liquidation_transfers -= amount
        self.insurance.liquidation_transfers += amount
        self.insurance.wallet += amount
        self.backstop_fund()

    def backstop_fund(self) -> None:
        """The venue tops its fund's wallet back up to zero: the fund never owes."""
        shortfall = -self.insurance.wallet
        if shortfall > 0:
            self.insurance.wallet = 0
            self.insurance.liquidation_transfers += shortfall
            self.backstop -= shortfall

    # -- state ---------------------------------------------------------------------------------

    def recount_open_interest(self) -> None:
        """Rebuild the open-interest totals from the positions (after a snapshot is loaded)."""
        for symbol in self.instruments:
            self.open_interest[symbol] = sum(
                max(0, a.position_qty(symbol)) for a in [*self.accounts.values(), self.insurance])
