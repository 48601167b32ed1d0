"""One build: files → posts → feeds → bytes → files, doing only the work that changed.

`build` is the phases in order, under the output folder's lock:

    scan      find the post files (scanning.py)
    (nothing changed since the last build? return its report: incremental.py)
    read      files → Posts: only the changed files and the posts the feeds are made of,
              from the state's index, or every file (reading.py, reader.py)
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
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, NamedTuple

from .config import Config
from .errors import ConfigError, OutputError
from .formats import SITE_FILES
from .incremental import (
    LastBuild,
    ScanColumns,
    content_keys,
    feed_fingerprints,
    image_stamps,
    scan_columns,
    scan_notes,
)
from .output import OutputFolder
from .problems import Problem
from .report import FeedStatus, PostReport, PostReports, PostStatus, Report, not_a_post
from .scanning import Scan, scan_posts
from .state import State
from .websub import ping_hubs

if TYPE_CHECKING:  # imported where used: a build where nothing changed needs none of them
    from .builder import Build
    from .models import Feed
    from .reading import ReadFiles
    from .workers import Progress
    from .writer import FeedOutcome


def build(
    config: Config,
    *,
    now: dt.datetime | None = None,
    use_state: bool = True,
    progress: Progress | None = None,
    ping: bool = True,
) -> Report:
    """Publish the site's feeds into `config.output`, then ping the WebSub hubs
    (with `ping=False`, the pings are kept for a later build). `progress` wraps the
    long phases (a progress bar); by default nothing is shown."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    folder = OutputFolder(config.output)
    with folder.locked(config.lock_timeout):
        state = State.open(
            folder.state_dir, config.fingerprint(), enabled=use_state, timeout=config.lock_timeout
        )
        try:
            scan = _scan(config)
            report = _unchanged(scan, config, folder, state, now)
            if report is None:
                report = _build(scan, config, folder, state, now, progress, use_state)
        finally:
            state.save()
        # Pings left pending by an earlier build go out even when nothing changed now.
        pings = ping_hubs(config, folder, report.written, send=ping, now=now)
    report = report._replace(pings=pings)
    notices = ((state.warning,) if state.warning else ()) + report.notices
    return report._replace(notices=notices, seconds=time.perf_counter() - started)


def _unchanged(
    scan: _Scan, config: Config, folder: OutputFolder, state: State, now: dt.datetime
) -> Report | None:
    """The last build's report, if rebuilding could not change a byte."""
    last = LastBuild.from_json(state.last_build() or "null")
    if last is None or _clock_went_back(state, now):
        return None
    if not last.unchanged(scan.notes, now, folder, config):
        return None
    try:
        if not state.holds_scan(scan.columns):
            return None
        posts = state.post_reports()
    except (ValueError, TypeError, KeyError) as e:  # a row we did not write: trust none
        state.discard(f"{type(e).__name__}: {e}")
        return None
    return Report(posts, unchanged=tuple(sorted(last.outputs)))


def _build(
    scan: _Scan,
    config: Config,
    folder: OutputFolder,
    state: State,
    now: dt.datetime,
    progress: Progress | None,
    use_state: bool,
) -> Report:
    """read → publish → reconcile, from the changes where the state's index is sure of
    them, else (and with `use_state` off: every post read again, in memory) from every
    file; then what the next build compares against."""
    from . import workers
    from .reading import problems_digest, read_all
    from .writer import prepare

    progress = progress or workers.no_progress
    last = LastBuild.from_json(state.last_build() or "null")
    state.remember_last_build(None)  # a build that stops half-way leaves no record to trust
    touched = last.touched(folder) if last else set()
    losses = state.losses
    files = _changes(scan, last, config, state, now, progress, prepare) if use_state else None
    published = _publish(files, config, folder, state, now, progress, touched) if files else None
    if files is None or published is None or state.losses != losses:
        # (A state emptied half-way holds the reports of no other file.)
        losses = state.losses
        files = read_all(scan.found.files(), scan.problems, config, state, progress, prepare)
        published = _publish(files, config, folder, state, now, progress, touched)
        assert published is not None  # every post is read: a broken body is left out here
    report = _reconcile(published, files, folder, config, state)
    state.remember_feeds(published.kept_fingerprints())
    built = published.built
    state.remember_moves(
        [f.path for f in files.files], built.moved, built.unsettled, every=files.complete
    )
    state.remember_built_at(now)
    state.remember_meta("scan_problems", problems_digest(scan.problems))
    # The scan the posts' rows now match. (A build that stops half-way leaves the last one:
    # every file it stored differs from that, and is read again.)
    if state.losses == losses:  # else the rows may not all be there
        state.remember_scan(scan.columns)
    # The record is kept only with its scan: the next build compares the files with that.
    if not report.feed_problems and state.losses == losses:
        record = LastBuild.of(report, scan.notes, published.due, folder, published.images)
        state.remember_last_build(record.to_json())
    return report


def _clock_went_back(state: State, now: dt.datetime) -> bool:
    """`now` is before the last build's: posts it published may be scheduled again."""
    try:
        then = state.built_at()
    except ValueError:  # not what a build wrote: no proof of anything
        return True
    return then is not None and now.timestamp() < then


def _changes(
    scan: _Scan,
    last: LastBuild | None,
    config: Config,
    state: State,
    now: dt.datetime,
    progress: Progress,
    meanwhile: Callable[[], object],
) -> ReadFiles | None:
    """(`meanwhile`: see reading._parse.)"""
    from .reading import read_changes

    try:
        return read_changes(scan.found, scan.columns, last, config, state, now, progress, meanwhile)
    except (ValueError, TypeError, KeyError) as e:  # a row we did not write: trust none
        state.discard(f"{type(e).__name__}: {e}")
        return None


def check(config: Config, progress: Progress | None = None) -> Report:
    """Read every post as a build would and group them into feeds; write nothing."""
    started = time.perf_counter()
    files, built = _read_and_group(config, progress)
    return Report(
        _post_reports(files, built, {}, State(None)),
        seconds=time.perf_counter() - started,
        files_read=files.parsed,
    )


def feeds(config: Config, progress: Progress | None = None) -> tuple[Feed, ...]:
    """The feeds a build would publish now (read as `check` reads); nothing is written."""
    return _read_and_group(config, progress)[1].feeds


def _read_and_group(config: Config, progress: Progress | None) -> tuple[ReadFiles, Build]:
    """Every post read into memory, without the state, and grouped into feeds."""
    from . import workers
    from .builder import build_feeds
    from .reading import read_all

    found = _find(config)
    files = read_all(
        found.files(), found.problems, config, State(None), progress or workers.no_progress
    )
    return files, build_feeds(files.posts().values(), config, dt.datetime.now(dt.UTC))


# -- scan ---------------------------------------------------------------------------


# The pipeline's records are named tuples, not frozen dataclasses: defined at every start-up
# (most of a build where nothing changed), they cost a tenth as much.
class _Scan(NamedTuple):
    found: Scan
    """The post files, by column, and the files and folders that could not even be
    looked at (bad names, FIFOs, …)."""
    columns: ScanColumns
    notes: str

    @property
    def problems(self) -> list[Problem]:
        return self.found.problems


def _scan(config: Config) -> _Scan:
    found = _find(config)
    columns = scan_columns(found)
    return _Scan(found, columns, scan_notes(found))


def _find(config: Config) -> Scan:
    if not config.posts.is_dir():
        raise ConfigError(f"{config.posts}: posts folder does not exist")
    site = config.site
    if site is None:
        return scan_posts(config.posts, jobs=config.jobs)
    return scan_posts(config.posts, site.keep, config.jobs, site.post_names)


# -- publish ------------------------------------------------------------------------


class _Published(NamedTuple):
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

    due: dt.datetime | None
    """When the earliest scheduled post comes due."""

    def kept_fingerprints(self) -> dict[str, str]:
        """The fingerprints worth keeping: those of the feeds this build still has."""
        return {f: fp for f, fp in self.fingerprints.items() if f in self.feed_files}


def _publish(
    files: ReadFiles,
    config: Config,
    folder: OutputFolder,
    state: State,
    now: dt.datetime,
    progress: Progress,
    touched: set[str],
) -> _Published | None:
    """Group the posts into feeds and write the feed files whose fingerprint changed (or
    that something else changed since the last build: `touched`).

    Done again without a post whose body turned unreadable since it was read (it
    changed mid-build): the feeds that held it are built without it. From only some
    of the posts (`files` not complete), that cannot be done, nor can a post be moved to
    a URL some post not read has: None, and the pipeline reads every file.
    """
    from .builder import build_feeds
    from .writer import PublishJob, publish, publish_site_files

    posts = files.posts()
    known = {f: fp for f, fp in state.feed_fingerprints().items() if f not in touched}
    outcomes: dict[str, FeedOutcome] = {}
    attempted: set[str] = set()
    broken: dict[str, Problem] = {}
    while True:
        built = build_feeds(posts.values(), config, now, files.totals, files.ranks)
        if not files.complete and _moved_onto_unread(built, posts.keys(), state):
            return None
        images = image_stamps(built.feeds, config)
        jobs = [
            PublishJob(feed, fmt, fingerprint)
            for feed in built.feeds
            for fmt, fingerprint in feed_fingerprints(feed, config.formats, images).items()
            if fingerprint != known.get(feed.file(fmt)) or folder.stat(feed.file(fmt)) is None
        ]
        attempted.update(job.file for job in jobs)
        newly_broken: dict[str, Problem] = {}
        keys = content_keys((job.feed for job in jobs), images)
        for outcome in publish(jobs, config, progress, state.prepared(keys)):
            state.remember_prepared((s, keys[s], c) for s, c in outcome.prepared.items())
            # Kept without its bodies: they are in the state now, and are every feed's.
            outcomes[outcome.file] = dataclasses.replace(outcome, prepared={})
            newly_broken.update(outcome.broken_posts)
            if outcome.status in (FeedStatus.WRITTEN, FeedStatus.UNCHANGED):
                known[outcome.file] = outcome.fingerprint
            # Every outcome is taken, also after a failed write: a group that another
            # process finished has written files that the report must name.
        if not newly_broken:
            break
        if not files.complete:
            return None
        broken.update(newly_broken)
        for source in newly_broken:
            del posts[source]
    state.keep_prepared_only(e.post.source for f in built.feeds for e in f.entries)
    for outcome in publish_site_files(built.feeds, config, folder):
        outcomes[outcome.file] = outcome
        attempted.add(outcome.file)
    every_file = frozenset(f.file(fmt) for f in built.feeds for fmt in config.formats)
    every_file |= frozenset(SITE_FILES)
    due = min([p.date for p in built.scheduled] + ([files.due] if files.due else []), default=None)
    return _Published(built, broken, outcomes, frozenset(attempted), known, images, every_file, due)


def _moved_onto_unread(built: Build, read: Collection[str], state: State) -> bool:
    """A post was moved to a URL that is another post's permalink, one not read (built from
    only some posts, the builder cannot know: so the answer is yes if the state cannot say)."""
    losses = state.losses
    return bool(state.sharing(built.moved.values()) - set(read)) or (state.losses != losses)


# -- reconcile and report -----------------------------------------------------------


def _reconcile(
    published: _Published, files: ReadFiles, folder: OutputFolder, config: Config, state: State
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
        _post_reports(files, published.built, published.broken, state),
        tuple(written),
        tuple(unchanged),
        tuple(removed),
        tuple(feed_problems + collisions),
        output_failed=any(p.rule == "write-failed" for p in feed_problems),
        files_read=files.parsed,
    )


def _post_reports(
    files: ReadFiles, built: Build, broken: dict[str, Problem], state: State
) -> PostReports:
    """Every file's report: those of the files read are made here and stored; with every
    file read, they are all held (and replace the state's), else the others are the
    state's, as the last build or each changed file left them."""
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
        else:
            status = not_a_post(problems)
        reports.append(PostReport(file.path, status, problems))
    state.remember_reports(reports, every=files.complete)
    if files.complete:
        return PostReports.of(reports)
    return state.post_reports()
