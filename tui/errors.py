"""The one error a command line reports without a traceback."""


class UsageError(Exception):
    """A mistake of the user's: reported as one line, exit status 2."""
