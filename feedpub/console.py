"""What a person at a terminal, or cron, sees of a command: each problem on a line, the
summary, a progress bar on long work, the exit-code table, and the JSON report."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from .config import Config
from .errors import ExitCode
from .problems import Problem, Severity
from .report import PostStatus, Report

if TYPE_CHECKING:
    from .workers import Progress

T = TypeVar("T")
_PROGRESS_DELAY = 0.5


def exit_code_table() -> str:
    """The help text's table, made from ExitCode (click keeps a \\b paragraph as it is)."""
    import textwrap

    lines = ["\b", "Exit codes:"]
    for code in ExitCode:
        first, *rest = textwrap.wrap(code.meaning, 60)
        lines += [f"{code.value:>3}  {first}", *(f"     {line}" for line in rest)]
    return "\n".join(lines)


def write_report(path: Path, data: dict[str, Any]) -> None:
    """`json.dumps(data, ensure_ascii=False, indent=1)` and a newline, byte for byte (with
    the posts listed), each post that has no problems written from a template: json
    indents in Python, not in C, and a cron job's report of a big site names every post."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(_report_parts(data))
        out.write("\n")


def _report_parts(data: dict[str, Any]) -> Iterator[str]:
    """The report's text in parts, the posts a thousand at a time (a report.JsonPosts is
    read from the state as it goes, never held whole)."""
    posts = data.get("posts")
    if posts is None or not len(posts):
        yield json.dumps(
            data if posts is None else data | {"posts": []}, ensure_ascii=False, indent=1
        )
        return
    text = json.dumps(data | {"posts": []}, ensure_ascii=False, indent=1)
    head, found, tail = text.partition('\n "posts": []')
    assert found, "the report's posts are a member of the top object"
    yield f'{head}\n "posts": [\n'
    separator, part = "", []
    for item in map(_post_text, posts):
        part.append(item)
        if len(part) == _REPORT_PART:
            yield separator + ",\n".join(part)
            separator, part = ",\n", []
    if part:
        yield separator + ",\n".join(part)
    yield f"\n ]{tail}"


_REPORT_PART = 1000


def _post_text(post: Any) -> str:
    """One post of the report's list, as json.dumps would indent it there."""
    if (
        type(post) is dict
        and list(post) == _POST_KEYS
        and post["problems"] == []
        and type(post["path"]) is str
        and type(post["status"]) is str
    ):
        path, status = _string(post["path"]), _string(post["status"])
        return f'  {{\n   "path": {path},\n   "status": {status},\n   "problems": []\n  }}'
    return "  " + json.dumps(post, ensure_ascii=False, indent=1).replace("\n", "\n  ")


_POST_KEYS = ["path", "status", "problems"]
_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes a str as


def finish(
    result: Report,
    config: Config,
    strict: bool,
    quiet: bool,
    report: Path | None,
    verb: str,
) -> NoReturn:
    """Print the problems and the summary, write the report, and exit with the code."""
    posts = config.posts
    code = result.exit_code(strict)
    # Quiet, only errors are shown, and only a skipped file's report names any.
    shown = result.posts.skipped() if quiet and not strict else result.posts.with_problems
    for post in shown:
        for problem in post.problems:
            if not quiet or problem.severity is Severity.ERROR or strict:
                click.echo(_located(problem, posts), err=True)
    for problem in result.feed_problems:
        click.echo(str(problem), err=True)
    for notice in result.notices:
        if not quiet:
            click.echo(f"note: {notice}", err=True)
    for warning in result.pings.warnings():
        if not quiet or strict:
            click.echo(warning, err=True)
    if report is not None:
        write_report(report, result.as_json(strict))
    if not quiet:
        if config.site is not None:
            click.echo(config.site.describe())
        click.echo(_summary(result, verb))
    result.posts.close()  # now, not when the exit's traceback is collected
    sys.exit(int(code))


def _located(problem: Problem, posts: Path) -> str:
    """The problem as `str(problem)` says it, with the path a shell can open."""
    return str(problem._replace(path=str(posts / problem.path)))


def _summary(result: Report, verb: str) -> str:
    parts = [f"{result.count(PostStatus.PUBLISHED)} {verb}"]
    for status, one, many in (
        (PostStatus.DRAFT, "draft", "drafts"),
        (PostStatus.SCHEDULED, "scheduled", "scheduled"),
        (PostStatus.SKIPPED, "skipped", "skipped"),
        (PostStatus.IGNORED, "not a post", "not posts"),
    ):
        if count := result.count(status):
            parts.append(f"{count} {one if count == 1 else many}")
    warned = len({p.path for p in result.warnings()})
    if warned:
        parts.append(f"{warned} with warnings")
    files = len(result.posts)
    lines = [
        f"{files} file{'' if files == 1 else 's'} read ({result.files_read} parsed): "
        + ", ".join(parts)
    ]
    if verb == "published":
        feeds = f"Feeds: {len(result.written)} written, {len(result.unchanged)} unchanged"
        if result.removed:
            feeds += f", {len(result.removed)} removed"
        if result.feed_problems:
            feeds += f", {len(result.feed_problems)} kept back (see above)"
        lines.append(feeds)
        pings = result.pings
        if pings.sent or pings.pending:
            line = f"WebSub pings: {len(pings.sent)} sent"
            if pings.failed:
                line += f", {len(pings.failed)} failed"
            if pings.skipped:
                line += f", {len(pings.skipped)} held back (--no-ping)"
            if pings.pending:
                line += " (kept for the next build)"
            lines.append(line)
    lines.append(f"Done in {result.seconds:.2f} s")
    return "\n".join(lines)


def progress(quiet: bool) -> Progress:
    """A progress bar on an interactive terminal, for work that takes more than a moment."""
    enabled = not quiet and sys.stderr.isatty()

    def wrap(items: Sequence[T], label: str) -> Iterable[T]:
        return _delayed_bar(items, label) if enabled and len(items) > 1 else items

    return wrap


def _delayed_bar(items: Sequence[T], label: str) -> Iterator[T]:
    """Shows a bar only once the work has taken longer than _PROGRESS_DELAY."""
    started = time.monotonic()
    for done, item in enumerate(items):
        if time.monotonic() - started > _PROGRESS_DELAY:
            with click.progressbar(length=len(items), label=label, file=sys.stderr) as bar:
                bar.update(done)
                for rest in items[done:]:
                    yield rest
                    bar.update(1)
            return
        yield item
