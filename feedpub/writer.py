"""Publish jobs: for each feed file that must change, bodies → render → validate → write;
and the site files that list every feed (`feeds.opml`, `feeds/index.html`).

A job is one feed in one format. Jobs are grouped by top-level category, since
the feeds of one subtree share their posts: each post's body is read and
sanitised once per group. Groups are spread over the cores when it pays.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import workers
from .config import Config
from .errors import OutputError, PostError
from .formats import INDEX_FILE, OPML_FILE, Format
from .models import Content, Feed, Problem, Severity
from .output import OutputFolder
from .report import FeedStatus

PARALLEL_FEED_FILES = 24
"""Below this many feed files, starting worker processes costs more than it saves."""


@dataclass(frozen=True, slots=True)
class PublishJob:
    feed: Feed
    fmt: Format
    fingerprint: str
    """incremental.feed_fingerprint of the feed in this format, remembered once written."""

    @property
    def file(self) -> str:
        return self.feed.file(self.fmt)


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    file: str
    status: FeedStatus
    fingerprint: str
    problems: tuple[Problem, ...] = ()
    broken_posts: dict[str, Problem] = field(default_factory=dict)
    """Posts whose body could not be read (status STALE): source → the error."""


def publish(
    jobs: Sequence[PublishJob], config: Config, progress: workers.Progress
) -> Iterable[FeedOutcome]:
    """Render, validate and write every job's feed file, spread over the cores when it pays."""
    groups: dict[tuple[str, ...], list[PublishJob]] = defaultdict(list)
    for job in jobs:
        groups[job.feed.category[:1]].append(job)
    tasks = sorted(groups.values(), key=len, reverse=True)  # biggest first, for an even spread
    processes = workers.worker_count(config.jobs, len(jobs), PARALLEL_FEED_FILES)
    group = functools.partial(_publish_group, config=config)
    for outcomes in workers.run_with_progress(group, tasks, processes, progress, "Writing feeds"):
        yield from outcomes


def _publish_group(jobs: Sequence[PublishJob], config: Config) -> list[FeedOutcome]:
    # The body sanitiser, the renderer (feedgen) and the validator (lxml) are imported
    # only when a feed has to be written.
    from .bodies import load_content
    from .render import render
    from .validation import validate_feed

    folder = OutputFolder(config.output)
    contents: dict[str, Content] = {}
    broken: dict[str, Problem] = {}
    outcomes = []
    for job in jobs:
        for entry in job.feed.entries:
            source = entry.post.source
            if source not in contents and source not in broken:
                try:
                    contents[source] = load_content(entry.post, entry.url, config)
                except PostError as e:
                    broken[source] = Problem(source, f"body cannot be published: {e}", line=e.line)
        if any(entry.post.source in broken for entry in job.feed.entries):
            outcomes.append(
                FeedOutcome(job.file, FeedStatus.STALE, job.fingerprint, broken_posts=dict(broken))
            )
            continue
        data = render(job.feed, job.fmt, contents, config)
        errors = [
            p
            for p in validate_feed(data, job.file, self_url=job.feed.file_url(job.fmt))
            if p.severity is Severity.ERROR
        ]
        if errors:
            outcomes.append(
                FeedOutcome(job.file, FeedStatus.INVALID, job.fingerprint, tuple(errors))
            )
            continue
        try:
            changed = folder.write(job.file, data)
        except OutputError as e:
            problem = Problem(job.file, str(e), rule="write-failed")
            outcomes.append(FeedOutcome(job.file, FeedStatus.FAILED, job.fingerprint, (problem,)))
            break  # a full or read-only disk fails every later write too
        status = FeedStatus.WRITTEN if changed else FeedStatus.UNCHANGED
        outcomes.append(FeedOutcome(job.file, status, job.fingerprint))
    return outcomes


def publish_site_files(
    feeds: Sequence[Feed], config: Config, folder: OutputFolder
) -> list[FeedOutcome]:
    """The subscription list and the feeds' index page, from every feed of the build (written
    or not): they change when a feed comes or goes, or a category gains posts. Rendering
    them costs little next to one feed, so they are rendered on every build that builds."""
    from .render.index_page import render_index
    from .render.opml import render_opml

    outcomes = []
    for rel, render in ((OPML_FILE, render_opml), (INDEX_FILE, render_index)):
        try:
            changed = folder.write(rel, render(feeds, config))
        except OutputError as e:
            problem = Problem(rel, str(e), rule="write-failed")
            outcomes.append(FeedOutcome(rel, FeedStatus.FAILED, "", (problem,)))
            break
        outcomes.append(
            FeedOutcome(rel, FeedStatus.WRITTEN if changed else FeedStatus.UNCHANGED, "")
        )
    return outcomes
