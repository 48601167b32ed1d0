"""Feed bytes → Problems: is this a well-formed, valid RSS 2.0 or Atom 1.0 document, or a
valid JSON Feed (a document that starts as JSON does: its rules are in json_feed.py)?

Three layers, each run only if the one before could read the document:

1. Parsing, hardened (parse.py): a size cap, then lxml with no network, no DTD,
   no entity expansion.
2. Structure (schema.py): RELAX NG schemas of our own, in `schemas/`.
3. Rules no schema can state (rules.py, on the value syntax of values.py):
   dates, URLs, uniqueness, RFC 4287's prose rules.

feedpub's writer calls `validate_feed` on every feed before writing it, and the
`feedpub validate` command calls it on anyone's feed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..models import Problem, Severity
from .findings import Findings
from .json_feed import check_json_feed, looks_like_json
from .parse import feed_kind, find_doctype, parse, report_doctype
from .rules import check_atom, check_rss
from .schema import check_structure, prepare

__all__ = ["MAX_FEED_BYTES", "feed_errors", "prepare", "validate_feed"]

MAX_FEED_BYTES = 64 * 1024 * 1024
"""Feeds larger than this are refused unread: far beyond any real feed, small enough
that checking one never takes more than a moment or much memory."""


def validate_feed(
    data: bytes, name: str, self_url: str | None = None, warnings: bool = True
) -> list[Problem]:
    """Check one RSS 2.0, Atom 1.0 or JSON Feed document; errors and warnings sorted by line.

    `name` goes into every Problem's `path`. `self_url`, for feeds feedpub publishes,
    is the URL the feed will have: its `atom:link rel="self"` must be exactly that.
    `warnings` False: only the errors are wanted, and the checks that can only warn (a scan
    of every item's content for relative links) are skipped; the errors are the same.
    """
    out = Findings(name, warnings)
    if len(data) > MAX_FEED_BYTES:
        out.add(
            None,
            "too-large",
            f"the feed has {len(data):,} bytes; feedpub checks feeds of at most {MAX_FEED_BYTES:,}",
        )
        return out.problems
    if looks_like_json(data):
        return check_json_feed(data, name, self_url, warnings)
    doctype = find_doctype(data)
    if doctype is not None and doctype.internal_subset:
        report_doctype(doctype, out)  # an internal subset: never let libxml2 read it
        return out.problems
    root = parse(data, out, doctype is not None)
    kind = None if root is None else feed_kind(root, out)
    if kind is not None:
        if doctype is not None:
            report_doctype(doctype, out)
        check_structure(root, kind, out)
        (check_rss if kind == "rss" else check_atom)(root, out, self_url)
    return out.sorted()


def feed_errors(
    head: bytes,
    items: Sequence[bytes],
    tail: bytes,
    name: str,
    self_url: str | None = None,
    known: Collection[int] = (),
    separator: bytes = b"",
    skeletons: Sequence[bytes] | None = None,
) -> list[Problem]:
    """The errors `validate_feed` finds in the document `head`, the `items` with `separator`
    between them, `tail`, where the items at the indexes `known` were found valid in another
    document: those are not checked again.

    What the validator finds in an item depends on the item alone, the root's namespaces
    (the same in every feed of a format), whether an Atom feed has an <author> (the same in
    every feed of a build), and the other items' guids or ids. So the caller vouches that
    `known` items were checked in a feed of the same format and build, and that every
    item's guid (id) is its own. Then the document without them has an error if and only
    if the whole has one; an error is reported as `validate_feed` reports it in the whole.

    `skeletons`, when given, are what is read of the items instead (render.Item): each the
    bytes of its item but for runs of character data in elements read only as text (a
    post's escaped HTML in <description>, <content:encoded>, Atom's <content>), which the
    caller vouches hold no character XML forbids. Escaped, such text is well-formed
    wherever it stands; the schemas take any text there, and the rules read it only to warn.
    So a skeleton has an error whenever its item has one.
    """
    size = len(head) + sum(map(len, items)) + len(separator) * (len(items) - 1) + len(tail)
    if (known or skeletons is not None) and size <= MAX_FEED_BYTES:
        read = items if skeletons is None else skeletons
        fresh = separator.join(item for index, item in enumerate(read) if index not in known)
        if not _errors(validate_feed(b"".join([head, fresh, tail]), name, self_url, False)):
            return []
    whole = b"".join([head, separator.join(items), tail])
    return _errors(validate_feed(whole, name, self_url, False))


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]
