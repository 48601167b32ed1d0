"""What every layer of the validator reports into: `Findings` of one feed, naming elements
as the document spells them."""

from __future__ import annotations

from typing import Any

from ..models import Problem, Severity

Element = Any
"""An lxml element. lxml ships no type hints (and the project installs no stubs)."""

ATOM_NS = "http://www.w3.org/2005/Atom"


def written_name(el: Element) -> str:
    """An element's name as the document spells it: `pubDate`, `atom:link`, `entry`."""
    local = str(el.tag).rpartition("}")[2]
    return f"{el.prefix}:{local}" if el.prefix else local


MAX_PER_RULE = 100
"""Findings of one rule shown in full; the rest are counted ("and 4,900 more"), so that a
feed of 200,000 broken items gives an answer a person can read, in time linear in it."""


class Findings:
    """The Problems found in one feed, in the order found; every check reports here."""

    def __init__(self, path: str, warnings: bool = True) -> None:
        self.path = path
        self.warnings = warnings
        """False when only errors are wanted: checks that can only warn may be skipped."""
        self.problems: list[Problem] = []
        self._counts: dict[str, int] = {}
        self._severities: dict[str, Severity] = {}

    def sorted(self) -> list[Problem]:
        """The problems by line, then one "and N more" for each rule past MAX_PER_RULE."""
        more = [
            Problem(
                self.path,
                f"and {count - MAX_PER_RULE:,} more like the {MAX_PER_RULE} above",
                self._severities[rule],
                rule=rule,
            )
            for rule, count in self._counts.items()
            if count > MAX_PER_RULE
        ]
        return sorted(self.problems, key=lambda problem: problem.line or 0) + more

    def add(
        self,
        el: Element | None,
        rule: str,
        message: str,
        severity: Severity = Severity.ERROR,
        line: int | None = None,
    ) -> None:
        count = self._counts[rule] = self._counts.get(rule, 0) + 1
        if count > MAX_PER_RULE:
            self._severities.setdefault(rule, severity)
            return
        self._severities[rule] = severity
        if el is not None and line is None:
            line = el.sourceline
        element = written_name(el) if el is not None else None
        self.problems.append(Problem(self.path, message, severity, line, element, rule))

    def warn(self, el: Element, rule: str, message: str) -> None:
        self.add(el, rule, message, Severity.WARNING)
