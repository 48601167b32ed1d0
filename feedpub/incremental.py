"""How little a build can get away with: what the last build saw and wrote, and the
fingerprints that tell an unchanged post, feed or image from a changed one.

- `scan_digest`: one hash of every post file's path, size, times and inode; and
  `scan_changes`: which files changed since the scan the state keeps (`ScanColumns`).
- `content_keys`: what a post's prepared body depends on, so the state can keep it.
- `feed_fingerprint`: everything a feed file's bytes depend on (its items and their
  versions, the images behind its enclosures), except what the state's stamp covers
  (settings and feedpub's version).
- `LastBuild`: the record a build leaves, typed; when the next build finds the same
  scan, no scheduled post come due, every feed file as written and every local image
  as it was, it returns the last report (from the state) and touches nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from .config import Config
from .formats import Format
from .models import Feed
from .output import OutputFolder
from .report import PostStatus, Report
from .sources import Scan, SourceFile, local_image_stamp

ScanColumns = tuple[bytes, bytes, bytes, bytes, bytes]
"""A scan as the state keeps it: the paths joined by NULs, then the sizes, mtimes, ctimes
and inodes, each packed as 64-bit integers (8 bytes a file, in path order)."""


def scan_columns(scan: Scan) -> ScanColumns:
    paths = "\0".join(scan.rels).encode("utf-8", "surrogateescape")
    return (paths, *(column.tobytes() for column in scan.columns()))  # type: ignore[return-value]


def scan_digest(scan: Scan, columns: ScanColumns) -> str:
    """One hash of every post file's path, size, times and inode, and of what the scan
    could not look at: made from the columns at C speed (a build where nothing changed
    does this for every post)."""
    paths, *stats = columns
    h = hashlib.sha256(len(paths).to_bytes(8, "little") + paths)
    for column in stats:
        h.update(column)
    h.update(repr(sorted(scan.odd.values())).encode("utf-8", "surrogateescape"))
    h.update("".join(f"\n{p}" for p in scan.problems).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ScanChanges:
    """How a scan differs from the one the state keeps."""

    fresh: Sequence[SourceFile]
    """New files and files whose size, times or inode changed, by path."""
    known: list[str]
    """Those of them the kept scan had (edited, or replaced)."""
    gone: list[str]
    """Files of the kept scan that are no more."""


def scan_changes(scan: Scan, columns: ScanColumns, kept: ScanColumns | None) -> ScanChanges:
    """The files that changed since the kept scan (every file, without one), found by
    comparing columns at C speed: only the changed files become objects of any weight.

    The paths are compared first (one comparison of bytes); if files came or went, the
    columns are cut down to the files both scans have, which then line up. Columns are
    compared in halves, down to the runs that differ. A file whose times do not fit 64
    bits (`Scan.odd`) is always fresh."""
    if kept is None:
        return ScanChanges(scan.lazy_files(), [], [])
    rels = scan.rels
    new_columns = list(scan.columns())
    old_columns = [array(c.typecode) for c in new_columns]
    for old, data in zip(old_columns, kept[1:], strict=True):
        old.frombytes(data)
    same_paths = kept[0] == columns[0]
    old_rels = rels if same_paths else kept[0].decode("utf-8", "surrogateescape").split("\0")
    if not kept[0]:
        old_rels = []  # (no paths joined)
    if any(len(old) != len(old_rels) for old in old_columns):
        raise ValueError("the kept scan's columns do not match its paths")
    added: list[int] = []
    gone: list[str] = []
    common: Sequence[int] = range(len(rels))
    if not same_paths:
        new_set, old_set = set(rels), set(old_rels)
        added = sorted(bisect.bisect_left(rels, r) for r in new_set - old_set)
        gone = sorted(old_set - new_set)
        common = list(compress(range(len(rels)), _without(len(rels), added)))
        new_columns = [
            array(c.typecode, compress(c, _without(len(rels), added))) for c in new_columns
        ]
        keep_old = _without(len(old_rels), [bisect.bisect_left(old_rels, r) for r in gone])
        old_columns = [array(c.typecode, compress(c, keep_old)) for c in old_columns]
    changed: set[int] = set()
    for new, old in zip(new_columns, old_columns, strict=True):
        changed.update(_differing(new, old))
    known = {common[i] for i in changed}
    if scan.odd:
        odd = {i for i, rel in enumerate(rels) if rel in scan.odd}
        known |= odd - set(added)
    fresh = sorted(known | set(added))
    return ScanChanges([scan.file(i) for i in fresh], [rels[i] for i in sorted(known)], gone)


def _without(length: int, indices: Sequence[int]) -> bytearray:
    """A mask of `length` with these indices left out (for itertools.compress)."""
    mask = bytearray(b"\1") * length
    for i in indices:
        mask[i] = 0
    return mask


def _differing(new: array[int], old: array[int]) -> list[int]:
    """The indices where two columns of one length differ: halves compared (memcmp) down
    to runs of a few, so k changes among n files cost about k·log(n) comparisons."""
    found: list[int] = []
    runs = [(0, len(new))]
    while runs:
        start, end = runs.pop()
        if new[start:end] == old[start:end]:
            continue
        if end - start <= _RUN:
            found += [i for i in range(start, end) if new[i] != old[i]]
            continue
        middle = (start + end) // 2
        runs += [(middle, end), (start, middle)]
    return found


_RUN = 16


def feed_fingerprint(feed: Feed, fmt: Format, images: dict[str, str]) -> str:
    h = hashlib.sha256()
    for part in (
        fmt.value,
        feed.title,
        feed.description,
        feed.url,
        feed.alternate,
        feed.updated.isoformat(),
    ):
        h.update(part.encode() + b"\0")
    for entry in feed.entries:
        stamp = images.get(entry.post.thumbnail or "", "")
        h.update(
            f"{entry.url}\0{entry.post.digest}\0{entry.updated.isoformat()}\0{stamp}\0".encode()
        )
    return h.hexdigest()


def image_stamps(feeds: Iterable[Feed], config: Config) -> dict[str, str]:
    """The stamp of every local image behind an enclosure, taken once per build: a post is
    in several feeds, each in several formats, and each stamp costs a resolve and a stat."""
    stamps: dict[str, str] = {}
    for feed in feeds:
        for entry in feed.entries:
            url = entry.post.thumbnail
            if url and url not in stamps:
                stamps[url] = local_image_stamp(url, config)
    return stamps


def content_keys(feeds: Iterable[Feed], images: dict[str, str]) -> dict[str, str]:
    """Post source → what its body in a feed depends on besides the settings (which the
    state's stamp covers): the post's version, its URL and the stamp of a local image
    behind its enclosure."""
    return {
        entry.post.source: "\0".join(
            (entry.post.digest, entry.url, images.get(entry.post.thumbnail or "", ""))
        )
        for feed in feeds
        for entry in feed.entries
    }


@dataclass(frozen=True, slots=True)
class LastBuild:
    """What a complete build saw and wrote, for the next build to compare against. (Its
    posts' reports are in the state, a row per file: see `State.post_reports`.)"""

    scan: str
    due: dt.datetime | None
    """When the earliest scheduled post comes due."""
    outputs: dict[str, tuple[int, int]]
    """Every feed file on disk → (size, mtime_ns) as written."""
    images: dict[str, str]
    """Local images behind enclosures → their stamps."""
    counts: dict[PostStatus, int]
    """How many post files had each status."""

    @classmethod
    def of(
        cls,
        report: Report,
        scan: str,
        due: dt.datetime | None,
        folder: OutputFolder,
        images: dict[str, str],
    ) -> LastBuild:
        outputs = {}
        for rel in (*report.written, *report.unchanged):
            stat = folder.stat(rel)
            outputs[rel] = (stat.st_size, stat.st_mtime_ns) if stat else (-1, -1)
        stamps = {url: stamp for url, stamp in images.items() if stamp}
        return cls(scan, due, outputs, stamps, dict(report.posts.counts))

    def to_json(self) -> str:
        return json.dumps(
            {
                "scan": self.scan,
                "due": self.due.isoformat() if self.due else None,
                "outputs": {rel: list(stat) for rel, stat in self.outputs.items()},
                "images": self.images,
                "counts": {str(status): n for status, n in self.counts.items()},
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> LastBuild | None:
        """The record, or None if it is not one this version wrote (then the build runs)."""
        try:
            data = json.loads(text)
            return cls(
                _typed(data["scan"], str),
                dt.datetime.fromisoformat(data["due"]) if data["due"] is not None else None,
                {
                    _typed(rel, str): (_typed(size, int), _typed(mtime, int))
                    for rel, (size, mtime) in _typed(data["outputs"], dict).items()
                },
                {_typed(u, str): _typed(s, str) for u, s in _typed(data["images"], dict).items()},
                {
                    PostStatus(status): _typed(n, int)
                    for status, n in _typed(data["counts"], dict).items()
                },
            )
        except (KeyError, TypeError, ValueError):
            return None

    def touched(self, folder: OutputFolder) -> set[str]:
        """Files of the last build that something else has changed since (a generator that
        writes its feed where feedpub writes the site's): their fingerprints are no proof."""
        touched = set()
        for rel, (size, mtime_ns) in self.outputs.items():
            stat = folder.stat(rel)
            if stat is not None and (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                touched.add(rel)
        return touched

    def unchanged(self, scan: str, now: dt.datetime, folder: OutputFolder, config: Config) -> bool:
        """Whether rebuilding could not change a byte: then the last build's report stands."""
        if self.scan != scan or (self.due is not None and now >= self.due):
            return False
        for rel, (size, mtime_ns) in self.outputs.items():
            stat = folder.stat(rel)
            if stat is None or (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                return False
        try:
            return all(
                local_image_stamp(url, config) == stamp for url, stamp in self.images.items()
            )
        except OSError:  # an image gone between the look and the stat
            return False


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value
