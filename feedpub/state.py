"""Incremental state: what earlier builds learned, so a cron run that changes nothing costs nothing.

A small SQLite database in the output folder's hidden `.feedpub/` holds
- every post file's parsed metadata and problems, keyed by path, size, mtime
  and inode, so an unchanged file is never opened again; and
- every feed file's fingerprint (its posts, their versions and the settings),
  so a feed whose items did not change is not even rendered.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .models import BodyFormat, Post, Problem
from .sources import SourceFile

STATE_FILE = "state.sqlite3"
SCHEMA_VERSION = 3
_APPLICATION_ID = 0x46505542  # "FPUB": marks the file as ours

PostRow = tuple[Any, ...]
"""A row of the posts table: path, size, mtime_ns, ctime_ns, inode, the POST_COLUMNS, problems."""


@dataclass(frozen=True, slots=True)
class Cached:
    """One post file as an earlier build read it: a row of the posts table, decoded
    only if the file is unchanged."""

    row: PostRow

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
        if db is None:
            return
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

    def remember_posts(self, rows: Iterable[PostRow]) -> None:
        """Store rows made by `encode_row`."""
        columns = f"path, size, mtime_ns, ctime_ns, inode, {_POST_COLUMNS}, problems"
        marks = ", ".join("?" * (len(POST_COLUMNS) + 6))
        self._write(f"INSERT OR REPLACE INTO posts ({columns}) VALUES ({marks})", rows)

    def forget_posts(self, paths: Iterable[str]) -> None:
        """Drop the rows of files that are gone."""
        self._write("DELETE FROM posts WHERE path = ?", [(p,) for p in paths])

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
        if self._db is not None:
            try:
                _reset(self._db, _read_stamp(self._db) or "")
            except sqlite3.DatabaseError as e:
                self._trouble(e)

    def last_build(self) -> str | None:
        """The last complete build's record (incremental.LastBuild as JSON), or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'last_build'").fetchone()
        except sqlite3.DatabaseError as e:
            self._trouble(e)
            return None
        return row[0] if row else None

    def remember_last_build(self, record: str | None) -> None:
        self._write("DELETE FROM meta WHERE key = 'last_build'")
        if record is not None:
            self._write("INSERT INTO meta (key, value) VALUES ('last_build', ?)", [(record,)])

    def _rows(self, sql: str) -> list[Any]:
        """Every row of a query; none if the state turns out damaged (then it is emptied)."""
        if self._db is None:
            return []
        cursor = self._db.cursor()
        try:
            return cursor.execute(sql).fetchall()
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
        if self._db is None:
            return
        try:
            self._db.commit()
        except sqlite3.DatabaseError:
            pass  # a cache that cannot be saved is only a slower next build
        finally:
            self._db.close()
            self._db = None


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
    db = sqlite3.connect(path, timeout=timeout, isolation_level="DEFERRED")
    db.execute("PRAGMA journal_mode = WAL")  # a killed build leaves the last committed state
    db.execute("PRAGMA synchronous = NORMAL")
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != _APPLICATION_ID and tables:
        raise sqlite3.DatabaseError("not a feedpub state file")
    # No integrity check of the whole file here: it would read every page on every build.
    # A damaged page raises where a query reads it, and the state is rebuilt there.
    return db


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
        PRAGMA application_id = {_APPLICATION_ID};
        PRAGMA user_version = {SCHEMA_VERSION};
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE posts (
            path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, {", ".join(POST_COLUMNS)},
            problems TEXT NOT NULL
        );
        CREATE TABLE feeds (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
        """
    )
    db.execute("INSERT INTO meta (key, value) VALUES ('stamp', ?)", (stamp,))
    db.commit()


POST_COLUMNS = (
    "title", "date", "updated", "categories", "tags", "author", "thumbnail",
    "summary", "draft", "url", "body_format", "digest",
)  # fmt: skip
"""A post's fields, each in a column of its own: SQLite hands them back as Python values
at C speed, and decoding every cached post is most of a build that changed little."""
_POST_COLUMNS = ", ".join(POST_COLUMNS)
_NO_POST = (None,) * len(POST_COLUMNS)


def encode_row(file: SourceFile, post: Post | None, problems: Sequence[Problem]) -> PostRow:
    """The state's row for one file as the reader read it."""
    problems_json = json.dumps([p.as_dict() for p in problems], ensure_ascii=False)
    return (
        file.rel,
        file.size,
        file.mtime_ns,
        file.ctime_ns,
        file.inode,
        *_encode_post(post),
        problems_json,
    )


def _encode_post(post: Post | None) -> tuple[Any, ...]:
    """The post's POST_COLUMNS values (all None for a file that is not a post)."""
    if post is None:
        return _NO_POST
    return (
        post.title,
        post.date.isoformat(),
        post.updated.isoformat() if post.updated else None,
        json.dumps(post.categories, ensure_ascii=False) if post.categories else None,
        json.dumps(post.tags, ensure_ascii=False) if post.tags else None,
        post.author,
        post.thumbnail,
        post.summary,
        int(post.draft),
        post.url,
        str(post.body_format),
        post.digest,
    )


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
