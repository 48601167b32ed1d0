"""The read phase: post files → Posts, as few of them as the build needs.

- `read_changes`: only what changed since the last build, and the posts the feeds are
  made of, from the state's index (state/). Work proportional to the change:
  1. the changed files (new, edited, gone) are found by comparing the scan with each
     file's stored stat; only they are parsed, and stored as they are;
  2. every feed's newest N posts come from the members table, and each feed's total
     from a count over it;
  3. with them come the posts whose report may have changed (those that share a
     permalink with a changed post, before or after the change, those that came due or
     went back since the last build, and those that held a warning the builder gives),
     and every post that shares a URL or an instant with any of these, again and again
     until there are no more: given that set and the totals, the builder makes every
     feed exactly as it makes it from every post (builder.py);
  4. the reports of all other files are the last build's, kept in the state, or, for a
     changed file, what the file alone says (stored as it is parsed).
  A first build is one where every file changed. It returns None when only reading
  every file is sure (no state, no record of the last build, other scan problems, a
  site feed sorted by something else than date): the pipeline then calls
- `read_all`: every file, from the state where it is unchanged, parsed where it is not,
  all held in memory. Also what `--full`, `check` and `snippet` do, and what
  tests/test_delta.py holds `read_changes` to on random edit sequences.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from . import workers
from .incremental import ScanColumns, scan_changes
from .models import Post, Problem
from .report import PostReport, PostStatus, not_a_post
from .scanning import Scan, SourceFile, without_cycle_collection
from .sources import prefetch
from .state import (
    Read,
    ReportRow,
    State,
    encode_row,
    node_key,
    node_of,
)
from .state.rows import report_row

if TYPE_CHECKING:
    import datetime as dt

    from .builder import InstantRanks
    from .config import Config
    from .incremental import LastBuild

PARALLEL_POSTS = 400
"""Below this many files to parse, starting worker processes costs more than it saves."""
_BATCHES_PER_WORKER = 4
_BATCH_FILES = 500
"""At most this many files a batch: a batch's posts come back from a worker at once."""
_LEFT_TO_WORKERS = 4
"""Small batches (a quarter of one) each worker parses at the end while the caller makes
the state's indexes (about as long, at 10,000 posts)."""


@dataclass(frozen=True, slots=True)
class ReadFile:
    """One file as the reader saw it: a Post, or None, and what is wrong with it."""

    path: str
    post: Post | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class ReadFiles:
    """What the read phase hands the builder, and what the report is made from."""

    files: tuple[ReadFile, ...]
    """The files this build looked at (every file and scan problem, or the index's few),
    sorted by path."""
    parsed: int
    """How many files had to be parsed (the others came from the state)."""
    totals: dict[tuple[str, ...], int] | None = None
    """Each feed's count of published posts, when `files` are not all of them."""
    due: dt.datetime | None = None
    """When the earliest scheduled post not among `files` comes due."""
    ranks: InstantRanks | None = None
    """With `totals`: where each post read stands among the published posts that share
    its `updated` instant (`builder.InstantRanks`)."""

    def posts(self) -> dict[str, Post]:
        return {f.path: f.post for f in self.files if f.post is not None}

    @property
    def complete(self) -> bool:
        """Every post is among `files`: the builder may count and drop posts itself."""
        return self.totals is None


def read_all(
    files: Sequence[SourceFile],
    scan_problems: Sequence[Problem],
    config: Config,
    state: State,
    progress: workers.Progress,
    meanwhile: Callable[[], object] | None = None,
) -> ReadFiles:
    """Every post file → a ReadFile, from the state where the file is unchanged.
    (`meanwhile`: see `_parse`.)"""
    cached = state.cached_posts()
    results: dict[str, ReadFile] = {}
    fresh: list[SourceFile] = []
    try:
        for file in files:
            hit = cached.get(file.rel)
            if hit is not None and hit.matches(file):
                post, problems = hit.load()
                results[file.rel] = ReadFile(file.rel, post, tuple(problems))
            else:
                fresh.append(file)
    except (ValueError, TypeError, KeyError) as e:  # a row we did not write: trust none of them
        state.discard(f"{type(e).__name__}: {e}")
        results, fresh = {}, list(files)
    with state.loading(), without_cycle_collection():  # (see read_changes)
        for batch in _parse(fresh, config, state, progress, meanwhile=meanwhile):
            results.update(
                (path, ReadFile(path, post, problems))
                for path, post, problems in zip(
                    batch.paths, batch.posts, batch.problems, strict=True
                )
            )
    state.forget_posts(set(cached) - {f.rel for f in files})
    for problem in scan_problems:
        results.setdefault(problem.path, ReadFile(problem.path, None, (problem,)))
    return ReadFiles(tuple(results[path] for path in sorted(results)), len(fresh))


def read_changes(
    scan: Scan,
    columns: ScanColumns,
    last: LastBuild | None,
    config: Config,
    state: State,
    now: dt.datetime,
    progress: workers.Progress,
    meanwhile: Callable[[], object] | None = None,
) -> ReadFiles | None:
    """The changed files and the posts every feed is made of, from the state's index;
    None when only `read_all` is sure. A first build (an empty state) is one where every
    file changed: the posts are stored as they are parsed, never all held at once.
    (`meanwhile`: see `_parse`.)"""
    if not state.usable or (config.site and config.site.feed_order() != ("date", True)):
        return None
    losses = state.losses
    kept = state.kept_scan()
    then = state.built_at()
    first = kept is None
    if first and state.has_posts():
        return None  # rows that no kept scan describes
    if not first and (
        last is None
        or then is None
        or state.meta("scan_problems") != problems_digest(scan.problems)
    ):
        return None
    # Posts whose warning or URL may change with any change: the newest post of a feed
    # that shares its folder (the feed's newest may change), and posts moved to a URL
    # that depends on which URLs all other posts have.
    wanted = state.warned("category-folder-shared") | state.unsettled_moves()
    changes = scan_changes(scan, columns, kept)
    state.compared_scan(columns)
    kept = None  # (the kept scan's bytes, 80 MB a million posts, are not needed any more)
    fresh, gone = changes.fresh, changes.gone
    old_urls = state.urls_of([*changes.known, *gone])  # (before the fresh rows replace them)
    fresh_urls: set[str] = set()
    # Thousands of records a batch and no cycles: the collector would walk each batch
    # once more after it is stored (once a batch of 500 files in a first build).
    with state.loading(), without_cycle_collection():
        # What the fresh files' reports are, as far as each file alone says: stored now,
        # made again below for those whose report other posts bear on. Their posts are
        # not needed here but for their URLs, and not at all in a first build (where
        # every file is fresh): the posts the feeds are made of are read back below.
        own = _Own(now, keep_posts=not first)
        for batch in _parse(fresh, config, state, progress, own, meanwhile):
            state.remember_report_rows(batch.reports)
            fresh_urls.update(post.url for post in batch.posts if post is not None)
    if first:
        state.remember_reports(_own_report(p.path, (p,), None) for p in scan.problems)
    state.forget_posts(gone)
    future = config.site is not None and config.site.publishes_future()
    due_at = None if future else now.timestamp()
    if then is not None and not future:
        now_ts = now.timestamp()
        wanted |= state.dated_between(min(now_ts, then), max(now_ts, then))
    # The builder warns a post that shares its permalink: the old permalink's posts and
    # the new one's, if another post has it, get their reports made again. (A fresh post
    # that alone has its permalink has its own report, as an added one has: a bot that
    # rewrites 50,000 posts does not have them all read back.)
    if old_urls:
        others = state.sharing(old_urls) - {file.rel for file in fresh}
        wanted |= others | state.sharing_others(old_urls)
    if not first:  # (a first build settles every shared URL: below)
        wanted |= state.sharing_others(fresh_urls)
    totals = state.feed_totals(due_at)
    for node in totals:
        wanted.update(state.newest(node, due_at, config.limit))
    read = _closure(state, wanted)
    if first:
        _settle_unread(state, config, due_at, read)
    ranks = state.instant_ranks(((p.source, p.instant) for p in _posts(read)), due_at)
    if state.losses != losses:  # the state was emptied half-way: what it gave is not all
        return None
    results = tuple(
        ReadFile(path, post, tuple(problems)) for path, (post, problems) in sorted(read.items())
    )
    return ReadFiles(
        results,
        len(fresh),
        {node_of(key): count for key, count in totals.items()},
        None if future else state.first_scheduled(now.timestamp()),
        ranks,
    )


def _settle_unread(state: State, config: Config, now: float | None, read: Read) -> None:
    """A first build's URLs that several published posts share, where none of them was
    read (no feed shows them): settled as the builder settles a shared URL, one after
    another in its order, from the state's dates and paths of the posts (`state.shared`),
    and what that gives them stored. The builder settles the others, from the posts read:
    a URL it gives that one settled here has, or that is the permalink of a post not
    read, is found (`pipeline._moved_onto_unread`) and every file read instead."""
    from .builder import settle_shared_url

    shared = state.shared_urls(now)
    read_urls = {post.url for post in _posts(read)}
    for url, claimants in shared.claims():
        if url not in read_urls:  # (the URLs of the posts read are all theirs: `_closure`)
            shared.remember(settle_shared_url(url, claimants, shared, config))
    shared.finish()


def _own_report(path: str, problems: tuple[Problem, ...], status: PostStatus | None) -> PostReport:
    """A file's report when no other post bears on it: its post's status (`status`, as
    the builder classifies it), or, for a file that is no post (None), whether it has
    errors."""
    return PostReport(path, not_a_post(problems) if status is None else status, problems)


def problems_digest(problems: Sequence[Problem]) -> str:
    """What a build records of the files it could not look at: the reports of those
    files are only the last build's if these are the same."""
    import xxhash  # (a stamp, as feed_fingerprints': see there)

    text = "\n".join(map(str, problems)).encode("utf-8", "surrogateescape")
    return xxhash.xxh3_128_hexdigest(text)


@dataclass(frozen=True, slots=True)
class _Own:
    """Ask `_parse` for each file's own report (`_own_report`, the post classified at
    `now`), made where the file is parsed, and for its post only with `keep_posts`."""

    now: dt.datetime
    keep_posts: bool


class _Batch(NamedTuple):
    """A batch's files as `_parse` gives them back, by column: lists of plain tuples and
    text pickle and unpickle at C speed, where a record per file costs a call of Python
    each way (thousands of them come back from the workers)."""

    paths: list[str]
    posts: list[Post | None]
    """None also when the caller did not keep posts (`_Own`)."""
    problems: list[tuple[Problem, ...]]
    rows: list[tuple[Any, ...]]
    """Each file's row of the state (`encode_row`)."""
    reports: list[ReportRow]
    """The files' own reports, encoded for the state, when asked for (`_Own`)."""


def _parse(
    files: Sequence[SourceFile],
    config: Config,
    state: State,
    progress: workers.Progress,
    own: _Own | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[_Batch]:
    """Parse these files (over the cores when there are many) and store them in the state,
    batch by batch (the caller holds `state.loading()` around the batches).

    `meanwhile`: work of the build's for later, done here once the workers are parsing:
    they take more batches while it is done, so its time is shared by the cores, where
    after the read it would be this process's alone."""
    processes = workers.worker_count(config.jobs, len(files), PARALLEL_POSTS)
    count = max(processes * _BATCHES_PER_WORKER, -(-len(files) // _BATCH_FILES))
    # Each batch's files in one bytes object: a forked worker that read the scan's own
    # objects would write to their pages (reference counts), and every page written after
    # the fork is a page the kernel copies.
    tail = processes if processes > 1 else 0
    tasks = [pickle.dumps([tuple(f) for f in b]) for b in workers.batches(files, count, tail)]
    # The last small batches are left to the workers: meanwhile this process makes the
    # state's indexes (state.make_indexes), before storing them.
    leave = 0
    if processes > 1 and state.unindexed:
        leave = min(_LEFT_TO_WORKERS * (processes - 1), len(tasks) - 1)
    if processes > 1:  # imported before the workers are forked: then they share the modules
        from . import builder, reader  # noqa: F401
    read_batch = functools.partial(_read_batch, config=config, own=own)
    batches = workers.run_with_progress(
        read_batch, tasks, processes, progress, "Reading posts", leave
    )
    for n, batch in enumerate(batches):
        if leave and n == len(tasks) - leave:
            state.make_indexes()
        # Stored as they come, so the encoded rows of a big site are never all held at once.
        state.remember_posts(batch.rows)
        if meanwhile is not None and processes > 1:
            meanwhile()
            meanwhile = None
        yield batch


def _read_batch(files: bytes, config: Config, own: _Own | None) -> _Batch:
    """Parse files (a batch as `_parse` packs it), and encode them for the state here too
    (and make their own reports, if asked): in a worker, that is parallel."""
    from .builder import classify, nodes_of
    from .reader import read_post  # the parsers are imported only when a post has to be read

    batch = _Batch([], [], [], [], [])
    # The feeds of each distinct list of categories (a batch's posts share a few dozen).
    node_keys: dict[tuple[tuple[str, ...], ...], tuple[str, ...]] = {}
    batch_files = list(map(SourceFile._make, pickle.loads(files)))
    prefetch(config, batch_files)
    with without_cycle_collection():  # thousands of records, no cycles
        for file in batch_files:
            post, problem_list = read_post(file, config)
            problems = tuple(problem_list)
            nodes: tuple[str, ...] = ()
            if post is not None:
                nodes = node_keys.get(post.categories) or node_keys.setdefault(
                    post.categories, ("", *map(node_key, nodes_of(post.categories, config)))
                )
            batch.paths.append(file.rel)
            batch.problems.append(problems)
            batch.rows.append(encode_row(file, post, problems, nodes))
            if own is None:
                batch.posts.append(post)
                continue
            # The row of `_own_report`'s report, without the report.
            status = classify(post, config, own.now) if post is not None else not_a_post(problems)
            batch.reports.append(report_row(file.rel, status, problems))
            batch.posts.append(post if own.keep_posts else None)
    return batch


def _posts(read: Read) -> list[Post]:
    return [post for post, _ in read.values() if post is not None]


def _closure(state: State, paths: set[str]) -> Read:
    """These posts (the changed ones and each feed's newest: their entries and reports
    are made from what is read here), and every post sharing a URL with one of them:
    the builder then gives each its URL and report as from every post. (Not the posts
    that share an instant with them: the state says where each stands among those,
    `State.instant_ranks`; in a site of scraped posts a second's posts are thousands.)"""
    read: Read = {}
    urls: set[str] = set()
    while paths:
        batch = state.read(paths)
        read.update(batch)
        new_urls = {post.url for post in _posts(batch)} - urls
        urls |= new_urls
        paths = state.sharing(new_urls) - read.keys()
    return read
