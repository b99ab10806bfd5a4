"""The one exception type for errors a user can cause and fix."""


class DoppelError(Exception):
    """A problem with the user's input or environment.

    The message is one sentence that says what went wrong and what to do; the CLI prints it
    on one line and exits with status 2. Bugs raise ordinary exceptions instead.
    """
