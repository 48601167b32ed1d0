"""Incremental state: what earlier builds learned, so a cron run that changes nothing costs nothing.

A small SQLite database in the output folder's hidden `.feedpub/` holds
- every post file's parsed metadata and problems, keyed by path, size, mtime
  and inode, so an unchanged file is never opened again, and the scan these rows
  match, by column, which the next scan is compared with at C speed
  (incremental.scan_changes);
- every post's feed membership (`members`: a row per feed it can be in, `''` for the
  site's, made from the feeds each post's row names), keyed by feed and date so that
  "the newest N posts of this feed" is one range of the table,
  and counted per feed (`feed_counts`, kept up to date with every change, as the reports'
  `report_counts` are: no build counts every post),
  and the posts indexed by URL, instant and date, so a build that changed a few posts
  finds the few others the builder compares them with, without reading every post
  (reading.py's `read_changes`), and the URLs the builder moved posts to (`moves`: a
  permalink another post has), so a post that takes such a URL finds the post it moves;
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

import bisect
import contextlib
import datetime as dt
import sqlite3
import weakref
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..report import PostReport, PostReports, PostStatus
from .rows import (
    POST_COLUMNS_SQL,
    ROW_COLUMNS,
    NodeKey,
    Read,
    ReportRow,
    decode_report,
    decode_stored_report,
    enclosure_values,
    encode_row,
    node_key,
    node_of,
    report_values,
    with_problems,
)
from .schema import (
    FILL_MEMBERS,
    INDEXES,
    NODES,
    RECOUNT_FEEDS,
    RECOUNT_REPORTS,
    SCAN_COLUMNS,
    SCHEMA_VERSION,
    STATE_FILE,
    bypassed,
    connect,
    files_of,
    is_busy,
    journal_for_filling,
    move_aside,
    read_stamp,
    reset,
    restore_indexes,
    settle_journal,
    start_over,
)

if TYPE_CHECKING:  # imported where used: a build where nothing changed makes no post
    from ..models import Content
    from ..problems import Problem
    from .cached import Cached
    from .shared import SharedUrls

__all__ = [
    "SCHEMA_VERSION",
    "STATE_FILE",
    "NodeKey",
    "Read",
    "ReportRow",
    "State",
    "encode_row",
    "node_key",
    "node_of",
    "report_values",
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
        self._indexed = False
        """Its indexes were made before the loading ended (`make_indexes`)."""
        self._filling = False
        """Opened empty, with a rollback journal for the first build (schema.journal_for_filling)."""
        self.losses = 0
        """How often this build found the state unusable and emptied or let go of it: what
        was read from it before is no proof of what the rest of it held."""
        self._reader: sqlite3.Connection | None = None
        """After `save`, the connection that reads this build's reports (PostReports.every),
        open as long as the reports `post_reports` handed out are."""
        self._handed_out: weakref.ref[PostReports] | None = None
        self._kept_scan: dict[str, object] = {}
        """The kept scan's columns as `kept_scan` read them, or, once `compared_scan` was
        told, the new scan's columns that are the same: `remember_scan` writes only the
        columns that differ (an edit leaves the 8 MB of paths of 100,000 posts alone)."""

    @classmethod
    def open(
        cls, folder: Path, fingerprint: str, *, enabled: bool = True, timeout: float = 5.0
    ) -> State:
        """The state in `folder` for a build with config `fingerprint`, waiting up to `timeout`
        seconds for another process's lock. Not `enabled` (--full): emptied, then refilled.
        An unusable state is rebuilt, or bypassed, so a build never depends on it."""
        path = folder / STATE_FILE
        stamp = f"{__version__}/{SCHEMA_VERSION}/{fingerprint}"
        for part in files_of(path):
            if part.is_symlink():  # SQLite would write where it points
                with contextlib.suppress(OSError):
                    part.unlink()
        try:
            db = connect(path, timeout, to_fill=True)
            if not enabled or read_stamp(db) != stamp:
                reset(db, stamp)
            restore_indexes(db)
            return cls._opened(db)
        except sqlite3.DatabaseError as e:
            if is_busy(e):
                return cls(None, bypassed(path, e, timeout))
            warning = f"{path}: incremental state was unreadable ({e}); rebuilt from the posts"
        warning += move_aside(path)
        try:
            db = connect(path, timeout, to_fill=True)
            reset(db, stamp)
            return cls._opened(db, warning)
        except sqlite3.DatabaseError as e:
            return cls(None, f"{warning}; it cannot be rebuilt ({e}): this build runs without it")

    @classmethod
    def _opened(cls, db: sqlite3.Connection, warning: str | None = None) -> State:
        """The state on this connection; an empty one made ready for a first build."""
        state = cls(db, warning)
        state._filling = journal_for_filling(db)
        return state

    def _trouble(self, error: sqlite3.DatabaseError) -> None:
        """A query failed: a damaged state is emptied (and rebuilt by this build), a locked
        one is left alone for this build."""
        db, self._db = self._db, None
        self._kept_scan = {}
        if db is None:
            return
        self.losses += 1
        if not is_busy(error):
            self.warning = f"incremental state was unreadable ({error}); rebuilt from the posts"
            stamp = ""
            try:
                stamp = read_stamp(db) or ""
                reset(db, stamp)
                self._db = db
                return
            except sqlite3.DatabaseError as again:
                error = again
            if not is_busy(error) and (fresh := start_over(db, stamp)) is not None:
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
        from .cached import Cached

        return {
            row[0]: Cached(row)
            for row in self._rows(
                f"SELECT path, size, mtime_ns, ctime_ns, inode, {POST_COLUMNS_SQL}, problems FROM posts"
            )
        }

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Around storing many posts: into an empty state (a first build), the rows go in
        without the indexes or memberships, which are made after in one sorted pass each,
        instead of taking a million inserts at random places. All in the build's one transaction:
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
            for name in INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {name}")
        except sqlite3.DatabaseError as e:
            self._trouble(e)
            yield
            return
        self._loading, self._indexed = True, False
        try:
            yield
        finally:
            self.make_indexes()  # (unless made while the last batches were parsed)
            self._loading = False
            for sql in (*RECOUNT_FEEDS, *RECOUNT_REPORTS):
                self._write(sql)

    @property
    def unindexed(self) -> bool:
        """Storing while `loading`, the indexes not made yet."""
        return self._loading and not self._indexed

    def make_indexes(self) -> None:
        """While `loading`, make the indexes, and the memberships of the posts stored so
        far, now, before the last rows come (a first build's last few batches: they then
        go into the indexes as they are stored). The
        caller makes them while its workers parse those batches, where after them it made
        them with the other cores idle."""
        if self.unindexed:
            for sql in (*FILL_MEMBERS, *INDEXES.values()):
                self._write(sql)
            self._indexed = True

    def remember_posts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store rows made by `encode_row`, and their feed membership."""
        paths = [values[0] for values in rows]
        if self._loading:  # the state was empty: no earlier row
            self._write(_INSERT_POSTS, rows)
            if self._indexed:  # else `members` is made from every post with the indexes
                self._members(_ADD_MEMBERS, paths)
            return
        # A post's memberships change only with its date or its feeds (`date_ts` and
        # `nodes`, its row's third-last and last values): a bot's rewrite of its posts'
        # thumbnails changes neither, and those keep theirs (dropping and making them again
        # was half of storing a changed post).
        placed = self._by_path("posts", "date_ts, nodes", paths)
        moving = [row[0] for row in rows if placed.get(row[0]) != (row[0], row[-3], row[-1])]
        counts = _negated(self._nodes_of(moving))
        self._members(_DROP_MEMBERS, moving)  # (found by the rows these replace: first)
        # A post's move is made again whenever it is read; one not read shares its URL with
        # no other post now (see reading.read_changes): it has none.
        self._forget_moves(paths)
        self._write(_UPDATE_POSTS, rows)
        self._members(_ADD_MEMBERS, moving)
        counts.update(self._nodes_of(moving))
        self._count("feed_counts", counts)

    def _by_path(self, table: str, columns: str, paths: Sequence[str]) -> dict[str, Any]:
        """The stored rows of these paths in `table`, each (path, *columns), by path."""
        found: dict[str, Any] = {}
        for chunk in _chunks(paths):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT path, {columns} FROM {table} WHERE path IN ({marks})"
            found.update((row[0], row) for row in self._rows(query, chunk))
        return found

    def _members(self, sql: str, paths: Sequence[str]) -> None:
        """Add or drop (`_ADD_MEMBERS`, `_DROP_MEMBERS`) these posts' memberships."""
        for chunk in _chunks(paths):
            self._write(sql.format(", ".join("?" * len(chunk))), [chunk])

    def _nodes_of(self, paths: Sequence[str]) -> Iterator[str]:
        """The feeds these posts are members of now, once per membership."""
        for chunk in _chunks(paths):
            marks = ", ".join("?" * len(chunk))
            for node, _, _ in self._rows(f"{NODES} WHERE p.path IN ({marks})", chunk):
                yield node

    def _statuses_of(self, paths: Sequence[str]) -> Iterator[str]:
        """The status of each of these files' stored reports."""
        return (status for _, status in self._by_path("reports", "status", paths).values())

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
        self._members(_DROP_MEMBERS, paths)  # (found by the posts' rows: first)
        self._write("DELETE FROM posts WHERE path = ?", gone)
        self._write("DELETE FROM contents WHERE path = ?", gone)
        self._write("DELETE FROM reports WHERE path = ?", gone)
        self._forget_moves(paths)

    def prepared(self, keys: dict[str, str]) -> dict[str, Content]:
        """The kept bodies of these posts (source → content key wanted) that match."""
        from ..models import Content, Enclosure

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
        """Keep (source, content key, Content) triples. A body already kept under its key is
        left as it is (a key names one body): a body that two publish groups prepared is
        not written twice, which would free its pages in a first build's new file."""
        self._write(
            "INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE"
            " SET key = excluded.key, html = excluded.html, summary = excluded.summary,"
            " enclosure_url = excluded.enclosure_url, enclosure_type = excluded.enclosure_type,"
            " enclosure_length = excluded.enclosure_length WHERE key != excluded.key",
            [
                (source, key, c.html, c.summary, *enclosure_values(c.enclosure))
                for source, key, c in bodies
            ],
        )

    def keep_prepared_only(self, sources: Iterable[str]) -> None:
        """Drop the bodies of posts no feed holds any more (else they would pile up)."""
        self._write("CREATE TEMP TABLE IF NOT EXISTS in_feeds (path TEXT PRIMARY KEY)")
        self._write("DELETE FROM in_feeds")
        self._write("INSERT OR IGNORE INTO in_feeds VALUES (?)", [(s,) for s in sources])
        self._write("DELETE FROM contents WHERE path NOT IN (SELECT path FROM in_feeds)")

    def remember_moves(
        self, read: Sequence[str], moved: Mapping[str, str], unsettled: Collection[str], every: bool
    ) -> None:
        """Keep the URLs the builder moved posts to (`builder.Build.moved`), those of the
        files this build read (`every`: of all files) in place of what was kept of them."""
        rows = [(path, url, path not in unsettled) for path, url in moved.items()]
        if every:
            self._write("DELETE FROM moves")
            self._write(_INSERT_MOVES, rows)
            return
        # Only what changed is written (see remember_report_rows).
        stored = self._by_path("moves", "url, settled", list({*read, *moved}))
        self._forget_moves(path for path in read if path in stored and path not in moved)
        self._write(_INSERT_MOVES, [row for row in rows if stored.get(row[0]) != row])

    def remember_move_rows(self, rows: Iterable[tuple[str, str, bool]]) -> None:
        """Keep these moves (path, URL, settled), as `shared.SharedUrls` settles them."""
        self._write(_INSERT_MOVES, rows)

    def _forget_moves(self, paths: Iterable[str]) -> None:
        self._write("DELETE FROM moves WHERE path = ?", [(path,) for path in paths])

    # -- what a build from the index asks -----------------------------------------------

    def kept_scan(self) -> tuple[bytes, bytes, bytes, bytes, bytes] | None:
        """The scan the posts' rows were last brought up to date with, by column
        (incremental.ScanColumns), or None. Raises ValueError for a row no build wrote."""
        kept = dict(self._rows("SELECT name, data FROM scan"))
        if not kept:
            return None
        if set(kept) != set(SCAN_COLUMNS) or any(type(c) is not bytes for c in kept.values()):
            raise ValueError("the kept scan is not one a build wrote")
        self._kept_scan = kept
        paths, sizes, mtimes, ctimes, inodes = (kept[name] for name in SCAN_COLUMNS)
        return paths, sizes, mtimes, ctimes, inodes

    def compared_scan(self, columns: Sequence[object]) -> None:
        """The kept scan was compared with this one (incremental.scan_changes): hold only
        which of these columns are the same as its, not its bytes (80 MB a million posts)."""
        self._kept_scan = {
            name: column
            for name, column in zip(SCAN_COLUMNS, columns, strict=True)
            if _same(self._kept_scan.get(name), column)
        }

    def holds_scan(self, columns: Sequence[object]) -> bool:
        """Whether the kept scan is this one, column for column (a build where nothing
        changed asks: exact, and cheaper than a hash of them). Read a column at a time:
        the paths of a million posts are 30 MB. Raises ValueError for a row no build wrote."""
        for name, column in zip(SCAN_COLUMNS, columns, strict=True):
            rows = self._rows("SELECT data FROM scan WHERE name = ?", (name,))
            if not rows:
                return False
            if type(rows[0][0]) is not bytes:
                raise ValueError("the kept scan is not one a build wrote")
            if not _same(rows[0][0], column):
                return False
        return True

    def remember_scan(self, columns: Sequence[object] | None) -> None:
        """Keep the scan the posts' rows now match (None: they match none, for now): only
        the columns that differ from the kept ones are written."""
        kept, self._kept_scan = self._kept_scan, {}
        if columns is None:
            self._write("DELETE FROM scan")
            return
        changed = [
            (name, column)
            for name, column in zip(SCAN_COLUMNS, columns, strict=True)
            if not _same(kept.get(name), column)
        ]
        self._write("INSERT OR REPLACE INTO scan (name, data) VALUES (?, ?)", changed)

    def has_posts(self) -> bool:
        return bool(self._rows("SELECT 1 FROM posts LIMIT 1"))

    def read(self, paths: Iterable[str]) -> Read:
        """The stored posts and problems of these files (those the state has)."""
        from .cached import Cached

        found: Read = {}
        columns = f"path, size, mtime_ns, ctime_ns, inode, {POST_COLUMNS_SQL}, problems"
        for chunk in _chunks(sorted(set(paths))):
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT {columns} FROM posts WHERE path IN ({marks})", chunk):
                found[row[0]] = Cached(row).load()
        return found

    def urls_of(self, paths: Iterable[str]) -> set[str]:
        """The permalinks the stored posts of these files have."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(paths))):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT url FROM posts WHERE path IN ({marks}) AND url IS NOT NULL"
            found.update(url for (url,) in self._rows(query, chunk))
        return found

    def feed_totals(self, now: float | None) -> dict[NodeKey, int]:
        """How many published posts each feed has (`now`: posts dated later are not yet
        published; None: every post is)."""
        totals = Counter(dict(self._rows("SELECT key, n FROM feed_counts")))
        if now is not None:  # the few posts dated later, by the posts' date index
            query = (  # (a member's date_ts is its post's)
                "SELECT j.value, count(*) FROM posts p, json_each(p.nodes) j"
                " WHERE p.date_ts > ? GROUP BY j.value"
            )
            totals.subtract(dict(self._rows(query, (now,))))
        return {node: n for node, n in totals.items() if n > 0}

    def newest(self, node: NodeKey, now: float | None, limit: int) -> list[str]:
        """The newest `limit` published posts of a feed, newest first (ties by path), as the
        builder orders them: one range of the members table."""
        due = "AND date_ts <= ? " if now is not None else ""
        args = (node, now, limit) if now is not None else (node, limit)
        return [
            path
            for (path,) in self._rows(
                f"SELECT path FROM members WHERE node = ? {due}ORDER BY date_ts DESC, path LIMIT ?",
                args,
            )
        ]

    def sharing(self, urls: Iterable[str]) -> set[str]:
        """Posts with one of these URLs, as their permalink or as the URL a build moved
        them to: the builder tells such posts apart (URL suffixes), so each one's entry
        depends on the others."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(urls))):
            marks = ", ".join("?" * len(chunk))
            query = (
                f"SELECT path FROM posts WHERE url IN ({marks})"
                f" UNION SELECT path FROM moves WHERE url IN ({marks})"
            )
            found.update(path for (path,) in self._rows(query, [*chunk, *chunk]))
        return found

    def instant_ranks(
        self, posts: Iterable[tuple[str, float]], now: float | None
    ) -> dict[str, tuple[int, int]]:
        """Where each of these posts (path, instant of its `updated`) stands among the
        published posts (`now`: as in `feed_totals`) that share its instant, by path, and
        how many they are, for those that share it: what the builder spreads them apart by
        (`builder.InstantRanks`)."""
        by_instant: dict[float, list[str]] = {}
        for path, instant in posts:
            by_instant.setdefault(instant, []).append(path)
        due, since = ("date_ts <= ?", [now]) if now is not None else ("date_ts IS NOT NULL", [])
        ranks: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(list(by_instant)):
            # Each shared instant's paths in one text (a second of a bot's posts is
            # thousands: one str each took twice as long), split and sorted here, as
            # SQLite promises no order within a group (sorted already, in fact: linear).
            query = (
                "SELECT instant, group_concat(path, char(0)) FROM posts"
                f" WHERE instant IN ({', '.join('?' * len(chunk))}) AND NOT draft AND {due}"
                " GROUP BY instant HAVING count(*) > 1"
            )
            for instant, joined in self._rows(query, [*chunk, *since]):
                group = joined.split("\0")
                group.sort()
                ranks.update(
                    (path, (bisect.bisect_left(group, path), len(group)))
                    for path in by_instant[instant]
                )
        return ranks

    def sharing_others(self, urls: Iterable[str]) -> set[str]:
        """Posts with one of these URLs that another post has too (as its permalink, or
        moved to it)."""
        shared: list[str] = []
        for chunk in _chunks(sorted(set(urls))):
            marks = ", ".join("?" * len(chunk))
            query = (
                f"SELECT url FROM posts WHERE url IN ({marks}) GROUP BY url HAVING count(*) > 1"
                f" UNION SELECT url FROM moves WHERE url IN ({marks})"
            )
            shared += [url for (url,) in self._rows(query, [*chunk, *chunk])]
        return self.sharing(shared)

    def shared_urls(self, now: float | None) -> SharedUrls:
        """The URLs published posts share, for a first build to settle (`shared.py`)."""
        from .shared import SharedUrls

        return SharedUrls(self, now)

    def add_report_problems(self, problems: Mapping[str, Sequence[Problem]]) -> None:
        """Add these problems (by path) to the stored reports of their files, after the
        problems each has (as the pipeline puts them); their statuses stay as they are,
        and so do the counts of them."""
        stored = self._by_path("reports", "status, problems", list(problems))
        self._write(_INSERT_REPORTS, (with_problems(stored[p], problems[p]) for p in stored))

    def unsettled_moves(self) -> set[str]:
        """Moved posts whose URL depends on which URLs every other post has
        (`builder.Build.unsettled`): any change may move them again."""
        return {path for (path,) in self._rows("SELECT path FROM moves WHERE NOT settled")}

    def warned(self, rule: str) -> set[str]:
        """Files whose stored report has a problem of this rule."""
        query = (  # (the text searched first: the JSON of tens of thousands of reports)
            "SELECT DISTINCT r.path FROM reports r, json_each(r.problems) j"
            " WHERE r.problems != '' AND instr(r.problems, ?)"
            " AND json_extract(j.value, '$.rule') = ?"
        )
        return {path for (path,) in self._rows(query, (rule, rule))}

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
                reset(self._db, read_stamp(self._db) or "")
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
            self._write(_INSERT_REPORTS, map(report_values, reports))
            if not self._loading:  # (counted when the loading is over)
                for sql in RECOUNT_REPORTS:  # every file was read: a pass costs nothing more
                    self._write(sql)
            return
        self.remember_report_rows(map(report_values, reports))

    def remember_report_rows(self, rows: Iterable[ReportRow]) -> None:
        """Store these files' reports, encoded by `report_values` (in the worker that
        read the file: a tuple of text pickles at C speed, a report in Python)."""
        values = {row[0]: row for row in rows}  # the last wins
        if self._loading:  # (an empty state: every row is new)
            self._write(_INSERT_REPORTS, values.values())
            return
        # Only the reports that changed are written: a build that reads the feeds' newest
        # posts makes their reports again, and rewriting thousands of rows as they were
        # was most of what it wrote to the file (14 MB, 100,000 posts as a Hexo site).
        stored = self._by_path("reports", "status, problems", list(values))
        changed = [row for path, row in values.items() if stored.get(path) != row]
        counts = Counter(status for _, status, _ in changed)
        counts.subtract(stored[row[0]][1] for row in changed if row[0] in stored)
        self._write(_INSERT_REPORTS, changed)
        self._count("report_counts", counts)

    def report_counts(self) -> dict[PostStatus, int]:
        """How many reports there are of each status (kept up to date per change)."""
        rows = self._rows("SELECT key, n FROM report_counts WHERE n > 0")
        return {PostStatus(status): count for status, count in rows}

    def post_reports(self) -> PostReports:
        """The stored reports, counted by `report_counts`; those that name problems are
        read when they are first asked for, from this build's snapshot (see `save`): a
        site can have a million warnings (hexo-abbrlink's 65,536 links), which a quiet
        build neither shows nor reads. A row no build wrote says so in the report of its
        file (`decode_stored_report`)."""
        reports = PostReports(
            self.report_counts(),
            self._stored_reports,
            self._every_report,
            self._close_reader,
            lambda: self._stored_reports(PostStatus.SKIPPED),
        )
        self._handed_out = weakref.ref(reports)
        return reports

    def _stored_reports(self, status: PostStatus | None = None) -> tuple[PostReport, ...]:
        """The stored reports that name problems (of `status`), by path: from the build's
        snapshot once it is saved, from the build's own transaction until then."""
        db = self._reader or self._db
        if db is None:
            return ()
        query = "SELECT path, status, problems FROM reports WHERE problems != ''"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = f"{query} AND status = ?", (str(status),)
        return tuple(map(decode_stored_report, db.execute(f"{query} ORDER BY path", args)))

    def _every_report(self) -> Iterator[PostReport]:
        if self._reader is None:  # this build's reports could not be saved (see `save`)
            reports = self._handed_out() if self._handed_out else None
            return iter(reports.with_problems if reports else ())
        query = "SELECT path, status, problems FROM reports ORDER BY path"
        return map(decode_report, self._reader.execute(query))

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _rows(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
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
            if self._filling:
                settle_journal(db)
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
            reports = self._handed_out() if self._handed_out else None
            if reports is not None:
                self.warning = (
                    f"incremental state could not be saved ({e}); "
                    "the report lists only the posts with problems"
                )
                self._reader = db  # they are read now, before the file is let go
                with contextlib.suppress(sqlite3.Error):
                    _ = reports.with_problems  # (kept by the reports)
                self._reader = None
        finally:
            if not kept:
                db.close()


def _same(kept: object, column: object) -> bool:
    """Whether a kept column holds what a new one does (the very object, once compared):
    as bytes, compared 8 at a time where they can be (views of bytes compare far slower)."""
    if kept is None or kept is column:
        return kept is not None
    a, b = memoryview(kept).cast("B"), memoryview(column).cast("B")  # type: ignore[arg-type]
    whole = len(a) - len(a) % 8
    return (
        len(a) == len(b) and a[:whole].cast("q") == b[:whole].cast("q") and a[whole:] == b[whole:]
    )


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """Runs of values small enough for one `IN (…)` (SQLite limits a query's parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


_INSERT_MOVES = "INSERT OR REPLACE INTO moves (path, url, settled) VALUES (?, ?, ?)"
_INSERT_REPORTS = "INSERT OR REPLACE INTO reports (path, status, problems) VALUES (?, ?, ?)"
_INSERT_POSTS = (
    f"INSERT OR REPLACE INTO posts ({ROW_COLUMNS})"
    f" VALUES ({', '.join('?' * len(ROW_COLUMNS.split(',')))})"
)
_UPDATE_POSTS = (
    f"INSERT INTO posts ({ROW_COLUMNS}) VALUES ({', '.join('?' * len(ROW_COLUMNS.split(',')))})"
    " ON CONFLICT (path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS.replace(" ", "").split(",")[1:])
)
"""`_INSERT_POSTS` of rows that may replace stored ones, in place: replaced, a row gets a
new rowid, and every index of the table an entry moved, where updated only the indexes of
the columns that changed are touched."""
_ADD_MEMBERS = f"INSERT INTO members {NODES} WHERE p.path IN ({{}}) ORDER BY 1, 2 DESC, 3"
_DROP_MEMBERS = (
    f"DELETE FROM members WHERE (node, date_ts, path) IN ({NODES} WHERE p.path IN ({{}}))"
)
"""Posts' memberships (by their paths), as their rows in `posts` name them, added or
dropped in the table's order: each page of it is then read and written once, not once
a membership (a post's are far apart)."""


def _negated(keys: Iterable[str]) -> Counter[str]:
    counts = Counter(keys)
    return Counter({key: -n for key, n in counts.items()})
