"""Builds from the changes (reading.read_changes) give what a clean build gives, after any
sequence of adds, edits, deletes, renames, clock moves and image changes.

Hypothesis applies random sequences to a small site made to hit every dependency between
posts (two items per feed, a handful of instants, shared permalinks, drafts, scheduled
posts, categories that appear and disappear), builds after each step with the state, and
compares every file written (feeds in every format, the OPML, the index page) and every
post's report with a build from nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub import pipeline, reading
from feedpub.config import Config, load_config
from feedpub.report import Report
from feedpub.sites.detect import load_site
from tests.helpers import BASE_URL, output_files

NOW = dt.datetime(2021, 8, 10, 12, tzinfo=dt.UTC)
NAMES = [f"{folder}p{n}.md" for folder in ("", "a/", "a/b/") for n in range(4)]
CATEGORIES = ["[]", "[A]", "[A, B]", "[A, C]", "[D]", "[[A, B], [D]]"]
"""(No two that collide: a kept-back feed keeps its last file, which a clean build has not.)"""
DATES = [
    "2021-08-09 10:00:00",
    "2021-08-09 10:00:00",  # twice as likely: posts sharing an instant
    "2021-08-08 09:00:00",
    "2021-08-10 13:00:00",  # an hour after NOW: scheduled until the clock moves
    "2021-08-11 00:00:00",
    "Invalid Date",  # the file's mtime
]
_POST = st.fixed_dictionaries(
    {
        "title": st.sampled_from(["One", "Two", "Three & four"]),
        "date": st.sampled_from(DATES),
        "categories": st.sampled_from(CATEGORIES),
        "permalink": st.sampled_from(["", "", "/same/", "/other/"]),
        "draft": st.sampled_from([False, False, False, True]),
        # A scheduled post updated at a published one's instant: in no group of them
        "updated": st.sampled_from(["", "", "2021-08-09 10:00:00"]),
        "body": st.sampled_from(["<p>a</p>", "<p>b</p>", "Markdown *c*", "---\nbroken: ["]),
        "thumbnail": st.sampled_from(["", "/img/local.png", "https://img.example.org/x.jpg"]),
    }
)
_STEP = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), _POST),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.none()),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("clock"), st.integers(-14, 36), st.none()),
    st.tuples(st.just("image"), st.integers(1, 3), st.none()),  # the local image's size changes
)


def _write(posts: Path, name: str, fields: dict[str, Any]) -> None:
    path = posts / name
    path.parent.mkdir(parents=True, exist_ok=True)
    permalink = f"permalink: {fields['permalink']}\n" if fields["permalink"] else ""
    permalink += f"thumbnail: {fields['thumbnail']}\n" if fields.get("thumbnail") else ""
    permalink += f"updated: {fields['updated']}\n" if fields.get("updated") else ""
    body = fields["body"]
    front = (
        f"title: {fields['title']!r}\ndate: {fields['date']}\n"
        f"categories: {fields['categories']}\ndraft: {str(fields['draft']).lower()}\n{permalink}"
    )
    if body.startswith("---"):  # a post whose front matter does not parse
        front, body = front + "tags: [", "x"
    path.write_text(f"---\n{front}---\n\n{body}\n", "utf-8")


SITES = {
    "hexo": (
        "source/_posts",
        "source",
        "url: https://h.example\ntimezone: UTC\npermalink: p/:abbrlink.html\n"
        "abbrlink:\n  alg: crc16\n  rep: dec\n",
    ),
    "jekyll": ("_posts", ".", "url: https://j.example\ntimezone: UTC\n"),
}
"""Site mode: where posts and images are, and the site's _config.yml. Hexo-abbrlink's `dec`
gives posts with one title the next free number."""


@dataclass(frozen=True)
class _Site:
    root: Path
    kind: str | None

    @property
    def posts(self) -> Path:
        return self.root / (SITES[self.kind][0] if self.kind else "posts")

    @property
    def images(self) -> Path:
        return self.root / (SITES[self.kind][1] if self.kind else "static") / "img"

    def name(self, name: str) -> str:
        """Jekyll reads only files named by a date as posts."""
        folder, _, file = name.rpartition("/")
        return f"{folder}/2021-08-01-{file}".lstrip("/") if self.kind == "jekyll" else name

    def make(self) -> None:
        self.posts.mkdir(parents=True)
        self.images.mkdir(parents=True, exist_ok=True)
        (self.images / "local.png").write_bytes(b"png")
        if self.kind:
            (self.root / "_config.yml").write_text(SITES[self.kind][2], "utf-8")

    def write(self, name: str, fields: dict[str, Any]) -> None:
        _write(self.posts, self.name(name), fields)

    def apply(self, step: tuple[str, Any, Any]) -> int:
        """Carries out one step; returns the hours the clock moves."""
        kind, first, second = step
        if kind == "write":
            self.write(first, second)
        elif kind == "delete":
            (self.posts / self.name(first)).unlink(missing_ok=True)
        elif kind == "rename" and (self.posts / self.name(first)).exists():
            (self.posts / self.name(second)).parent.mkdir(parents=True, exist_ok=True)
            (self.posts / self.name(first)).rename(self.posts / self.name(second))
        elif kind == "clock":
            return int(first)
        elif kind == "image":
            (self.images / "local.png").write_bytes(b"png" * first)
        return 0

    def config(self, output: Path) -> Config:
        settings = {"output": str(output), "limit": 2, "jobs": 1, "hubs": ("https://hub.example/",)}
        if self.kind:
            return load_config(None, settings, site=load_site(self.root))
        paths = {"posts": str(self.posts), "static": str(self.images.parent)}
        return load_config(None, {**settings, **paths, "base_url": BASE_URL})


def _config(posts: Path, output: Path) -> Config:
    return _Site(posts.parent, None).config(output)


def _files(folder: Path) -> dict[str, bytes]:
    return {rel: (folder / rel).read_bytes() for rel in output_files(folder)}


def _same(incremental: Report, expected: Report, kept: Path, clean: Path, step: object) -> None:
    assert _files(kept) == _files(clean), step
    assert list(incremental.as_json()["posts"]) == list(expected.as_json()["posts"]), step
    assert incremental.exit_code() == expected.exit_code(), step


@pytest.mark.parametrize("kind", [None, *SITES])
@settings(
    max_examples=int(os.environ.get("DELTA_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(_POST, min_size=1, max_size=8), st.lists(_STEP, min_size=1, max_size=8))
def test_builds_from_the_changes_equal_clean_builds(
    tmp_path_factory: Any,
    kind: str | None,
    start: list[dict[str, Any]],
    steps: list[tuple[str, Any, Any]],
) -> None:
    root = tmp_path_factory.mktemp("delta")
    site, kept, clean = _Site(root / "site", kind), root / "kept", root / "clean"
    site.make()
    for name, fields in zip(NAMES, start, strict=False):
        site.write(name, fields)
    now = NOW
    first = pipeline.build(site.config(kept), now=now, ping=False)
    expected = pipeline.build(site.config(clean), now=now, use_state=False, ping=False)
    _same(first, expected, kept, clean, "first build")
    for step in steps:
        now += dt.timedelta(hours=site.apply(step))
        incremental = pipeline.build(site.config(kept), now=now, ping=False)
        shutil.rmtree(clean, ignore_errors=True)
        expected = pipeline.build(site.config(clean), now=now, use_state=False, ping=False)
        _same(incremental, expected, kept, clean, step)


def _site(posts: Path, count: int = 12) -> None:
    for n, name in enumerate(NAMES[:count]):
        fields = {"title": f"Post {n}", "date": f"2021-08-0{1 + n % 9} 10:00:00",
                  "categories": CATEGORIES[n % 5], "permalink": "", "draft": False,
                  "body": "<p>x</p>"}  # fmt: skip
        _write(posts, name, fields)


def test_one_edit_reads_one_file_and_not_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = tmp_path / "posts"
    _site(posts)
    config = _config(posts, tmp_path / "out")
    pipeline.build(config, now=NOW, ping=False)

    def no_full_read(*args: object) -> None:
        raise AssertionError("every file was read back")

    monkeypatch.setattr(reading, "read_all", no_full_read)
    _write(posts, "a/p1.md", {"title": "Edited", "date": "2021-08-09 10:00:00",
                              "categories": "[D]", "permalink": "", "draft": False,
                              "body": "<p>y</p>"})  # fmt: skip
    report = pipeline.build(config, now=NOW, ping=False)
    assert report.files_read == 1
    assert "categories/D/rss.xml" in report.written
    assert "categories/A/B/rss.xml" not in report.written  # a feed the post was never in
    assert report.unchanged


@pytest.mark.parametrize(
    "change",
    ["a new category", "a category emptied", "a shared permalink", "the clock"],
)
def test_what_the_index_cannot_say_alone_still_gives_a_clean_build(
    tmp_path: Path, change: str
) -> None:
    posts, kept, clean = tmp_path / "posts", tmp_path / "kept", tmp_path / "clean"
    _site(posts)
    now = NOW
    pipeline.build(_config(posts, kept), now=now, ping=False)
    fields = {"title": "New", "date": "2021-08-09 11:00:00", "categories": "[E]",
              "permalink": "", "draft": False, "body": "<p>z</p>"}  # fmt: skip
    if change == "a new category":
        _write(posts, "new.md", fields)
    elif change == "a category emptied":
        for name in NAMES[:12:5]:  # every post of [[A, B], [D]]'s… and [A]'s first
            (posts / name).unlink()
    elif change == "a shared permalink":
        _write(posts, "new.md", {**fields, "permalink": "/p0/", "categories": "[A]"})
        _write(posts, "p0.md", {**fields, "permalink": "/p0/", "date": "2021-08-01 10:00:00"})
    else:
        now += dt.timedelta(days=400)
    incremental = pipeline.build(_config(posts, kept), now=now, ping=False)
    expected = pipeline.build(_config(posts, clean), now=now, use_state=False, ping=False)
    _same(incremental, expected, kept, clean, change)


def test_a_first_build_reads_back_only_the_posts_the_feeds_are_made_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = tmp_path / "posts"
    for n in range(40):  # forty posts in one category, two items a feed
        fields = {"title": f"Post {n}", "date": f"2021-07-{1 + n % 28:02} 10:{n:02}:00",
                  "categories": "[A]", "permalink": "", "draft": False, "body": "<p>x</p>"}  # fmt: skip
        _write(posts, f"p{n}.md", fields)
    seen: list[int] = []
    read_changes = reading.read_changes

    def counted(*args: Any) -> Any:
        files = read_changes(*args)
        seen.append(len(files.files) if files else -1)
        return files

    monkeypatch.setattr(reading, "read_changes", counted)
    report = pipeline.build(_config(posts, tmp_path / "out"), now=NOW, ping=False)
    assert report.files_read == 40 and len(report.posts) == 40
    assert seen and 0 < seen[0] <= 4  # the site's two newest and A's, the same two


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each build looks at from the changes (-1: every file, read again)."""
    seen: list[int] = []
    read_changes, read_all = reading.read_changes, reading.read_all

    def counted(*args: Any) -> Any:
        files = read_changes(*args)
        seen.append(len(files.files) if files else -1)
        return files

    def every_file(*args: Any) -> Any:
        seen.append(-1)
        return read_all(*args)

    monkeypatch.setattr(reading, "read_changes", counted)
    monkeypatch.setattr(reading, "read_all", every_file)
    return seen


def test_a_change_reads_the_posts_it_bears_on_not_every_post_chained_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scraped posts chain: each shares its permalink with one neighbour and its instant
    # with the other, so every post is linked to every other one through the builder's
    # comparisons; an edit must not read them all back.
    posts, kept, clean = tmp_path / "posts", tmp_path / "kept", tmp_path / "clean"

    def fields(n: int, title: str = "Post") -> dict[str, Any]:
        return {"title": f"{title} {n}", "date": f"2021-07-01 10:{(n + 1) // 2:02}:00",
                "categories": "[A]", "permalink": f"/p{n // 2}/", "draft": False,
                "body": "<p>x</p>"}  # fmt: skip

    for n in range(60):
        _write(posts, f"p{n:02}.md", fields(n))
    pipeline.build(_config(posts, kept), now=NOW, ping=False)
    seen = _counting_reads(monkeypatch)
    _write(posts, "p30.md", fields(30, "Edited"))
    incremental = pipeline.build(_config(posts, kept), now=NOW, ping=False)
    # p30 and p31 (its URL: their reports may change), the feeds' two newest, p59 and
    # p57, and p58 and p56 (their URLs); not the posts that share only an instant with
    # one of them (the state says where each stands among those), nor all 60.
    assert seen == [6]
    expected = pipeline.build(_config(posts, clean), now=NOW, use_state=False, ping=False)
    _same(incremental, expected, kept, clean, "an edit in the chain")
    assert incremental.files_read == 1


def _duplicate_permalink_warnings(report: Report, path: str) -> list[Any]:
    return [
        p
        for r in report.posts.with_problems
        if r.path == path
        for p in r.problems
        if p.rule == "duplicate-permalink"
    ]


def test_a_post_given_the_url_another_was_moved_to_moves_that_one_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts, kept, clean = tmp_path / "posts", tmp_path / "kept", tmp_path / "clean"
    _site(posts)
    same = {"title": "Same", "date": "2021-08-01 10:00:00", "categories": "[A]",
            "permalink": "/same/", "draft": False, "body": "<p>z</p>"}  # fmt: skip
    _write(posts, "p0.md", same)
    _write(posts, "p1.md", {**same, "date": "2021-08-02 10:00:00"})
    first = pipeline.build(_config(posts, kept), now=NOW, ping=False)
    (warning,) = _duplicate_permalink_warnings(first, "p1.md")
    moved_to = warning.message.rpartition("published at ")[2]
    assert moved_to.startswith(BASE_URL) and moved_to != f"{BASE_URL}same/"
    seen = _counting_reads(monkeypatch)
    # A new post whose own permalink is the URL p1 was published at: p1 must move on.
    permalink = "/" + moved_to.removeprefix(BASE_URL)
    _write(posts, "new.md", {**same, "permalink": permalink, "date": "2021-07-01 10:00:00"})
    incremental = pipeline.build(_config(posts, kept), now=NOW, ping=False)
    assert len(seen) == 1 and seen[0] > 0  # found from the changes, not by reading all
    expected = pipeline.build(_config(posts, clean), now=NOW, use_state=False, ping=False)
    _same(incremental, expected, kept, clean, "a moved post's URL taken")
    (warning,) = _duplicate_permalink_warnings(incremental, "p1.md")
    assert not warning.message.endswith(moved_to)
    # Gone again: p1 moves back to the URL it had, as a clean build would publish it.
    (posts / "new.md").unlink()
    incremental = pipeline.build(_config(posts, kept), now=NOW, ping=False)
    assert len(seen) == 3 and seen[2] > 0
    shutil.rmtree(clean)
    expected = pipeline.build(_config(posts, clean), now=NOW, use_state=False, ping=False)
    _same(incremental, expected, kept, clean, "the URL free again")


def test_the_warning_of_a_feed_that_shares_its_folder_moves_to_its_newest_post(
    tmp_path: Path,
) -> None:
    # Jekyll keeps `Release` and `release` apart: the later feed gets a folder of its own,
    # and its newest post the warning, which a newer post takes from it.
    site, kept, clean = _Site(tmp_path / "site", "jekyll"), tmp_path / "kept", tmp_path / "clean"
    site.make()
    post = {"title": "One", "date": "2021-08-01 10:00:00", "categories": "[Release]",
            "permalink": "", "draft": False, "body": "<p>a</p>"}  # fmt: skip
    site.write("p0.md", post)
    site.write("p1.md", {**post, "categories": "[release]", "date": "2021-08-01 11:00:00"})
    first = pipeline.build(site.config(kept), now=NOW, ping=False)
    assert any(p.rule == "category-folder-shared" for r in first.posts.with_problems
               for p in r.problems)  # fmt: skip
    # Two newer posts at once: the one warned is then in none of the feed's two items.
    for names in (("p2.md", "p3.md"), ("p4.md",)):
        for name in names:  # (dated before NOW: published)
            site.write(name, {**post, "categories": "[release]", "date": f"2021-08-0{name[1]}"})
        incremental = pipeline.build(site.config(kept), now=NOW, ping=False)
        shutil.rmtree(clean, ignore_errors=True)
        expected = pipeline.build(site.config(clean), now=NOW, use_state=False, ping=False)
        _same(incremental, expected, kept, clean, names)
