"""The error a broken invariant raises.

A broken invariant is a bug in the engine, never a user's mistake (those are ``rejected`` or
``error`` events). It is raised, not asserted, so that ``python -O`` checks it too; it derives
from AssertionError so that a test that expects a failed check reads naturally.
"""


class InvariantViolation(AssertionError):
    """An invariant of DESIGN.md §3 does not hold; the message says which and where."""
