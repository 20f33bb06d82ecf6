"""The order ticket, a modal screen: every order type and flag, the size in contracts or in
USDT, and before you submit the cost and the resulting liquidation price (the session's
``what_if``; the ticket computes nothing). ``enter`` submits, ``escape`` leaves."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine import Instrument
from engine.enums import MarginMode, OrderType, Side, TimeInForce
from scenarios.session import WhatIf
from tui import format as fmt

PRICED = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
TRIGGERED = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_MARKET,
             OrderType.TAKE_PROFIT_LIMIT}


@dataclass(frozen=True)
class OrderRequest:
    """What the person typed, as text: the session parses and checks it."""

    symbol: str
    side: str = "buy"
    type: str = "limit"
    qty: str = ""
    qty_in: str = "contracts"
    price: str = ""
    trigger: str = ""
    leverage: str = ""
    margin_mode: str = "cross"
    tif: str = "gtc"
    post_only: bool = False
    reduce_only: bool = False

    def place_kwargs(self) -> dict:  # type: ignore[type-arg]
        """The arguments of ``Session.place`` / ``what_if`` (fields a type ignores left out)."""
        kind = OrderType(self.type)
        return dict(type=self.type, qty_in=self.qty_in, tif=self.tif,
                    price=self.price if kind in PRICED else None,
                    trigger=self.trigger if kind in TRIGGERED else None,
                    post_only=self.post_only, reduce_only=self.reduce_only)


class Flag(Checkbox, inherit_bindings=False):
    """A ticket checkbox: space (or a click) toggles it; enter is left to submit the ticket,
    as everywhere else on it."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]


class TicketScreen(ModalScreen[None]):
    """The ticket for one symbol; the app answers ``Changed`` with a preview and ``Submitted``
    with the order (closing the ticket when it is accepted)."""

    BINDINGS = [
        # not a priority binding: enter opens a focused select's menu and picks from it; from
        # a text field (Input.Submitted) and everywhere else it submits
        Binding("enter", "submit", "Submit", id="ticket.submit"),
        Binding("escape", "leave", "Leave", id="ticket.leave"),
    ]
    """
    | Key | Description |
    | :- | :- |
    | enter | Submit the order. |
    | escape | Leave the ticket. |
    """

    DEFAULT_CSS = """
    TicketScreen { align: center middle; }
    TicketScreen > Vertical { width: 76; height: auto; border: thick $accent; padding: 0 1;
                              background: $surface; }
    TicketScreen Grid { grid-size: 4; grid-columns: 10 1fr 10 1fr; grid-rows: 3;
                        height: auto; }
    TicketScreen Label { padding: 1 0 0 0; }
    TicketScreen #preview { height: 3; }
    TicketScreen.-buy > Vertical { border: thick $success; }
    TicketScreen.-sell > Vertical { border: thick $error; }
    """

    preview: reactive[WhatIf | None] = reactive(None)
    """The session's answer to the ticket as it stands."""

    class Changed(Message):
        """The ticket was edited: the app sets a new ``preview``."""

        def __init__(self, request: OrderRequest) -> None:
            super().__init__()
            self.request = request

    class Submitted(Message):
        """The person pressed enter."""

        def __init__(self, request: OrderRequest) -> None:
            super().__init__()
            self.request = request

    def __init__(self, request: OrderRequest, instrument: Instrument) -> None:
        # the side's class from the start: adding it once mounted restyles every field
        super().__init__(classes=f"-{request.side}")
        self.request = request
        self.instrument = instrument

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical():
            yield Static(Text(f"Order ticket — {r.symbol}", style="bold"), id="title")
            with Grid():
                yield Label("side")
                yield Select([(s.value, s.value) for s in Side], value=r.side, id="side",
                             allow_blank=False)
                yield Label("type")
                yield Select([(t.value.replace("_", " "), t.value) for t in OrderType],
                             value=r.type, id="type", allow_blank=False)
                yield Label("qty")
                yield Input(r.qty, placeholder="contracts", id="qty")
                yield Label("price")
                yield Input(r.price, placeholder="limit price", id="price")
                yield Label("trigger")
                yield Input(r.trigger, placeholder="trigger (mark)", id="trigger")
                yield Label("in")
                yield Select([("contracts", "contracts"), ("USDT", "usdt")], value=r.qty_in,
                             id="qty_in", allow_blank=False)
                yield Label("leverage")
                yield Input(r.leverage, placeholder="e.g. 20", id="leverage")
                yield Label("margin")
                yield Select([(m.value, m.value) for m in MarginMode], value=r.margin_mode,
                             id="margin_mode", allow_blank=False)
                yield Label("TIF")
                yield Select([(t.value.upper(), t.value) for t in TimeInForce], value=r.tif,
                             id="tif", allow_blank=False)
                yield Label("flags")
                yield Flag("post-only", r.post_only, id="post_only")
                yield Label("")
                yield Flag("reduce-only", r.reduce_only, id="reduce_only")
            yield Static(id="preview")

    def on_mount(self) -> None:
        self.query_one("#qty", Input).focus()
        self._changed()

    def watch_preview(self, preview: WhatIf | None) -> None:
        self.query_one("#preview", Static).update(self._preview_text(preview))

    def _preview_text(self, preview: WhatIf | None) -> Text:
        if preview is None:
            return Text("enter a quantity", style="dim")
        if not preview.ok:
            return Text(f"would be refused: {preview.reason}: {preview.message}", style="red")
        cost = f"cost {fmt.cash(preview.cost)} USDT"
        if preview.cost_on_fill is not None and preview.cost_on_fill != preview.cost:
            cost += f" now, {fmt.cash(preview.cost_on_fill)} once filled"
        text = Text(f"{cost} (margin + fees + open loss)\n")
        if preview.liquidation_price is None:
            liq = "none (the margin covers any price)" if preview.position_size else "—"
        else:
            liq = fmt.price(self.instrument, preview.liquidation_price)
        at = fmt.price(self.instrument, preview.fill_price)
        when = (f"once triggered and filled at {at}" if preview.waits
                else f"once it fills at {at}" if preview.rests
                else "after the fill" if preview.filled else "")
        text.append(f"liquidation price {liq} {when}".rstrip(), style="bold")
        return text

    def _read(self) -> OrderRequest:
        def select(name: str) -> str:
            return str(self.query_one(f"#{name}", Select).value)

        def field(name: str) -> str:
            return self.query_one(f"#{name}", Input).value

        return replace(self.request, side=select("side"), type=select("type"),
                       qty=field("qty"), qty_in=select("qty_in"), price=field("price"),
                       trigger=field("trigger"), leverage=field("leverage"),
                       margin_mode=select("margin_mode"), tif=select("tif"),
                       post_only=self.query_one("#post_only", Checkbox).value,
                       reduce_only=self.query_one("#reduce_only", Checkbox).value)

    def _changed(self) -> None:
        self.request = self._read()
        self.set_class(self.request.side == "buy", "-buy")
        self.set_class(self.request.side == "sell", "-sell")
        self.post_message(self.Changed(self.request))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _edited(self) -> None:
        if self.is_mounted:
            self._changed()

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        self.request = self._read()
        self.post_message(self.Submitted(self.request))

    def action_leave(self) -> None:
        self.dismiss()
