"""Commands: what a client asks for, in imperative form, as they arrive on the wire.

Decimals are ``Decimal`` (decoded exactly from a JSON string or number) and are converted to
engine units by the exchange, which rejects what does not fit the instrument. Types and field
names are checked by msgspec when a line is decoded; an unknown field is an error, so a typo
such as ``"prcie"`` is never silently ignored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from engine.enums import MarginMode, OrderType, Side, StpMode, TimeInForce, TriggerBy

AccountId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""Letters, digits and _ . : - only: names such as "@insurance" are the venue's own."""
Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Command(msgspec.Struct, kw_only=True, frozen=True, tag_field="cmd",
              forbid_unknown_fields=True, omit_defaults=True):
    pass


class Deposit(Command, tag="deposit"):
    account: AccountId
    amount: Decimal


class Withdraw(Command, tag="withdraw"):
    account: AccountId
    amount: Decimal


class SetLeverage(Command, tag="leverage"):
    account: AccountId
    symbol: Symbol
    leverage: int


class SetMarginMode(Command, tag="margin_mode"):
    account: AccountId
    symbol: Symbol
    mode: MarginMode


class AdjustIsolatedMargin(Command, tag="isolated_margin"):
    account: AccountId
    symbol: Symbol
    amount: Decimal
    """Signed: positive adds margin from the cross wallet, negative takes it back."""


class PlaceOrder(Command, tag="place"):
    account: AccountId
    symbol: Symbol
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_by: TriggerBy = TriggerBy.MARK
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_id: ClientId | None = None
    stp: StpMode = StpMode.EXPIRE_MAKER


class CancelOrder(Command, tag="cancel"):
    account: AccountId
    order_id: int | None = None
    client_id: ClientId | None = None


class AmendOrder(Command, tag="amend"):
    account: AccountId
    order_id: int | None = None
    client_id: ClientId | None = None
    qty: Decimal | None = None
    price: Decimal | None = None


class CancelAll(Command, tag="cancel_all"):
    account: AccountId
    symbol: Symbol | None = None


class SetIndex(Command, tag="index"):
    symbol: Symbol
    price: Decimal


class AdvanceTime(Command, tag="time"):
    ts: str


class Query(Command, tag="query"):
    what: Literal["account", "book", "instruments", "insurance"]
    account: AccountId | None = None
    symbol: Symbol | None = None
    depth: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10


AnyCommand = (Deposit | Withdraw | SetLeverage | SetMarginMode | AdjustIsolatedMargin
              | PlaceOrder | CancelOrder | AmendOrder | CancelAll | SetIndex | AdvanceTime | Query)
