"""feedpub's exceptions and exit codes: the one place that says what a failure means.

    FeedpubError                 any failure that stops a command (message, exit code)
    ├── ConfigError              bad feedpub.toml or option            → 2
    ├── LockTimeout              another build holds the output folder → 5
    └── OutputError              the output folder cannot be written   → 4
    PostError                    one post cannot be published: the build goes on without it

A bad post is not a command failure: `PostError` is caught where a post is read and
becomes a `Problem` (see models.py). The CLI turns every other exception into one
line and an `ExitCode` in one funnel (`cli._Group`); a finished build or validation
gets its code from `report.py`.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes; the help text's table and the README's are made from `meaning`."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ExitCode:
        code = int.__new__(cls, value)
        code._value_ = value
        code.meaning = meaning
        return code

    OK = 0, "Everything was published (or checked, or is valid)."
    PROBLEMS = (
        1,
        "Feeds were written, but some posts were skipped (with --strict: or warned about). "
        "For validate: a feed has errors.",
    )
    USAGE = 2, "Configuration or usage error; nothing was written."
    FEED_KEPT_BACK = (
        3,
        "A feed was kept back: it failed validation, or two categories would share its folder. "
        "Its previous file was kept; every other feed was published.",
    )
    OUTPUT_FAILED = (
        4,
        "Feeds could not be written (permissions, full disk); previous files are intact.",
    )
    LOCKED = 5, "Another build held the output folder longer than lock_timeout / --wait."
    INTERNAL = (
        70,
        "Internal error in feedpub (please report it; FEEDPUB_DEBUG=1 shows the traceback).",
    )


class FeedpubError(Exception):
    exit_code = ExitCode.USAGE


class ConfigError(FeedpubError):
    exit_code = ExitCode.USAGE


class LockTimeout(FeedpubError):
    exit_code = ExitCode.LOCKED


class OutputError(FeedpubError):
    exit_code = ExitCode.OUTPUT_FAILED


class PostError(Exception):
    """One post cannot be published; the build goes on without it."""

    def __init__(self, message: str, line: int | None = None, element: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.element = element


def describe_bug(error: Exception) -> str:
    """What to say of an exception feedpub did not expect while it read one post."""
    return f"{type(error).__name__}: {error} (a bug in feedpub: please report it with this file)"
