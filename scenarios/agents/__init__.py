"""The simulated participants of a scenario, one module a kind (DESIGN.md §6).

Every participant is an ``Agent`` (``base.py``): it owns one or more accounts, wakes on its own
schedule, acts through the replay's ``Market`` and hears of the liquidations, ADL and funding
payments of its accounts. Each draws from its own numpy ``Generator`` derived from the
scenario's master seed.
"""
