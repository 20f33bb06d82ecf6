"""The participant protocol the replay drives."""

from __future__ import annotations

import zlib

import numpy as np

from engine.events import Event
from scenarios.market import Market


def agent_rng(master_seed: int, name: str) -> np.random.Generator:
    """The generator of the participant called ``name``: independent of every other
    participant's and of how many participants the scenario has, so adding a participant does
    not change what the others draw."""
    return np.random.default_rng([master_seed, zlib.crc32(name.encode())])


class Agent:
    """A participant. Subclasses set ``name`` and ``accounts`` and override the hooks.

    The replay calls ``start`` once at the scenario's start (deposit, set leverage), then
    ``wake`` whenever the simulated clock reaches the time the previous call returned (after
    that step's market step has been executed); ``None`` means never again. ``on_event``
    receives the ``Liquidation``, ``Adl`` and ``FundingPayment`` events of the agent's accounts
    and the ``Fill`` events of its accounts when the replay builds fills.
    """

    name: str = "agent"
    accounts: tuple[str, ...] = ()

    def start(self, market: Market) -> int | None:
        return None

    def wake(self, market: Market) -> int | None:
        return None

    def on_event(self, market: Market, event: Event) -> None:
        return None
