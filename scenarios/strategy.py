"""The strategy API: a small Python class a user writes to trade in a replay.

    from scenarios.strategy import Strategy

    class LongSilver(Strategy):
        balance = "2000"                      # USDT deposited at the start

        def on_start(self, ctx):
            ctx.set_leverage("XAGUSDT", 20)
            ctx.buy("XAGUSDT", "10")           # 10 oz at market

        def on_liquidation(self, ctx, liquidation):
            ctx.log(f"liquidated: {liquidation.qty} oz at {liquidation.price}")

Prices and quantities are decimal strings or ``Decimal`` in the instrument's units (USDT,
contracts); the context converts them exactly (an off-tick price or off-step quantity is a
``StrategyError``). Callbacks: ``on_start``, ``on_step`` (every ``every`` simulated seconds),
``on_fill``, ``on_funding``, ``on_liquidation``. A refused order does not raise: the call returns
``None`` and the refusal is in ``ctx.rejections``.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from engine import AccountView, Instrument
from engine import unit_commands as u
from engine.enums import OrderType, Side, TimeInForce, TriggerBy
from engine.events import Accepted, Event, Rejected
from engine.units import CASH_SCALE, NS_PER_SECOND, RATE_SCALE, UnitError
from scenarios.market import Market

Number = str | int | Decimal


class StrategyError(ValueError):
    """A strategy that cannot be loaded, or a call it made that cannot be converted."""


@dataclass(frozen=True)
class FillInfo:
    time: datetime
    symbol: str
    side: str
    """``buy`` or ``sell``."""
    price: Decimal
    qty: Decimal
    fee: Decimal
    """Paid, USDT (negative for a rebate)."""
    realized_pnl: Decimal
    maker: bool
    order_id: int


@dataclass(frozen=True)
class FundingInfo:
    time: datetime
    symbol: str
    amount: Decimal
    """Received (+) or paid (-), USDT."""
    position: Decimal


@dataclass(frozen=True)
class LiquidationInfo:
    time: datetime
    symbol: str
    side: str
    """The side of the liquidating order: ``sell`` closes a long."""
    qty: Decimal
    price: Decimal
    stage: str
    """``reduce`` (into the book), ``takeover`` (by the insurance fund) or ``adl``."""


@dataclass(frozen=True)
class OrderInfo:
    """An open order of the strategy's account (``Context.orders``)."""

    order_id: int
    symbol: str
    side: str
    """``buy`` or ``sell``."""
    type: str
    """``limit``, ``market``, ``stop_market``, ``take_profit_market``, ..."""
    price: Decimal | None
    trigger: Decimal | None
    qty: Decimal
    """The whole order, the filled part included."""
    filled: Decimal
    reduce_only: bool
    resting: bool
    """In the book; False while a conditional order waits for its trigger."""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled


class Strategy:
    """Subclass and override the callbacks you need."""

    balance: Number = "10000"
    """USDT deposited at the start."""
    every: int = 60
    """Simulated seconds between ``on_step`` calls."""

    def on_start(self, ctx: Context) -> None: ...

    def on_step(self, ctx: Context) -> None: ...

    def on_fill(self, ctx: Context, fill: FillInfo) -> None: ...

    def on_funding(self, ctx: Context, payment: FundingInfo) -> None: ...

    def on_liquidation(self, ctx: Context, liquidation: LiquidationInfo) -> None: ...


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC)


def _cash(units: int) -> Decimal:
    return Decimal(units) / CASH_SCALE


class Context:
    """What a strategy sees and does: one account, the market, decimal in and out."""

    def __init__(self, market: Market, account: str) -> None:
        self.market = market
        self.account_id = account
        self.rejections: list[tuple[str, str]] = []
        """(reason, message) of every refused call, oldest first."""
        self.messages: list[tuple[datetime, str]] = []
        """What the strategy logged (``log``), for the report."""

    # -- reading ------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return _time(self.market.now)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.market.instruments[symbol]
        except KeyError:
            raise StrategyError(f"unknown symbol {symbol!r}") from None

    def _price(self, symbol: str, ticks: int | None) -> Decimal | None:
        return None if ticks is None else ticks * self.instrument(symbol).tick_size

    def index(self, symbol: str) -> Decimal | None:
        return self._price(symbol, self.market.index.get(symbol))

    def mark(self, symbol: str) -> Decimal | None:
        return self._price(symbol, self.market.mark(symbol))

    def last(self, symbol: str) -> Decimal | None:
        return self._price(symbol, self.market.last(symbol))

    def best_bid(self, symbol: str) -> Decimal | None:
        return self._price(symbol, self.market.best_bid(symbol))

    def best_ask(self, symbol: str) -> Decimal | None:
        return self._price(symbol, self.market.best_ask(symbol))

    def funding_rate(self, symbol: str) -> Decimal:
        """The predicted rate of the next settlement (0.0001 is 0.01 %)."""
        return Decimal(self.market.prices(symbol).funding_rate) / RATE_SCALE

    def position(self, symbol: str) -> Decimal:
        """Signed contracts: long > 0."""
        lots = self.market.position(self.account_id, symbol)
        return lots * self.instrument(symbol).lot_size

    def account(self) -> AccountView:
        """The account's view in engine units (``engine.readmodels.AccountView``)."""
        view = self.market.account(self.account_id)
        assert view is not None  # the replay deposits before on_start
        return view

    def orders(self, symbol: str | None = None) -> list[OrderInfo]:
        """The account's open orders (resting or waiting for a trigger), oldest first."""
        found = []
        for order in self.account().orders:
            if symbol is not None and order.symbol != symbol:
                continue
            lot = self.instrument(order.symbol).lot_size
            found.append(OrderInfo(
                order_id=order.order_id, symbol=order.symbol, side=order.side.value,
                type=order.type.value, price=self._price(order.symbol, order.price),
                trigger=self._price(order.symbol, order.trigger_price),
                qty=order.qty * lot, filled=order.filled * lot,
                reduce_only=order.reduce_only, resting=order.resting))
        return found

    def equity(self) -> Decimal:
        """Margin balance: wallet plus unrealized PnL, USDT."""
        return _cash(self.account().margin_balance)

    def log(self, message: str) -> None:
        self.messages.append((self.now, message))

    # -- acting -------------------------------------------------------------------------------

    def _lots(self, symbol: str, qty: Number) -> int:
        try:
            return self.instrument(symbol).qty_to_lots(Decimal(str(qty)))
        except (UnitError, ArithmeticError, ValueError) as exc:
            raise StrategyError(f"{symbol} quantity {qty}: {exc}") from None

    def _ticks(self, symbol: str, price: Number | None) -> int | None:
        if price is None:
            return None
        try:
            return self.instrument(symbol).price_to_ticks(Decimal(str(price)))
        except (UnitError, ArithmeticError, ValueError) as exc:
            raise StrategyError(f"{symbol} price {price}: {exc}") from None

    def _submit(self, command: u.UnitCommand) -> list[Event]:
        events = self.market.submit(command)
        for event in events:
            if isinstance(event, Rejected):
                self.rejections.append((event.reason.value, event.message))
        return events

    def set_leverage(self, symbol: str, leverage: int) -> bool:
        events = self._submit(u.SetLeverage(account=self.account_id, symbol=symbol,
                                            leverage=leverage))
        return not any(isinstance(event, Rejected) for event in events)

    def place(self, symbol: str, side: str, qty: Number, *, type: str = "limit",
              price: Number | None = None, trigger: Number | None = None,
              trigger_by: str = "mark", tif: str = "gtc", post_only: bool = False,
              reduce_only: bool = False) -> int | None:
        """Place an order; returns its id, or None if it was refused (see ``rejections``)."""
        try:
            command = u.PlaceOrder(
                account=self.account_id, symbol=symbol, side=Side(side), type=OrderType(type),
                qty=self._lots(symbol, qty), price=self._ticks(symbol, price),
                trigger_price=self._ticks(symbol, trigger), trigger_by=TriggerBy(trigger_by),
                tif=TimeInForce(tif), post_only=post_only, reduce_only=reduce_only)
        except ValueError as exc:
            if isinstance(exc, StrategyError):
                raise
            raise StrategyError(f"place: {exc}") from None
        for event in self._submit(command):
            if isinstance(event, Accepted):
                return event.order_id
        return None

    def buy(self, symbol: str, qty: Number, price: Number | None = None,
            **flags: object) -> int | None:
        """A limit buy at ``price``, or a market buy without one."""
        kind = "market" if price is None else "limit"
        return self.place(symbol, "buy", qty, type=kind, price=price, **flags)  # type: ignore[arg-type]

    def sell(self, symbol: str, qty: Number, price: Number | None = None,
             **flags: object) -> int | None:
        kind = "market" if price is None else "limit"
        return self.place(symbol, "sell", qty, type=kind, price=price, **flags)  # type: ignore[arg-type]

    def close(self, symbol: str) -> int | None:
        """Close the whole position at market (reduce-only)."""
        lots = self.market.position(self.account_id, symbol)
        if lots == 0:
            return None
        qty = abs(lots) * self.instrument(symbol).lot_size
        return self.place(symbol, "sell" if lots > 0 else "buy", qty, type="market",
                          reduce_only=True)

    def cancel(self, order_id: int) -> bool:
        events = self._submit(u.CancelOrder(account=self.account_id, order_id=order_id))
        return not any(isinstance(event, Rejected) for event in events)

    def amend(self, order_id: int, symbol: str, *, qty: Number | None = None,
              price: Number | None = None) -> bool:
        events = self._submit(u.AmendOrder(
            account=self.account_id, order_id=order_id,
            qty=None if qty is None else self._lots(symbol, qty),
            price=self._ticks(symbol, price)))
        return not any(isinstance(event, Rejected) for event in events)

    def cancel_all(self, symbol: str | None = None) -> None:
        self._submit(u.CancelAll(account=self.account_id, symbol=symbol))


def load_strategy(spec: str) -> Strategy:
    """``FILE:CLASS`` → an instance of CLASS from the Python file FILE."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise StrategyError(f"--strategy wants FILE:CLASS, got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise StrategyError(f"strategy file {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"perpsim_strategy_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise StrategyError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: say what broke, in one line
        raise StrategyError(f"{path}: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        raise StrategyError(f"{path} has no Strategy subclass named {name}")
    try:
        return cls()
    except Exception as exc:
        raise StrategyError(f"{name}(): {type(exc).__name__}: {exc}") from exc
