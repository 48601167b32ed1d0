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


class Findings:
    """The Problems found in one feed, in the order found; every check reports here."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(
        self,
        el: Element | None,
        rule: str,
        message: str,
        severity: Severity = Severity.ERROR,
        line: int | None = None,
    ) -> None:
        if el is not None and line is None:
            line = el.sourceline
        element = written_name(el) if el is not None else None
        self.problems.append(Problem(self.path, message, severity, line, element, rule))

    def warn(self, el: Element, rule: str, message: str) -> None:
        self.add(el, rule, message, Severity.WARNING)
