"""perpsim's exchange core: pure, deterministic, integer arithmetic.

The public surface (DESIGN.md §3.1):

- ``Exchange``, the facade: ``execute(command) -> list[Event]``, ``select_events``, the read
  models ``view_account``, ``view_book``, ``view_symbol``, ``view_insurance``, ``state_hash``
  and ``check_invariants``;
- ``unit_commands`` (engine units: ticks, lots, cash units, nanoseconds; ``MarketStep`` and
  ``ReplaceLadder``) and ``commands`` (the wire's, with decimal strings and RFC 3339 times);
- ``events``, ``enums`` and ``readmodels`` (frozen structs of integers);
- instruments and the errors a caller can meet.

Nothing here reads a clock, draws a random number or prints.
"""

from engine import commands, enums, events, readmodels, unit_commands
from engine.enums import (
    CancelReason,
    Liquidity,
    MarginMode,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TriggerBy,
)
from engine.exchange import Exchange
from engine.instrument import Instrument, InstrumentError, default_instruments, parse_instruments
from engine.protocol import ProtocolError
from engine.readmodels import (
    AccountView,
    BookView,
    InsuranceView,
    OrderView,
    PositionView,
    SymbolView,
)
from engine.units import UnitError

__all__ = [
    "AccountView", "BookView", "CancelReason", "Exchange", "Instrument", "InstrumentError",
    "InsuranceView", "Liquidity", "MarginMode", "OrderType", "OrderView", "PositionView",
    "ProtocolError", "RejectReason", "Side", "StpMode", "SymbolView", "TimeInForce",
    "TriggerBy", "UnitError", "commands", "default_instruments", "enums", "events",
    "parse_instruments", "readmodels", "unit_commands",
]
