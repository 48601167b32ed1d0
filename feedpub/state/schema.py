"""The state's file: its tables and indexes, and how it is opened, found damaged or foreign,
moved aside and started over."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from .rows import POST_COLUMNS

STATE_FILE = "state.sqlite3"
SCHEMA_VERSION = 11
APPLICATION_ID = 0x46505542  # "FPUB": marks the file as ours


def is_busy(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def bypassed(path: Path, error: sqlite3.DatabaseError, timeout: float) -> str:
    return (
        f"{path}: another process held the incremental state for more than {timeout:g} s "
        f"({error}); this build runs without it"
    )


def files_of(path: Path) -> tuple[Path, ...]:
    """The database and the journal files SQLite keeps beside it."""
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def move_aside(path: Path) -> str:
    """Make room for a new state: a damaged file (and its journal) is deleted; anything
    that is not a file, a folder say, is renamed, so that nothing of the user's is lost."""
    note = ""
    for part in files_of(path):
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


def start_over(db: sqlite3.Connection, stamp: str) -> sqlite3.Connection | None:
    """A new, empty state in place of one so damaged that its tables cannot even be
    dropped (a damaged page is found only where it is read, see connect), or None."""
    try:
        path = next(
            Path(file) for _, name, file in db.execute("PRAGMA database_list") if name == "main"
        )
    except (sqlite3.Error, StopIteration):
        return None
    with contextlib.suppress(sqlite3.Error):
        db.close()
    move_aside(path)
    try:
        fresh = connect(path, timeout=1.0)  # the build holds the output folder's lock
        reset(fresh, stamp)
    except sqlite3.DatabaseError:
        return None
    return fresh


def connect(path: Path, timeout: float, *, to_fill: bool = False) -> sqlite3.Connection:
    """The state file at `path`, in WAL; `to_fill`: a new file is left in the rollback
    journal mode a first build fills it in (`journal_for_filling`), unflushed: made WAL
    first, it would at once be checkpointed back, a wait for the disk (10 ms)."""
    new = to_fill and not path.exists()
    # Not bound to this thread: a build's reports may be read (and let go) in another.
    db = sqlite3.connect(path, timeout=timeout, isolation_level="DEFERRED", check_same_thread=False)
    # 16 KiB pages, not 4: a first build writes every post at once, and with 4 KiB pages
    # SQLite made 32,000 reads and writes of the file for 10,000 posts (10,000 with these).
    # Only a new file takes it: an existing one keeps the size it was made with.
    db.execute("PRAGMA page_size = 16384")
    if new:
        db.execute("PRAGMA synchronous = OFF")
    else:
        db.execute("PRAGMA journal_mode = WAL")  # a killed build leaves the last committed state
        db.execute("PRAGMA synchronous = NORMAL")
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != APPLICATION_ID and tables:
        raise sqlite3.DatabaseError("not a feedpub state file")
    # No integrity check of the whole file here: it would read every page on every build.
    # A damaged page raises where a query reads it, and the state is rebuilt there.
    return db


def restore_indexes(db: sqlite3.Connection) -> None:
    """Make the indexes a build interrupted while `loading` left out (it saved its posts),
    and the feed membership made with them."""
    have = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    if missing := [name for name in INDEXES if name not in have]:
        for sql in (*FILL_MEMBERS, *(INDEXES[name] for name in missing)):
            db.execute(sql)
        for sql in (*RECOUNT_FEEDS, *RECOUNT_REPORTS):  # nor were the counts made
            db.execute(sql)
        db.commit()


def journal_for_filling(db: sqlite3.Connection) -> bool:
    """Make an empty state ready for a first build, which stores every post in one
    transaction: with a rollback journal instead of WAL (True if it now has one). In a
    file with no free page, every page that transaction writes lies past the file's old
    end, and a rollback journal keeps no copy of those: the database is written once,
    where WAL writes every page twice (to the log, then to the file): at a million posts,
    storing them takes a third less time. As safe as WAL: a killed build leaves its journal behind,
    and the next build's open rolls the file back to the empty state. (`settle_journal`
    goes back to WAL after the commit.) Nor is the commit waited for on the disk
    (synchronous off): like a new feed file (output.Batch.finish), a first state has no
    old one to lose, and a power cut leaves either what was written (the feeds' own sizes
    say whether they were: LastBuild.touched) or pages the build that reads them finds
    damaged, and starts over from."""
    if db.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is not None:
        return False
    try:
        if db.execute("PRAGMA freelist_count").fetchone()[0]:  # the pages of a state reset
            db.execute("VACUUM")
        mode: str = db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        if mode == "delete":
            db.execute("PRAGMA synchronous = OFF")
        return mode == "delete"
    except sqlite3.OperationalError as e:  # another process has the file open: WAL stays
        if not is_busy(e):
            raise
        return False


def settle_journal(db: sqlite3.Connection) -> None:
    """Back to WAL after a first build's commit: a build's reports are read from a snapshot
    that must not keep the next build from writing. (Another process that has the file
    open keeps it as it is: then the next build's open makes it WAL.)"""
    try:
        db.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as e:
        if not is_busy(e):
            raise


def read_stamp(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def reset(db: sqlite3.Connection, stamp: str) -> None:
    db.executescript(
        f"""
        DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS posts; DROP TABLE IF EXISTS feeds;
        DROP TABLE IF EXISTS members; DROP TABLE IF EXISTS contents;
        DROP TABLE IF EXISTS reports; DROP TABLE IF EXISTS scan;
        DROP TABLE IF EXISTS feed_counts; DROP TABLE IF EXISTS report_counts;
        DROP TABLE IF EXISTS moves;
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = {SCHEMA_VERSION};
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE posts (
            path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, {", ".join(POST_COLUMNS)},
            problems TEXT NOT NULL, date_ts REAL, instant REAL, nodes TEXT NOT NULL
        );
        CREATE TABLE members (
            node TEXT NOT NULL, date_ts REAL NOT NULL, path TEXT NOT NULL,
            PRIMARY KEY (node, date_ts DESC, path)
        ) WITHOUT ROWID;
        CREATE TABLE contents (
            path TEXT PRIMARY KEY, key TEXT NOT NULL, html TEXT NOT NULL, summary TEXT,
            enclosure_url TEXT, enclosure_type TEXT, enclosure_length INTEGER
        );
        CREATE TABLE feeds (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
        CREATE TABLE scan (name TEXT PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE feed_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE report_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE reports (path TEXT NOT NULL, status TEXT NOT NULL, problems TEXT NOT NULL);
        CREATE TABLE moves (path TEXT PRIMARY KEY, url TEXT NOT NULL, settled INTEGER NOT NULL);
        CREATE INDEX moves_by_url ON moves (url);
        {"".join(f"{sql};" for sql in INDEXES.values())}
        """
    )
    db.execute("INSERT INTO meta (key, value) VALUES ('stamp', ?)", (stamp,))
    db.commit()


INDEXES = {
    "posts_by_path": "CREATE UNIQUE INDEX posts_by_path ON posts (path)",
    "posts_by_url": "CREATE INDEX posts_by_url ON posts (url)",
    # (Covering `State.instant_ranks`: the posts of an instant in path order.)
    "posts_by_instant": "CREATE INDEX posts_by_instant ON posts (instant, path, draft, date_ts)",
    "posts_by_date": "CREATE INDEX posts_by_date ON posts (date_ts)",
    "reports_by_path": "CREATE UNIQUE INDEX reports_by_path ON reports (path)",
    "reports_with_problems": (
        "CREATE INDEX reports_with_problems ON reports (path) WHERE problems != ''"
    ),
}
"""The indexes: name → how it is made. A first build drops them while it stores every
post and report and makes them after (`State.loading`): rows appended to a table and
sorted once into each index cost a fraction of as many inserts at random places in one
(the files come in the order of their folders, not of their paths)."""

NODES = "SELECT j.value, p.date_ts, p.path FROM posts p, json_each(p.nodes) j"
"""Each post's feed memberships (its `nodes`), as rows of `members`."""
FILL_MEMBERS = ("DELETE FROM members", f"INSERT INTO members {NODES} ORDER BY 1, 2 DESC, 3")
"""`members` made from every post (in its key's order: each row goes at the table's end),
after a first build stored them."""

RECOUNT_FEEDS = (
    "DELETE FROM feed_counts",
    "INSERT INTO feed_counts (key, n) SELECT node, count(*) FROM members GROUP BY node",
)
RECOUNT_REPORTS = (
    "DELETE FROM report_counts",
    "INSERT INTO report_counts (key, n) SELECT status, count(*) FROM reports GROUP BY status",
)
"""The counts made in one pass (after a first build's loading, or when every report is
written); every other change adds to them (`State._count`)."""

SCAN_COLUMNS = ("paths", "sizes", "mtimes", "ctimes", "inodes")
"""The kept scan's columns (incremental.ScanColumns), a row each: one written alone."""
