"""`Problem`: something wrong with one input or output file, and how bad (`Severity`).

Every stage says what is wrong as a `Problem`, also a build where nothing changed (the
reports of the last build): so it is here, apart from models.py's posts and feeds, which
such a build never makes (five frozen dataclasses it would define at start-up).
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple


class Severity(enum.StrEnum):
    """How bad a problem is. An error drops the post (or keeps a feed back);
    a warning publishes it anyway."""

    ERROR = "error"
    WARNING = "warning"


class Problem(NamedTuple):
    """Something wrong with one input or output file, said so a person can fix it.

    `path` is the post's path relative to the posts folder (or a feed's path
    relative to the output folder); `line` is 1-based where a parser gave one.

    A named tuple, not a frozen dataclass: every start-up defines it (also a build where
    nothing changed), and a dataclass costs five times as much to define.
    """

    path: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None
    element: str | None = None
    """The XML element (in a feed) or front-matter field (in a post) at fault."""
    rule: str | None = None
    """A short, stable name for the rule broken, for scripts and tests."""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}: {self.severity}: {self.message}{rule}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(
            data["path"],
            data["message"],
            Severity(data["severity"]),
            data["line"],
            data["element"],
            data["rule"],
        )

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "path": self.path,
            "severity": str(self.severity),
            "line": self.line,
            "element": self.element,
            "rule": self.rule,
            "message": self.message,
        }
