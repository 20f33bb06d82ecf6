"""The bundled scenarios, for ``perpsim scenarios``."""

from __future__ import annotations

from datetime import datetime

import msgspec

from scenarios.scenario import bundled_names, load_scenario


class ScenarioSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    """One line."""
    start: datetime
    end: datetime
    real: str
    """What is real data (the rest is synthesized)."""


def bundled() -> list[ScenarioSummary]:
    """Every bundled scenario, by name; each is fully loaded, so a broken one raises
    ``ScenarioError`` here rather than at replay time."""
    summaries = []
    for name in bundled_names():
        header = load_scenario(name).spec.scenario
        summaries.append(ScenarioSummary(name=header.name, description=header.description,
                                         start=header.start, end=header.end, real=header.real))
    return summaries
