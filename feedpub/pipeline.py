"""One build: files → posts → feeds → bytes → files, doing only the work that changed.

The stages stay separate (reader, builder, render, validate, writer); this
module runs them in order under the output folder's lock, consults the
incremental state so unchanged posts are not parsed and unchanged feeds are not
rendered, and gathers a `Report` of what happened to every post and feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from . import __version__
from .builder import Build, build_feeds
from .config import Config
from .errors import ConfigError, ExitCode, OutputError
from .models import Content, Feed, Post, Problem, Severity
from .reader import PostError, SourceFile, find_posts, load_content, local_image_stamp, read_post
from .render import render
from .state import State
from .validate import validate_feed
from .writer import OutputFolder

T = TypeVar("T")
Progress = Callable[[Sequence[T], str], Iterable[T]]
"""Wraps work that may take a while (items, label) → the same items, e.g. with a progress bar."""


def no_progress(items: Sequence[T], label: str) -> Iterable[T]:
    return items


@dataclass(frozen=True, slots=True)
class PostReport:
    path: str
    status: str
    """published, draft, scheduled, skipped (an error) or ignored (not a post)."""
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Report:
    posts: tuple[PostReport, ...]
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    feed_problems: tuple[Problem, ...] = ()
    """Feeds kept back because they failed validation, or could not be written."""
    notices: tuple[str, ...] = ()
    seconds: float = 0.0
    files_read: int = 0
    """Post files parsed this build (the others came from the incremental state)."""

    def count(self, status: str) -> int:
        return sum(1 for p in self.posts if p.status == status)

    def warnings(self) -> list[Problem]:
        return [pr for p in self.posts for pr in p.problems if pr.severity is Severity.WARNING]

    def errors(self) -> list[Problem]:
        return [pr for p in self.posts for pr in p.problems if pr.severity is Severity.ERROR]

    def exit_code(self, strict: bool = False) -> ExitCode:
        if any(p.rule == "write-failed" for p in self.feed_problems):
            return ExitCode.OUTPUT_FAILED
        if self.feed_problems:
            return ExitCode.FEED_INVALID
        if self.count("skipped") or (strict and (self.warnings() or self.count("ignored"))):
            return ExitCode.POSTS_SKIPPED
        return ExitCode.OK

    def as_json(self, strict: bool = False) -> dict[str, Any]:
        return {
            "generator": f"feedpub {__version__}",
            "exit_code": int(self.exit_code(strict)),
            "seconds": round(self.seconds, 3),
            "posts": [
                {
                    "path": p.path,
                    "status": p.status,
                    "problems": [pr.as_dict() for pr in p.problems],
                }
                for p in self.posts
            ],
            "feeds": {
                "written": list(self.written),
                "unchanged": list(self.unchanged),
                "removed": list(self.removed),
                "problems": [p.as_dict() for p in self.feed_problems],
            },
            "notices": list(self.notices),
        }


def read_all(
    config: Config, state: State, progress: Progress[SourceFile] = no_progress
) -> tuple[list[tuple[str, Post | None, list[Problem]]], int]:
    """Every post file → (path, Post or None, problems), from the state where unchanged.
    Also returns how many files were actually parsed."""
    if not config.posts.is_dir():
        raise ConfigError(f"{config.posts}: posts folder does not exist")
    files, folder_problems = find_posts(config.posts)
    cached = state.cached_posts()
    results: dict[str, tuple[str, Post | None, list[Problem]]] = {}
    fresh: list[SourceFile] = []
    for file in files:
        hit = cached.get(file.rel)
        if hit is not None and hit.matches(file):
            results[file.rel] = (file.rel, *hit.load())
        else:
            fresh.append(file)
    parsed = [(file, *read_post(file, config)) for file in progress(fresh, "Reading posts")]
    state.remember_posts(parsed)
    state.forget_posts_except({f.rel for f in files})
    for file, post, problems in parsed:
        results[file.rel] = (file.rel, post, problems)
    for problem in folder_problems:
        results.setdefault(problem.path, (problem.path, None, [problem]))
    return [results[path] for path in sorted(results)], len(fresh)


def build(
    config: Config,
    *,
    now: dt.datetime | None = None,
    use_state: bool = True,
    progress: Progress[Any] = no_progress,
) -> Report:
    """Publish the site's feeds into `config.output`."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    folder = OutputFolder(config.output)
    with folder.locked(config.lock_timeout):
        state = State.open(folder.state_dir, config.fingerprint(), enabled=use_state)
        try:
            report = _build_locked(config, folder, state, now, progress)
        finally:
            state.save()
    notices = ((state.warning,) if state.warning else ()) + report.notices
    return Report(
        report.posts,
        report.written,
        report.unchanged,
        report.removed,
        report.feed_problems,
        notices,
        time.perf_counter() - started,
        report.files_read,
    )


def _build_locked(
    config: Config, folder: OutputFolder, state: State, now: dt.datetime, progress: Progress[Any]
) -> Report:
    results, files_read = read_all(config, state, progress)
    problems: dict[str, list[Problem]] = {path: list(probs) for path, _, probs in results}
    posts = {path: post for path, post, _ in results if post is not None}
    contents: dict[str, Content] = {}
    while True:  # until every post the feeds show has a body (a file may change mid-build)
        built = build_feeds(posts.values(), config, now)
        stale = _stale_feeds(built.feeds, config, folder, state)
        missing = [e for f, _ in stale for e in f.entries if e.post.source not in contents]
        failed = False
        for entry in progress(_unique(missing), "Rendering posts"):
            try:
                contents[entry.post.source] = load_content(
                    entry.post, entry.url, config, config.posts
                )
            except PostError as e:
                problems[entry.post.source].append(
                    Problem(entry.post.source, f"changed during the build: {e}", line=e.line)
                )
                del posts[entry.post.source]
                failed = True
        if not failed:
            break
    written, unchanged, feed_problems, fingerprints = _publish(
        built, stale, contents, config, folder, progress
    )
    current = {f.file(fmt) for f in built.feeds for fmt in config.formats}
    old = folder.manifest()
    removed = sorted(old - current)
    for rel in removed:
        folder.remove(rel)
    folder.save_manifest((old & current) | set(written) | set(unchanged))
    state.remember_feeds(fingerprints)
    return Report(
        _post_reports(results, problems, posts, built),
        tuple(written),
        tuple(unchanged),
        tuple(removed),
        tuple(feed_problems),
        files_read=files_read,
    )


def _unique(entries: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for entry in entries:
        seen.setdefault(entry.post.source, entry)
    return list(seen.values())


def _fingerprint(feed: Feed, fmt: str, config: Config) -> str:
    """Everything a feed file's bytes depend on, except what the state's stamp already covers."""
    h = hashlib.sha256()
    for part in (
        fmt,
        feed.title,
        feed.description,
        feed.url,
        feed.alternate,
        feed.updated.isoformat(),
    ):
        h.update(part.encode() + b"\0")
    for entry in feed.entries:
        stamp = local_image_stamp(entry.post.thumbnail, config)
        h.update(
            f"{entry.url}\0{entry.post.digest}\0{entry.updated.isoformat()}\0{stamp}\0".encode()
        )
    return h.hexdigest()


def _stale_feeds(
    feeds: Sequence[Feed], config: Config, folder: OutputFolder, state: State
) -> list[tuple[Feed, list[str]]]:
    """Feeds with at least one format whose file is missing or whose items changed."""
    known = state.feed_fingerprints()
    stale = []
    for feed in feeds:
        formats = [
            fmt
            for fmt in config.formats
            if known.get(feed.file(fmt)) != _fingerprint(feed, fmt, config)
            or not folder.path_of(feed.file(fmt)).is_file()
        ]
        if formats:
            stale.append((feed, formats))
    return stale


def _publish(
    built: Build,
    stale: list[tuple[Feed, list[str]]],
    contents: dict[str, Content],
    config: Config,
    folder: OutputFolder,
    progress: Progress[Any],
) -> tuple[list[str], list[str], list[Problem], dict[str, str]]:
    written: list[str] = []
    unchanged: list[str] = []
    problems: list[Problem] = []
    stale_files = {feed.file(fmt) for feed, formats in stale for fmt in formats}
    fingerprints = {
        feed.file(fmt): _fingerprint(feed, fmt, config)
        for feed in built.feeds
        for fmt in config.formats
        if feed.file(fmt) not in stale_files
    }
    unchanged.extend(sorted(fingerprints))
    jobs = [(feed, fmt) for feed, formats in stale for fmt in formats]
    for feed, fmt in progress(jobs, "Writing feeds"):
        rel = feed.file(fmt)
        data = render(feed, fmt, contents, config)
        errors = [
            p
            for p in validate_feed(data, rel, self_url=feed.file_url(fmt))
            if p.severity is Severity.ERROR
        ]
        if errors:
            problems.extend(errors)
            continue
        try:
            changed = folder.write(rel, data)
        except OutputError as e:
            problems.append(Problem(rel, str(e), rule="write-failed"))
            break  # a full or read-only disk fails every later write too
        (written if changed else unchanged).append(rel)
        fingerprints[rel] = _fingerprint(feed, fmt, config)
    return written, unchanged, problems, fingerprints


def _post_reports(
    results: Sequence[tuple[str, Post | None, list[Problem]]],
    problems: dict[str, list[Problem]],
    posts: dict[str, Post],
    built: Build,
) -> tuple[PostReport, ...]:
    drafts = {p.source for p in built.drafts}
    scheduled = {p.source for p in built.scheduled}
    for problem in built.problems:
        problems[problem.path].append(problem)
    reports = []
    for path, _, _ in results:
        if path in drafts:
            status = "draft"
        elif path in scheduled:
            status = "scheduled"
        elif path in posts:
            status = "published"
        elif any(p.severity is Severity.ERROR for p in problems[path]):
            status = "skipped"
        else:
            status = "ignored"
        reports.append(PostReport(path, status, tuple(problems[path])))
    return tuple(reports)


def check(config: Config, progress: Progress[Any] = no_progress) -> Report:
    """Read every post as a build would and group them into feeds; write nothing."""
    started = time.perf_counter()
    results, files_read = read_all(config, State(None), progress)
    posts = {path: post for path, post, _ in results if post is not None}
    problems = {path: list(probs) for path, _, probs in results}
    built = build_feeds(posts.values(), config, dt.datetime.now(dt.UTC))
    return Report(
        _post_reports(results, problems, posts, built),
        seconds=time.perf_counter() - started,
        files_read=files_read,
    )
