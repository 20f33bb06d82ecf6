"""The exchange facade: every input is a command, every output a list of events.

``Exchange.execute(command)`` is the one entry point. It dispatches on the command's type to
the part that owns it; business refusals (engine/refusals.py) become ``rejected`` events and
change nothing; broken invariants raise. The facade is the composition root: it builds the
parts, hands each the others it needs, and sequences what crosses them. No part imports or
calls it.

The parts, each owning one concept:

- ``outbox`` (outbox.py): the ``seq`` counter, the clock stamp, the events of a command, the
  kinds ``select_events`` skips. Every part emits through it.
- ``ledger`` (ledger.py): accounts, the insurance fund, the venue's money, open interest,
  the margin screen; the one writer of wallets and positions.
- ``pricing`` (pricing.py): index, mark, premium sampling, funding, the clock; the ``index``,
  ``time`` and ``step`` commands. Owns the ``index``, ``mark`` and ``last`` dicts.
- ``entry`` (entry.py): order entry and pre-trade risk (place, amend, cancel, cancel_all,
  the ladder replace), matching, reduce-only refits, conditional orders and their triggers.
- ``liquidator`` (liquidator.py): the waterfall, the fund's takeovers and unwinds, ADL; it
  works orders through ``entry``.
- ``account_desk`` (account_desk.py): deposits, withdrawals, leverage, margin mode, isolated
  margin.

What the root sequences: after a mark change, triggers fire, then failing accounts are
liquidated, then triggers fire again (``_after_mark_change``, handed to pricing); after
every command, accounts whose positions moved are checked (``liquidator.check_moved_accounts``).
The state digest is digest.py, the invariants invariants.py, the query answers views.py and
the read models readmodels.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from engine import commands as c
from engine import digest, invariants, refusals, views
from engine import events as e
from engine import readmodels as rm
from engine import unit_commands as u
from engine.account import Account
from engine.account_desk import AccountDesk
from engine.book import OrderBook
from engine.entry import OrderEntry
from engine.enums import RejectReason
from engine.instrument import Instrument, default_instruments
from engine.ledger import INSURANCE, Ledger  # noqa: F401  (snapshot.py reads it here)
from engine.liquidator import Liquidator
from engine.outbox import Outbox
from engine.pricing import Pricing
from engine.refusals import Refusal


def _forward(part: str, name: str) -> property:
    """A facade attribute that is a part's: read and written through to it."""
    return property(lambda self: getattr(getattr(self, part), name),
                    lambda self, value: setattr(getattr(self, part), name, value))


class Exchange:
    """A deterministic perpetual-futures venue: books, accounts, margin, matching,
    liquidation."""

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self.instruments: dict[str, Instrument] = dict(
            default_instruments() if instruments is None else instruments)
        self.outbox = Outbox()
        """The ``seq`` counter, the clock that stamps events, the events being collected."""
        self.ledger = Ledger(self.instruments, self.outbox)
        """Accounts, the fund and the venue's money: the one writer of wallets and positions."""
        # the ledger's containers, shared (never replaced): the facade reads them
        self.accounts, self.screen = self.ledger.accounts, self.ledger.screen
        self.open_interest = self.ledger.open_interest
        self._moved = self.ledger.moved
        """Accounts whose positions moved in this command (the ledger's set, never replaced)."""
        self.books = {s: OrderBook(s) for s in self.instruments}
        """The order books: order entry writes them, pricing and the liquidator read them."""
        self.pricing = Pricing(self.instruments, self.books, self.ledger, self.outbox,
                               on_mark_change=self._after_mark_change,
                               check_liquidations=self._check_liquidations)
        """Index, mark, funding and the clock."""
        # the price dicts are pricing's, shared (never replaced): every part reads them
        self.index, self.mark, self.last = self.pricing.index, self.pricing.mark, self.pricing.last
        self.prices = self.pricing.prices
        self.entry = OrderEntry(self.instruments, self.books, self.ledger, self.outbox,
                                self.mark, self.last)
        """Order entry and pre-trade risk, matching, conditional orders."""
        self.conditional = self.entry.conditional
        self.liquidator = Liquidator(self.instruments, self.books, self.mark, self.ledger,
                                     self.outbox, orders=self.entry)
        """The waterfall, the fund's takeovers and unwinds, ADL."""
        self.account_desk = AccountDesk(self.instruments, self.ledger, self.outbox, self.mark,
                                         check_tier=self.entry.check_tier)
        """Deposits, withdrawals, leverage, margin mode, isolated margin: checked, then booked."""
        self._dispatch: dict[type, Callable[[Any], None]] = {
            c.Deposit: self.account_desk.deposit,
            c.Withdraw: self.account_desk.withdraw,
            c.SetLeverage: self.account_desk.set_leverage,
            c.SetMarginMode: self.account_desk.set_margin_mode,
            c.AdjustIsolatedMargin: self.account_desk.adjust_isolated_margin,
            c.PlaceOrder: self.entry.place,
            c.CancelOrder: self.entry.cancel,
            c.AmendOrder: self.entry.amend,
            c.CancelAll: self.entry.cancel_all,
            c.SetIndex: self.pricing.set_index,
            c.AdvanceTime: self.pricing.advance_time,
            c.Query: self._query,
            u.Deposit: self.account_desk.deposit_units,
            u.Withdraw: self.account_desk.withdraw_units,
            u.SetLeverage: self.account_desk.set_leverage,
            u.PlaceOrder: self.entry.place_units,
            u.CancelOrder: self.entry.cancel,
            u.AmendOrder: self.entry.amend_units,
            u.CancelAll: self.entry.cancel_all,
            u.SetIndex: self.pricing.set_index_units,
            u.AdvanceTime: self.pricing.advance_time_units,
            u.MarketStep: self.pricing.market_step,
            u.ReplaceLadder: self.entry.replace_ladder,
            u.SetFundingTerms: self.pricing.set_funding_terms,
        }

    # -- the state of the parts, reachable on the facade ----------------------------------------

    seq = _forward("outbox", "seq")
    now = _forward("outbox", "now")
    """Simulated time in ns since the epoch; moves only by the ``time`` command."""
    next_order_id = _forward("entry", "next_order_id")
    next_trade_id = _forward("entry", "next_trade_id")
    insurance = _forward("ledger", "insurance")
    writes = _forward("ledger", "writes")
    fee_income = _forward("ledger", "fee_income")
    rounding = _forward("ledger", "rounding")
    backstop = _forward("ledger", "backstop")
    deposits = _forward("ledger", "deposits")
    withdrawals = _forward("ledger", "withdrawals")

    def recount_open_interest(self) -> None:
        """Rebuild the open-interest totals from the positions (after a snapshot is loaded)."""
        self.ledger.recount_open_interest()

    # -- the entry point -----------------------------------------------------------------------

    def execute(self, command: c.Command | u.UnitCommand) -> list[e.Event]:
        """Apply one command; return the events it caused, in order."""
        out = self.outbox.start()
        handler = self._dispatch.get(type(command))
        if handler is None:
            raise TypeError(f"not a command: {type(command).__name__}")
        try:
            handler(command)
        except Refusal as refusal:
            self._reject(command, refusal.reason, refusal.message)
        if self._moved:  # most commands move no position: no call
            self.liquidator.check_moved_accounts()
        return out

    def error(self, line: int, message: str) -> list[e.Event]:
        """An ``error`` event for input that is not a command at all (numbered like the rest)."""
        out = self.outbox.start()
        self.outbox.emit(e.Error, line=line, message=message)
        return out

    def select_events(self, kinds: Iterable[type[e.Event]] | None) -> None:
        """Build only events of these kinds from now on (None: all of them).

        A skipped event is not built, but it still takes its ``seq``: the numbering, and so
        ``state_hash()``, are the same whichever events a caller reads, and the state that
        decides future behaviour is identical either way. A replay that does not read maker
        acknowledgements saves building millions of them.
        """
        wanted = set(e.ALL_EVENTS if kinds is None else kinds)
        self.outbox.skipped = frozenset(cls for cls in e.ALL_EVENTS if cls not in wanted)

    # -- read models (DESIGN.md §3.1): no state changes, no seq --------------------------------

    def view_account(self, account_id: str) -> rm.AccountView | None:
        """The account in engine units, or None when there is no such account."""
        account = self.ledger.accounts.get(account_id)
        return None if account is None else rm.account_view(self, account)

    def view_book(self, symbol: str, depth: int = 10) -> rm.BookView:
        return rm.book_view(self, symbol, depth)

    def view_symbol(self, symbol: str) -> rm.SymbolView:
        return rm.symbol_view(self, symbol)

    def view_insurance(self) -> rm.InsuranceView:
        return rm.insurance_view(self)

    # -- events --------------------------------------------------------------------------------

    def _reject(self, command: c.Command | u.UnitCommand, reason: RejectReason,
                message: str) -> None:
        tag = (command.name if isinstance(command, u.UnitCommand)
               else type(command).__struct_config__.tag)
        order_id = getattr(command, "order_id", None)
        self.outbox.emit(e.Rejected, cmd=tag, reason=reason, message=message,
                         account=getattr(command, "account", None),
                         symbol=getattr(command, "symbol", None),
                         order_id=order_id, client_id=getattr(command, "client_id", None))

    # -- lookups that refuse -------------------------------------------------------------------

    def _account(self, account_id: str) -> Account:
        return refusals.account_of(self.accounts, account_id)

    def _instrument(self, symbol: str) -> Instrument:
        return refusals.instrument_of(self.instruments, symbol)

    # -- what crosses the parts ----------------------------------------------------------------

    def _after_mark_change(self, symbol: str) -> None:
        """Mark-triggered orders fire, then accounts that fail the margin test are
        liquidated; liquidation fills can move the last price and fire more orders (the
        liquidator fires them once no account fails: its last step)."""
        self.entry.fire_triggers(symbol)
        self.liquidator.check_liquidations(symbol)

    def _check_liquidations(self, symbol: str, cross_parts: Sequence[Account]) -> None:
        """Pricing's sweep at an unchanged mark or after a settlement, then the cross parts
        that paid an isolated position's funding (pricing is built before the liquidator,
        which reads its marks)."""
        self.liquidator.check_liquidations(symbol)
        for account in cross_parts:
            self.liquidator.check_account(account, None)

    # -- queries -------------------------------------------------------------------------------

    def _query(self, cmd: c.Query) -> None:
        if cmd.what == "account":
            if cmd.account is None:
                raise Refusal(RejectReason.UNKNOWN_ACCOUNT, "query account needs an account")
            data = views.account_view(self, self._account(cmd.account))
        elif cmd.what == "book":
            if cmd.symbol is None:
                raise Refusal(RejectReason.UNKNOWN_SYMBOL, "query book needs a symbol")
            self._instrument(cmd.symbol)
            data = views.book_view(self, cmd.symbol, cmd.depth)
        elif cmd.what == "instruments":
            data = views.instruments_view(self.instruments)
        else:
            data = views.insurance_view(self)
        self.outbox.emit(e.Answer, what=cmd.what, data=data)

    # -- state ---------------------------------------------------------------------------------

    def predicted_funding_rate(self, symbol: str) -> int:
        """The rate the next settlement would use if the interval ended now."""
        return self.pricing.predicted_funding_rate(symbol)

    def next_funding(self, symbol: str) -> int:
        return self.pricing.next_funding(symbol)

    def state_hash(self) -> str:
        """A digest of the whole state: equal states give equal hashes (engine/digest.py)."""
        return digest.state_hash(self)

    def check_invariants(self) -> None:
        """Raise InvariantViolation if any invariant of DESIGN.md §3 does not hold."""
        invariants.check_invariants(self)
