"""Errors grouped by what the caller must do about them. Every message names what is wrong and the fix.

The classes are siblings, so no `except` clause depends on the order it comes in:
- `UserError`: bad input, config or environment; fix it and run again.
- `Unavailable`: something we depend on is down (the central database); nothing is lost, try again later.
- `Rejected`: the other side refuses what we sent (a batch, a row); it is set aside, the rest flows on.
- `Fatal`: work was lost or cannot go on; an operator must look.
The CLI turns each into one line on stderr and exit code 2 (edge/cli_errors.py).
"""


class EdgeError(Exception):
    """Base of the errors below; raise one of them, not this."""

    exit_code = 2


class UserError(EdgeError):
    """Bad input, config or environment: the user fixes it and runs the command again."""


class Unavailable(EdgeError):
    """A service we depend on cannot be reached now: retry later; nothing was lost."""


class Rejected(EdgeError):
    """The other side refused what was sent: it is set aside (dead letters), the rest goes on."""


class Fatal(EdgeError):
    """Work was lost or cannot continue: an operator must look."""
