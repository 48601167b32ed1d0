"""What a build or check did, post by post and feed by feed, and the exit code it means.

This is the one place that turns outcomes into exit codes (`Report.exit_code`,
`validation_exit_code`); exceptions carry their own (errors.py).
"""

from __future__ import annotations

import enum
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from . import __version__
from .errors import ExitCode
from .problems import Problem, Severity
from .websub import PingReport


class PostStatus(enum.StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"
    """An error: the post is named with its reason."""
    IGNORED = "ignored"
    """Not a post (a file with no front matter, such as a README)."""


def not_a_post(problems: Iterable[Problem]) -> PostStatus:
    """The status of a file that gave no post: skipped for an error, else ignored."""
    errors = any(p.severity is Severity.ERROR for p in problems)
    return PostStatus.SKIPPED if errors else PostStatus.IGNORED


class FeedStatus(enum.StrEnum):
    """What became of one feed file in a build."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    """Kept back: it failed validation; the previous file stays."""
    FAILED = "failed"
    """It could not be written (permissions, full disk)."""
    STALE = "stale"
    """One of its posts turned unreadable mid-build; built again without it."""


class PostReport(NamedTuple):
    """What became of one post file, and why. (A named tuple, as `Problem` is.)"""

    path: str
    status: PostStatus
    problems: tuple[Problem, ...]


class PostReports:
    """Every post file's report, by path, without holding them all: how many there are of
    each status and the reports that name problems are here; the whole list is read when
    it is asked for (from the incremental state, for a build of a big site). (A plain
    class, not a dataclass: it is defined at every start-up, and is no value to compare.)"""

    __slots__ = (
        "__weakref__",
        "_load",
        "_load_skipped",
        "_with_problems",
        "close",
        "counts",
        "every",
    )

    def __init__(
        self,
        counts: dict[PostStatus, int],
        with_problems: Callable[[], tuple[PostReport, ...]],
        every: Callable[[], Iterator[PostReport]],
        close: Callable[[], None] = lambda: None,
        skipped: Callable[[], tuple[PostReport, ...]] | None = None,
    ) -> None:
        self.counts = counts
        self._load, self._load_skipped = with_problems, skipped
        self._with_problems: tuple[PostReport, ...] | None = None
        self.every = every
        """Every report, by path, one at a time."""
        self.close = close
        """Let go of what `every` reads from (else let go when these reports are freed)."""

    @classmethod
    def of(cls, reports: Iterable[PostReport]) -> PostReports:
        """Reports held in memory (those of a build that read every post, or of a test)."""
        held = tuple(sorted(reports, key=operator.attrgetter("path")))
        counts = dict(Counter(r.status for r in held))
        with_problems = tuple(r for r in held if r.problems)
        return cls(counts, lambda: with_problems, held.__iter__)

    @property
    def with_problems(self) -> tuple[PostReport, ...]:
        """The reports that name a problem, by path, made when first asked for: a site
        can have tens of thousands of warnings, which a quiet build never shows."""
        if self._with_problems is None:
            self._with_problems = self._load()
        return self._with_problems

    def skipped(self) -> tuple[PostReport, ...]:
        """The reports of the files skipped, by path: the only ones that name errors."""
        if self._with_problems is None and self._load_skipped is not None:
            return self._load_skipped()
        return tuple(r for r in self.with_problems if r.status is PostStatus.SKIPPED)

    def __iter__(self) -> Iterator[PostReport]:
        return self.every()

    def __len__(self) -> int:
        return sum(self.counts.values())

    def count(self, status: PostStatus) -> int:
        return self.counts.get(status, 0)


NO_POSTS = PostReports.of(())


class Report(NamedTuple):
    """What a build or a check did: every post's report, the feed files written, left as
    they were, removed or kept back, and the pings. (A named tuple, as `Problem` is: a
    frozen dataclass of these ten fields costs six times as much to define.)"""

    posts: PostReports = NO_POSTS
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    feed_problems: tuple[Problem, ...] = ()
    """Feeds kept back because they failed validation, or could not be written."""
    output_failed: bool = False
    """A feed could not be written: the output folder is at fault, not the posts."""
    notices: tuple[str, ...] = ()
    seconds: float = 0.0
    files_read: int = 0
    """Post files parsed this build (the others came from the incremental state)."""
    pings: PingReport = PingReport()
    """WebSub pings sent and failed; never part of the exit code."""

    def count(self, status: PostStatus) -> int:
        return self.posts.count(status)

    def warnings(self) -> list[Problem]:
        return [
            pr
            for p in self.posts.with_problems
            for pr in p.problems
            if pr.severity is Severity.WARNING
        ]

    def exit_code(self, strict: bool = False) -> ExitCode:
        if self.output_failed:
            return ExitCode.OUTPUT_FAILED
        if self.feed_problems:
            return ExitCode.FEED_KEPT_BACK
        if self.count(PostStatus.SKIPPED) or (
            strict and (self.warnings() or self.count(PostStatus.IGNORED))
        ):
            return ExitCode.PROBLEMS
        return ExitCode.OK

    def as_json(self, strict: bool = False) -> dict[str, Any]:
        """The report as JSON values; its `posts` are a `JsonPosts`, made one at a time as
        they are written (console.write_report), since a big site has a million."""
        return {
            "generator": f"feedpub {__version__}",
            "exit_code": int(self.exit_code(strict)),
            "seconds": round(self.seconds, 3),
            "posts": JsonPosts(self.posts),
            "feeds": {
                "written": list(self.written),
                "unchanged": list(self.unchanged),
                "removed": list(self.removed),
                "problems": [p.as_dict() for p in self.feed_problems],
            },
            "notices": list(self.notices),
            "pings": self.pings.as_json(),
        }


class JsonPosts:
    """The report's posts as JSON values (`list(...)` them for json.dumps), each made when
    it is reached. (A plain class: a dataclass is defined at every start-up, also of a
    build where nothing changed.)"""

    __slots__ = ("posts",)

    def __init__(self, posts: PostReports) -> None:
        self.posts = posts

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for p in self.posts:
            yield {
                "path": p.path,
                "status": str(p.status),
                "problems": [pr.as_dict() for pr in p.problems],
            }

    def __len__(self) -> int:
        return len(self.posts)


def validation_exit_code(findings: Iterable[Problem], strict: bool = False) -> ExitCode:
    """`feedpub validate`: errors (or, with --strict, any finding) fail."""
    failing = any(p.severity is Severity.ERROR or strict for p in findings)
    return ExitCode.PROBLEMS if failing else ExitCode.OK
