"""The JSON Lines protocol of DESIGN.md §4: one command per line in, events out.

Pure bytes in, bytes out; the CLI owns the files. A line that is not a command (bad JSON,
unknown ``cmd``, a wrong type or field) becomes an ``error`` event naming the line and the
problem, and the session goes on. Events are written with their engine units turned into
decimal strings of the event's instrument: the field name says what a number is.
"""

from __future__ import annotations

import json
import re
import typing
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


DECIMAL_FIELDS = frozenset(
    name for cls in c.AnyCommand.__args__
    for name, hint in typing.get_type_hints(cls).items() if "Decimal" in str(hint))
"""Command fields read as Decimal: amount, qty, price, trigger_price."""

_PLAIN_DECIMAL = re.compile(
    r"-?(?:[0-9]+(?:\.[0-9]+)?|(?i:nan|snan|inf|infinity))")
"""What a decimal string may be: -, ASCII digits, one decimal point. Decimal() also reads
"1_000", "+5", " 5" and digits of any script ("١٠٠", "１００"): none of those is a number on
the wire, and neither is an exponent ("1e3": a JSON number may have one, a decimal string may
not). The bare names of the non-finite values pass, for the exchange to reject with its own
reason ("not a finite number")."""
_KEY = re.compile(rb'"([^"]*)"[ \t\r\n]*:[ \t\r\n]*("[^"]*")?')
"""A key and, when it is a string, its value. Exact for valid JSON without a backslash: every
quote then opens or closes a string, and a string followed by a colon is a key."""


class ProtocolError(ValueError):
    """A line that is not a valid command; the message says why."""


class _DuplicateKey(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _precheck(line: bytes) -> list[tuple[str, str]]:
    """Refuse a duplicated key at any level; return the decimal fields given as strings.

    The fast path is one regex over a line without backslashes whose keys are all distinct;
    anything else is parsed again by the json module, which sees every key of every object.
    """
    found = _KEY.findall(line)
    if b"\\" not in line and len({key for key, _ in found}) == len(found):
        return [(key.decode(), value[1:-1].decode(errors="replace")) for key, value in found
                if value and key.decode() in DECIMAL_FIELDS]
    try:
        top = json.loads(line, object_pairs_hook=_pairs)
    except _DuplicateKey as exc:
        raise ProtocolError(f"duplicate key {json.dumps(exc.args[0])}") from None
    except ValueError:
        return []  # not JSON: msgspec says why
    if not isinstance(top, dict):
        return []
    return [(name, top[name]) for name in DECIMAL_FIELDS & top.keys()
            if isinstance(top[name], str)]


def decode_command(line: bytes | str) -> c.Command:
    """Decode one JSON line into a command.

    Raises:
        ProtocolError: malformed JSON, an unknown command, a missing, unknown or mistyped field,
            a duplicated key, or a decimal string that is not plain ASCII (``"1_000"``, ``"1e3"``).
    """
    if isinstance(line, str):
        line = line.encode(errors="surrogatepass")
    decimals = _precheck(line)
    try:
        command = _decoder.decode(line)
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
    for name, value in decimals:
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise ProtocolError(f"{name}: {value!r} is not a plain decimal number "
                                "(ASCII digits, an optional - and . as in -1234.5)")
    return command


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
