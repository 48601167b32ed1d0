"""A post as the state stored it, decoded back into a `Post` when its file is unchanged.

Apart from rows.py, which the state imports at every start-up: decoding makes `Post`s,
and a build where nothing changed makes none (nor defines models.py's dataclasses).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..models import BodyFormat, Post, new_post
from ..problems import Problem
from ..scanning import SourceFile


class Cached(NamedTuple):
    """One post file as an earlier build read it: a row of the posts table, decoded
    only if the file is unchanged. (A named tuple: a dataclass costs every start-up more.)"""

    row: tuple[Any, ...]
    """path, size, mtime_ns, ctime_ns, inode, the POST_COLUMNS, problems."""

    def matches(self, file: SourceFile) -> bool:
        # ctime cannot be set back by touch or rsync, so an edit that keeps size and mtime is still seen.
        return self.row[1:5] == (file.size, file.mtime_ns, file.ctime_ns, file.inode)

    def load(self) -> tuple[Post | None, list[Problem]]:
        path, *_, problems = self.row
        post = decode_post(path, self.row[5:-1]) if self.row[5] is not None else None
        return post, [] if problems == "[]" else [
            Problem.from_dict(p) for p in json.loads(problems)
        ]


def decode_post(source: str, values: Sequence[Any]) -> Post:
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
    return new_post(
        source,
        title,
        dt.datetime.fromisoformat(date),
        dt.datetime.fromisoformat(updated) if updated else None,
        tuple(map(_names, json.loads(categories))) if categories else (),
        _names(json.loads(tags)) if tags else (),
        author,
        thumbnail or None,  # ('' for none: see rows.POST_COLUMNS)
        summary or None,
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
