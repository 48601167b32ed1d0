"""A first build's shared URLs, settled against the state: the URLs that several published
posts have, which no feed shows (reading.read_changes reads only the posts the feeds are
made of), each given to the builder's rule (`builder.settle_shared_url`) with only the
dates and paths of the posts that share it, and what that gives them stored.

With hexo-abbrlink's 16-bit links, most posts of a big site share their URL with another:
read back, they would all be held at once."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..builder import SharedUrl
    from ..problems import Problem
    from . import State

_ANY_SHARED = "SELECT 1 FROM posts WHERE url IS NOT NULL GROUP BY url HAVING count(*) > 1 LIMIT 1"
"""Whether any posts, published or not, share a URL."""

_FLUSH = 1000
"""Shared URLs settled between two writes of what they gave."""


class SharedUrls:
    """The URLs published posts (`now`: those dated until then; None: all) share, in the
    order the builder settles them, and every URL taken (`builder.Taken`): the published
    posts' own, and those settled posts were moved to."""

    def __init__(self, state: State, now: float | None) -> None:
        self._state = state
        due = "" if now is None else " AND date_ts <= :now"
        self._live = f"url IS NOT NULL AND draft = 0{due}"
        self._now = {"now": now}
        self._given: set[str] = set()
        """URLs given since the last write (after it, they are in `moves`)."""
        self._settled: list[SharedUrl] = []

    def claims(self) -> Iterator[tuple[str, list[tuple[dt.datetime, str]]]]:
        """Each shared URL with its posts (date, path), newest first, by the second
        newest of them, newest first (ties by path): the builder settles a URL when it
        meets its second post in feed order."""
        # One pass over the table, sorted (NOT INDEXED: looking every row up from the
        # index on url took half as long again).
        query = f"""
            WITH ranked AS (
                SELECT url, path, date, date_ts,
                       row_number() OVER (PARTITION BY url ORDER BY date_ts DESC, path) AS n,
                       count(*) OVER (PARTITION BY url) AS sharing
                FROM posts NOT INDEXED WHERE {self._live}
            ), keyed AS (
                SELECT url, path, date, n,
                       nth_value(date_ts, 2) OVER claim AS second_ts,
                       nth_value(path, 2) OVER claim AS second_path
                FROM ranked WHERE sharing > 1
                WINDOW claim AS (PARTITION BY url ORDER BY n
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
            )
            SELECT url, path, date FROM keyed ORDER BY second_ts DESC, second_path, n
        """
        db = self._state._db
        # Most sites have no URL twice: the index on url says so without reading a row
        # (the pass above costs 2 ms a thousand posts).
        if db is None or not self._state._rows(_ANY_SHARED):
            return
        cursor = db.cursor()
        try:
            url, posts = "", list[tuple[dt.datetime, str]]()
            for row_url, path, date in cursor.execute(query, self._now):
                if row_url != url:
                    if posts:
                        yield url, posts
                    url, posts = row_url, []
                posts.append((dt.datetime.fromisoformat(date), path))
            if posts:
                yield url, posts
        except sqlite3.DatabaseError as e:
            cursor.close()  # an open read would keep the tables from being emptied
            self._state._trouble(e)
        finally:
            cursor.close()

    def __contains__(self, url: object) -> bool:
        if url in self._given:
            return True
        query = (
            f"SELECT 1 FROM posts WHERE url = :url AND {self._live}"
            " UNION ALL SELECT 1 FROM moves WHERE url = :url LIMIT 1"
        )
        return bool(self._state._rows(query, {**self._now, "url": url}))

    def add(self, url: str) -> None:
        self._given.add(url)

    def remember(self, shared: SharedUrl) -> None:
        """Keep what settling one URL gave (written a thousand URLs at a time)."""
        self._settled.append(shared)
        if len(self._settled) >= _FLUSH:
            self.finish()

    def finish(self) -> None:
        """Write what the URLs settled gave: the posts' moves and their reports' warnings
        (after the problems each file has of its own, as the pipeline puts them)."""
        state, settled = self._state, self._settled
        self._settled = []
        moves = [
            (path, url, path not in shared.unsettled)
            for shared in settled
            for path, url in shared.urls.items()
            if url != shared.url
        ]
        state.remember_move_rows(moves)
        warnings: dict[str, list[Problem]] = {}
        for shared in settled:
            for problem in shared.problems:
                warnings.setdefault(problem.path, []).append(problem)
        state.add_report_problems(warnings)
        self._given.clear()
