"""perpsim's exchange core: pure, deterministic, integer arithmetic.

The public surface: ``Exchange`` (the facade), the command and event types, instruments and the
JSON Lines protocol. Nothing here reads a clock, draws a random number or prints.
"""

from engine.exchange import Exchange
from engine.instrument import Instrument, InstrumentError, default_instruments, parse_instruments

__all__ = ["Exchange", "Instrument", "InstrumentError", "default_instruments",
           "parse_instruments"]
