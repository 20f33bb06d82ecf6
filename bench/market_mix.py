"""A seeded, replay-like mix of market activity: the yardstick for making the engine fast.

``build(seed, seconds)`` returns a list of engine commands (Decimal fields, as a client sends
them) drawn from ``random.Random(seed)``; ``run(commands)`` executes them through
``Exchange().execute`` and returns counts and the final ``state_hash()``.

The workload, per simulated second from 2026-01-07T10:00:00Z (a Wednesday: metals are open):
- the clock and every symbol's index (BTCUSDT ~90 000, XAUUSDT ~4 450, XAGUSDT ~78.50, the
  default instruments) move: a small seeded random walk with rare jumps;
- 2 market makers per symbol re-quote 5 levels a side around the index every 5 s (cancel_all
  on that symbol + 10 limit orders), the two staggered;
- one arbitrageur sends an IOC buy below the index and an IOC sell above it on every symbol:
  they trade only when stale quotes have drifted through the index, pulling the book back;
- 1 000 leveraged accounts (2x-50x) open with market orders in the first minute, 40 % of them
  with a stop-loss (stop_market, reduce_only); afterwards a few accounts a second exit (cancel
  their stop, close with a reduce-only market order) or enter again.

The builder never sees the engine, so some commands are refused (a reduce-only close of a
position that a stop or a liquidation already closed): that is part of the mix, and counted.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources

from engine import Exchange
from engine.commands import (
    AdvanceTime,
    CancelAll,
    Command,
    Deposit,
    PlaceOrder,
    SetIndex,
    SetLeverage,
)
from engine.enums import OrderType, Side, TimeInForce
from engine.events import Fill, Liquidation, Rejected, Trade, Triggered

START = datetime(2026, 1, 7, 10, 0, 0, tzinfo=UTC)
OPENING_SECONDS = 60
"""Accounts open their first positions in this window; the warm-up of the benchmark."""
ACCOUNTS = 1_000
REQUOTE_EVERY = 5
LEVELS = 5


@dataclass(frozen=True)
class Spec:
    symbol: str
    start: Decimal
    tick: Decimal
    lot: Decimal
    min_notional: Decimal
    max_leverage: int
    level_notional: tuple[int, int]
    """Notional of one maker level, USDT, drawn uniformly."""
    weight: float
    """Share of the leveraged accounts trading this symbol."""


def _specs() -> list[Spec]:
    text = resources.files("engine").joinpath("instruments.toml").read_text()
    table = {i["symbol"]: i for i in tomllib.loads(text, parse_float=Decimal)["instrument"]}

    def spec(symbol: str, start: str, level: tuple[int, int], weight: float) -> Spec:
        i = table[symbol]
        return Spec(symbol, Decimal(start), Decimal(i["tick_size"]), Decimal(i["lot_size"]),
                    Decimal(i["min_notional"]), int(i["tiers"][0]["max_leverage"]), level,
                    weight)

    return [spec("BTCUSDT", "90000", (40_000, 90_000), 0.5),
            spec("XAUUSDT", "4450", (40_000, 90_000), 0.25),
            spec("XAGUSDT", "78.50", (40_000, 80_000), 0.25)]


SPECS = _specs()


def _ts(second: int) -> str:
    return (START + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Trader:
    name: str
    spec: Spec
    leverage: int
    deposit: int
    open_side: Side | None = None
    qty: Decimal = Decimal(0)


@dataclass
class _Mix:
    rng: random.Random
    ticks: dict[str, int] = field(default_factory=dict)
    """Index of each symbol, in ticks."""

    def price(self, spec: Spec, ticks: int) -> Decimal:
        return Decimal(ticks) * spec.tick

    def qty_for(self, spec: Spec, notional: float) -> Decimal:
        """Lots worth about ``notional`` USDT at the index, at least the minimum notional."""
        index = float(self.price(spec, self.ticks[spec.symbol]))
        floor = float(spec.min_notional) * 1.2
        lots = max(1, round(max(notional, floor) / index / float(spec.lot)))
        return Decimal(lots) * spec.lot

    def walk(self, spec: Spec) -> None:
        ticks = self.ticks[spec.symbol]
        step = self.rng.gauss(0.0, 0.00025)  # 2.5 bp a second
        if self.rng.random() < 0.005:  # a jump of 1-2.5 %
            step += self.rng.choice((-1, 1)) * self.rng.uniform(0.01, 0.025)
        self.ticks[spec.symbol] = max(1, round(ticks * (1 + step)))

    def quotes(self, maker: str, spec: Spec) -> list[Command]:
        rng, index = self.rng, self.ticks[spec.symbol]
        out: list[Command] = [CancelAll(account=maker, symbol=spec.symbol)]
        for side in (Side.BUY, Side.SELL):
            for level in range(LEVELS):
                offset_bp = 2 + 3 * level + rng.random() * 2
                distance = max(1, round(index * offset_bp / 10_000))
                ticks = index - distance if side is Side.BUY else index + distance
                out.append(PlaceOrder(account=maker, symbol=spec.symbol, side=side,
                                      type=OrderType.LIMIT, price=self.price(spec, ticks),
                                      qty=self.qty_for(spec, rng.uniform(*spec.level_notional))))
        return out

    def entry(self, trader: _Trader, second: int, stops: dict[int, list[Command]]) -> list[Command]:
        rng, spec = self.rng, trader.spec
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        notional = trader.deposit * trader.leverage * rng.uniform(0.2, 0.6)
        qty = self.qty_for(spec, notional)
        trader.open_side, trader.qty = side, qty
        if rng.random() < 0.4:  # a stop-loss a second later, before the liquidation price
            index = self.ticks[spec.symbol]
            distance = max(2, round(index * rng.uniform(0.3, 0.7) / trader.leverage))
            is_buy = side is Side.BUY
            trigger = index - distance if is_buy else index + distance
            stops.setdefault(second + 1, []).append(PlaceOrder(
                account=trader.name, symbol=spec.symbol,
                side=Side.SELL if is_buy else Side.BUY, type=OrderType.STOP_MARKET,
                qty=qty, trigger_price=self.price(spec, trigger), reduce_only=True))
        return [PlaceOrder(account=trader.name, symbol=spec.symbol, side=side,
                           type=OrderType.MARKET, qty=qty)]

    def exit(self, trader: _Trader) -> list[Command]:
        assert trader.open_side is not None
        side = Side.SELL if trader.open_side is Side.BUY else Side.BUY
        trader.open_side = None
        return [CancelAll(account=trader.name, symbol=trader.spec.symbol),
                PlaceOrder(account=trader.name, symbol=trader.spec.symbol, side=side,
                           type=OrderType.MARKET, qty=trader.qty, reduce_only=True)]

    def arbitrage(self, spec: Spec) -> list[Command]:
        index = self.ticks[spec.symbol]
        edge = max(1, round(index * 0.0004))  # 4 bp through the index
        qty = self.qty_for(spec, 30_000)
        return [PlaceOrder(account="arb", symbol=spec.symbol, side=side, type=OrderType.LIMIT,
                           tif=TimeInForce.IOC, qty=qty,
                           price=self.price(spec, index - edge if side is Side.BUY
                                            else index + edge))
                for side in (Side.BUY, Side.SELL)]


def build(seed: int = 1, seconds: int = OPENING_SECONDS + 300,
          accounts: int = ACCOUNTS) -> list[Command]:
    """The commands of ``seconds`` simulated seconds of the mix (the first
    ``OPENING_SECONDS`` are the opening, where every account enters)."""
    rng = random.Random(seed)
    mix = _Mix(rng)
    for spec in SPECS:
        mix.ticks[spec.symbol] = round(spec.start / spec.tick)
    makers = {spec.symbol: [f"mm_{spec.symbol}_{n}" for n in range(2)] for spec in SPECS}
    out: list[Command] = [AdvanceTime(ts=_ts(0))]
    out += [SetIndex(symbol=spec.symbol, price=mix.price(spec, mix.ticks[spec.symbol]))
            for spec in SPECS]
    for spec in SPECS:
        for maker in makers[spec.symbol]:
            out += [Deposit(account=maker, amount=Decimal(10**9)),
                    SetLeverage(account=maker, symbol=spec.symbol, leverage=5)]
    out.append(Deposit(account="arb", amount=Decimal(10**8)))
    out += [SetLeverage(account="arb", symbol=spec.symbol, leverage=5) for spec in SPECS]
    weights = [spec.weight for spec in SPECS]
    traders = []
    for n in range(accounts):
        spec = rng.choices(SPECS, weights)[0]
        trader = _Trader(f"t{n}", spec, rng.randint(2, min(50, spec.max_leverage)),
                         rng.randint(100, 2_000))
        traders.append(trader)
        out += [Deposit(account=trader.name, amount=Decimal(trader.deposit)),
                SetLeverage(account=trader.name, symbol=spec.symbol, leverage=trader.leverage)]
    openings: dict[int, list[_Trader]] = {}
    for trader in traders:
        openings.setdefault(rng.randint(1, OPENING_SECONDS - 1), []).append(trader)
    stops: dict[int, list[Command]] = {}
    for second in range(seconds):
        if second:
            for spec in SPECS:
                mix.walk(spec)
            out.append(AdvanceTime(ts=_ts(second)))
            out += [SetIndex(symbol=spec.symbol, price=mix.price(spec, mix.ticks[spec.symbol]))
                    for spec in SPECS]
        for spec in SPECS:
            for n, maker in enumerate(makers[spec.symbol]):
                if second % REQUOTE_EVERY == (2 * n) % REQUOTE_EVERY:
                    out += mix.quotes(maker, spec)
        if second:
            for spec in SPECS:
                out += mix.arbitrage(spec)
        out += stops.pop(second, [])
        for trader in openings.pop(second, []):
            out += mix.entry(trader, second, stops)
        if second >= OPENING_SECONDS:
            for _ in range(rng.choices((0, 1, 2, 3), (0.3, 0.3, 0.25, 0.15))[0]):
                trader = rng.choice(traders)
                out += (mix.exit(trader) if trader.open_side is not None
                        else mix.entry(trader, second, stops))
    return out


def split(commands: list[Command], second: int) -> tuple[list[Command], list[Command]]:
    """The commands before the clock reaches ``second``, and the rest."""
    ts = _ts(second)
    for n, command in enumerate(commands):
        if isinstance(command, AdvanceTime) and command.ts == ts:
            return commands[:n], commands[n:]
    return commands, []


@dataclass(frozen=True)
class Counts:
    commands: int
    events: int
    trades: int
    fills: int
    liquidations: int
    triggered: int
    rejected: int


@dataclass(frozen=True)
class Summary(Counts):
    state_hash: str


def execute_all(exchange: Exchange, commands: list[Command]) -> Counts:
    """Execute ``commands`` on ``exchange`` and count what happened."""
    execute = exchange.execute
    events = trades = fills = liquidations = triggered = rejected = 0
    for command in commands:
        for event in execute(command):
            events += 1
            kind = type(event)
            if kind is Fill:
                fills += 1
            elif kind is Trade:
                trades += 1
            elif kind is Liquidation:
                liquidations += 1
            elif kind is Triggered:
                triggered += 1
            elif kind is Rejected:
                rejected += 1
    return Counts(len(commands), events, trades, fills, liquidations, triggered, rejected)


def run(commands: list[Command]) -> Summary:
    """Execute ``commands`` on a new exchange; the counts and the final ``state_hash()``."""
    exchange = Exchange()
    counts = execute_all(exchange, commands)
    return Summary(**vars(counts), state_hash=exchange.state_hash())


if __name__ == "__main__":
    import time

    commands = build()
    cpu, wall = time.process_time(), time.perf_counter()
    summary = run(commands)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(summary)
    seconds = OPENING_SECONDS + 300
    print(f"{seconds} simulated s in {cpu:.2f} CPU s / {wall:.2f} wall s: "
          f"{seconds / cpu:.1f} sim s per CPU s, {seconds / wall:.1f}x real time")
