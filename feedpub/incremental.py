"""How little a build can get away with: what the last build saw and wrote, and the
fingerprints that tell an unchanged post, feed or image from a changed one.

- `scan_digest`: one hash of every post file's path, size, times and inode.
- `content_keys`: what a post's prepared body depends on, so the state can keep it.
- `feed_fingerprint`: everything a feed file's bytes depend on (its items and their
  versions, the images behind its enclosures), except what the state's stamp covers
  (settings and feedpub's version).
- `LastBuild`: the record a build leaves, typed; when the next build finds the same
  scan, no scheduled post come due, every feed file as written and every local image
  as it was, it returns the last report (from the state) and touches nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .config import Config
from .formats import Format
from .models import Feed, Problem
from .output import OutputFolder
from .report import PostStatus, Report
from .sources import SourceFile, local_image_stamp, without_cycle_collection


def scan_digest(files: Sequence[SourceFile], problems: Sequence[Problem]) -> str:
    # By column (one pass over the files, each column turned into bytes at C speed): a
    # build where nothing changed does this for every post, and formatting each post's
    # numbers as text cost more than the hash.
    with without_cycle_collection():  # a million-element tuple per column
        rels, *stats = zip(*files, strict=True) if files else ((),) * len(SourceFile._fields)
        paths = "\0".join(rels).encode("utf-8", "surrogateescape")
        h = hashlib.sha256(len(paths).to_bytes(8, "little") + paths)
        for column in stats:  # size, mtime_ns, ctime_ns, inode
            h.update(_packed(column))
    h.update("".join(f"\n{p}" for p in problems).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _packed(numbers: Sequence[int]) -> bytes:
    try:
        return b"q" + array("q", numbers).tobytes()
    except OverflowError:  # an inode past 2**63, a file dated after 2262: as text
        return b"t" + repr(numbers).encode()


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
