"""How the state stores posts and reports: a row per post file (its fields a column each)
and per report, encoded in the worker that read the file and decoded only when asked for
(a post by cached.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ..problems import Problem, Severity
from ..report import PostReport, PostStatus
from ..scanning import SourceFile

if TYPE_CHECKING:  # a build where nothing changed makes no post (see cached.py)
    from ..models import Enclosure, Post

NodeKey = str
"""A feed's category node as the state stores it: its names joined by U+001F ('' is the site)."""


def node_key(node: tuple[str, ...]) -> NodeKey:
    # U+001F cannot be in a name: the reader removes what XML 1.0 forbids.
    return "\x1f".join(node)


def node_of(key: NodeKey) -> tuple[str, ...]:
    return tuple(key.split("\x1f")) if key else ()


Read: TypeAlias = "dict[str, tuple[Post | None, list[Problem]]]"
"""Files as read: path → the Post (None for a file that is not one) and its problems."""


POST_COLUMNS = (
    "title", "date", "updated", "categories", "tags", "author", "thumbnail",
    "summary", "draft", "url", "body_format", "digest",
)  # fmt: skip
"""A post's fields, each in a column of its own: SQLite hands them back as Python values
at C speed, and decoding every cached post is most of a build that changed little. A
field a post has not is '' (`encode_row`), not NULL, where '' is no value it can have:
binding None costs the sqlite3 module a failed search for an adapter, 300 ns, six times
what text costs, and most posts lack three of them."""
POST_COLUMNS_SQL = ", ".join(POST_COLUMNS)
ROW_COLUMNS = (
    f"path, size, mtime_ns, ctime_ns, inode, {POST_COLUMNS_SQL}, problems, date_ts, instant, nodes"
)
_NO_POST = (None,) * len(POST_COLUMNS)


def encode_row(
    file: SourceFile, post: Post | None, problems: Sequence[Problem], nodes: tuple[NodeKey, ...]
) -> tuple[Any, ...]:
    """The state's row for one file as the reader read it (the values of `ROW_COLUMNS`);
    `nodes` are the feeds it can be in ('' and its category nodes; a draft is in none)."""
    problems_json = (
        json.dumps([p.as_dict() for p in problems], ensure_ascii=False) if problems else "[]"
    )
    if post is None:
        return (*file, *_NO_POST, problems_json, None, None, "[]")
    # (A SourceFile is the row's first five columns, in their order.)
    date, updated = post.date, post.updated
    date_ts = date.timestamp()
    return (
        *file,
        post.title,
        date.isoformat(),
        updated.isoformat() if updated else "",
        _names_json(post.categories) if post.categories else "",
        _names_json(post.tags) if post.tags else "",
        post.author,
        post.thumbnail or "",
        post.summary or "",
        int(post.draft),
        post.url,
        post.body_format._value_,  # the plain str (the member's own attribute: no descriptor)
        post.digest,
        problems_json,
        date_ts,
        updated.timestamp() if updated else date_ts,  # Post.instant, from what is at hand
        "[]" if post.draft else _names_json(nodes),  # (json_each reads them: schema.NODES)
    )


def _names_json(names: tuple[Any, ...]) -> str:
    """`names` (a post's categories, tags or feeds) as JSON, encoded once per distinct
    value: thousands of posts share a few hundred."""
    known = _NAMES_JSON.get(names)
    if known is None:
        if len(_NAMES_JSON) >= _NAMES_JSON_SIZE:
            _NAMES_JSON.clear()
        known = _NAMES_JSON[names] = json.dumps(names, ensure_ascii=False)
    return known


_NAMES_JSON: dict[tuple[Any, ...], str] = {}
_NAMES_JSON_SIZE = 4096


_STATUSES = {str(status): status for status in PostStatus}


ReportRow = tuple[str, str, str]
"""A report as the state stores it: path, status, problems (JSON, or '' for none, as a
post's absent fields are: see POST_COLUMNS)."""


def report_values(report: PostReport) -> ReportRow:
    return report_row(report.path, report.status, report.problems)


def report_row(path: str, status: PostStatus, problems: Sequence[Problem]) -> ReportRow:
    """`report_values` of the report these make, without making it (once per file read)."""
    return (
        path,
        status._value_,  # (as body_format's above)
        json.dumps([p.as_dict() for p in problems], ensure_ascii=False) if problems else "",
    )


def with_problems(row: ReportRow, problems: Sequence[Problem]) -> ReportRow:
    """The `report_row` of a stored report with these (one or more) problems after its
    own, without decoding those: `json.dumps` separates the items of a list with ", "."""
    path, status, own = row
    added = json.dumps([p.as_dict() for p in problems], ensure_ascii=False)
    return (path, status, f"{own[:-1]}, {added[1:]}" if own else added)


def decode_report(row: tuple[Any, ...]) -> PostReport:
    path, status, problems = row
    found = tuple(Problem.from_dict(p) for p in json.loads(problems)) if problems else ()
    return PostReport(path, _STATUSES[status], found)


def decode_stored_report(row: tuple[Any, ...]) -> PostReport:
    """`decode_report` of a row whose problems are JSON and whose status is one: what else
    no build wrote (a damaged file) becomes a report that says so, where it is shown."""
    try:
        return decode_report(row[:3])
    except (ValueError, KeyError, TypeError):
        path = row[0]
        message = "its report in the incremental state cannot be read; --full makes it again"
        damaged = Problem(path, message, Severity.WARNING, rule="state-damaged")
        return PostReport(path, _STATUSES.get(row[1], PostStatus.SKIPPED), (damaged,))


def enclosure_values(enclosure: Enclosure | None) -> tuple[Any, Any, Any]:
    return (enclosure.url, enclosure.type, enclosure.length) if enclosure else (None, None, None)
