"""Incremental state: what earlier builds learned, so a cron run that changes nothing costs nothing.

A small SQLite database in the output folder's hidden `.feedpub/` holds
- every post file's parsed metadata and problems, keyed by path, size, mtime
  and inode, so an unchanged file is never opened again, and the scan these rows
  match, by column, which the next scan is compared with at C speed
  (incremental.scan_changes);
- every post's feed membership (`members`: a row per feed it can be in, `''` for the
  site's), indexed so that "the newest N posts of this feed" is one range of an index,
  and counted per feed (`feed_counts`, kept up to date with every change, as the reports'
  `report_counts` are: no build counts every post),
  and the posts indexed by URL, instant and date, so a build that changed a few posts
  finds the few others the builder compares them with, without reading every post
  (reading.py's `read_changes`);
- the bodies of the posts in feeds, made fit for feeds, by post version, URL and image
  stamp, so a body is prepared once per version, not once per build (only those of posts
  in the last build's feeds are kept); and
- every feed file's fingerprint (its posts, their versions and the settings),
  so a feed whose items did not change is not even rendered; and
- every file's report as the last build made it (status and problems), updated per
  changed file, so that no build holds every post's report: a build's `Report` asks
  here for the counts and the reports with problems, and reads the whole list only
  when it is written (`--report`), from a snapshot of what this build committed.

It is a cache, never the truth: it records which feedpub version and which
configuration wrote it and is emptied when either changes; a damaged or
foreign file is rebuilt with a warning; `--full` ignores it. Builds with and
without it give the same bytes (the tests prove it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import sys
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__
from .models import BodyFormat, Content, Enclosure, Post, Problem
from .report import PostReport, PostReports, PostStatus
from .sources import SourceFile

STATE_FILE = "state.sqlite3"
SCHEMA_VERSION = 8
_APPLICATION_ID = 0x46505542  # "FPUB": marks the file as ours

NodeKey = str
"""A feed's category node as the state stores it: its names joined by U+001F ('' is the site)."""


def node_key(node: tuple[str, ...]) -> NodeKey:
    # U+001F cannot be in a name: the reader removes what XML 1.0 forbids.
    return "\x1f".join(node)


def node_of(key: NodeKey) -> tuple[str, ...]:
    return tuple(key.split("\x1f")) if key else ()


class PostRow(NamedTuple):
    """One file as the state stores it (made by `encode_row`, in the worker that read it).

    A named tuple: rows come back from the workers by the thousand, and a tuple pickles and
    unpickles in a third of the time a frozen dataclass takes."""

    values: tuple[Any, ...]
    """path, size, mtime_ns, ctime_ns, inode, the POST_COLUMNS, problems, date_ts, instant."""
    nodes: tuple[NodeKey, ...]
    """The feeds the post can be in ('' and its category nodes); () for a draft or a file
    that is not a post."""


Read = dict[str, tuple[Post | None, list[Problem]]]
"""Files as read: path → the Post (None for a file that is not one) and its problems."""


@dataclass(frozen=True, slots=True)
class Cached:
    """One post file as an earlier build read it: a row of the posts table, decoded
    only if the file is unchanged."""

    row: tuple[Any, ...]
    """path, size, mtime_ns, ctime_ns, inode, the POST_COLUMNS, problems."""

    def matches(self, file: SourceFile) -> bool:
        # ctime cannot be set back by touch or rsync, so an edit that keeps size and mtime is still seen.
        return self.row[1:5] == (file.size, file.mtime_ns, file.ctime_ns, file.inode)

    def load(self) -> tuple[Post | None, list[Problem]]:
        path, *_, problems = self.row
        post = _decode_post(path, self.row[5:-1]) if self.row[5] is not None else None
        return post, [] if problems == "[]" else [
            Problem.from_dict(p) for p in json.loads(problems)
        ]


class State:
    """The state database, opened for one build. Use `State.open`, then `save` at the end.

    Whatever goes wrong with it (a damaged row, text that is not UTF-8, a file another
    process holds locked) costs only the cache: a row that cannot be read empties the
    state, which is rebuilt from the posts; a lock held longer than the build waits for
    the output folder makes this build run without it. Both with a warning."""

    def __init__(self, db: sqlite3.Connection | None, warning: str | None = None) -> None:
        self._db = db
        self.warning = warning
        """Why the state was thrown away or bypassed, if it was (for the build's report)."""
        self._loading = False
        """Storing into an empty state, without its indexes (`loading`)."""
        self.losses = 0
        """How often this build found the state unusable and emptied or let go of it: what
        was read from it before is no proof of what the rest of it held."""
        self._reader: sqlite3.Connection | None = None
        """After `save`, the connection that reads this build's reports (PostReports.every),
        open as long as the reports `post_reports` handed out are."""
        self._handed_out: weakref.ref[PostReports] | None = None
        self._kept_scan: dict[str, bytes] = {}
        """The kept scan's columns as `kept_scan` read them: `remember_scan` writes only
        the columns that differ (an edit leaves the 8 MB of paths of 100,000 posts alone)."""

    @classmethod
    def open(
        cls, folder: Path, fingerprint: str, *, enabled: bool = True, timeout: float = 5.0
    ) -> State:
        """The state in `folder` for a build with config `fingerprint`, waiting up to `timeout`
        seconds for another process's lock. Not `enabled` (--full): emptied, then refilled.
        An unusable state is rebuilt, or bypassed, so a build never depends on it."""
        path = folder / STATE_FILE
        stamp = f"{__version__}/{SCHEMA_VERSION}/{fingerprint}"
        for part in _files_of(path):
            if part.is_symlink():  # SQLite would write where it points
                with contextlib.suppress(OSError):
                    part.unlink()
        try:
            db = _connect(path, timeout)
            if not enabled or _read_stamp(db) != stamp:
                _reset(db, stamp)
            _restore_indexes(db)
            return cls(db)
        except sqlite3.DatabaseError as e:
            if _is_busy(e):
                return cls(None, _bypassed(path, e, timeout))
            warning = f"{path}: incremental state was unreadable ({e}); rebuilt from the posts"
        warning += _move_aside(path)
        try:
            db = _connect(path, timeout)
            _reset(db, stamp)
            return cls(db, warning)
        except sqlite3.DatabaseError as e:
            return cls(None, f"{warning}; it cannot be rebuilt ({e}): this build runs without it")

    def _trouble(self, error: sqlite3.DatabaseError) -> None:
        """A query failed: a damaged state is emptied (and rebuilt by this build), a locked
        one is left alone for this build."""
        db, self._db = self._db, None
        self._kept_scan = {}
        if db is None:
            return
        self.losses += 1
        if not _is_busy(error):
            self.warning = f"incremental state was unreadable ({error}); rebuilt from the posts"
            stamp = ""
            try:
                stamp = _read_stamp(db) or ""
                _reset(db, stamp)
                self._db = db
                return
            except sqlite3.DatabaseError as again:
                error = again
            if not _is_busy(error) and (fresh := _start_over(db, stamp)) is not None:
                self._db = fresh
                return
        self.warning = f"incremental state cannot be used ({error}); this build runs without it"
        with contextlib.suppress(sqlite3.Error):
            db.close()

    @property
    def usable(self) -> bool:
        """Whether there is a database to ask (not when bypassed, nor without a state)."""
        return self._db is not None

    def cached_posts(self) -> dict[str, Cached]:
        """Every post row by path, in one query (far faster than a query per file)."""
        if self._db is None:
            return {}
        return {
            row[0]: Cached(row)
            for row in self._rows(
                f"SELECT path, size, mtime_ns, ctime_ns, inode, {_POST_COLUMNS}, problems FROM posts"
            )
        }

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Around storing many posts: into an empty state (a first build), the rows go in
        without the indexes, which are made after in one sorted pass each, instead of
        taking a million inserts at random places. All in the build's one transaction:
        a build that is killed leaves the state as it was, one that fails still leaves
        every index (the `finally`)."""
        if self._db is None or self._loading or self._rows("SELECT 1 FROM posts LIMIT 1"):
            yield
            return
        db = self._db  # (read after the query: one that failed replaced or closed it)
        if db is None:
            yield
            return
        try:
            if not db.in_transaction:
                db.execute("BEGIN")
            for name in _INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {name}")
        except sqlite3.DatabaseError as e:
            self._trouble(e)
            yield
            return
        self._loading = True
        try:
            yield
        finally:
            self._loading = False
            for name, on in _INDEXES.items():
                self._write(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
            for sql in (*_RECOUNT_FEEDS, *_RECOUNT_REPORTS):
                self._write(sql)

    def remember_posts(self, rows: Iterable[PostRow]) -> None:
        """Store rows made by `encode_row`, with their feed membership."""
        rows = list(rows)
        marks = ", ".join("?" * (len(POST_COLUMNS) + 8))
        self._write(
            f"INSERT OR REPLACE INTO posts ({_ROW_COLUMNS}) VALUES ({marks})",
            [r.values for r in rows],
        )
        if not self._loading:  # else the state was empty: no earlier row, and no index yet
            paths = [r.values[0] for r in rows]
            counts = Counter(node for r in rows for node in r.nodes)
            counts.subtract(self._nodes_of(paths))
            self._write("DELETE FROM members WHERE path = ?", [(p,) for p in paths])
        self._write(
            "INSERT INTO members (node, date_ts, path) VALUES (?, ?, ?)",
            [(node, r.values[_DATE_TS], r.values[0]) for r in rows for node in r.nodes],
        )
        if not self._loading:  # (counted when the loading is over)
            self._count("feed_counts", counts)

    def _nodes_of(self, paths: Sequence[str]) -> Iterator[str]:
        """The feeds these posts are members of now, once per membership."""
        for chunk in _chunks(paths):
            marks = ", ".join("?" * len(chunk))
            for (node,) in self._rows(f"SELECT node FROM members WHERE path IN ({marks})", chunk):
                yield node

    def _statuses_of(self, paths: Sequence[str]) -> Iterator[str]:
        """The status of each of these files' stored reports."""
        for chunk in _chunks(paths):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT status FROM reports WHERE path IN ({marks})"
            for (status,) in self._rows(query, chunk):
                yield status

    def _count(self, table: str, changes: Counter[str]) -> None:
        """Add these changes to a counts table (`feed_counts`, `report_counts`), in the
        transaction that changed the rows counted: the counts are then never a pass over
        every member or report, and always exact."""
        changes = Counter({key: n for key, n in changes.items() if n})
        if not changes:
            return
        self._write(
            f"INSERT INTO {table} (key, n) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET n = n + excluded.n",
            changes.items(),
        )
        self._write(f"DELETE FROM {table} WHERE n = 0")

    def forget_posts(self, paths: Iterable[str]) -> None:
        """Drop the rows of files that are gone."""
        paths = sorted(set(paths))
        gone = [(p,) for p in paths]
        if not self._loading:  # (counted when the loading is over)
            self._count("feed_counts", _negated(self._nodes_of(paths)))
            self._count("report_counts", _negated(self._statuses_of(paths)))
        self._write("DELETE FROM posts WHERE path = ?", gone)
        self._write("DELETE FROM members WHERE path = ?", gone)
        self._write("DELETE FROM contents WHERE path = ?", gone)
        self._write("DELETE FROM reports WHERE path = ?", gone)

    def prepared(self, keys: dict[str, str]) -> dict[str, Content]:
        """The kept bodies of these posts (source → content key wanted) that match."""
        found: dict[str, Content] = {}
        columns = "path, key, html, summary, enclosure_url, enclosure_type, enclosure_length"
        for chunk in _chunks(sorted(keys)):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT {columns} FROM contents WHERE path IN ({marks})"
            for path, key, html, summary, url, kind, length in self._rows(query, chunk):
                if key == keys[path]:
                    enclosure = Enclosure(url, kind, length) if url is not None else None
                    found[path] = Content(html, summary, enclosure)
        return found

    def remember_prepared(self, bodies: Iterable[tuple[str, str, Content]]) -> None:
        """Keep (source, content key, Content) triples."""
        self._write(
            "INSERT OR REPLACE INTO contents VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (source, key, c.html, c.summary, *_enclosure_values(c.enclosure))
                for source, key, c in bodies
            ],
        )

    def keep_prepared_only(self, sources: Iterable[str]) -> None:
        """Drop the bodies of posts no feed holds any more (else they would pile up)."""
        self._write("CREATE TEMP TABLE IF NOT EXISTS in_feeds (path TEXT PRIMARY KEY)")
        self._write("DELETE FROM in_feeds")
        self._write("INSERT OR IGNORE INTO in_feeds VALUES (?)", [(s,) for s in sources])
        self._write("DELETE FROM contents WHERE path NOT IN (SELECT path FROM in_feeds)")

    # -- what a build from the index asks -----------------------------------------------

    def kept_scan(self) -> tuple[bytes, bytes, bytes, bytes, bytes] | None:
        """The scan the posts' rows were last brought up to date with, by column
        (incremental.ScanColumns), or None. Raises ValueError for a row no build wrote."""
        kept = dict(self._rows("SELECT name, data FROM scan"))
        if not kept:
            return None
        if set(kept) != set(_SCAN_COLUMNS) or any(type(c) is not bytes for c in kept.values()):
            raise ValueError("the kept scan is not one a build wrote")
        self._kept_scan = kept
        paths, sizes, mtimes, ctimes, inodes = (kept[name] for name in _SCAN_COLUMNS)
        return paths, sizes, mtimes, ctimes, inodes

    def remember_scan(
        self, columns: tuple[bytes | bytearray, bytes, bytes, bytes, bytes] | None
    ) -> None:
        """Keep the scan the posts' rows now match (None: they match none, for now): only
        the columns that differ from the kept ones are written."""
        kept, self._kept_scan = self._kept_scan, {}
        if columns is None:
            self._write("DELETE FROM scan")
            return
        changed = [
            (name, column)
            for name, column in zip(_SCAN_COLUMNS, columns, strict=True)
            if kept.get(name) != column
        ]
        self._write("INSERT OR REPLACE INTO scan (name, data) VALUES (?, ?)", changed)

    def has_posts(self) -> bool:
        return bool(self._rows("SELECT 1 FROM posts LIMIT 1"))

    def read(self, paths: Iterable[str]) -> Read:
        """The stored posts and problems of these files (those the state has)."""
        found: Read = {}
        columns = f"path, size, mtime_ns, ctime_ns, inode, {_POST_COLUMNS}, problems"
        for chunk in _chunks(sorted(set(paths))):
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT {columns} FROM posts WHERE path IN ({marks})", chunk):
                found[row[0]] = Cached(row).load()
        return found

    def feed_totals(self, now: float | None) -> dict[NodeKey, int]:
        """How many published posts each feed has (`now`: posts dated later are not yet
        published; None: every post is)."""
        totals = Counter(dict(self._rows("SELECT key, n FROM feed_counts")))
        if now is not None:  # the few posts dated later, by the posts' date index
            query = (  # CROSS JOIN: SQLite then walks the posts first (not every member)
                "SELECT node, count(*) FROM posts CROSS JOIN members ON members.path = posts.path"
                " WHERE posts.date_ts > ? AND members.date_ts > ? GROUP BY node"
            )
            totals.subtract(dict(self._rows(query, (now, now))))
        return {node: n for node, n in totals.items() if n > 0}

    def newest(self, node: NodeKey, now: float | None, limit: int) -> list[str]:
        """The newest `limit` published posts of a feed, newest first (ties by path), as the
        builder orders them: one range of the members index."""
        due = "AND date_ts <= ? " if now is not None else ""
        args = (node, now, limit) if now is not None else (node, limit)
        return [
            path
            for (path,) in self._rows(
                f"SELECT path FROM members WHERE node = ? {due}ORDER BY date_ts DESC, path LIMIT ?",
                args,
            )
        ]

    def sharing(self, urls: Iterable[str], instants: Iterable[float]) -> set[str]:
        """Posts with one of these URLs or `updated` instants: the builder tells such posts
        apart (URL suffixes, microseconds), so each one's entry depends on the others."""
        found: set[str] = set()
        for column, values in (("url", set(urls)), ("instant", set(instants))):
            for chunk in _chunks(sorted(values)):
                marks = ", ".join("?" * len(chunk))
                query = f"SELECT path FROM posts WHERE {column} IN ({marks})"
                found.update(path for (path,) in self._rows(query, chunk))
        return found

    def sharing_others(self, urls: Iterable[str]) -> set[str]:
        """Posts with one of these URLs that another post has too."""
        shared: list[str] = []
        for chunk in _chunks(sorted(set(urls))):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT url FROM posts WHERE url IN ({marks}) GROUP BY url HAVING count(*) > 1"
            shared += [url for (url,) in self._rows(query, chunk)]
        return self.sharing(shared, ())

    def sharing_any(self) -> set[str]:
        """Posts with a URL that another post has too (what `sharing_others` gives for every
        post's URL, without a first build holding every URL)."""
        query = (
            "SELECT path FROM posts WHERE url IN"
            " (SELECT url FROM posts WHERE url IS NOT NULL GROUP BY url HAVING count(*) > 1)"
        )
        return {path for (path,) in self._rows(query)}

    def dated_between(self, start: float, end: float) -> set[str]:
        """Posts dated in (start, end]: those that came due (or went back) between two builds."""
        rows = self._rows("SELECT path FROM posts WHERE date_ts > ? AND date_ts <= ?", (start, end))
        return {path for (path,) in rows}

    def first_scheduled(self, now: float) -> dt.datetime | None:
        """The date of the earliest post not yet due (drafts are never due)."""
        rows = self._rows(
            "SELECT date FROM posts WHERE draft = 0 AND date_ts > ? ORDER BY date_ts LIMIT 1",
            (now,),
        )
        return dt.datetime.fromisoformat(rows[0][0]) if rows else None

    def built_at(self) -> float | None:
        """When the last build ran (its `now`, a timestamp), if one recorded it. Raises
        ValueError for a value no build wrote."""
        value = self.meta("now")
        return None if value is None else float(value)

    def remember_built_at(self, now: dt.datetime) -> None:
        self.remember_meta("now", repr(now.timestamp()))

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def remember_meta(self, key: str, value: str | None) -> None:
        self._write("DELETE FROM meta WHERE key = ?", [(key,)])
        if value is not None:
            self._write("INSERT INTO meta (key, value) VALUES (?, ?)", [(key, value)])

    def feed_fingerprints(self) -> dict[str, str]:
        if self._db is None:
            return {}
        return dict(self._rows("SELECT path, fingerprint FROM feeds"))

    def remember_feeds(self, fingerprints: dict[str, str]) -> None:
        self._write("DELETE FROM feeds")
        self._write("INSERT INTO feeds (path, fingerprint) VALUES (?, ?)", fingerprints.items())

    def discard(self, reason: str) -> None:
        """Throw everything away (a row did not decode): rebuilt from the posts, with a warning."""
        self.warning = f"incremental state was unreadable ({reason}); rebuilt from the posts"
        self.losses += 1
        self._kept_scan = {}
        if self._db is not None:
            try:
                _reset(self._db, _read_stamp(self._db) or "")
            except sqlite3.DatabaseError as e:
                self._trouble(e)

    def last_build(self) -> str | None:
        """The last complete build's record (incremental.LastBuild as JSON), or None."""
        return self.meta("last_build")

    def remember_last_build(self, record: str | None) -> None:
        self.remember_meta("last_build", record)

    # -- post reports -------------------------------------------------------------------

    def remember_reports(self, reports: Iterable[PostReport], *, every: bool = False) -> None:
        """Store these files' reports; with `every`, they are all there are (the rest go)."""
        if every:
            self._write("DELETE FROM reports")
            self._write(
                "INSERT OR REPLACE INTO reports (path, status, problems) VALUES (?, ?, ?)",
                map(_report_values, reports),
            )
            if not self._loading:  # (counted when the loading is over)
                for sql in _RECOUNT_REPORTS:  # every file was read: a pass costs nothing more
                    self._write(sql)
            return
        values = {report.path: _report_values(report) for report in reports}  # the last wins
        if not self._loading:
            counts = Counter(status for _, status, _ in values.values())
            counts.subtract(self._statuses_of(list(values)))
        self._write(
            "INSERT OR REPLACE INTO reports (path, status, problems) VALUES (?, ?, ?)",
            values.values(),
        )
        if not self._loading:
            self._count("report_counts", counts)

    def report_counts(self) -> dict[PostStatus, int]:
        """How many reports there are of each status (kept up to date per change)."""
        rows = self._rows("SELECT key, n FROM report_counts WHERE n > 0")
        return {PostStatus(status): count for status, count in rows}

    def reports_with_problems(self) -> tuple[PostReport, ...]:
        """The stored reports that name problems, by path. Raises ValueError, KeyError or
        TypeError for a row no build wrote."""
        query = "SELECT path, status, problems FROM reports WHERE problems IS NOT NULL"
        return tuple(map(_decode_report, self._rows(query + " ORDER BY path")))

    def post_reports(self, counts: dict[PostStatus, int]) -> PostReports:
        """The stored reports (`counts` of them), the whole list read from this build's
        snapshot (see `save`). Raises as `reports_with_problems` does."""
        reports = PostReports(
            counts, self.reports_with_problems(), self._every_report, self._close_reader
        )
        self._handed_out = weakref.ref(reports)
        return reports

    def _every_report(self) -> Iterator[PostReport]:
        if self._reader is None:  # this build's reports could not be saved (see `save`)
            reports = self._handed_out() if self._handed_out else None
            return iter(reports.with_problems if reports else ())
        query = "SELECT path, status, problems FROM reports ORDER BY path"
        return map(_decode_report, self._reader.execute(query))

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query; none if the state turns out damaged (then it is emptied)."""
        if self._db is None:
            return []
        cursor = self._db.cursor()
        try:
            return cursor.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            cursor.close()  # an open read would keep the tables from being emptied
            self._trouble(e)
            return []

    def _write(self, sql: str, rows: Iterable[Sequence[Any]] = ((),)) -> None:
        if self._db is None:
            return
        try:
            self._db.executemany(sql, rows)
        except sqlite3.DatabaseError as e:
            self._trouble(e)

    def save(self) -> None:
        """Commit what the build learned. The connection then stays open on a snapshot of
        it (taken while the build holds the output folder's lock), from which the
        reports of `post_reports` are read when they are written."""
        if self._db is None:
            return
        db, self._db = self._db, None
        kept = False
        try:
            db.commit()
            reports = self._handed_out() if self._handed_out else None
            if reports is not None:
                db.execute("BEGIN")
                db.execute("SELECT count(*) FROM reports").fetchone()  # the snapshot starts here
                # Closed explicitly: a connection is in a reference cycle with its cache.
                weakref.finalize(reports, db.close)
                self._reader, kept = db, True
        except sqlite3.DatabaseError as e:
            # A cache that cannot be saved is only a slower next build; but the reports of
            # the files this build did not read were only there.
            if self._handed_out and self._handed_out() is not None:
                self.warning = (
                    f"incremental state could not be saved ({e}); "
                    "the report lists only the posts with problems"
                )
        finally:
            if not kept:
                db.close()


def _is_busy(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _bypassed(path: Path, error: sqlite3.DatabaseError, timeout: float) -> str:
    return (
        f"{path}: another process held the incremental state for more than {timeout:g} s "
        f"({error}); this build runs without it"
    )


def _files_of(path: Path) -> tuple[Path, ...]:
    """The database and the journal files SQLite keeps beside it."""
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def _move_aside(path: Path) -> str:
    """Make room for a new state: a damaged file (and its journal) is deleted; anything
    that is not a file, a folder say, is renamed, so that nothing of the user's is lost."""
    note = ""
    for part in _files_of(path):
        try:
            if part.is_symlink() or part.is_file():
                part.unlink()
            elif part.exists():
                aside = part.with_name(f"{part.name}.unusable-{os.getpid()}-{int(time.time())}")
                part.rename(aside)
                note += f"; {part.name} was not a file: moved aside to {aside.name}"
        except OSError as e:
            note += f"; {part.name} cannot be moved aside: {e.strerror}"
    return note


def _start_over(db: sqlite3.Connection, stamp: str) -> sqlite3.Connection | None:
    """A new, empty state in place of one so damaged that its tables cannot even be
    dropped (a damaged page is found only where it is read, see _connect), or None."""
    try:
        path = next(
            Path(file) for _, name, file in db.execute("PRAGMA database_list") if name == "main"
        )
    except (sqlite3.Error, StopIteration):
        return None
    with contextlib.suppress(sqlite3.Error):
        db.close()
    _move_aside(path)
    try:
        fresh = _connect(path, timeout=1.0)  # the build holds the output folder's lock
        _reset(fresh, stamp)
    except sqlite3.DatabaseError:
        return None
    return fresh


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    # Not bound to this thread: a build's reports may be read (and let go) in another.
    db = sqlite3.connect(path, timeout=timeout, isolation_level="DEFERRED", check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")  # a killed build leaves the last committed state
    db.execute("PRAGMA synchronous = NORMAL")
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != _APPLICATION_ID and tables:
        raise sqlite3.DatabaseError("not a feedpub state file")
    # No integrity check of the whole file here: it would read every page on every build.
    # A damaged page raises where a query reads it, and the state is rebuilt there.
    return db


def _restore_indexes(db: sqlite3.Connection) -> None:
    """Make the indexes a build interrupted while `loading` left out (it saved its posts)."""
    have = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    if missing := [name for name in _INDEXES if name not in have]:
        for name in missing:
            db.execute(f"CREATE INDEX {name} ON {_INDEXES[name]}")
        for sql in (*_RECOUNT_FEEDS, *_RECOUNT_REPORTS):  # nor were the counts made
            db.execute(sql)
        db.commit()


def _read_stamp(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _reset(db: sqlite3.Connection, stamp: str) -> None:
    db.executescript(
        f"""
        DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS posts; DROP TABLE IF EXISTS feeds;
        DROP TABLE IF EXISTS members; DROP TABLE IF EXISTS contents;
        DROP TABLE IF EXISTS reports; DROP TABLE IF EXISTS scan;
        DROP TABLE IF EXISTS feed_counts; DROP TABLE IF EXISTS report_counts;
        PRAGMA application_id = {_APPLICATION_ID};
        PRAGMA user_version = {SCHEMA_VERSION};
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE posts (
            path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, {", ".join(POST_COLUMNS)},
            problems TEXT NOT NULL, date_ts REAL, instant REAL
        );
        CREATE TABLE members (node TEXT NOT NULL, date_ts REAL NOT NULL, path TEXT NOT NULL);
        {"".join(f"CREATE INDEX {name} ON {on};" for name, on in _INDEXES.items())}
        CREATE TABLE contents (
            path TEXT PRIMARY KEY, key TEXT NOT NULL, html TEXT NOT NULL, summary TEXT,
            enclosure_url TEXT, enclosure_type TEXT, enclosure_length INTEGER
        );
        CREATE TABLE feeds (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
        CREATE TABLE scan (name TEXT PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE feed_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE report_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE reports (path TEXT PRIMARY KEY, status TEXT NOT NULL, problems TEXT)
            WITHOUT ROWID;
        CREATE INDEX reports_with_problems ON reports (path) WHERE problems IS NOT NULL;
        """
    )
    db.execute("INSERT INTO meta (key, value) VALUES ('stamp', ?)", (stamp,))
    db.commit()


_INDEXES = {
    "posts_by_url": "posts (url)",
    "posts_by_instant": "posts (instant)",
    "posts_by_date": "posts (date_ts)",
    "members_newest": "members (node, date_ts DESC, path)",
    "members_of": "members (path)",
}
"""The indexes besides the primary keys: name → what they index. A first build drops them
while it stores every post and makes them after (`State.loading`)."""

_RECOUNT_FEEDS = (
    "DELETE FROM feed_counts",
    "INSERT INTO feed_counts (key, n) SELECT node, count(*) FROM members GROUP BY node",
)
_RECOUNT_REPORTS = (
    "DELETE FROM report_counts",
    "INSERT INTO report_counts (key, n) SELECT status, count(*) FROM reports GROUP BY status",
)
"""The counts made in one pass (after a first build's loading, or when every report is
written); every other change adds to them (`State._count`)."""

_SCAN_COLUMNS = ("paths", "sizes", "mtimes", "ctimes", "inodes")
"""The kept scan's columns (incremental.ScanColumns), a row each: one written alone."""

POST_COLUMNS = (
    "title", "date", "updated", "categories", "tags", "author", "thumbnail",
    "summary", "draft", "url", "body_format", "digest",
)  # fmt: skip
"""A post's fields, each in a column of its own: SQLite hands them back as Python values
at C speed, and decoding every cached post is most of a build that changed little."""
_POST_COLUMNS = ", ".join(POST_COLUMNS)
_ROW_COLUMNS = f"path, size, mtime_ns, ctime_ns, inode, {_POST_COLUMNS}, problems, date_ts, instant"
_DATE_TS = len(POST_COLUMNS) + 6
_NO_POST = (None,) * len(POST_COLUMNS)


def encode_row(
    file: SourceFile, post: Post | None, problems: Sequence[Problem], nodes: Sequence[NodeKey]
) -> PostRow:
    """The state's row for one file as the reader read it; `nodes` are the feeds it can be
    in (a draft is in none)."""
    problems_json = (
        json.dumps([p.as_dict() for p in problems], ensure_ascii=False) if problems else "[]"
    )
    values = (
        file.rel,
        file.size,
        file.mtime_ns,
        file.ctime_ns,
        file.inode,
        *_encode_post(post),
        problems_json,
        post.date.timestamp() if post else None,
        (post.updated or post.date).timestamp() if post else None,
    )
    return PostRow(values, tuple(nodes) if post and not post.draft else ())


def _encode_post(post: Post | None) -> tuple[Any, ...]:
    """The post's POST_COLUMNS values (all None for a file that is not a post)."""
    if post is None:
        return _NO_POST
    return (
        post.title,
        post.date.isoformat(),
        post.updated.isoformat() if post.updated else None,
        _names_json(post.categories) if post.categories else None,
        _names_json(post.tags) if post.tags else None,
        post.author,
        post.thumbnail,
        post.summary,
        int(post.draft),
        post.url,
        str(post.body_format),
        post.digest,
    )


def _names_json(names: tuple[Any, ...]) -> str:
    """`names` (a post's categories or tags) as JSON, encoded once per distinct value:
    thousands of posts share a few hundred."""
    known = _NAMES_JSON.get(names)
    if known is None:
        if len(_NAMES_JSON) >= _NAMES_JSON_SIZE:
            _NAMES_JSON.clear()
        known = _NAMES_JSON[names] = json.dumps(names, ensure_ascii=False)
    return known


_NAMES_JSON: dict[tuple[Any, ...], str] = {}
_NAMES_JSON_SIZE = 4096


def _decode_post(source: str, values: Sequence[Any]) -> Post:
    (
        title,
        date,
        updated,
        categories,
        tags,
        author,
        thumbnail,
        summary,
        draft,
        url,
        body_format,
        digest,
    ) = values
    return Post(
        source,
        title,
        dt.datetime.fromisoformat(date),
        dt.datetime.fromisoformat(updated) if updated else None,
        tuple(map(_names, json.loads(categories))) if categories else (),
        _names(json.loads(tags)) if tags else (),
        author,
        thumbnail,
        summary,
        bool(draft),
        url,
        _BODY_FORMATS[body_format],
        digest,
    )


_BODY_FORMATS = {str(f): f for f in BodyFormat}


def _names(value: Any) -> tuple[str, ...]:
    """A list of names, checked: a state file is never trusted to hold what we wrote."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"not a list of names: {value!r:.60}")
    return tuple(map(sys.intern, value))  # a few hundred names, shared by every post


_STATUSES = {str(status): status for status in PostStatus}


def _report_values(report: PostReport) -> tuple[str, str, str | None]:
    problems = [p.as_dict() for p in report.problems]
    return (
        report.path,
        str(report.status),
        json.dumps(problems, ensure_ascii=False) if problems else None,
    )


def _decode_report(row: tuple[Any, ...]) -> PostReport:
    path, status, problems = row
    found = tuple(Problem.from_dict(p) for p in json.loads(problems)) if problems else ()
    return PostReport(path, _STATUSES[status], found)


def _enclosure_values(enclosure: Enclosure | None) -> tuple[Any, Any, Any]:
    return (enclosure.url, enclosure.type, enclosure.length) if enclosure else (None, None, None)


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """Runs of values small enough for one `IN (…)` (SQLite limits a query's parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _negated(keys: Iterable[str]) -> Counter[str]:
    counts = Counter(keys)
    return Counter({key: -n for key, n in counts.items()})
