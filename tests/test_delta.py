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
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub import pipeline, reading
from feedpub.config import Config, load_config
from feedpub.report import Report
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
    body = fields["body"]
    front = (
        f"title: {fields['title']!r}\ndate: {fields['date']}\n"
        f"categories: {fields['categories']}\ndraft: {str(fields['draft']).lower()}\n{permalink}"
    )
    if body.startswith("---"):  # a post whose front matter does not parse
        front, body = front + "tags: [", "x"
    path.write_text(f"---\n{front}---\n\n{body}\n", "utf-8")


def _apply(posts: Path, step: tuple[str, Any, Any]) -> int:
    """Carries out one step; returns the hours the clock moves."""
    kind, first, second = step
    if kind == "write":
        _write(posts, first, second)
    elif kind == "delete":
        (posts / first).unlink(missing_ok=True)
    elif kind == "rename" and (posts / first).exists():
        (posts / second).parent.mkdir(parents=True, exist_ok=True)
        (posts / first).rename(posts / second)
    elif kind == "clock":
        return int(first)
    elif kind == "image":
        (posts.parent / "static" / "img" / "local.png").write_bytes(b"png" * first)
    return 0


def _config(posts: Path, output: Path) -> Config:
    settings = {"posts": str(posts), "output": str(output), "static": str(posts.parent / "static")}
    return load_config(
        None,
        {
            **settings,
            "base_url": BASE_URL,
            "limit": 2,
            "jobs": 1,
            "hubs": ("https://hub.example/",),
        },
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {rel: (folder / rel).read_bytes() for rel in output_files(folder)}


def _same(incremental: Report, expected: Report, kept: Path, clean: Path, step: object) -> None:
    assert _files(kept) == _files(clean), step
    assert incremental.as_json()["posts"] == expected.as_json()["posts"], step
    assert incremental.exit_code() == expected.exit_code(), step


@settings(
    max_examples=int(__import__("os").environ.get("DELTA_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(_POST, min_size=1, max_size=8), st.lists(_STEP, min_size=1, max_size=8))
def test_builds_from_the_changes_equal_clean_builds(
    tmp_path_factory: Any, start: list[dict[str, Any]], steps: list[tuple[str, Any, Any]]
) -> None:
    root = tmp_path_factory.mktemp("delta")
    posts, kept, clean = root / "posts", root / "kept", root / "clean"
    posts.mkdir()
    (root / "static" / "img").mkdir(parents=True)
    (root / "static" / "img" / "local.png").write_bytes(b"png")
    for name, fields in zip(NAMES, start, strict=False):
        _write(posts, name, fields)
    now = NOW
    pipeline.build(_config(posts, kept), now=now, ping=False)
    for step in steps:
        now += dt.timedelta(hours=_apply(posts, step))
        incremental = pipeline.build(_config(posts, kept), now=now, ping=False)
        shutil.rmtree(clean, ignore_errors=True)
        expected = pipeline.build(_config(posts, clean), now=now, use_state=False, ping=False)
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

    monkeypatch.setattr(pipeline, "read_all", no_full_read)
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


def test_the_index_path_is_a_read_phase_of_its_own() -> None:
    assert reading.read_changes.__doc__ and reading.read_all.__doc__
