"""How little a build can get away with: what the last build saw and wrote, and the
fingerprints that tell an unchanged post, feed or image from a changed one.

- `scan_notes`: what a scan's columns (`ScanColumns`, which the state keeps) cannot say;
  and `scan_changes`: which files changed since the scan the state keeps.
- `content_keys`: what a post's prepared body depends on, so the state can keep it.
- `feed_fingerprints`: everything a feed file's bytes depend on (its items and their
  versions, the images behind its enclosures), except what the state's stamp covers
  (settings and feedpub's version).
- `LastBuild`: the record a build leaves, typed; when the next build finds the same
  scan, no scheduled post come due, every feed file as written and every local image
  as it was, it returns the last report (from the state) and touches nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections.abc import Iterable, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any, NamedTuple

from .config import Config
from .formats import Format
from .output import OutputFolder
from .report import Report
from .scanning import Scan, SourceFile
from .sources import local_image_stamp

if TYPE_CHECKING:
    from .models import Feed

Packed = bytes | memoryview
ScanColumns = tuple[bytes | bytearray, Packed, Packed, Packed, Packed]
"""A scan as the state keeps it: the paths, each ending in a NUL, then the sizes, mtimes,
ctimes and inodes, each packed as 64-bit integers (8 bytes a file, in the scan's order)."""


def scan_columns(scan: Scan) -> ScanColumns:
    # Encoded a run at a time: one string of every path would be twice the bytes' size.
    parts = bytearray()
    for folder, names in scan.runs():
        for i in range(0, len(names), _PATHS_AT_ONCE):
            run = folder + f"\0{folder}".join(names[i : i + _PATHS_AT_ONCE]) + "\0"
            parts += run.encode("utf-8", "surrogateescape")
    # The stat columns are the scan's arrays seen as bytes: copies would be 32 MB a million files.
    sizes, mtimes, ctimes, inodes = (memoryview(column).cast("B") for column in scan.columns())
    return parts, sizes, mtimes, ctimes, inodes  # (bytes of the paths would be a copy)


_PATHS_AT_ONCE = 4096


def scan_notes(scan: Scan) -> str:
    """What a scan's columns cannot say, as text: the files whose stats they clamp
    (`Scan.odd`) and what the scan could not look at. With the columns, which the state
    keeps and a build where nothing changed compares as they are (no hash of them to
    make), the whole scan."""
    return repr(sorted(scan.odd.values())) + "".join(f"\n{p}" for p in scan.problems)


class ScanChanges(NamedTuple):
    """How a scan differs from the one the state keeps. (A named tuple, as `LastBuild` is.)"""

    fresh: Sequence[SourceFile]
    """New files and files whose size, times or inode changed, by path."""
    known: list[str]
    """Those of them the kept scan had (edited, or replaced)."""
    gone: list[str]
    """Files of the kept scan that are no more."""


def scan_changes(scan: Scan, columns: ScanColumns, kept: ScanColumns | None) -> ScanChanges:
    """The files that changed since the kept scan (every file, without one), found by
    comparing columns at C speed: only the changed files become objects of any weight.

    The two scans' paths are compared as bytes: the runs of files both begin and end with
    line up as they are; between them, where files came or went, the paths are compared
    as sets and the columns cut down to the files both scans have, which then line up
    too (unless the folders now list them in another order: then file by file). Columns
    are compared in halves, down to the runs that differ. A file whose times do not fit
    64 bits (`Scan.odd`) is always fresh."""
    if kept is None:
        return ScanChanges(scan.lazy_files(), [], [])
    new_b, old_b = columns[0], kept[0]
    n_new, n_old = len(scan), old_b.count(b"\0")
    if any(len(old) != 8 * n_old for old in kept[1:]) or not old_b.endswith(b"\0" * bool(old_b)):
        raise ValueError("the kept scan's columns do not match its paths")
    new_columns, old_columns = list(map(_ints, scan.columns())), list(map(_ints, kept[1:]))
    head = _common_head(new_b, old_b)
    tail = _common_tail(new_b, old_b, min(len(new_b), len(old_b)) - head)
    n_head, n_tail = new_b.count(b"\0", 0, head), new_b.count(b"\0", len(new_b) - tail)
    middle = scan.rels(n_head, n_new - n_tail)
    old_middle = old_b[head : len(old_b) - tail].decode("utf-8", "surrogateescape").split("\0")
    old_middle.pop()  # (after the last NUL)
    new_paths, old_paths = set(middle), set(old_middle)
    added = _positions(middle, new_paths - old_paths)
    gone = sorted(old_paths - new_paths)
    keep_new = _without(len(middle), added)
    keep_old = _without(len(old_middle), _positions(old_middle, old_paths - new_paths))
    fresh = {n_head + i for i in added}
    in_line: list[int] = []  # where the middle's files that both scans have are, in line
    if list(compress(middle, keep_new)) == list(compress(old_middle, keep_old)):
        in_line = list(compress(range(n_head, n_new - n_tail), keep_new))
        cut_new = [_cut(c, n_head, n_new - n_tail, keep_new) for c in new_columns]
        cut_old = [_cut(c, n_head, n_old - n_tail, keep_old) for c in old_columns]
    else:  # the folders list the files both scans have in another order: file by file
        cut = (c[n_head : n_old - n_tail] for c in old_columns)
        stats = dict(zip(old_middle, zip(*cut, strict=True), strict=True))
        for i, rel in enumerate(middle, n_head):
            stat = tuple(c[i] for c in new_columns)
            if stats.get(rel, stat) != stat:
                fresh.add(i)
        cut_new = cut_old = [_ints(array("q"))] * len(new_columns)  # (none in line)
    # The columns of the files both scans have, in line: head, the middle's, tail.
    for new, old, new_mid, old_mid in zip(new_columns, old_columns, cut_new, cut_old, strict=True):
        fresh.update(_differing(new[:n_head], old[:n_head]))
        fresh.update(in_line[i] for i in _differing(new_mid, old_mid))
        at = n_new - n_tail
        fresh.update(at + i for i in _differing(new[at:], old[n_old - n_tail :]))
    if scan.odd:
        fresh |= {i for i, rel in enumerate(scan.rels()) if rel in scan.odd}
    files = sorted(map(scan.file, fresh))
    known = [f.rel for f in files if f.rel not in new_paths or f.rel in old_paths]
    return ScanChanges(files, known, gone)


def _ints(column: bytes | memoryview | array[int]) -> memoryview[int]:
    """A column of 64-bit integers seen as such, not copied (8 MB a million files): views
    of one format compare at memcmp speed. (Inodes too are seen as signed: only whether
    two are equal is asked.)"""
    return memoryview(column).cast("B").cast("q")


def _cut(column: memoryview[int], start: int, stop: int, keep: bytearray) -> memoryview[int]:
    """The column's values from `start` to `stop` where `keep` says."""
    return _ints(array("q", compress(column[start:stop], keep)))


def _common_head(new: bytes | bytearray, old: bytes | bytearray) -> int:
    """How many bytes of whole paths both begin with."""
    end = min(len(new), len(old))
    start = 0
    while start < end and new[start : start + _CHUNK] == old[start : start + _CHUNK]:
        start += _CHUNK
    start = min(start, end)
    stop = min(start + _CHUNK, end)
    while stop - start > 1:  # the first differing byte is in [start, stop)
        middle = (start + stop) // 2
        if new[start:middle] == old[start:middle]:
            start = middle
        else:
            stop = middle
    if start < end and new[start] == old[start]:
        start += 1
    return new.rfind(b"\0", 0, start) + 1


def _common_tail(new: bytes | bytearray, old: bytes | bytearray, most: int) -> int:
    """How many bytes of whole paths both end with, at most `most`."""
    same = 0
    while same < most:
        step = min(_CHUNK, most - same)
        a, b = len(new) - same, len(old) - same
        if new[a - step : a] == old[b - step : b]:
            same += step
            continue
        low, high = 0, step  # a common run of `low` more bytes, not of `high`
        while high - low > 1:
            middle = (low + high) // 2
            if new[a - middle : a] == old[b - middle : b]:
                low = middle
            else:
                high = middle
        same += low
        break
    start_new, start_old = len(new) - same, len(old) - same
    if not (_starts_path(new, start_new) and _starts_path(old, start_old)):
        start_new = new.find(b"\0", start_new) + 1
    return len(new) - start_new


def _starts_path(paths: bytes | bytearray, at: int) -> bool:
    return at == 0 or paths[at - 1] == 0


_CHUNK = 1 << 16


def _positions(rels: list[str], wanted: set[str]) -> list[int]:
    """Where these paths are in the list: a search each for a few, one index for many."""
    if len(wanted) <= _FEW:
        return sorted(map(rels.index, wanted))
    index = dict(zip(rels, range(len(rels)), strict=True))
    return sorted(map(index.__getitem__, wanted))


_FEW = 32


def _without(length: int, indices: Sequence[int]) -> bytearray:
    """A mask of `length` with these indices left out (for itertools.compress)."""
    mask = bytearray(b"\1") * length
    for i in indices:
        mask[i] = 0
    return mask


def _differing(new: memoryview[int], old: memoryview[int]) -> list[int]:
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


def feed_fingerprints(
    feed: Feed, formats: Iterable[Format], images: dict[str, str]
) -> dict[Format, str]:
    """The fingerprint of each format's file of the feed: its parts and items hashed once,
    then each format's name with that (every feed of a build is fingerprinted, in each
    format, to find the few that changed). XXH3's 128 bits, as a post's version stamp
    (models.Post.digest), which the items are of: a stamp, not a signature, and no
    OpenSSL loaded (2 ms, and 3.4 MB of every build's memory)."""
    import xxhash  # not for a build where nothing changed

    h = xxhash.xxh3_128()
    for part in (feed.title, feed.description, feed.url, feed.alternate, feed.updated.isoformat()):
        h.update(part.encode() + b"\0")
    for entry in feed.entries:
        stamp = images.get(entry.post.thumbnail or "", "")
        h.update(
            f"{entry.url}\0{entry.post.digest}\0{entry.updated.isoformat()}\0{stamp}\0".encode()
        )
    items = h.digest()
    return {fmt: xxhash.xxh3_128_hexdigest(f"{fmt.value}\0".encode() + items) for fmt in formats}


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


class LastBuild(NamedTuple):
    """What a complete build saw and wrote, for the next build to compare against. (Its
    posts' reports are in the state, a row per file: see `State.post_reports`.) A named
    tuple, not a frozen dataclass: a build where nothing changed is mostly start-up, and
    defining a dataclass costs ten times as much."""

    scan: str
    """The scan's notes (`scan_notes`); its columns are the state's kept scan, which a
    build keeps before it records this (`State.holds_scan`)."""
    due: dt.datetime | None
    """When the earliest scheduled post comes due."""
    outputs: dict[str, tuple[int, int]]
    """Every feed file on disk → (size, mtime_ns) as written."""
    images: dict[str, str]
    """Local images behind enclosures → their stamps."""

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
        return cls(scan, due, outputs, stamps)

    def to_json(self) -> str:
        return json.dumps(
            {
                "scan": self.scan,
                "due": self.due.isoformat() if self.due else None,
                "outputs": {rel: list(stat) for rel, stat in self.outputs.items()},
                "images": self.images,
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
