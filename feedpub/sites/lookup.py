"""The site's other posts by the names tags use for them (`post_link`, `post_url`, `link`)."""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from pathlib import Path

from ..front_matter import FrontMatterError, split
from ..sources import find_posts
from .base import Site


def index_posts(site: Site) -> dict[str, tuple[str, str]]:
    """name → (title, URL) for every post of the site that can be read."""
    root = Path(site.config_values()["posts"])
    files, _ = find_posts(root, keep=site.keep)
    index: dict[str, tuple[str, str]] = {}
    for file in files:
        try:
            with open(os.path.join(root, file.rel), encoding="utf-8-sig") as f:
                meta = split(f.read()).metadata
        except (OSError, UnicodeDecodeError, FrontMatterError):
            continue
        saved = dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC)
        facts = site.post_facts(file.rel, meta, saved)
        url = site.post_url(file.rel, facts, (), lambda message: None)
        title = facts.front_matter.get("title")
        entry = (title if isinstance(title, str) else "", url)
        stem = posixpath.splitext(file.rel)[0]
        names = [file.rel, stem, posixpath.basename(stem), stem.partition("/")[2], facts.slug]
        for name in names:
            index.setdefault(name, entry)
        if isinstance(title, str):
            index.setdefault(title, entry)
    return index
