"""The market around the exchange (DESIGN.md §6).

- scenario files: ``scenario`` (the TOML format and its loader), ``series`` (their CSV price
  data), ``catalog`` (the bundled ones); ``pricepath`` (the index between real bars and
  anchors, synthetic paths, market hours); ``build`` (a scenario as a ``ReplaySetup``);
- the participants: ``agents`` (makers, arbitrageurs, noise and value traders, the leveraged
  crowd), acting through ``market``;
- the run: ``replay`` (the driver), ``recorder`` / ``record`` (what it keeps), ``strategy`` and
  ``strategies`` (a user's trading code), ``session`` (a replay a person trades into);
- the report: ``report``, ``realism``, ``chart``.

Randomness lives here, drawn from numpy Generators derived from the scenario's seed; the
engine below stays pure.
"""
