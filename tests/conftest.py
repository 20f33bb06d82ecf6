"""Shared builders for the test suites.

``Venue`` drives an ``Exchange`` through the same decode/render path as ``perpsim exec`` and
checks every invariant after every command, so each test also asserts DESIGN.md §3.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
import pytest
from hypothesis import settings

from engine import Exchange
from engine.instrument import Instrument
from engine.protocol import EventWriter, decode_command

START = "2026-01-07T10:00:00Z"

# CI runs a fixed set of examples, so that a landing never hangs on a new random find; local
# runs keep exploring (and a find there becomes a test of its own).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden event files from the current engine (then review)")


class Venue:
    """An exchange spoken to in protocol terms: ``venue("place", account=..., ...)``."""

    def __init__(self, instruments: dict[str, Instrument] | None = None) -> None:
        self.exchange = Exchange(instruments)
        self.writer = EventWriter(self.exchange.instruments)

    def __call__(self, cmd: str, **fields: Any) -> list[dict[str, Any]]:
        command = decode_command(msgspec.json.encode({"cmd": cmd, **fields}))
        events = [self.writer.to_dict(event) for event in self.exchange.execute(command)]
        self.exchange.check_invariants()
        return events

    def one(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Run a command that must cause exactly one event, and return it."""
        events = self(cmd, **fields)
        assert len(events) == 1, f"expected one event, got {events}"
        return events[0]

    def account(self, account: str) -> dict[str, Any]:
        return self.one("query", what="account", account=account)

    def book(self, symbol: str, depth: int = 10) -> dict[str, Any]:
        return self.one("query", what="book", symbol=symbol, depth=depth)


def names(events: list[dict[str, Any]]) -> list[str]:
    """The event names, in order: the shape of what happened."""
    return [event["event"] for event in events]


def of(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == name]


@pytest.fixture
def venue() -> Venue:
    """Default instruments at 2026-01-07 10:00 UTC with index prices set; no accounts yet."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol="BTCUSDT", price="90000.00")
    v("index", symbol="XAUUSDT", price="4450.00")
    v("index", symbol="XAGUSDT", price="78.50")
    return v
