"""The incremental state is a cache, never the truth: builds with and without it give
the same bytes, and a damaged or foreign state file is rebuilt, not trusted."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub import pipeline
from feedpub.config import load_config
from feedpub.formats import SITE_FILES, Format
from feedpub.incremental import LastBuild, scan_changes, scan_columns, scan_notes
from feedpub.models import Problem, Severity
from feedpub.report import PostReport, PostReports, PostStatus
from feedpub.scanning import Scan, SourceFile, scan_posts
from feedpub.state import STATE_FILE, State
from feedpub.state.rows import report_row, with_problems
from tests.helpers import (
    BASE_URL,
    WritePost,
    feed_files,
    json_feed_files,
    run,
    snapshot,
    write_many,
)

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def build(
    posts: Path, out: Path, *, now: dt.datetime = NOW, use_state: bool = True, **settings: Any
) -> pipeline.Report:
    config = load_config(
        None, {"posts": str(posts), "output": str(out), "base_url": BASE_URL, **settings}
    )
    return pipeline.build(config, now=now, use_state=use_state)


def test_results_are_identical_with_and_without_the_state(
    posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    write_many(posts, 120)
    cached, full = tmp_path / "cached", tmp_path / "full"
    build(posts, cached)
    # edits, additions, removals, a post that turns bad, a scheduled post coming due
    (posts / "area0" / "source0" / "post-0.md").write_text("---\ntitle: [broken\n---\n", "utf-8")
    (posts / "area1" / "source1" / "post-1.md").unlink()
    write_post("area2/new.md", title="New", categories=["Area 2"], date="2021-12-31 23:00:00")
    write_post("area2/later.md", title="Later", categories=["Area 2"], date="2024-01-02 00:00:00")
    edited = posts / "area1" / "source3" / "post-10.md"
    edited.write_text(edited.read_text("utf-8").replace("Post 10", "Post ten"), "utf-8")
    for now in (NOW, dt.datetime(2024, 1, 3, tzinfo=dt.UTC)):
        with_state = build(posts, cached, now=now)
        shutil.rmtree(full, ignore_errors=True)
        without = build(posts, full, now=now, use_state=False)
        assert snapshot(cached) == snapshot(full)
        assert list(with_state.as_json()["posts"]) == list(without.as_json()["posts"])
        assert with_state.exit_code() == without.exit_code() == 1


def test_unchanged_posts_are_not_parsed_and_unchanged_feeds_not_written(
    posts: Path, tmp_path: Path
) -> None:
    write_many(posts, 50)
    out = tmp_path / "out"
    first = build(posts, out)
    assert first.files_read == 50 and first.written
    second = build(posts, out)
    assert (second.files_read, second.written, len(second.unchanged)) == (0, (), len(first.written))
    assert list(second.as_json()["posts"]) == list(first.as_json()["posts"])
    # one post changed: only the feeds that show it are rewritten
    changed = posts / "area0" / "source0" / "post-42.md"
    changed.write_text(changed.read_text("utf-8").replace("Post 42", "Post forty-two"), "utf-8")
    third = build(posts, out, limit=100)
    assert third.files_read == 50  # a new limit is a new configuration: everything again
    changed.write_text(changed.read_text("utf-8").replace("Post forty-two", "Post 42"), "utf-8")
    fourth = build(posts, out, limit=100)
    assert fourth.files_read == 1
    showing = sorted(
        p.relative_to(out).as_posix()
        for p in feed_files(out) + json_feed_files(out)
        if re.search(rb'<title>Post 42<|"title": "Post 42"', p.read_bytes())
    )
    assert (
        sorted(fourth.written)
        == showing
        == sorted(
            f"{d}{fmt.file_name}"
            for d in ("", "categories/Area-0/", "categories/Area-0/Source-0/")
            for fmt in Format
        )
    )


def test_a_deleted_feed_file_is_written_again(posts: Path, tmp_path: Path) -> None:
    write_many(posts, 10)
    out = tmp_path / "out"
    build(posts, out)
    (out / "atom.xml").unlink()
    assert build(posts, out).written == ("atom.xml",)


def test_a_scheduled_post_is_published_on_the_first_build_after_its_time(
    posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    write_post("now.md", title="Now", date="2023-12-31 00:00:00")
    write_post("later.md", title="Later", date="2024-01-01 12:00:00")
    out = tmp_path / "out"
    assert build(posts, out).count(PostStatus.SCHEDULED) == 1
    assert build(posts, out, now=dt.datetime(2024, 1, 1, 11, tzinfo=dt.UTC)).written == ()
    due = build(posts, out, now=dt.datetime(2024, 1, 1, 12, 0, 1, tzinfo=dt.UTC))
    assert due.count(PostStatus.SCHEDULED) == 0 and "rss.xml" in due.written


def _built_with_a_closed_state(posts: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """30 posts built into `out`, its state file alone (no journal beside it): the
    output folder, a folder for a reference build, and the state file."""
    write_many(posts, 30)
    out, reference = tmp_path / "out", tmp_path / "reference"
    build(posts, out)
    state = out / ".feedpub" / STATE_FILE
    for extra in state.parent.glob(STATE_FILE + "-*"):
        extra.unlink()
    return out, reference, state


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b"this is not a database at all" * 100), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:4096]), id="truncated"),
        pytest.param(lambda p: _foreign(p), id="foreign-sqlite"),
        pytest.param(lambda p: _poisoned(p), id="poisoned-rows"),
    ],
)
def test_a_damaged_or_foreign_state_is_rebuilt_with_a_warning(
    posts: Path, tmp_path: Path, damage: Any
) -> None:
    out, reference, state = _built_with_a_closed_state(posts, tmp_path)
    damage(state)
    report = build(posts, out)
    build(posts, reference, use_state=False)
    assert snapshot(out) == snapshot(reference)
    assert len(report.notices) == 1 and "rebuilt from the posts" in report.notices[0]
    assert report.exit_code() == 0


def _foreign(path: Path) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE posts (path TEXT, size INTEGER)")
    db.execute("INSERT INTO posts VALUES ('x', 1)")
    db.commit()
    db.close()


def _poisoned(path: Path) -> None:
    """Rows that look like ours but lie: a cached post no file backs, a fake last build."""
    db = sqlite3.connect(path)
    db.execute('UPDATE posts SET categories = \'{"not": "a list"}\'')
    db.execute("UPDATE meta SET value = '{\"scan\": 5}' WHERE key = 'last_build'")
    db.commit()
    db.close()


def test_a_damaged_page_is_found_where_it_is_read(
    posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    """No check of the whole file on open (it would read every page on every build): a
    build that needs the damaged rows finds them damaged and rebuilds the state."""
    out, reference, state = _built_with_a_closed_state(posts, tmp_path)
    db = sqlite3.connect(state)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = [n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'posts'")]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        db.close()
    with state.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(b"\xa5" * page_size)
    assert build(posts, out).notices == ()  # nothing changed: the posts' rows are not read
    write_post("area0/new.md", title="New", date="2023-06-01 00:00:00")
    report = build(posts, out)
    build(posts, reference, use_state=False)
    assert snapshot(out) == snapshot(reference)
    assert len(report.notices) == 1 and "rebuilt from the posts" in report.notices[0]
    assert build(posts, out).notices == ()  # and the rebuilt state is sound


def test_garbage_state_is_reported(posts: Path, tmp_path: Path) -> None:
    write_many(posts, 5)
    out = tmp_path / "out"
    build(posts, out)
    (out / ".feedpub" / STATE_FILE).write_bytes(b"\0garbage" * 1000)
    report = build(posts, out)
    assert len(report.notices) == 1 and "incremental state was unreadable" in report.notices[0]


def test_a_change_of_settings_rebuilds_everything(posts: Path, tmp_path: Path) -> None:
    write_many(posts, 20)
    out = tmp_path / "out"
    build(posts, out)
    retitled = build(posts, out, title="Renamed")
    assert retitled.files_read == 20
    # every feed names the site, so every one was rendered and written again
    feeds = feed_files(out) + json_feed_files(out)
    assert sorted(retitled.written) == sorted(
        [f.relative_to(out).as_posix() for f in feeds] + list(SITE_FILES)
    )
    assert "<title>Renamed</title>" in (out / "rss.xml").read_text("utf-8")


def _scan_of(files: list[SourceFile], problems: tuple[Problem, ...] = ()) -> Scan:
    """A scan of these files, in this order (the order the folders list them)."""
    scan = Scan()
    for file in files:
        scan.add(file)
    scan.problems.extend(problems)
    return scan


def _digest(files: list[SourceFile], problems: tuple[Problem, ...] = ()) -> tuple[object, ...]:
    """What a build where nothing changed compares of a scan: its columns, which the state
    keeps, and its notes, which the last build's record holds."""
    scan = _scan_of(files, problems)
    return (*map(bytes, scan_columns(scan)), scan_notes(scan))


def test_a_kept_scan_tells_every_change_of_a_file_and_takes_any_stat() -> None:
    files = [SourceFile("a.md", 10, 1_000, 2_000, 7), SourceFile("b/c.md", 20, 3_000, 4_000, 8)]
    digests = {_digest(files)}
    for i in range(len(files)):
        for field, value in (
            ("rel", "a.markdown"),
            ("size", 11),
            ("mtime_ns", 1_001),
            ("ctime_ns", 2_001),
            ("inode", 9),
        ):
            changed = list(files)
            changed[i] = changed[i]._replace(**{field: value})
            digests.add(_digest(changed))
    digests.add(_digest(files[:1]))
    digests.add(_digest(files, (Problem("x.md", "not a regular file; not read"),)))
    assert len(digests) == 2 * 5 + 3
    # Stats past 64-bit signed integers (inodes of some file systems, files dated after 2262)
    odd = [SourceFile("a.md", 10, 2**63, -(2**40), 2**64 - 1)]
    assert _digest(odd) != _digest([odd[0]._replace(inode=1)])
    assert _scan_of(odd).files() == odd


def test_a_scan_keeps_a_file_dated_after_2262_where_the_folder_lists_it(tmp_path: Path) -> None:
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text("x")
    os.utime(tmp_path / "b.md", ns=(0, 2**63 + 5))  # past what the columns hold
    scan = scan_posts(tmp_path)
    listed = [e.name for e in os.scandir(tmp_path)]
    assert scan.names == listed  # the plain files' batch, taken one by one, in its order
    files = {f.rel: f for f in scan.files()}
    assert files["b.md"].mtime_ns == 2**63 + 5 and list(scan.odd) == ["b.md"]
    assert files["a.md"] == SourceFile("a.md", *_stat_of(tmp_path / "a.md"))


def _big_folder(root: Path) -> None:
    for n in range(300):
        (root / f"n{n:03}.md").write_text("x" * (n % 7))
    (root / "sub").mkdir()
    (root / "sub" / "p.md").write_text("p")
    (root / ".hidden.md").write_text("h")
    (root / "notes.txt").write_text("n")
    (root / "late.MD").write_text("l")
    (root / "link.md").symlink_to("n005.md")


def _shared_over(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Big folders made small: after two batches of 16, files are stat'ed over the cores;
    the processes asked for each time are returned."""
    from feedpub import scanning, workers

    monkeypatch.setattr(scanning, "_BATCH", 16)
    monkeypatch.setattr(scanning, "_BATCHES_ALONE", 2)
    monkeypatch.setattr(scanning, "_SHARED_FILES", 32)
    asked: list[int] = []
    run = workers.run

    def counted(function: Any, tasks: Any, processes: int, leave: int = 0) -> Any:
        asked.append(processes)
        return run(function, tasks, processes, leave)

    monkeypatch.setattr(workers, "run", counted)
    return asked


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_big_folder_stat_ed_over_the_cores_scans_as_it_does_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    _big_folder(tmp_path)
    alone = scan_posts(tmp_path, jobs=1)
    asked = _shared_over(monkeypatch)
    shared = scan_posts(tmp_path, jobs=jobs)
    assert asked == [jobs]  # the one big folder, over the processes asked for
    assert shared.names == alone.names and len(shared.names) == 303
    assert [list(c) for c in shared.columns()] == [list(c) for c in alone.columns()]
    assert sorted(shared.files()) == sorted(alone.files())
    assert shared.problems == alone.problems == []
    assert "n299.md" in shared.names and ".hidden.md" not in shared.names


def test_the_files_a_site_keeps_in_a_big_folder_are_stat_ed_over_the_cores_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _big_folder(tmp_path)

    def keep(rel: str, folder: bool) -> bool:  # a site that reads every file but its notes
        return folder or not rel.endswith(".txt")

    alone = scan_posts(tmp_path, keep, jobs=1)
    asked = _shared_over(monkeypatch)
    shared = scan_posts(tmp_path, keep, jobs=2)
    assert asked == [2]
    assert sorted(shared.files()) == sorted(alone.files())
    posts = {f"n{n:03}.md" for n in range(300)}
    assert {f.rel for f in shared.files()} == posts | {"late.MD", "link.md", "sub/p.md"}
    assert shared.problems == alone.problems == []
    files = {f.rel: f for f in shared.files()}
    assert files["n123.md"] == SourceFile("n123.md", *_stat_of(tmp_path / "n123.md"))


def test_a_file_gone_while_a_big_folder_is_stat_ed_is_reported_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedpub import scanning

    _big_folder(tmp_path)
    _shared_over(monkeypatch)
    stat_names = scanning._stat_names

    listed = [entry.name for entry in os.scandir(tmp_path) if entry.name.startswith("n")]
    victims = {listed[-1], listed[-100]}  # well past the first batches: stat'ed over the cores

    def deleting(fd: int, names: Any) -> Any:
        for name in victims.intersection(names):  # a bot deletes a post as it is stat'ed
            (tmp_path / name).unlink()
        return stat_names(fd, names)

    monkeypatch.setattr(scanning, "_stat_names", deleting)
    scan = scan_posts(tmp_path, jobs=2)
    assert not victims & {p.name for p in tmp_path.iterdir()}
    assert not victims & set(scan.names) and len(scan.names) == 301
    # As test_reader's post gone between the listing and its stat, in one process.
    assert [(p.path, p.message) for p in scan.problems] == [
        (name, "cannot read: No such file or directory") for name in sorted(victims)
    ]
    files = {f.rel: f for f in scan.files()}
    kept = next(name for name in scan.names if name.startswith("n"))
    assert files[kept] == SourceFile(kept, *_stat_of(tmp_path / kept))


def _stat_of(path: Path) -> tuple[int, int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


_NAMES = [f"{folder}{n}.md" for folder in ("", "a/", "a-b/", "新媒体/") for n in range(12)]
_STATS = st.tuples(
    st.integers(0, 2),
    st.sampled_from([0, 1, -5, 2**63]),  # a time past 2262 does not fit the columns
    st.sampled_from([0, 7]),
    st.sampled_from([1, 2**64 - 1]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.none() | st.dictionaries(st.sampled_from(_NAMES), _STATS),
    st.dictionaries(st.sampled_from(_NAMES), _STATS),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_the_scan_changes_are_the_files_that_came_changed_or_went(
    old: dict[str, tuple[int, int, int, int]] | None,
    new: dict[str, tuple[int, int, int, int]],
    order: Any,
    reordered: bool,
) -> None:
    """In any listing order: the folders may list the files both scans have in another."""
    old_files = [SourceFile(rel, *stat) for rel, stat in (old or {}).items()]
    if old and not reordered:  # a few changes in one listing: runs both scans share
        listed = [(rel, new.get(rel, stat)) for rel, stat in old.items() if order.random() < 0.9]
        for rel in set(new) - set(old):
            listed.insert(order.randrange(len(listed) + 1), (rel, new[rel]))
        new = dict(listed)
    new_files = [SourceFile(rel, *stat) for rel, stat in new.items()]
    if reordered:
        order.shuffle(new_files)
    scan = _scan_of(new_files)
    kept = None if old is None else scan_columns(_scan_of(old_files))
    changes = scan_changes(scan, scan_columns(scan), kept)
    before = old or {}
    fresh = [r for r in sorted(new) if old is None or before.get(r) != new[r] or r in scan.odd]
    assert sorted(changes.fresh) == [SourceFile(rel, *new[rel]) for rel in fresh]
    assert sorted(changes.known) == [rel for rel in fresh if rel in before]
    assert changes.gone == sorted(set(before) - set(new))


def test_the_last_build_record_reads_back_as_written_and_refuses_what_it_did_not_write() -> None:
    due = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    record = LastBuild("scan", due, {"rss.xml": (10, 20)}, {"https://x/i.png": "1:2"})
    assert LastBuild.from_json(record.to_json()) == record
    for poison in (
        {"images": {"https://x/i.png": 1}},
        {"images": []},
        {"outputs": {"rss.xml": [10]}},
        {"scan": 5},
    ):
        assert LastBuild.from_json(json.dumps(json.loads(record.to_json()) | poison)) is None


def test_problems_added_to_stored_reports_follow_their_own_and_keep_the_counts(
    tmp_path: Path,
) -> None:
    own = Problem("b.md", "date unreadable", Severity.WARNING, 3, "date", "date")
    shared = [
        Problem(path, f"permalink p/1.html is also c.md's; “{n}”", Severity.WARNING, rule="r")
        for path in ("a.md", "b.md")
        for n in (1, 2)
    ]
    state = State.open(tmp_path, "fp")
    state.remember_reports(
        [PostReport("a.md", PostStatus.PUBLISHED, ()), PostReport("b.md", PostStatus.DRAFT, (own,))]
    )
    state.add_report_problems({"a.md": shared[:2], "b.md": shared[2:], "gone.md": shared[:1]})
    state.save()
    state = State.open(tmp_path, "fp")
    assert list(state.post_reports()) == [
        PostReport("a.md", PostStatus.PUBLISHED, tuple(shared[:2])),
        PostReport("b.md", PostStatus.DRAFT, (own, *shared[2:])),
    ]
    assert state.report_counts() == {PostStatus.PUBLISHED: 1, PostStatus.DRAFT: 1}
    # The rows are what storing the whole report writes: a build that makes it again
    # finds it unchanged.
    for mine in ((), (own,)):
        row = report_row("b.md", PostStatus.DRAFT, mine)
        assert with_problems(row, shared) == report_row("b.md", PostStatus.DRAFT, (*mine, *shared))


def test_the_reports_read_back_as_stored_by_path_and_a_row_no_build_wrote_says_so(
    tmp_path: Path,
) -> None:
    warning = Problem("b.md", "date unreadable", Severity.WARNING, 3, "date", "date")
    posts = [
        PostReport("新媒体/c.md", PostStatus.DRAFT, ()),
        PostReport("b.md", PostStatus.SKIPPED, (warning, Problem("b.md", "no front matter"))),
        PostReport("a.md", PostStatus.PUBLISHED, ()),
    ]
    state = State.open(tmp_path, "fp")
    state.remember_reports(posts[:1])
    state.remember_reports(posts, every=True)  # the first is replaced, not doubled
    counts = state.report_counts()
    assert counts == {PostStatus.DRAFT: 1, PostStatus.SKIPPED: 1, PostStatus.PUBLISHED: 1}
    reports = state.post_reports()
    state.save()
    assert list(reports) == sorted(posts, key=lambda r: r.path) == list(PostReports.of(posts))
    assert reports.with_problems == (posts[1],) and len(reports) == 3
    state = State.open(tmp_path, "fp")
    state.forget_posts(["a.md"])
    assert state.post_reports().with_problems == (posts[1],)
    # The counts follow every change without a pass over the reports.
    assert state.report_counts() == {PostStatus.DRAFT: 1, PostStatus.SKIPPED: 1}
    state.remember_reports([PostReport("b.md", PostStatus.PUBLISHED, ()), posts[2], posts[2]])
    assert state.report_counts() == {PostStatus.DRAFT: 1, PostStatus.PUBLISHED: 2}
    state.remember_reports([posts[1]])
    assert state.report_counts() == {p.status: 1 for p in posts}
    # Rows no build wrote (not JSON, JSON that is no problem, a status there is not) say
    # so in the report of their file, when it is read.
    state._write("UPDATE reports SET problems = 'not JSON' WHERE path = 'b.md'")
    state._write("UPDATE reports SET status = 'lost', problems = '[1]' WHERE path LIKE '%c.md'")
    reports = state.post_reports()
    assert [(r.path, r.status) for r in reports.with_problems] == [
        ("b.md", PostStatus.SKIPPED),
        ("新媒体/c.md", PostStatus.SKIPPED),
    ]
    assert {p.rule for r in reports.with_problems for p in r.problems} == {"state-damaged"}
    state._write("UPDATE reports SET status = 'skipped', problems = '[{}]'")
    reports = state.post_reports()
    assert [r.status for r in reports.skipped()] == [PostStatus.SKIPPED] * 3
    assert {p.rule for r in reports.with_problems for p in r.problems} == {"state-damaged"}
    state._write("UPDATE report_counts SET key = 'lost' WHERE key = 'draft'")
    with pytest.raises(ValueError):
        state.report_counts()


def test_reports_of_a_state_that_cannot_be_saved_are_those_with_problems(tmp_path: Path) -> None:
    """A commit that fails (a full disk) loses the reports kept only in the state: the
    build's report still lists every post with a problem, read before the file is let go."""
    warned = PostReport("b.md", PostStatus.PUBLISHED, (Problem("b.md", "w", Severity.WARNING),))
    state = State.open(tmp_path, "fp")
    state.remember_reports([PostReport("a.md", PostStatus.PUBLISHED, ()), warned], every=True)

    class FailingCommit:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def commit(self) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.db, name)

    state._db = FailingCommit(state._db)  # type: ignore[assignment, arg-type]
    reports = state.post_reports()
    state.save()
    assert state.warning is not None and "could not be saved" in state.warning
    assert reports.with_problems == (warned,)
    assert list(reports) == [warned]


def _indexes(out: Path) -> set[str]:
    with sqlite3.connect(out / ".feedpub" / STATE_FILE) as db:
        return {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_first_build_that_fails_half_way_leaves_every_index_and_a_true_state(
    posts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build stores its posts without the indexes and makes them after: also when it
    stops half-way (what it stored is saved), and the next build is as good as a clean one."""
    from feedpub import reader
    from feedpub.state.schema import INDEXES as _INDEXES

    write_many(posts, 60)
    out, clean = tmp_path / "out", tmp_path / "clean"
    read_post, seen = reader.read_post, []

    def failing(file: SourceFile, config: Any) -> Any:
        seen.append(file.rel)
        if len(seen) == 40:
            raise RuntimeError("stopped half-way")
        return read_post(file, config)

    monkeypatch.setattr(reader, "read_post", failing)
    with pytest.raises(RuntimeError, match="half-way"):
        build(posts, out)
    monkeypatch.setattr(reader, "read_post", read_post)
    assert _indexes(out) >= set(_INDEXES)
    with sqlite3.connect(out / ".feedpub" / STATE_FILE) as db:
        stored = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert 0 < stored < 40  # the batches stored before the failure
    again = build(posts, out)
    assert again.files_read == 60 - stored
    assert list(again.as_json()["posts"]) == list(build(posts, clean).as_json()["posts"])
    assert snapshot(out) == snapshot(clean)


def _journal(out: Path) -> tuple[str, int]:
    with sqlite3.connect(out / ".feedpub" / STATE_FILE) as db:
        return (
            db.execute("PRAGMA journal_mode").fetchone()[0],
            db.execute("PRAGMA freelist_count").fetchone()[0],
        )


_KILLED_HALF_WAY = """
import os, sys
from feedpub import pipeline, reader
from feedpub.config import load_config
read_post, seen = reader.read_post, []
def dying(file, config):
    seen.append(file)
    if len(seen) == 40:
        os._exit(9)  # no commit, no cleanup: as a kill would leave it
    return read_post(file, config)
reader.read_post = dying
config = load_config(None, {"posts": sys.argv[1], "output": sys.argv[2], "jobs": 1})
pipeline.build(config)
"""


def test_a_first_build_is_written_with_a_rollback_journal_and_a_killed_one_rolled_back(
    posts: Path, tmp_path: Path
) -> None:
    """A first build fills an empty file (a reset state's pages vacuumed first), so a
    rollback journal copies next to nothing, and leaves the state in WAL (the reports'
    snapshot must not block the next build); killed half-way, it leaves its journal, and
    the next build finds the state as empty as it was."""
    import subprocess
    import sys

    write_many(posts, 60)
    out, clean = tmp_path / "out", tmp_path / "clean"
    killed = subprocess.run([sys.executable, "-c", _KILLED_HALF_WAY, str(posts), str(out)])
    assert killed.returncode == 9
    assert (out / ".feedpub" / f"{STATE_FILE}-journal").is_file()
    again = build(posts, out)
    assert again.files_read == 60  # nothing of the killed build was kept
    build(posts, clean)
    assert snapshot(out) == snapshot(clean)
    assert _journal(out) == ("wal", 0)
    assert build(posts, out, title="Renamed").files_read == 60  # a reset: filled again
    assert _journal(out) == ("wal", 0)


def test_only_a_first_build_does_not_wait_for_its_commit_on_the_disk(
    posts: Path, tmp_path: Path
) -> None:
    """An empty state is filled without a flush to disk (nothing is lost to a power cut
    that an empty state had); a state with posts in it is committed with one."""
    from feedpub.state.schema import connect, journal_for_filling, reset

    path = tmp_path / "empty" / STATE_FILE
    path.parent.mkdir()
    db = connect(path, timeout=1.0)
    reset(db, "stamp")
    assert journal_for_filling(db) is True
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
    db.close()
    # A new file to be filled is never made WAL (it would be checkpointed back at once).
    path = tmp_path / "new" / STATE_FILE
    path.parent.mkdir()
    db = connect(path, timeout=1.0, to_fill=True)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 0
    reset(db, "stamp")
    assert journal_for_filling(db) is True
    assert not path.with_name(f"{STATE_FILE}-wal").exists()
    db.close()
    db = connect(path, timeout=1.0, to_fill=True)  # no longer new: WAL, flushed
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1
    db.close()
    write_many(posts, 5)
    out = tmp_path / "out"
    build(posts, out)
    db = connect(out / ".feedpub" / STATE_FILE, timeout=1.0)
    assert journal_for_filling(db) is False
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    db.close()


def test_a_state_without_its_indexes_gets_them_back(posts: Path, tmp_path: Path) -> None:
    from feedpub.state.schema import INDEXES as _INDEXES

    write_many(posts, 20)
    out = tmp_path / "out"
    build(posts, out)
    with sqlite3.connect(out / ".feedpub" / STATE_FILE) as db:
        for name in _INDEXES:
            db.execute(f"DROP INDEX {name}")
    assert build(posts, out).files_read == 0
    assert _indexes(out) >= set(_INDEXES)


def test_the_command_lets_go_of_the_state_before_it_exits(posts: Path, tmp_path: Path) -> None:
    """The reports' snapshot of the state is closed when the command is done with it, not
    whenever the collector frees the exit's traceback: no journal is left behind."""
    import gc

    write_many(posts, 5)
    out = tmp_path / "out"
    gc.disable()
    try:
        for _ in range(2):  # a first build, then one where nothing changed
            assert run("build", "--posts", posts, "--output", out, "-q")[0] == 0
            assert not list((out / ".feedpub").glob(STATE_FILE + "-*"))
    finally:
        gc.enable()


def test_a_first_builds_files_are_made_one_batch_at_a_time(tmp_path: Path) -> None:
    """Without a kept scan every file is fresh: a sequence over the scan's columns that
    makes each SourceFile when asked, the same files `Scan.files` gives."""
    from feedpub.scanning import scan_posts

    write_many(tmp_path, 12)
    scan = scan_posts(tmp_path)
    fresh = scan_changes(scan, scan_columns(scan), None).fresh
    assert not isinstance(fresh, list)
    assert len(fresh) == 12 and list(fresh) == scan.files()
    assert fresh[2:5] == scan.files()[2:5] and fresh[-1] == scan.files()[-1]
    with pytest.raises(IndexError):
        fresh[12]


def test_the_kept_scan_is_written_only_where_it_changed(tmp_path: Path) -> None:
    columns = (b"a.md\0b.md", b"s" * 16, b"m" * 16, b"c" * 16, b"i" * 16)
    state = State.open(tmp_path, "fp")
    state.remember_scan(columns)
    state.save()
    state = State.open(tmp_path, "fp")
    assert state.kept_scan() == columns
    db = state._db
    assert db is not None
    before = db.total_changes
    edited = (columns[0], columns[1], b"M" * 16, b"C" * 16, columns[4])  # no path came or went
    state.remember_scan(edited)
    assert db.total_changes - before == 2  # the two stat columns that differ, not the paths
    state.save()
    assert State.open(tmp_path, "fp").kept_scan() == edited
