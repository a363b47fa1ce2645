"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class EdgeError(Exception):
    """A user-facing error: the message names what is wrong and how to fix it."""

    exit_code = 2
