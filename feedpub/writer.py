"""Publish jobs: for each feed file that must change, bodies → render → validate → write;
and the site files that list every feed (`feeds.opml`, `feeds/index.html`).

A job is one feed in one format. Jobs are grouped by top-level category, since
the feeds of one subtree share their posts: each post's body is read and
sanitised once per group, unless the state kept it from an earlier build
(`prepared`: a body is prepared once per version of its post, not once per
build). Groups are spread over the cores when it pays.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import workers
from .config import Config
from .errors import OutputError, PostError, describe_bug
from .formats import INDEX_FILE, OPML_FILE, Format
from .models import Content, Feed, Problem, Severity
from .output import Batch, OutputFolder
from .report import FeedStatus
from .scanning import without_cycle_collection

if TYPE_CHECKING:
    from .render import ItemKey

PARALLEL_FEED_FILES = 24
"""Below this many feed files, starting worker processes costs more than it saves."""


@dataclass(frozen=True, slots=True)
class PublishJob:
    feed: Feed
    fmt: Format
    fingerprint: str
    """incremental.feed_fingerprints of the feed in this format, remembered once written."""

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
    prepared: dict[str, Content] = field(default_factory=dict)
    """Bodies this job prepared (they were not given to `publish`): source → Content."""


def publish(
    jobs: Sequence[PublishJob],
    config: Config,
    progress: workers.Progress,
    prepared: Mapping[str, Content] | None = None,
) -> Iterable[FeedOutcome]:
    """Render, validate and write every job's feed file, spread over the cores when it pays.

    `prepared` holds bodies already made for these versions of their posts (source → Content).
    """
    groups: dict[tuple[str, ...], list[PublishJob]] = defaultdict(list)
    for job in jobs:
        groups[job.feed.category[:1]].append(job)
    ready = prepared or {}
    tasks = []
    for group_jobs in sorted(groups.values(), key=len, reverse=True):  # biggest first: even
        sources = {entry.post.source for job in group_jobs for entry in job.feed.entries}
        tasks.append((group_jobs, {s: ready[s] for s in sources if s in ready}))
    processes = workers.worker_count(config.jobs, len(jobs), PARALLEL_FEED_FILES)
    if processes > 1:  # made before the workers are forked: then they share them
        prepare()
    group = functools.partial(_publish_group, config=config)
    for outcomes in workers.run_with_progress(group, tasks, processes, progress, "Writing feeds"):
        outcomes.reverse()
        while outcomes:  # each let go once taken: they hold the bodies the group made
            yield outcomes.pop()


def prepare() -> None:
    """Import the renderers, the validator and the body sanitiser, and build what the jobs
    share (bodies.prepare): before the workers that publish are forked, or earlier, while
    the posts are read (reading._parse)."""
    from . import bodies, render, validation  # noqa: F401

    bodies.prepare()
    validation.prepare()


def _publish_group(
    task: tuple[Sequence[PublishJob], Mapping[str, Content]], config: Config
) -> list[FeedOutcome]:
    with without_cycle_collection():  # lxml trees and items by the thousand, no cycles
        return _publish_jobs(*task, config)


def _publish_jobs(
    jobs: Sequence[PublishJob], prepared: Mapping[str, Content], config: Config
) -> list[FeedOutcome]:
    # The body sanitiser, the renderers and the validator (lxml) are imported
    # only when a feed has to be written.
    from .bodies import load_content
    from .render.items import Contents

    folder = OutputFolder(config.output)
    # Each post's item is rendered once for all the feeds of the group that show it.
    contents: dict[str, Content] = Contents((j.fmt, e) for j in jobs for e in j.feed.entries)
    contents.update(prepared)
    broken: dict[str, Problem] = {}
    checked: set[ItemKey] = set()  # the items of valid feeds
    outcomes: list[FeedOutcome] = []
    # Valid feeds are written a few at a time, their files flushed to disk together (each
    # flush waits for the disk; several at once wait about as long as one). Each is written
    # to its temporary file at once: the batch does not hold their bytes.
    batch = Batch(folder)
    ready: list[tuple[PublishJob, dict[str, Content]]] = []
    for n, job in enumerate(jobs):
        made: dict[str, Content] = {}
        for entry in job.feed.entries:
            source = entry.post.source
            if source not in contents and source not in broken:
                try:
                    contents[source] = made[source] = load_content(entry.post, entry.url, config)
                except PostError as e:
                    broken[source] = Problem(source, f"body cannot be published: {e}", line=e.line)
        if any(entry.post.source in broken for entry in job.feed.entries):
            outcomes.append(
                FeedOutcome(job.file, FeedStatus.STALE, job.fingerprint, broken_posts=dict(broken))
            )
            continue
        parts, errors = _rendered(job.feed, job.fmt, contents, config, checked)
        if errors:
            culprits = _culprits(job, contents, config)
            if culprits:  # the post's fault, not the site's: built again without it
                broken.update(culprits)
                outcomes.append(
                    FeedOutcome(job.file, FeedStatus.STALE, job.fingerprint, broken_posts=culprits)
                )
            else:
                outcomes.append(
                    FeedOutcome(job.file, FeedStatus.INVALID, job.fingerprint, tuple(errors))
                )
            continue
        ready.append((job, made))
        batch.add(job.file, *parts)
        del parts  # (in its file now: not held while the next feed is made)
        if batch.files < _WRITTEN_AT_ONCE and batch.bytes < _BYTES_AT_ONCE:
            continue
        if not _write(batch, ready, outcomes):
            # A full or read-only disk fails every later write too: the rest stay as they are.
            outcomes += [_not_written(later) for later in jobs[n + 1 :]]
            return outcomes
        batch, ready = Batch(folder), []
    _write(batch, ready, outcomes)
    return outcomes


_WRITTEN_AT_ONCE = 8
_BYTES_AT_ONCE = 2 << 20
"""At most this many valid feeds, and bytes of them, wait to be flushed together (a post's
feeds in one group are a few; a big site's first build has hundreds, flushed a few at a time)."""


def _write(
    batch: Batch, ready: list[tuple[PublishJob, dict[str, Content]]], outcomes: list[FeedOutcome]
) -> bool:
    """Flush the batch of valid feeds (`ready`, in the order they were added), their
    outcomes into `outcomes`; False if one could not be written (the outcomes of those after
    it say they were not)."""
    results = batch.finish()
    for (job, made), result in zip(ready, results, strict=False):
        if isinstance(result, OutputError):
            problem = Problem(job.file, str(result), rule="write-failed")
            outcomes.append(FeedOutcome(job.file, FeedStatus.FAILED, job.fingerprint, (problem,)))
        else:
            status = FeedStatus.WRITTEN if result else FeedStatus.UNCHANGED
            outcomes.append(FeedOutcome(job.file, status, job.fingerprint, prepared=made))
    outcomes += [_not_written(job) for job, _ in ready[len(results) :]]
    return not (results and isinstance(results[-1], OutputError))


def publish_site_files(
    feeds: Sequence[Feed], config: Config, folder: OutputFolder
) -> list[FeedOutcome]:
    """The subscription list and the feeds' index page, from every feed of the build (written
    or not): they change when a feed comes or goes, or a category gains posts. Rendering
    them costs little next to one feed, so they are rendered on every build that builds."""
    from .render.index_page import render_index
    from .render.opml import render_opml

    files = [(OPML_FILE, render_opml(feeds, config)), (INDEX_FILE, render_index(feeds, config))]
    outcomes = []
    for (rel, _), result in zip(files, folder.write_all(files), strict=False):
        if isinstance(result, OutputError):
            problem = Problem(rel, str(result), rule="write-failed")
            outcomes.append(FeedOutcome(rel, FeedStatus.FAILED, "", (problem,)))
        else:
            status = FeedStatus.WRITTEN if result else FeedStatus.UNCHANGED
            outcomes.append(FeedOutcome(rel, status, ""))
    return outcomes


def _rendered(
    feed: Feed,
    fmt: Format,
    contents: dict[str, Content],
    config: Config,
    checked: set[ItemKey] | None = None,
) -> tuple[list[bytes], list[Problem]]:
    """The feed's bytes, in parts (its head, items and tail are not joined: `Batch.add`
    writes them as they are), and the errors feedpub's validator finds in them.

    `checked`: the items found valid in earlier feeds of the group, which are not checked
    again; this feed's are added when it is valid. An item is the same bytes in every feed
    of the group that shows it (render/items.py), and its URL is its guid and id.
    """
    from .render import Document, item_key, render_document
    from .validation import feed_errors, validate_feed

    file = feed.file(fmt)
    try:
        rendered = render_document(feed, fmt, contents, config)
    except Exception as e:  # a value the renderer refuses: found out below, post by post
        return [], [Problem(file, f"cannot be rendered: {describe_bug(e)}")]
    self_url = feed.file_url(fmt)
    if not isinstance(rendered, Document):
        problems = validate_feed(rendered, file, self_url=self_url, warnings=False)
        return [rendered], [p for p in problems if p.severity is Severity.ERROR]
    head, items, tail, separator, skeletons = rendered
    keys = [item_key(fmt, entry) for entry in feed.entries]
    known = []
    if checked is not None and len({entry.url for entry in feed.entries}) == len(keys):
        known = [i for i, key in enumerate(keys) if key in checked]
    errors = feed_errors(head, items, tail, file, self_url, known, separator, skeletons)
    if checked is not None and not errors:
        checked.update(keys)
    return [head, separator.join(items), tail], errors


def _culprits(job: PublishJob, contents: dict[str, Content], config: Config) -> dict[str, Problem]:
    """The posts that make an invalid feed invalid: those whose item fails on its own, when
    others pass. Whatever a post holds, it must not keep back a feed: it is left out, with
    the validator's reason. When every item fails, the feed (or feedpub) is at fault."""
    culprits = {}
    for entry in job.feed.entries:
        _, errors = _rendered(replace(job.feed, entries=(entry,)), job.fmt, contents, config)
        if errors:
            source = entry.post.source
            culprits[source] = Problem(
                source,
                f"not published: its feed item would not be valid: {errors[0].message}",
                rule="invalid-item",
            )
    return culprits if len(culprits) < len(job.feed.entries) else {}


def _not_written(job: PublishJob) -> FeedOutcome:
    problem = Problem(
        job.file,
        "not written, after an earlier write failed; the previous file is unchanged",
        rule="write-failed",
    )
    return FeedOutcome(job.file, FeedStatus.FAILED, job.fingerprint, (problem,))
