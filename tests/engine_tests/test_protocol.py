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


@pytest.mark.parametrize(("line", "field"), [
    ('{"cmd":"deposit","account":"a","amount":"1_000"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"\u0661\u0660\u0660"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"\uff11\uff10\uff10"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":" 5"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"5\\n"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"\u00a05"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"\\u00a05"}', "amount"),
    ('{"cmd":"withdraw","account":"a","amount":"+5"}', "amount"),
    ('{"cmd":"isolated_margin","account":"a","symbol":"X","amount":"+1e3"}', "amount"),
    ('{"cmd":"deposit","account":"a","amount":"1e3"}', "amount"),
    ('{"cmd":"place","account":"a","symbol":"X","side":"buy","type":"limit",'
     '"qty":"1","price":"7_9.00"}', "price"),
    ('{"cmd":"place","account":"a","symbol":"X","side":"buy","type":"limit",'
     '"qty":"1.","price":"79"}', "qty"),
    ('{"cmd":"place","account":"a","symbol":"X","side":"buy","type":"stop_market",'
     '"qty":"1","trigger_price":".5"}', "trigger_price"),
    ('{"cmd":"amend","account":"a","order_id":1,"qty":" Infinity"}', "qty"),
    ('{"cmd":"index","symbol":"X","price":"NaN "}', "price"),
])
def test_decimal_strings_must_be_plain(line: str, field: str) -> None:
    """Python's Decimal() reads "1_000", other scripts' digits, padding and exponents; the
    wire takes only -, ASCII digits and one decimal point."""
    with pytest.raises(ProtocolError, match=f"^{field}: .* is not a plain decimal number"):
        decode_command(line.encode())


@pytest.mark.parametrize(("line", "value"), [
    (b'{"cmd":"deposit","account":"a","amount":"1000"}', "1000"),
    (b'{"cmd":"deposit","account":"a","amount":"-0.50"}', "-0.50"),
    (b'{"cmd":"deposit","account":"a","amount":5}', "5"),
    (b'{"cmd":"deposit","account":"a","amount":78.5}', "78.5"),
    (b'{"cmd":"deposit","account":"a","amount":1e3}', "1E+3"),
    (b'{"cmd":"deposit","account":"a_b","amount":"\\u0031\\u0030"}', "10"),
])
def test_plain_decimals_and_json_numbers_are_read_exactly(line: bytes, value: str) -> None:
    assert str(decode_command(line).amount) == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "key"), [
    (b'{"cmd":"deposit","account":"a","amount":"-5","amount":"1000"}', "amount"),
    (b'{"cmd":"deposit","cmd":"withdraw","account":"a","amount":"5"}', "cmd"),
    (b'{"cmd":"deposit", "account" : "a","amount":"5", "account":"b"}', "account"),
    (b'{"cmd":"deposit","account":"a","amount":{"x":1,"x":2}}', "x"),
    (b'{"cmd":"deposit","account":"a","am\\u006funt":"5","amount":"6"}', "amount"),
])
def test_duplicate_keys_are_refused(line: bytes, key: str) -> None:
    with pytest.raises(ProtocolError, match=f'^duplicate key "{key}"'):
        decode_command(line)


def test_the_same_key_in_different_objects_is_no_duplicate() -> None:
    with pytest.raises(ProtocolError, match="Expected `decimal`"):
        decode_command(b'{"cmd":"deposit","account":"a","amount":[{"x":1},{"x":2}]}')
