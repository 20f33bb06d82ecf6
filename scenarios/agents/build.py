"""The participants of a scenario from its ``[participants]`` table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine import Instrument
from scenarios.agents.arbitrageur import Arbitrageur
from scenarios.agents.base import Agent
from scenarios.agents.crowd import Crowd
from scenarios.agents.market_maker import MarketMaker
from scenarios.agents.noise import NoiseTraders
from scenarios.agents.params import for_symbol, parse


def build_participants(table: Mapping[str, Any], symbols: tuple[str, ...],
                       instruments: Mapping[str, Instrument], master_seed: int) -> list[Agent]:
    """Makers and arbitrageurs per symbol, then the noise traders and the crowd, in a fixed
    order (the replay wakes participants due at the same time in the order they were
    scheduled).

    Raises:
        ParticipantsError: a field that does not validate, named as in the file.
    """
    params, overrides = parse(table)
    agents: list[Agent] = []
    for symbol in symbols:
        makers = for_symbol(params.makers, overrides.get("makers", {}).get(symbol), "makers",
                            symbol)
        for n in range(makers.count):
            agents.append(MarketMaker(f"mm-{symbol}-{n}", symbol, instruments[symbol], makers,
                                      master_seed))
        arbs = for_symbol(params.arbitrageurs, overrides.get("arbitrageurs", {}).get(symbol),
                          "arbitrageurs", symbol)
        for n in range(arbs.count):
            agents.append(Arbitrageur(f"arb-{symbol}-{n}", symbol, instruments[symbol], arbs,
                                      master_seed))
    if params.noise.count:
        agents.append(NoiseTraders("noise", symbols, instruments, params.noise, master_seed))
    if params.crowd.accounts:
        agents.append(Crowd("crowd", symbols, instruments, params.crowd, master_seed))
    return agents
