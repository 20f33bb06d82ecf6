"""The account commands: deposits, withdrawals, leverage, margin mode and isolated margin.

Each is checked first (a refusal changes nothing), then booked by the ledger. Raising the
leverage runs order entry's tier check (``check_tier``, handed in by the exchange).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engine import commands as c
from engine import events as e
from engine import refusals
from engine import unit_commands as u
from engine.account import Account
from engine.enums import MarginMode, RejectReason
from engine.instrument import Instrument
from engine.ledger import Ledger
from engine.margin import position_initial_margin, summarize
from engine.outbox import Outbox
from engine.refusals import Refusal
from engine.units import UnitError, cash_from_decimal, format_cash


class AccountDesk:
    """Account commands, checked against the margin rules, booked by the ledger."""

    def __init__(self, instruments: Mapping[str, Instrument], ledger: Ledger, outbox: Outbox,
                 marks: Mapping[str, int | None],
                 check_tier: Callable[[Account, Instrument, bool, int, int, int], None]) -> None:
        self.instruments = instruments
        self.ledger = ledger
        self.outbox = outbox
        self.mark = marks
        """Each symbol's mark price (pricing's; read only)."""
        self.check_tier = check_tier

    def _account(self, account_id: str) -> Account:
        return refusals.account_of(self.ledger.accounts, account_id)

    def _instrument(self, symbol: str) -> Instrument:
        return refusals.instrument_of(self.instruments, symbol)

    def _mark(self, symbol: str) -> int:
        return refusals.mark_of(self.mark, symbol)

    _amount = staticmethod(refusals.amount)
    _unit_amount = staticmethod(refusals.unit_amount)

    def deposit(self, cmd: c.Deposit) -> None:
        self.ledger.credit(cmd.account, self._amount(cmd.amount))

    def deposit_units(self, cmd: u.Deposit) -> None:
        if "@" in cmd.account or not cmd.account:
            raise Refusal(RejectReason.UNKNOWN_ACCOUNT,
                          f"{cmd.account!r} is not an account id (letters, digits, _ . : -)")
        self.ledger.credit(cmd.account, self._unit_amount(cmd.amount))

    def withdraw(self, cmd: c.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._amount(cmd.amount))

    def withdraw_units(self, cmd: u.Withdraw) -> None:
        account = self._account(cmd.account)
        self._debit(account, self._unit_amount(cmd.amount))

    def _debit(self, account: Account, amount: int) -> None:
        allowed = summarize(account, self.instruments, self.mark).max_withdraw
        if amount > allowed:
            raise Refusal(RejectReason.INSUFFICIENT_BALANCE,
                          f"can withdraw at most {format_cash(allowed)} USDT")
        self.ledger.debit(account, amount)

    def set_leverage(self, cmd: c.SetLeverage) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        leverage = cmd.leverage
        if leverage < 1:
            raise Refusal(RejectReason.INVALID_LEVERAGE, f"leverage {leverage} must be >= 1")
        if leverage > instrument.max_leverage:
            raise Refusal(RejectReason.LEVERAGE_TOO_HIGH,
                          f"{cmd.symbol} allows at most {instrument.max_leverage}x")
        chosen = account.leverage.get(cmd.symbol)
        previous = instrument.default_leverage if chosen is None else chosen
        position = account.positions.get(cmd.symbol)
        if leverage < previous and position is not None and position.isolated and position.qty:
            # its margin was set at the old leverage; Binance refuses this too (-4161)
            raise Refusal(RejectReason.POSITION_OPEN,
                          "cannot lower the leverage of an open isolated position")
        if leverage > previous:
            for is_buy in (True, False):
                self.check_tier(account, instrument, is_buy, 0, 0, leverage)
        account.leverage[cmd.symbol] = leverage
        after = summarize(account, self.instruments, self.mark)
        if after.available_balance < 0 and leverage < previous:
            if chosen is None:  # a refusal changes nothing: not even the default's entry
                del account.leverage[cmd.symbol]
            else:
                account.leverage[cmd.symbol] = chosen
            raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                          f"{leverage}x needs {format_cash(-after.available_balance)} USDT more "
                          "margin than is available")
        self.outbox.emit(e.Leverage, account=account.id, symbol=cmd.symbol, leverage=leverage)

    def set_margin_mode(self, cmd: c.SetMarginMode) -> None:
        account = self._account(cmd.account)
        self._instrument(cmd.symbol)
        if account.position_qty(cmd.symbol) or account.orders_on(cmd.symbol):
            raise Refusal(RejectReason.POSITION_OPEN,
                          f"close the {cmd.symbol} position and its orders before changing "
                          "margin mode")
        self.ledger.set_margin_mode(account, cmd.symbol, cmd.mode is MarginMode.ISOLATED)
        self.outbox.emit(e.MarginModeSet, account=account.id, symbol=cmd.symbol, mode=cmd.mode)

    def adjust_isolated_margin(self, cmd: c.AdjustIsolatedMargin) -> None:
        account = self._account(cmd.account)
        instrument = self._instrument(cmd.symbol)
        position = account.positions.get(cmd.symbol)
        if position is None or not position.isolated or position.qty == 0:
            raise Refusal(RejectReason.NO_ISOLATED_POSITION,
                          f"{account.id} has no isolated {cmd.symbol} position")
        try:
            amount = cash_from_decimal(cmd.amount)
        except UnitError as exc:
            raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {exc}") from exc
        if amount == 0:
            raise Refusal(RejectReason.INVALID_AMOUNT, "amount must not be zero")
        mark = self._mark(cmd.symbol)
        if amount > 0:
            available = summarize(account, self.instruments, self.mark).available_balance
            if amount > available:
                raise Refusal(RejectReason.INSUFFICIENT_BALANCE,
                              f"{format_cash(max(0, available))} USDT available to add")
        else:
            leverage = account.leverage.get(cmd.symbol, instrument.default_leverage)
            held = position_initial_margin(instrument, position.qty, mark, leverage)
            margin = position.isolated_margin
            removable = max(0, min(margin, margin
                                   + position.unrealized_pnl(mark, instrument.cash_per_tick_lot)
                                   - held))
            if -amount > removable:
                raise Refusal(RejectReason.INSUFFICIENT_MARGIN,
                              f"at most {format_cash(removable)} USDT can be removed")
        self.ledger.move_isolated_margin(account, cmd.symbol, amount)
