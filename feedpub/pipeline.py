"""One build: files → posts → feeds → bytes → files, doing only the work that changed.

The stages stay separate (reader, builder, render, validate, writer); this
module runs them in order under the output folder's lock and gathers a
`Report` of what happened to every post and feed. It also decides how little
work a build can get away with:

- a build that finds the same files, settings and outputs as the last one, with
  no scheduled post come due, returns the last report and touches nothing;
- unchanged post files are not parsed again (the incremental state remembers them);
- only feeds whose items changed are rendered, validated and written;
- big batches of parsing and publishing are spread over the cores (workers.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from . import __version__, workers
from .builder import Build, build_feeds
from .config import Config
from .errors import ConfigError, ExitCode, OutputError
from .models import FEED_FILES, Content, Feed, Post, Problem, Severity
from .sources import SourceFile, find_posts, local_image_stamp
from .state import State, encode_post, encode_problems
from .writer import OutputFolder

T = TypeVar("T")
Progress = Callable[[Sequence[T], str], Iterable[T]]
"""Wraps work that may take a while (items, label) → the same items, e.g. with a progress bar."""

# Below these amounts of work, starting worker processes costs more than it saves.
PARALLEL_POSTS = 400
PARALLEL_FEED_FILES = 24
_BATCHES_PER_WORKER = 4


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

    def exit_code(self, strict: bool = False) -> ExitCode:
        if any(p.rule == "write-failed" for p in self.feed_problems):
            return ExitCode.OUTPUT_FAILED
        if self.feed_problems:
            return ExitCode.FEED_KEPT_BACK
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
            files, folder_problems = _scan(config)
            scan = _scan_digest(files, folder_problems)
            report = _unchanged_since_last_build(state.last_build(), scan, now, folder, config)
            if report is None:
                report = _build(config, folder, state, files, folder_problems, scan, now, progress)
        finally:
            state.save()
    notices = ((state.warning,) if state.warning else ()) + report.notices
    return dataclasses.replace(report, notices=notices, seconds=time.perf_counter() - started)


def check(config: Config, progress: Progress[Any] = no_progress) -> Report:
    """Read every post as a build would and group them into feeds; write nothing."""
    started = time.perf_counter()
    files, folder_problems = _scan(config)
    results, parsed = _read(files, folder_problems, config, State(None), progress)
    posts = {path: post for path, post, _ in results if post is not None}
    problems = {path: list(probs) for path, _, probs in results}
    built = build_feeds(posts.values(), config, dt.datetime.now(dt.UTC))
    reports = _post_reports(results, problems, posts, built)
    return Report(reports, seconds=time.perf_counter() - started, files_read=parsed)


def _scan(config: Config) -> tuple[list[SourceFile], list[Problem]]:
    if not config.posts.is_dir():
        raise ConfigError(f"{config.posts}: posts folder does not exist")
    return find_posts(config.posts)


def _scan_digest(files: Sequence[SourceFile], problems: Sequence[Problem]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(
            f"{f.rel}\0{f.size}\0{f.mtime_ns}\0{f.ctime_ns}\0{f.inode}\n".encode(
                "utf-8", "surrogateescape"
            )
        )
    for p in problems:
        h.update(f"{p}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _unchanged_since_last_build(
    last: dict[str, Any] | None, scan: str, now: dt.datetime, folder: OutputFolder, config: Config
) -> Report | None:
    """The last build's report if rebuilding could not change a byte, else None.

    Same post files (path, size, times, inode), same settings and version (the
    state's stamp), no scheduled post come due, every feed file as it was written
    and every local image behind an enclosure as it was.
    """
    try:
        if (
            not last
            or last["scan"] != scan
            or (last["due"] and now >= dt.datetime.fromisoformat(last["due"]))
        ):
            return None
        for rel, (size, mtime_ns) in last["outputs"].items():
            stat = folder.stat(rel)
            if stat is None or (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                return None
        if any(local_image_stamp(url, config) != stamp for url, stamp in last["images"].items()):
            return None
        posts = tuple(
            PostReport(path, status, tuple(map(Problem.from_dict, problems)) if problems else ())
            for path, status, problems in last["posts"]
        )
    # A feed gone or moved, or a record that is not what we wrote: build.
    except (OSError, OutputError, KeyError, TypeError, ValueError):
        return None
    return Report(posts, unchanged=tuple(sorted(last["outputs"])))


def _read(
    files: Sequence[SourceFile],
    folder_problems: Sequence[Problem],
    config: Config,
    state: State,
    progress: Progress[Any],
) -> tuple[list[tuple[str, Post | None, list[Problem]]], int]:
    """Every post file → (path, Post or None, problems), from the state where unchanged;
    and how many files had to be parsed."""
    cached = state.cached_posts()
    results: dict[str, tuple[str, Post | None, list[Problem]]] = {}
    fresh: list[SourceFile] = []
    try:
        for file in files:
            hit = cached.get(file.rel)
            if hit is not None and hit.matches(file):
                results[file.rel] = (file.rel, *hit.load())
            else:
                fresh.append(file)
    except (ValueError, TypeError, KeyError) as e:  # a row we did not write: trust none of them
        state.discard(f"{type(e).__name__}: {e}")
        results, fresh = {}, list(files)
    processes = workers.worker_count(config.jobs, len(fresh), PARALLEL_POSTS)
    tasks = workers.batches(fresh, processes * _BATCHES_PER_WORKER)
    read_batch = functools.partial(_read_batch, config=config)
    for batch in _with_progress(read_batch, tasks, processes, progress, "Reading posts"):
        for file, post, problems, _ in batch:
            results[file.rel] = (file.rel, post, problems)
        # Stored as they come, so the encoded rows of a big site are never all held at once.
        state.remember_posts((file, *encoded) for file, _, _, encoded in batch)
    state.forget_posts(set(cached) - {f.rel for f in files})
    for problem in folder_problems:
        results.setdefault(problem.path, (problem.path, None, [problem]))
    return [results[path] for path in sorted(results)], len(fresh)


def _with_progress(
    function: Callable[[T], Any],
    tasks: Sequence[T],
    processes: int,
    progress: Progress[Any],
    label: str,
) -> Iterable[Any]:
    """Results of workers.run, advancing the progress bar as each one arrives."""
    results = workers.run(function, tasks, processes)
    for _ in progress(tasks, label):
        yield next(results)


def _read_batch(
    files: Sequence[SourceFile], config: Config
) -> list[tuple[SourceFile, Post | None, list[Problem], tuple[tuple[Any, ...], str]]]:
    """Parse files, and encode them for the state here too: in a worker, that is parallel."""
    from .reader import read_post  # the parsers are imported only when a post has to be read

    batch = []
    for file in files:
        post, problems = read_post(file, config)
        encoded = (encode_post(post), encode_problems(problems))
        batch.append((file, post, problems, encoded))
    return batch


def _build(
    config: Config,
    folder: OutputFolder,
    state: State,
    files: Sequence[SourceFile],
    folder_problems: Sequence[Problem],
    scan: str,
    now: dt.datetime,
    progress: Progress[Any],
) -> Report:
    results, parsed = _read(files, folder_problems, config, state, progress)
    problems: dict[str, list[Problem]] = {path: list(probs) for path, _, probs in results}
    posts = {path: post for path, post, _ in results if post is not None}
    known = state.feed_fingerprints()
    outcomes: dict[str, _Outcome] = {}
    attempted: set[str] = set()
    while True:  # again only if a post changed into something unreadable mid-build
        built = build_feeds(posts.values(), config, now)
        images = _image_stamps(built.feeds, config)
        jobs = [
            _Job(feed, fmt, fingerprint)
            for feed in built.feeds
            for fmt in config.formats
            if (fingerprint := _fingerprint(feed, fmt, images)) != known.get(feed.file(fmt))
            or folder.stat(feed.file(fmt)) is None
        ]
        attempted.update(job.feed.file(job.fmt) for job in jobs)
        broken: dict[str, Problem] = {}
        for outcome in _publish(jobs, config, progress):
            outcomes[outcome.file] = outcome
            broken.update(outcome.broken_posts)
            if outcome.status in ("written", "unchanged"):
                known[outcome.file] = outcome.fingerprint
            if outcome.status == "failed":
                break  # a full or read-only disk fails every later write too
        if not broken:
            break
        for source, problem in broken.items():
            problems[source].append(problem)
            del posts[source]

    current = {f.file(fmt) for f in built.feeds for fmt in config.formats}
    written = sorted(f for f, o in outcomes.items() if o.status == "written" and f in current)
    feed_problems = [p for f, o in outcomes.items() if f in current for p in o.problems]
    kept_back = [
        p for p in built.collisions if p.path.endswith(tuple(FEED_FILES[f] for f in config.formats))
    ]
    feed_problems += kept_back
    current |= {p.path for p in kept_back}  # a kept-back feed keeps its previous file
    unchanged = sorted(
        (current - attempted - {p.path for p in kept_back})
        | {f for f, o in outcomes.items() if o.status == "unchanged" and f in current}
    )
    old = folder.manifest()
    removed = sorted(old - current)
    for rel in removed:
        folder.remove(rel)
    folder.save_manifest((old & current) | set(written) | set(unchanged))
    state.remember_feeds({f: fp for f, fp in known.items() if f in current})
    report = Report(
        _post_reports(results, problems, posts, built),
        tuple(written),
        tuple(unchanged),
        tuple(removed),
        tuple(feed_problems),
        files_read=parsed,
    )
    state.remember_last_build(
        None if feed_problems else _last_build(report, scan, built, folder, images)
    )
    return report


def _fingerprint(feed: Feed, fmt: str, images: dict[str, str]) -> str:
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
        stamp = images.get(entry.post.thumbnail or "", "")
        h.update(
            f"{entry.url}\0{entry.post.digest}\0{entry.updated.isoformat()}\0{stamp}\0".encode()
        )
    return h.hexdigest()


def _image_stamps(feeds: Sequence[Feed], config: Config) -> dict[str, str]:
    """The stamp of every local image behind an enclosure, taken once per build: a post is
    in several feeds, each in two formats, and each stamp costs a resolve and a stat."""
    stamps: dict[str, str] = {}
    for feed in feeds:
        for entry in feed.entries:
            url = entry.post.thumbnail
            if url and url not in stamps:
                stamps[url] = local_image_stamp(url, config)
    return stamps


@dataclass(frozen=True, slots=True)
class _Job:
    feed: Feed
    fmt: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    file: str
    status: Literal["written", "unchanged", "invalid", "failed", "stale"]
    """invalid: kept back; failed: could not be written; stale: one of its posts broke."""
    fingerprint: str
    problems: tuple[Problem, ...] = ()
    broken_posts: dict[str, Problem] = dataclasses.field(default_factory=dict)


def _publish(jobs: Sequence[_Job], config: Config, progress: Progress[Any]) -> Iterable[_Outcome]:
    """Render, validate and write every job's feed file, spread over the cores when it pays.

    Jobs are grouped by top-level category: the feeds of one subtree share their
    posts, so each post's body is read and sanitised once per group.
    """
    groups: dict[tuple[str, ...], list[_Job]] = defaultdict(list)
    for job in jobs:
        groups[job.feed.category[:1]].append(job)
    tasks = sorted(groups.values(), key=len, reverse=True)  # biggest first, for an even spread
    processes = workers.worker_count(config.jobs, len(jobs), PARALLEL_FEED_FILES)
    publish_group = functools.partial(_publish_group, config=config)
    for outcomes in _with_progress(publish_group, tasks, processes, progress, "Writing feeds"):
        yield from outcomes


def _publish_group(jobs: Sequence[_Job], config: Config) -> list[_Outcome]:
    # The renderer (feedgen), the validator (lxml) and the body sanitiser are imported
    # only when a feed has to be written.
    from .reader import PostError, load_content
    from .render import render
    from .validate import validate_feed

    folder = OutputFolder(config.output)
    contents: dict[str, Content] = {}
    broken: dict[str, Problem] = {}
    outcomes = []
    for job in jobs:
        rel = job.feed.file(job.fmt)
        for entry in job.feed.entries:
            source = entry.post.source
            if source not in contents and source not in broken:
                try:
                    contents[source] = load_content(entry.post, entry.url, config)
                except PostError as e:
                    broken[source] = Problem(source, f"body cannot be published: {e}", line=e.line)
        if any(entry.post.source in broken for entry in job.feed.entries):
            outcomes.append(_Outcome(rel, "stale", job.fingerprint, broken_posts=dict(broken)))
            continue
        data = render(job.feed, job.fmt, contents, config)
        errors = [
            p
            for p in validate_feed(data, rel, self_url=job.feed.file_url(job.fmt))
            if p.severity is Severity.ERROR
        ]
        if errors:
            outcomes.append(_Outcome(rel, "invalid", job.fingerprint, tuple(errors)))
            continue
        try:
            changed = folder.write(rel, data)
        except OutputError as e:
            outcomes.append(
                _Outcome(
                    rel, "failed", job.fingerprint, (Problem(rel, str(e), rule="write-failed"),)
                )
            )
            break
        outcomes.append(_Outcome(rel, "written" if changed else "unchanged", job.fingerprint))
    return outcomes


def _last_build(
    report: Report, scan: str, built: Build, folder: OutputFolder, images: dict[str, str]
) -> dict[str, Any]:
    """What the next build compares against to know that nothing changed."""
    outputs = {}
    for rel in (*report.written, *report.unchanged):
        stat = folder.stat(rel)
        outputs[rel] = [stat.st_size, stat.st_mtime_ns] if stat else [-1, -1]
    due = min((p.date for p in built.scheduled), default=None)
    return {
        "scan": scan,
        "due": due.isoformat() if due else None,
        "outputs": outputs,
        "images": {url: stamp for url, stamp in images.items() if stamp},
        # [path, status, problems]: compact, since it is read back on every unchanged build
        "posts": [[p.path, p.status, [pr.as_dict() for pr in p.problems]] for p in report.posts],
    }


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
