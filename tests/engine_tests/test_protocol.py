"""The wire format: every number an event carries is written in its unit."""

from __future__ import annotations

import typing

import pytest

from engine import events as e
from engine.protocol import (
    CASH_FIELDS,
    PRICE_FIELDS,
    QTY_FIELDS,
    RATE_FIELDS,
    TIME_FIELDS,
    ProtocolError,
    decode_command,
)

COUNTS = {"seq", "order_id", "trade_id", "leverage", "line"}
"""Integer fields that are identifiers or plain counts, written as JSON integers."""


@pytest.mark.parametrize("cls", e.Event.__subclasses__(), ids=lambda c: c.__name__)
def test_every_integer_field_has_a_unit(cls: type[e.Event]) -> None:
    """An int field that is neither a count nor in a unit table would reach the wire as raw
    engine units (ticks, lots, 1e-8 USDT): a silent factor-of-a-million error."""
    known = PRICE_FIELDS | QTY_FIELDS | CASH_FIELDS | RATE_FIELDS | TIME_FIELDS | COUNTS
    hints = typing.get_type_hints(cls)
    raw = [f for f in cls.__struct_fields__ if "int" in str(hints[f]) and f not in known]
    assert raw == [], f"{cls.__name__}: no unit for {raw}"


@pytest.mark.parametrize(("line", "message"), [
    (b'{"cmd":"deposit","account":"@insurance","amount":"1"}', "$.account"),
    (b'{"cmd":"deposit","account":"","amount":"1"}', "$.account"),
    (b'{"cmd":"place","account":"a"}', "missing required field"),
    (b'[1,2]', "Expected `object`"),
])
def test_malformed_commands_name_the_problem(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("$", r"\$").replace("[", r"\[")):
        decode_command(line)
