"""Example strategies to copy: run one with
``perpsim replay SCENARIO --strategy scenarios/strategies/FILE.py:CLASS``.

- ``buy_and_hold.py:LeveragedBuyAndHold``: a leveraged long opened at the start, with an
  optional stop-loss and take-profit.
- ``grid.py:Grid``: a ladder of limit orders around the mark that buys low and sells one step
  higher, re-centred when the price leaves it.

Each file imports only ``scenarios.strategy``, so a copy works anywhere.
"""
