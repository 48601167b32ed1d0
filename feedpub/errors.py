"""feedpub's exceptions, and the exit code each one means to a cron job.

    FeedpubError                 any failure that stops a command (message, exit code)
    ├── ConfigError              bad feedpub.toml or option            → 2
    ├── LockTimeout              another build holds the output folder → 5
    └── OutputError              the output folder cannot be written   → 4

A bad post is not an exception: it is a `Problem` (see models.py), and a build
goes on without it. These exceptions are for what stops a whole command.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes, documented in the README and in `feedpub --help`."""

    OK = 0
    """Everything was published (or checked) without a problem."""
    POSTS_SKIPPED = 1
    """Feeds were written, but some posts were skipped (or, with --strict, warned about)."""
    USAGE = 2
    """Configuration or usage error: nothing was written."""
    FEED_KEPT_BACK = 3
    """A feed was kept back (it failed validation, or two categories would share its
    folder); its previous file is still in place."""
    OUTPUT_FAILED = 4
    """Feeds could not be written (permissions, full disk); previous files are intact."""
    LOCKED = 5
    """Another build held the output folder for longer than the lock timeout."""


class FeedpubError(Exception):
    exit_code = ExitCode.USAGE


class ConfigError(FeedpubError):
    exit_code = ExitCode.USAGE


class LockTimeout(FeedpubError):
    exit_code = ExitCode.LOCKED


class OutputError(FeedpubError):
    exit_code = ExitCode.OUTPUT_FAILED
