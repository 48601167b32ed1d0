"""One build: files → posts → feeds → bytes → files, doing only the work that changed.

`build` is the phases in order, under the output folder's lock:

    scan      find the post files (sources.py)
    (nothing changed since the last build? return its report: incremental.py)
    read      files → Posts, from the incremental state where unchanged (reader.py)
    publish   Posts → Feeds (builder.py); the feeds that changed → bytes → files (writer.py);
              the OPML and the index page of every feed (writer.publish_site_files)
    reconcile the manifest: remove the feeds of emptied categories (output.py)
    ping      tell the WebSub hubs which feeds changed, and retry pending pings (websub.py)
    report    what happened to every post and feed (report.py)

`check` is scan → read → group, writing nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import workers
from .config import Config
from .errors import ConfigError, OutputError
from .formats import SITE_FILES
from .incremental import LastBuild, feed_fingerprint, image_stamps, scan_digest
from .models import Feed, Post, Problem, Severity
from .output import OutputFolder
from .report import FeedStatus, PostReport, PostStatus, Report
from .sources import SourceFile, find_posts
from .state import PostRow, State, encode_row
from .websub import ping_hubs

if TYPE_CHECKING:  # imported where used: a build where nothing changed needs neither
    from .builder import Build
    from .writer import FeedOutcome

PARALLEL_POSTS = 400
"""Below this many files to parse, starting worker processes costs more than it saves."""
_BATCHES_PER_WORKER = 4


def build(
    config: Config,
    *,
    now: dt.datetime | None = None,
    use_state: bool = True,
    progress: workers.Progress = workers.no_progress,
    ping: bool = True,
) -> Report:
    """Publish the site's feeds into `config.output`, then ping the WebSub hubs
    (with `ping=False`, the pings are kept for a later build)."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    folder = OutputFolder(config.output)
    with folder.locked(config.lock_timeout):
        state = State.open(
            folder.state_dir, config.fingerprint(), enabled=use_state, timeout=config.lock_timeout
        )
        try:
            scan = _scan(config)
            last = LastBuild.from_json(state.last_build() or "null", scan.digest)
            report = last.unchanged_report(scan.digest, now, folder, config) if last else None
            if report is None:
                files = _read(scan, config, state, progress)
                touched = last.touched(folder) if last else set()
                published = _publish(files, config, folder, state, now, progress, touched)
                report = _reconcile(published, files, folder, config)
                state.remember_feeds(published.kept_fingerprints())
                state.remember_last_build(
                    None
                    if report.feed_problems
                    else LastBuild.of(
                        report, scan.digest, published.due(), folder, published.images
                    ).to_json()
                )
        finally:
            state.save()
        # Pings left pending by an earlier build go out even when nothing changed now.
        pings = ping_hubs(config, folder, report.written, send=ping, now=now)
    report = dataclasses.replace(report, pings=pings)
    notices = ((state.warning,) if state.warning else ()) + report.notices
    return dataclasses.replace(report, notices=notices, seconds=time.perf_counter() - started)


def check(config: Config, progress: workers.Progress = workers.no_progress) -> Report:
    """Read every post as a build would and group them into feeds; write nothing."""
    from .builder import build_feeds

    started = time.perf_counter()
    files = _read(_scan(config), config, State(None), progress)
    built = build_feeds(files.posts().values(), config, dt.datetime.now(dt.UTC))
    return Report(
        _post_reports(files, built, {}),
        seconds=time.perf_counter() - started,
        files_read=files.parsed,
    )


def feeds(config: Config, progress: workers.Progress = workers.no_progress) -> tuple[Feed, ...]:
    """The feeds a build would publish now (read as `check` reads); nothing is written."""
    from .builder import build_feeds

    files = _read(_scan(config), config, State(None), progress)
    return build_feeds(files.posts().values(), config, dt.datetime.now(dt.UTC)).feeds


# -- scan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scan:
    files: list[SourceFile]
    problems: list[Problem]
    """Files and folders that could not even be looked at (bad names, FIFOs, …)."""
    digest: str


def _scan(config: Config) -> _Scan:
    if not config.posts.is_dir():
        raise ConfigError(f"{config.posts}: posts folder does not exist")
    files, problems = find_posts(config.posts, config.site.keep if config.site else None)
    return _Scan(files, problems, scan_digest(files, problems))


# -- read ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ReadFile:
    """One file as the reader saw it: a Post, or None, and what is wrong with it."""

    path: str
    post: Post | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class _ReadFiles:
    files: tuple[_ReadFile, ...]
    """Every file and scan problem, sorted by path."""
    parsed: int
    """How many files had to be parsed (the others came from the state)."""

    def posts(self) -> dict[str, Post]:
        return {f.path: f.post for f in self.files if f.post is not None}


def _read(scan: _Scan, config: Config, state: State, progress: workers.Progress) -> _ReadFiles:
    """Every post file → a _ReadFile, from the state where the file is unchanged."""
    cached = state.cached_posts()
    results: dict[str, _ReadFile] = {}
    fresh: list[SourceFile] = []
    try:
        for file in scan.files:
            hit = cached.get(file.rel)
            if hit is not None and hit.matches(file):
                post, problems = hit.load()
                results[file.rel] = _ReadFile(file.rel, post, tuple(problems))
            else:
                fresh.append(file)
    except (ValueError, TypeError, KeyError) as e:  # a row we did not write: trust none of them
        state.discard(f"{type(e).__name__}: {e}")
        results, fresh = {}, list(scan.files)
    processes = workers.worker_count(config.jobs, len(fresh), PARALLEL_POSTS)
    tasks = workers.batches(fresh, processes * _BATCHES_PER_WORKER)
    read_batch = functools.partial(_read_batch, config=config)
    for batch in workers.run_with_progress(read_batch, tasks, processes, progress, "Reading posts"):
        for read, _ in batch:
            results[read.path] = read
        # Stored as they come, so the encoded rows of a big site are never all held at once.
        state.remember_posts(row for _, row in batch)
    state.forget_posts(set(cached) - {f.rel for f in scan.files})
    for problem in scan.problems:
        results.setdefault(problem.path, _ReadFile(problem.path, None, (problem,)))
    return _ReadFiles(tuple(results[path] for path in sorted(results)), len(fresh))


def _read_batch(files: Sequence[SourceFile], config: Config) -> list[tuple[_ReadFile, PostRow]]:
    """Parse files, and encode them for the state here too: in a worker, that is parallel."""
    from .reader import read_post  # the parsers are imported only when a post has to be read

    batch = []
    for file in files:
        post, problems = read_post(file, config)
        batch.append((_ReadFile(file.rel, post, tuple(problems)), encode_row(file, post, problems)))
    return batch


# -- publish ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Published:
    """The feeds a build settled on and what became of each feed file it tried to write."""

    built: Build
    broken: dict[str, Problem]
    """Posts left out because their body turned unreadable mid-build: source → error."""
    outcomes: dict[str, FeedOutcome]
    attempted: frozenset[str]
    """Feed files that needed writing (the others were unchanged since the last build)."""
    fingerprints: dict[str, str]
    """Feed file → the fingerprint of what is on disk now."""
    images: dict[str, str]
    feed_files: frozenset[str]
    """Every file of the built feeds, in every configured format, and the site files."""

    def due(self) -> dt.datetime | None:
        return min((p.date for p in self.built.scheduled), default=None)

    def kept_fingerprints(self) -> dict[str, str]:
        """The fingerprints worth keeping: those of the feeds this build still has."""
        return {f: fp for f, fp in self.fingerprints.items() if f in self.feed_files}


def _publish(
    files: _ReadFiles,
    config: Config,
    folder: OutputFolder,
    state: State,
    now: dt.datetime,
    progress: workers.Progress,
    touched: set[str],
) -> _Published:
    """Group the posts into feeds and write the feed files whose fingerprint changed (or
    that something else changed since the last build: `touched`).

    Done again without a post whose body turned unreadable since it was read (it
    changed mid-build): the feeds that held it are built without it.
    """
    from .builder import build_feeds
    from .writer import PublishJob, publish, publish_site_files

    posts = files.posts()
    known = {f: fp for f, fp in state.feed_fingerprints().items() if f not in touched}
    outcomes: dict[str, FeedOutcome] = {}
    attempted: set[str] = set()
    broken: dict[str, Problem] = {}
    while True:
        built = build_feeds(posts.values(), config, now)
        images = image_stamps(built.feeds, config)
        jobs = [
            PublishJob(feed, fmt, fingerprint)
            for feed in built.feeds
            for fmt in config.formats
            if (fingerprint := feed_fingerprint(feed, fmt, images)) != known.get(feed.file(fmt))
            or folder.stat(feed.file(fmt)) is None
        ]
        attempted.update(job.file for job in jobs)
        newly_broken: dict[str, Problem] = {}
        for outcome in publish(jobs, config, progress):
            outcomes[outcome.file] = outcome
            newly_broken.update(outcome.broken_posts)
            if outcome.status in (FeedStatus.WRITTEN, FeedStatus.UNCHANGED):
                known[outcome.file] = outcome.fingerprint
            # Every outcome is taken, also after a failed write: a group that another
            # process finished has written files that the report must name.
        if not newly_broken:
            break
        broken.update(newly_broken)
        for source in newly_broken:
            del posts[source]
    for outcome in publish_site_files(built.feeds, config, folder):
        outcomes[outcome.file] = outcome
        attempted.add(outcome.file)
    every_file = frozenset(f.file(fmt) for f in built.feeds for fmt in config.formats)
    every_file |= frozenset(SITE_FILES)
    return _Published(built, broken, outcomes, frozenset(attempted), known, images, every_file)


# -- reconcile and report -----------------------------------------------------------


def _reconcile(
    published: _Published, files: _ReadFiles, folder: OutputFolder, config: Config
) -> Report:
    """Remove the feeds that no category has any more, save the manifest, and say what is
    on disk: feeds written, unchanged, removed and kept back."""
    current = published.feed_files
    outcomes = {f: o for f, o in published.outcomes.items() if f in current}
    written = sorted(f for f, o in outcomes.items() if o.status is FeedStatus.WRITTEN)
    feed_problems = [p for o in outcomes.values() for p in o.problems]
    collisions = [p for c in published.built.collisions for p in c.problems(config.formats)]
    kept_back = {p.path for p in collisions}
    unchanged = sorted(
        (current - published.attempted)
        | {f for f, o in outcomes.items() if o.status is FeedStatus.UNCHANGED}
    )
    current |= kept_back  # a kept-back feed keeps its previous file
    old = folder.manifest()
    removed = []
    for rel in sorted(old - current):
        try:
            folder.remove(rel)
            removed.append(rel)
        except OutputError as e:
            feed_problems.append(Problem(rel, f"cannot be removed: {e}", rule="write-failed"))
    folder.remove_temporaries(current)
    try:
        folder.save_manifest((old - set(removed)) | set(written) | set(unchanged))
    except OutputError as e:  # the next build removes less than it could: never too much
        feed_problems.append(Problem(folder.manifest_file, str(e), rule="write-failed"))
    return Report(
        _post_reports(files, published.built, published.broken),
        tuple(written),
        tuple(unchanged),
        tuple(removed),
        tuple(feed_problems + collisions),
        output_failed=any(p.rule == "write-failed" for p in feed_problems),
        files_read=files.parsed,
    )


def _post_reports(
    files: _ReadFiles, built: Build, broken: dict[str, Problem]
) -> tuple[PostReport, ...]:
    drafts = {p.source for p in built.drafts}
    scheduled = {p.source for p in built.scheduled}
    later: dict[str, list[Problem]] = {}
    for problem in (*broken.values(), *built.problems):
        later.setdefault(problem.path, []).append(problem)
    reports = []
    for file in files.files:
        problems = (*file.problems, *later.get(file.path, ()))
        if file.path in drafts:
            status = PostStatus.DRAFT
        elif file.path in scheduled:
            status = PostStatus.SCHEDULED
        elif file.post is not None and file.path not in broken:
            status = PostStatus.PUBLISHED
        elif any(p.severity is Severity.ERROR for p in problems):
            status = PostStatus.SKIPPED
        else:
            status = PostStatus.IGNORED
        reports.append(PostReport(file.path, status, problems))
    return tuple(reports)
