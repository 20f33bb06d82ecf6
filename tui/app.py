"""The trading app: it owns a ``Session`` and is the only caller of its commands and clock.

A ``set_interval`` frame loop (``FPS`` a second) runs the market for the real time elapsed
(the session bounds the steps per call, so a frame stays short at 3600x) and hands every
widget the same immutable ``Frame`` built from one snapshot. Widgets send intent up as
messages; fills, funding, margin warnings and liquidations arrive as notifications.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from engine.enums import Side
from engine.events import Liquidation
from scenarios.candles import TIMEFRAMES
from scenarios.session import CommandResult, Session, SessionSnapshot
from tui import format as fmt
from tui.amend import AmendScreen
from tui.close_limit import CloseLimitScreen
from tui.frame import Frame, frozen
from tui.help import HelpScreen
from tui.ticket import OrderRequest, TicketScreen
from tui.widgets.account import AccountPanel, ratio_level
from tui.widgets.book import BookLadder
from tui.widgets.chart import PriceChart
from tui.widgets.header import SessionHeader
from tui.widgets.history import HistoryLog
from tui.widgets.orders import OrdersTable
from tui.widgets.positions import PositionsTable
from tui.widgets.sparks import FundingSparks
from tui.widgets.symbols import SymbolBar
from tui.widgets.trades import TradesTape

FPS = 12
"""Frames a second: the screen shows at most this many snapshots."""
MIN_STEPS = 10
"""The least steps a frame runs, however slow they are (the market always moves)."""
START_STEPS = 100
"""The step bound before any step has been timed."""
MAX_FRAME_GAP = 0.25
"""Real seconds a frame may cover at most: after a stall the market does not lurch ahead."""
DEPTH = 12
"""Book levels a side in a snapshot (the ladder shows what fits)."""
NARROW = 100
"""Below this many columns the tape gives its room to the book and the panels."""
FRAME_BUDGET = 0.04
"""Real seconds the market may take in one frame: the step bound adapts to keep under it."""
SYMBOL_KEYS = ("XAGUSDT", "XAUUSDT", "BTCUSDT")
PREVIEW_DELAY = 0.15
"""Real seconds from one preview of the ticket to the next, at least."""
CANDLE_REAL_SECONDS = 4
"""A candle should take at least this many real seconds to form: at 1x a 1m chart, at 3600x
a 4h one, so the chart scrolls at a pace the eye follows."""


def chart_timeframe(speed: int) -> int:
    """The narrowest candle that takes ``CANDLE_REAL_SECONDS`` or more at ``speed``.

    >>> [chart_timeframe(s) for s in (1, 10, 60, 600, 3600)]
    [60, 60, 300, 3600, 14400]
    """
    return next((s for s in TIMEFRAMES if s >= speed * CANDLE_REAL_SECONDS), TIMEFRAMES[-1])


class PerpApp(App[None]):
    """Paper-trade the perpetuals of a scenario; see DESIGN.md §8 and the help screen."""

    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "perpsim"
    BINDINGS = [
        Binding("b", "ticket('buy')", "Buy", id="buy"),
        Binding("s", "ticket('sell')", "Sell", id="sell"),
        Binding("space", "toggle_pause", "Play", id="pause"),
        Binding("full_stop", "step", "Step", id="step"),
        Binding("plus,equals_sign", "faster", "Faster", id="faster", key_display="+"),
        Binding("minus", "slower", "Slower", id="slower", key_display="-"),
        Binding("1", "symbol(0)", "Ag", id="symbol1"),
        Binding("2", "symbol(1)", "Au", id="symbol2"),
        Binding("3", "symbol(2)", "BTC", id="symbol3"),
        Binding("c", "cancel_order", "Cancel", id="cancel"),
        Binding("a", "amend_order", "Amend", id="amend"),
        Binding("x", "close_position", "Close", id="close"),
        Binding("X", "close_at_limit", "Close at limit", id="close_limit", show=False),
        Binding("n", "next_event", "Next", id="next_event"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    """
    | Key | Description |
    | :- | :- |
    | b / s | Open the ticket on the buy / sell side. |
    | space | Pause or resume. |
    | . | One step. |
    | + / - | Faster / slower. |
    | 1 2 3 | XAGUSDT, XAUUSDT, BTCUSDT. |
    | c / a | Cancel / amend the selected order. |
    | x / X | Close the selected position at market / with a limit. |
    | n | Jump to the next calendar event. |
    | ? | Help. |
    | q | Quit. |
    """

    def __init__(self, session: Session, *, clock: Callable[[], float] = time.monotonic,
                 close_session: bool = True, run_clock: bool = True) -> None:
        """Args:
            session: the session to trade (the app closes it on exit when ``close_session``).
            clock: real seconds, monotonic (tests pass a fixed one).
            run_clock: False: no frame timer (tests and snapshots step by keys alone).
        """
        super().__init__()
        self.session = session
        self._clock = clock
        self._close_session = close_session
        self._run_clock = run_clock
        self._max_steps = session.max_steps
        """The session's own bound: the adaptive one never goes above it."""
        self._behind = False
        self._step_cost: float | None = None
        """Real seconds a replay step takes, smoothed."""
        session.max_steps = min(session.max_steps, START_STEPS)
        self._last = clock()
        self.symbols = tuple(session.setup.index)
        self.selected = next((s for s in SYMBOL_KEYS if s in self.symbols), self.symbols[0])
        self._timeframe = chart_timeframe(session.speed)
        self._funding = {s: deque[int](maxlen=240) for s in self.symbols}
        self._interest = {s: deque[int](maxlen=240) for s in self.symbols}
        self._shown_at = -1
        """The simulated time of the last frame shown (the sparklines add a point per new
        time)."""
        self._seen = -1
        """The seq of the last of the person's events notified."""
        self._level = "ok"
        self._modes: dict[str, str] = {}
        """The margin mode set per symbol this run (the ticket's default)."""
        self._pending_preview: tuple[TicketScreen, OrderRequest] | None = None
        """A ticket and its latest edit, not previewed yet (the next frame does it)."""
        self._previewed_at = float("-inf")
        """The app's clock at the last preview."""
        self.frame: Frame | None = None
        self.results: list[CommandResult] = []
        """Every command result of the person, in order (tests read it)."""

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield SymbolBar(id="top")
        with Horizontal(id="middle"):
            with Vertical(id="left"):
                yield BookLadder(id="book")
            with Vertical(id="center"):
                yield PriceChart(id="chart")
                yield FundingSparks(id="sparks")
            with Vertical(id="side"):
                yield AccountPanel(id="account")
                yield TradesTape(id="tape")
                yield HistoryLog(id="history")
        yield PositionsTable(id="positions")
        yield OrdersTable(id="orders")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        snapshot = self.session.snapshot(DEPTH)
        ids = [event.seq for group in (snapshot.fills, snapshot.funding, snapshot.liquidations)
               for event in group]
        self._seen = max(ids, default=-1)  # a resumed session does not replay its history
        for notice in snapshot.notices:
            self.notify(notice, title="session")
        self.show(snapshot)
        if self._run_clock:
            self.set_interval(1 / FPS, self.frame_tick, name="frames")

    def on_resize(self) -> None:
        # the main screen's class, whichever screen (a ticket, the help) is on top
        self.screen_stack[0].set_class(self.size.width < NARROW, "-narrow")

    def on_unmount(self) -> None:
        if self._close_session:
            self.session.close()

    # -- the frame loop ---------------------------------------------------------------------

    def frame_tick(self) -> None:
        """One frame: run the market for the real time since the last, then show it."""
        now = self._clock()
        elapsed, self._last = min(max(0.0, now - self._last), MAX_FRAME_GAP), now
        try:
            started = time.perf_counter()
            advanced = self.session.tick(elapsed)
            self._adapt(advanced.steps, time.perf_counter() - started)
            self._behind = advanced.behind and self.session.target is None
        except Exception as exc:  # a bug below must not kill the person's screen
            self.session.cancel_jump()
            self.session.pause()
            self.notify(f"the market stopped: {type(exc).__name__}: {exc}", severity="error",
                        title="error", timeout=30)
        if self._pending_preview is not None and now - self._previewed_at >= PREVIEW_DELAY:
            self._preview()
        self.show(self.session.snapshot(DEPTH))

    def _adapt(self, steps: int, took: float) -> None:
        """Keep a frame's market work near FRAME_BUDGET: the session's step bound follows the
        measured cost of a step (from microseconds to a millisecond, depending on the book and
        the participants), so a jump or 3600x never freezes the screen."""
        if steps <= 0:
            return
        cost = took / steps
        self._step_cost = cost if self._step_cost is None else 0.8 * self._step_cost + 0.2 * cost
        bound = int(FRAME_BUDGET / max(self._step_cost, 1e-7))
        self.session.max_steps = max(MIN_STEPS, min(self._max_steps, bound))

    def show(self, snapshot: SessionSnapshot) -> None:
        """Hand every widget the frame of ``snapshot`` and notify what happened to the
        person since the last frame."""
        for item in snapshot.symbols:
            funding = self._funding[item.prices.symbol]
            if item.prices.mark is not None and (not funding or snapshot.now != self._shown_at):
                funding.append(item.prices.funding_rate)
                self._interest[item.prices.symbol].append(item.prices.open_interest)
        self._shown_at = snapshot.now
        if not snapshot.paused:  # paused, the chart keeps the candles it was playing with
            self._timeframe = chart_timeframe(snapshot.speed)
        frame = Frame(snapshot=snapshot, selected=self.selected,
                      instruments=self.session.instruments,
                      day_open=frozen({s: self.session.day_open(s) for s in self.symbols}),
                      candles=self.session.candles(self.selected, self._timeframe),
                      timeframe=self._timeframe,
                      behind=self._behind, funding=tuple(self._funding[self.selected]),
                      open_interest=tuple(self._interest[self.selected]))
        self.frame = frame
        for widget in (SessionHeader, SymbolBar, BookLadder, TradesTape, PriceChart,
                       FundingSparks, AccountPanel, HistoryLog, PositionsTable, OrdersTable):
            self.query_one(widget).frame = frame
        self._notify_events(frame)

    def _notify_events(self, frame: Frame) -> None:
        snapshot, seen = frame.snapshot, self._seen
        for fill in snapshot.fills:
            if fill.seq > seen:
                instrument = frame.instruments[fill.symbol]
                self.notify(f"{fill.side.value} {fmt.qty(instrument, fill.qty)} {fill.symbol} @ "
                            f"{instrument.format_price(fill.price)} (fee {fmt.cash(fill.fee)})",
                            title="fill")
        for payment in snapshot.funding:
            if payment.seq > seen:
                self.notify(f"{payment.symbol} funding {fmt.cash(payment.amount, 4)} USDT",
                            title="funding")
        for liq in snapshot.liquidations:
            if liq.seq > seen:
                instrument = frame.instruments[liq.symbol]
                if isinstance(liq, Liquidation):
                    kind, why = "liquidated", f"margin ratio reached 100 % ({liq.stage.value})"
                else:
                    kind, why = "ADL", f"auto-deleveraged against {liq.counterparty}"
                self.notify(f"{liq.symbol} {fmt.qty(instrument, liq.qty)} {kind} at "
                            f"{instrument.format_price(liq.price)}: {why}",
                            title=kind, severity="error", timeout=30)
        self._seen = max([seen] + [x.seq for group in (snapshot.fills, snapshot.funding,
                                                       snapshot.liquidations) for x in group])
        account = snapshot.account
        level = "ok" if account is None or not account.maintenance_margin \
            else ratio_level(account.margin_ratio)
        if level != self._level and level != "ok":
            self.notify(f"margin ratio {fmt.rate_percent(account.margin_ratio, 1)}"
                        + (": liquidation at 100 %" if level == "danger" else ""),
                        title=f"margin {level}",
                        severity="error" if level == "danger" else "warning")
        self._level = level

    # -- actions ----------------------------------------------------------------------------

    def _result(self, result: CommandResult, done: str) -> bool:
        self.results.append(result)
        if result.ok:
            self.notify(done, title="ok")
        else:
            self.notify(f"{result.reason}: {result.message}", title="rejected",
                        severity="warning", timeout=10)
        self.show(self.session.snapshot(DEPTH))
        return result.ok

    def _position_leverage(self, symbol: str) -> str:
        account = self.frame.snapshot.account if self.frame else None
        positions = () if account is None else account.positions
        for position in positions:
            if position.symbol == symbol:
                return str(position.leverage)
        return ""

    def action_ticket(self, side: str) -> None:
        if isinstance(self.screen, TicketScreen):
            return
        request = OrderRequest(symbol=self.selected, side=side,
                               leverage=self._position_leverage(self.selected),
                               margin_mode=self._modes.get(self.selected, "cross"))
        self.push_screen(TicketScreen(request, self.session.instruments[self.selected]))

    def action_toggle_pause(self) -> None:
        self.session.toggle_pause()
        self._last = self._clock()
        self.show(self.session.snapshot(DEPTH))

    def action_step(self) -> None:
        self.session.step()
        self.show(self.session.snapshot(DEPTH))

    def action_faster(self) -> None:
        self.session.faster()
        self._last = self._clock()
        self.show(self.session.snapshot(DEPTH))

    def action_slower(self) -> None:
        self.session.slower()
        self.show(self.session.snapshot(DEPTH))

    def action_symbol(self, number: int) -> None:
        if number < len(SYMBOL_KEYS) and SYMBOL_KEYS[number] in self.symbols:
            self.select_symbol(SYMBOL_KEYS[number])
        else:
            self.notify(f"this scenario lists {', '.join(self.symbols)}", severity="warning")

    def select_symbol(self, symbol: str) -> None:
        self.selected = symbol
        self.show(self.session.snapshot(DEPTH))

    def action_cancel_order(self) -> None:
        order = self.query_one(OrdersTable).selected_order
        if order is None:
            self.notify("no open order selected", severity="warning")
            return
        self._result(self.session.cancel(order), f"order {order} cancelled")

    def action_amend_order(self) -> None:
        order_id = self.query_one(OrdersTable).selected_order
        account = self.frame.snapshot.account if self.frame else None
        orders = () if account is None else account.orders
        order = next((o for o in orders if o.order_id == order_id), None)
        if order is None:
            self.notify("no open order selected", severity="warning")
            return
        instrument = self.session.instruments[order.symbol]
        self.push_screen(AmendScreen(order.order_id, fmt.qty(instrument, order.remaining),
                                     fmt.price(instrument, order.price).replace("—", "")))

    def action_close_position(self) -> None:
        symbol = self.query_one(PositionsTable).selected_symbol
        if symbol is None:
            self.notify("no position selected", severity="warning")
            return
        self._result(self.session.close_position(symbol), f"closing {symbol} at market")

    def action_close_at_limit(self) -> None:
        symbol = self.query_one(PositionsTable).selected_symbol
        if symbol is None or self.frame is None:
            self.notify("no position selected", severity="warning")
            return
        prices = self.frame.snapshot.symbol(symbol).prices
        instrument = self.session.instruments[symbol]
        self.push_screen(CloseLimitScreen(symbol, fmt.price(instrument, prices.mark)
                                          .replace("—", "")))

    def action_next_event(self) -> None:
        started = time.perf_counter()
        before = self.session.replay.steps_done
        event = self.session.jump_to_next_event()
        self._adapt(self.session.replay.steps_done - before, time.perf_counter() - started)
        if event is None:
            self.notify("no calendar event left", severity="warning")
        else:
            self.notify(f"{event.title} at {fmt.clock(event.ts)}: {event.detail}",
                        title="jumping to")
        self.show(self.session.snapshot(DEPTH))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- messages from the widgets and screens ----------------------------------------------

    @on(SymbolBar.Selected)
    def _symbol_clicked(self, message: SymbolBar.Selected) -> None:
        self.select_symbol(message.symbol)

    @on(TicketScreen.Changed)
    def _ticket_changed(self, message: TicketScreen.Changed) -> None:
        """Preview the edit at once when the last preview is PREVIEW_DELAY old, else leave it
        to the frame loop: a preview runs the order on a copy of the exchange (tens of ms on a
        full scenario), so typing costs at most one preview per PREVIEW_DELAY, and the last
        edit is always previewed."""
        screen = self.screen
        if not isinstance(screen, TicketScreen):
            return
        self._pending_preview = (screen, message.request)
        if self._clock() - self._previewed_at >= PREVIEW_DELAY:
            self._preview()

    def _preview(self) -> None:
        """Preview the pending edit into its ticket, if that ticket is still on top."""
        pending, self._pending_preview = self._pending_preview, None
        if pending is None or pending[0] is not self.screen:
            return
        screen, r = pending
        self._previewed_at = self._clock()
        screen.preview = None if not r.qty.strip() else self.session.what_if(
            r.symbol, r.side, r.qty, leverage=r.leverage or None, margin_mode=r.margin_mode,
            **r.place_kwargs())

    @on(TicketScreen.Submitted)
    def _ticket_submitted(self, message: TicketScreen.Submitted) -> None:
        r = message.request
        session = self.session
        if r.leverage.strip() and r.leverage.strip() != self._position_leverage(r.symbol):
            if not self._result(session.set_leverage(r.symbol, r.leverage), "leverage set"):
                return
        if r.margin_mode != self._modes.get(r.symbol, "cross"):
            if not self._result(session.set_margin_mode(r.symbol, r.margin_mode),
                                f"{r.margin_mode} margin"):
                return
            self._modes[r.symbol] = r.margin_mode
        result = session.place(r.symbol, r.side, r.qty, **r.place_kwargs())
        side = Side(r.side).value
        if self._result(result, f"{side} {r.qty} {r.symbol} {r.type.replace('_', ' ')}: "
                                f"order {result.order_id}"):
            if isinstance(self.screen, TicketScreen):
                self.screen.dismiss()

    @on(CloseLimitScreen.Submitted)
    def _close_limit_submitted(self, message: CloseLimitScreen.Submitted) -> None:
        result = self.session.close_position(message.symbol, message.price)
        if self._result(result, f"closing {message.symbol} at {message.price}: order "
                                f"{result.order_id}") and isinstance(self.screen,
                                                                      CloseLimitScreen):
            self.screen.dismiss()

    @on(AmendScreen.Submitted)
    def _amend_submitted(self, message: AmendScreen.Submitted) -> None:
        result = self.session.amend(message.order_id, qty=message.qty.strip() or None,
                                    price=message.price.strip() or None)
        if self._result(result, f"order {message.order_id} amended") and isinstance(
                self.screen, AmendScreen):
            self.screen.dismiss()
