"""The JSON Lines protocol of DESIGN.md §4: one command per line in, events out.

Pure bytes in, bytes out; the CLI owns the files. A line that is not a command (bad JSON,
unknown ``cmd``, a wrong type or field) becomes an ``error`` event naming the line and the
problem, and the session goes on. Events are written with their engine units turned into
decimal strings of the event's instrument: the field name says what a number is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from engine import commands as c
from engine import events as e
from engine.exchange import Exchange
from engine.instrument import Instrument
from engine.units import format_cash, format_rate, format_timestamp

_decoder = msgspec.json.Decoder(c.AnyCommand)
_encoder = msgspec.json.Encoder()
_COMMANDS = sorted(cls.__struct_config__.tag for cls in c.AnyCommand.__args__)

PRICE_FIELDS = frozenset({"price", "trigger_price", "index", "mark", "last",
                          "bankruptcy_price"})
QTY_FIELDS = frozenset({"qty", "remaining", "position"})
CASH_FIELDS = frozenset({"amount", "fee", "realized_pnl", "wallet_balance", "insurance_delta"})
RATE_FIELDS = frozenset({"funding_rate", "rate"})
TIME_FIELDS = frozenset({"ts", "next_funding"})


class ProtocolError(ValueError):
    """A line that is not a valid command; the message says why."""


def decode_command(line: bytes | str) -> c.Command:
    """Decode one JSON line into a command.

    Raises:
        ProtocolError: malformed JSON, an unknown command, a missing, unknown or mistyped field.
    """
    try:
        return _decoder.decode(line)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.endswith("- at `$.cmd`"):
            given = message.split(" - at ")[0].removeprefix("Invalid value ")
            message = f"unknown command {given}; known: {', '.join(_COMMANDS)}"
        elif message == "Object missing required field `cmd`":
            message = f"missing field `cmd`; known commands: {', '.join(_COMMANDS)}"
        raise ProtocolError(message) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(str(exc)) from None


def encode_command(command: c.Command) -> bytes:
    return _encoder.encode(command)


class EventWriter:
    """Turns events into JSON lines, caching the formatted clock (it changes rarely)."""

    def __init__(self, instruments: dict[str, Instrument]) -> None:
        self.instruments = instruments
        self._ts_ns = -1
        self._ts_text = ""

    def _time(self, ns: int) -> str:
        if ns != self._ts_ns:
            self._ts_ns, self._ts_text = ns, format_timestamp(ns)
        return self._ts_text

    def to_dict(self, event: e.Event) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": event.seq, "ts": self._time(event.ts)}
        if isinstance(event, e.Answer):
            out["event"] = event.what
            out.update(event.data)
            return out
        out["event"] = type(event).__struct_config__.tag
        instrument = self.instruments.get(getattr(event, "symbol", None) or "")
        for name in event.__struct_fields__:
            value = getattr(event, name)
            if value is None or name in ("seq", "ts"):
                continue
            if type(value) is int:
                if name in PRICE_FIELDS and instrument is not None:
                    value = instrument.format_price(value)
                elif name in QTY_FIELDS and instrument is not None:
                    value = instrument.format_qty(value)
                elif name in CASH_FIELDS:
                    value = format_cash(value)
                elif name in RATE_FIELDS:
                    value = format_rate(value)
                elif name in TIME_FIELDS:
                    value = format_timestamp(value)
            out[name] = value
        return out

    def encode(self, event: e.Event) -> bytes:
        return _encoder.encode(self.to_dict(event))


def run(exchange: Exchange, lines: Iterable[bytes]) -> Iterator[bytes]:
    """Execute a session: yield one JSON line (no newline) per event, in order.

    Blank lines and lines starting with ``#`` (comments in hand-written sessions) are skipped.
    """
    writer = EventWriter(exchange.instruments)
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith(b"#"):
            continue
        try:
            command = decode_command(text)
        except ProtocolError as exc:
            events = exchange.error(number, str(exc))
        else:
            events = exchange.execute(command)
        for event in events:
            yield writer.encode(event)
