"""The header line: scenario, simulated time, speed, funding countdown and predicted rate."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui import format as fmt
from tui.frame import Frame


class SessionHeader(Widget):
    """One line about the session and the selected symbol's funding."""

    DEFAULT_CSS = "SessionHeader { height: 1; }"

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def render(self) -> Text:
        frame = self.frame
        if frame is None:
            return Text("perpsim")
        snap = frame.snapshot
        prices = frame.symbol.prices
        if snap.finished:
            speed = "ended"
        elif snap.target is not None:
            speed = f"jumping to {fmt.clock(snap.target)[5:16]}"
        else:
            speed = "paused" if snap.paused else f"{snap.speed}x"
            if frame.behind and not snap.paused:
                speed += " lagging"  # the market runs as fast as the machine allows
        text = Text()
        text.append(f" {snap.scenario} ", style="bold reverse")
        text.append(f"  {fmt.clock(snap.now)} UTC  ")
        text.append(f"[{speed}]", style="bold yellow" if snap.paused else "bold green")
        text.append(f"  funding {frame.selected} in "
                    f"{fmt.countdown(prices.next_funding - snap.now)} "
                    f"pred {fmt.rate_percent(prices.funding_rate)}")
        if snap.next_event is not None:
            text.append(f"  next: {snap.next_event.title} {fmt.clock(snap.next_event.ts)[5:16]}",
                        style="dim")
        return text
