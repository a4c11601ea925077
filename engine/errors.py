"""The one exception hierarchy of hanchot.

Every error a user can cause derives from :class:`HanchotError`; the CLI prints
its message (no traceback) and exits with :attr:`HanchotError.exit_code`:

- 1 the check asked for failed (a message could not be sent),
- 2 bad usage, input or configuration (also a bad database URL, a database that
  cannot be created, another daemon holding the lock),
- 3 the database is unusable: not a database, damaged, unreachable,
- 4 the disk is full: nothing was half-written (every change is one transaction).
"""

from __future__ import annotations


class HanchotError(Exception):
    """Something hanchot cannot do with the input it was given."""

    exit_code = 2

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or default_message(type(self)))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputError(HanchotError):
    """Bad input on the command line or in a data file (a date, a span, a roll word)."""


class CalendarRangeError(InputError):
    """A date outside the years the Vietnamese calendar covers."""


class ConfigError(HanchotError):
    """A configuration or rules file is invalid.

    Carries every problem found in one run, each as ``file:line: message``.
    """

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(None, None, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problem:
    """One fault at one place: ``file:line: message``."""

    __slots__ = ("file", "line", "message")

    def __init__(self, file: str | None, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.file!r}, {self.line!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.file, self.line, self.message) == (
            other.file,
            other.line,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.message))


def default_message(cls: type[HanchotError]) -> str:
    """The message of an error raised without one, in the current language: the
    docstring's first sentence of the nearest class that has a default here."""
    from engine.i18n import _

    defaults = {
        HanchotError: _("Something hanchot cannot do with the input it was given."),
        InputError: _(
            "Bad input on the command line or in a data file (a date, a span, a roll word)."
        ),
        CalendarRangeError: _("A date outside the years the Vietnamese calendar covers."),
        ConfigError: _("A configuration or rules file is invalid."),
        StoreError: _(
            "The tracking database refused an operation (unknown deadline, locked, ...)."
        ),
        DatabaseFault: _("The database is unusable: not a database file, damaged, or unreachable."),
        DiskFull: _("The disk (or quota) is full; the change in progress was rolled back."),
        SendError: _("A message could not be handed to the SMTP server."),
    }
    return next(defaults[k] for k in cls.__mro__ if k in defaults)


class StoreError(HanchotError):
    """The tracking database refused an operation (unknown deadline, locked, ...)."""


class DatabaseFault(StoreError):
    """The database is unusable: not a database file, damaged, or unreachable."""

    # 3 and 4 are `run --once`'s "deferred" and "failed" (SPEC §5.1).
    exit_code = 5


class DiskFull(StoreError):
    """The disk (or quota) is full; the change in progress was rolled back."""

    exit_code = 6


class SendError(HanchotError):
    """A message could not be handed to the SMTP server.

    ``retryable`` says whether trying again later can help (4xx, connection
    refused, timeout) or not (5xx: the server refused the recipient for good).
    """

    exit_code = 1

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
