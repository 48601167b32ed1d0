"""The reader: files → Posts, with every problem named."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feedpub.bodies import load_content
from feedpub.config import load_config
from feedpub.models import BodyFormat, Post, Problem, Severity
from feedpub.reader import read_post
from feedpub.scanning import SourceFile, find_posts
from feedpub.sources import prefetch
from tests.helpers import BASE_URL, WritePost


def read(posts: Path, **settings: Any) -> dict[str, tuple[Post | None, list[Problem]]]:
    config = load_config(None, {"base_url": BASE_URL, "posts": posts, **settings})
    files, problems = find_posts(posts)
    assert not problems
    return {f.rel: read_post(f, config) for f in files}


def one(posts: Path, **settings: Any) -> tuple[Post, list[Problem]]:
    (post, problems), *_ = read(posts, **settings).values()
    assert post is not None, problems
    return post, problems


def test_real_post_shape(write_post: WritePost, posts: Path) -> None:
    (posts / "a.md").write_text(
        "\n---\ntitle: '河南省委书记'\ncategories: \n - 新媒体\n - 观察者网\n - 首页\n"
        "headimg: 'https://picsum.photos/400/300?random=3381'\nauthor: 观察者网\ncomments: false\n"
        "date: Mon, 09 Aug 2021 08:36:33 GMT\nthumbnail: 'https://picsum.photos/400/300?random=3381'\n---\n\n"
        "<div>\n<p>正文</p>\n</div>\n",
        "utf-8",
    )
    post, problems = one(posts)
    assert problems == []
    assert post.title == "河南省委书记"
    assert post.categories == (("新媒体", "观察者网", "首页"),)
    assert post.date == dt.datetime(2021, 8, 9, 8, 36, 33, tzinfo=dt.UTC)
    assert post.author == "观察者网"
    assert post.thumbnail == "https://picsum.photos/400/300?random=3381"
    assert post.body_format is BodyFormat.HTML


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        # a list is ONE path (Hexo)
        ("[新媒体, 观察者网, 首页]", (("新媒体", "观察者网", "首页"),)),
        # a list of lists is several paths
        ("[[编程, Python], [Tech]]", (("编程", "Python"), ("Tech",))),
        # once one item is a list, a plain item is a one-level path of its own
        ("[[编程, Python], Tech]", (("编程", "Python"), ("Tech",))),
        # a string is a one-level path
        ("Tech", (("Tech",),)),
        # numbers become names; the same path twice is one path
        ("[[2021, 8], [2021, 8]]", (("2021", "8"),)),
        # nothing
        ("[]", ()),
        ("", ()),
    ],
)
def test_category_shapes(
    write_post: WritePost, posts: Path, categories: str, expected: tuple[Any, ...]
) -> None:
    write_post(
        "a.md", raw=f"---\ntitle: t\ndate: 2021-08-09\ncategories: {categories}\n---\nbody\n"
    )
    post, _ = one(posts)
    assert post.categories == expected


def test_flat_categories(write_post: WritePost, posts: Path) -> None:
    write_post("a.md", raw="---\ntitle: t\ndate: 2021-08-09\ncategories: [[a, b], c]\n---\nbody\n")
    post, _ = one(posts, categories="flat")
    assert post.categories == (("a",), ("b",), ("c",))


@pytest.mark.parametrize(
    ("categories", "kept", "warning"),
    [
        ("[Tech, null, Feeds]", (("Tech", "Feeds"),), "empty value"),
        ("[Tech, true]", (("Tech",),), "bool"),
        ("{a: b}", (), "mapping"),
        ("[Tech, '  ']", (("Tech",),), "empty name"),
    ],
)
def test_unusable_category_names_are_dropped_with_a_warning(
    write_post: WritePost, posts: Path, categories: str, kept: tuple[Any, ...], warning: str
) -> None:
    write_post(
        "a.md", raw=f"---\ntitle: t\ndate: 2021-08-09\ncategories: {categories}\n---\nbody\n"
    )
    post, problems = one(posts)
    assert post.categories == kept
    assert any(warning in p.message and p.element == "categories" for p in problems)


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ({"thumbnail": "https://img.example.org/a.png"}, "https://img.example.org/a.png"),
        # first non-empty of thumbnail, headimg, cover, image
        (
            {"thumbnail": "", "headimg": "https://img.example.org/h.jpg"},
            "https://img.example.org/h.jpg",
        ),
        ({"cover": "https://img.example.org/c.jpg"}, "https://img.example.org/c.jpg"),
        ({"image": "https://img.example.org/i.jpg"}, "https://img.example.org/i.jpg"),
        # relative paths are resolved against base_url
        ({"thumbnail": "/images/a.jpg"}, BASE_URL + "images/a.jpg"),
        ({"thumbnail": "images/a b.jpg"}, BASE_URL + "images/a%20b.jpg"),
        # protocol-relative URLs get the base's scheme
        ({"thumbnail": "//cdn.example.org/a.jpg"}, "https://cdn.example.org/a.jpg"),
        # nothing usable
        ({"thumbnail": ""}, None),
        ({}, None),
    ],
)
def test_thumbnails(
    write_post: WritePost, posts: Path, front: dict[str, str], expected: str | None
) -> None:
    write_post("a.md", title="t", date="2021-08-09", **front)
    post, _ = one(posts)
    assert post.thumbnail == expected


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:image/png;base64,AAAA", "mailto:a@b.org"]
)
def test_unsafe_thumbnails_are_dropped(write_post: WritePost, posts: Path, url: str) -> None:
    write_post("a.md", title="t", date="2021-08-09", thumbnail=url)
    post, problems = one(posts)
    assert post.thumbnail is None
    assert [p.element for p in problems] == ["thumbnail"]


def test_unreadable_date_falls_back_to_mtime_with_a_warning(
    write_post: WritePost, posts: Path
) -> None:
    path = write_post("a.md", title="t", date="Invalid Date")
    os.utime(path, (1628498193, 1628498193))
    post, problems = one(posts)
    assert post.date == dt.datetime(2021, 8, 9, 8, 36, 33, tzinfo=dt.UTC)
    assert len(problems) == 1
    assert problems[0].severity is Severity.WARNING
    assert "Invalid Date" in problems[0].message and "modification time" in problems[0].message


def test_naive_dates_are_in_the_site_time_zone(write_post: WritePost, posts: Path) -> None:
    write_post("a.md", raw="---\ntitle: t\ndate: 2021-03-22 04:50:47\n---\nbody\n")
    post, _ = one(posts, timezone="Asia/Shanghai")
    assert post.date == dt.datetime(2021, 3, 21, 20, 50, 47, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw_title", "expected", "warns"),
    [
        ("'  spaced   out  '", "spaced out", False),
        ("''", "my-post", True),  # empty: the file name
        ("42", "42", True),  # a number: its text, with a warning to quote it
        ("no", "my-post", True),  # YAML 1.1 reads "no" as false
        ("[a, b]", "my-post", True),
        ('"\\u202eevil\\u202c"', "evil", True),  # bidi overrides removed
    ],
)
def test_titles(
    write_post: WritePost, posts: Path, raw_title: str, expected: str, warns: bool
) -> None:
    write_post("my-post.md", raw=f"---\ntitle: {raw_title}\ndate: 2021-08-09\n---\nbody\n")
    post, problems = one(posts)
    assert post.title == expected
    assert {p.element for p in problems} == ({"title"} if warns else set())


def test_missing_title_uses_the_file_name(write_post: WritePost, posts: Path) -> None:
    write_post("my-post.md", raw="---\ndate: 2021-08-09\n---\nbody\n")
    post, problems = one(posts)
    assert post.title == "my-post"
    assert problems[0].element == "title"


@pytest.mark.parametrize(
    ("front", "draft"),
    [
        ("draft: true", True),
        ("published: false", True),
        ("draft: false", False),
        ("published: true", False),
        ("", False),
    ],
)
def test_drafts(write_post: WritePost, posts: Path, front: str, draft: bool) -> None:
    write_post("a.md", raw=f"---\ntitle: t\ndate: 2021-08-09\n{front}\n---\nbody\n")
    post, _ = one(posts)
    assert post.draft is draft


def test_toml_front_matter(write_post: WritePost, posts: Path) -> None:
    write_post(
        "a.md",
        raw='+++\ntitle = "T"\ndate = 2021-08-09T08:36:33Z\ncategories = ["a", "b"]\n+++\nbody\n',
    )
    post, problems = one(posts)
    assert (post.title, post.categories, problems) == ("T", (("a", "b"),), [])


def test_front_matter_yaml_cannot_parse_is_read_line_by_line(
    write_post: WritePost, posts: Path
) -> None:
    # What the real 033/034/066 posts look like: quotes repeated by a buggy bot.
    write_post(
        "a.md",
        raw='\n---\ntitle: """""""\'第1集\'"""""""\ncategories: \n    - 二次元\n    - AGE 动漫\n'
        "date: 2021-03-22 04:50:47\nthumbnail: ''\n---\n\n<div>第1集</div>\n",
    )
    post, problems = one(posts)
    assert post.title == "第1集"
    assert post.categories == (("二次元", "AGE 动漫"),)
    assert problems[0].severity is Severity.WARNING and problems[0].line == 3


def test_summary_from_front_matter_or_more_marker(write_post: WritePost, posts: Path) -> None:
    write_post("a.md", title="a", date="2021-08-09", description="From the field.", body="Body.\n")
    write_post(
        "b.md", title="b", date="2021-08-09", body="Intro **here**.\n\n<!-- more -->\n\nThe rest.\n"
    )
    write_post("c.md", title="c", date="2021-08-09", body="No summary.\n")
    config = load_config(None, {"base_url": BASE_URL, "posts": posts})
    summaries = {}
    for path, (post, _) in read(posts).items():
        assert post is not None
        summaries[path] = load_content(post, BASE_URL + path, config).summary
    assert summaries == {
        "a.md": "From the field.",
        "b.md": "<p>Intro <strong>here</strong>.</p>",
        "c.md": None,
    }


def test_markdown_and_html_bodies(write_post: WritePost, posts: Path) -> None:
    write_post("md.md", title="md", date="2021-08-09", body="# Head\n\nSome *text* with a_b_c.\n")
    write_post(
        "html.md",
        title="html",
        date="2021-08-09",
        body="<div>\n    indented <em>html</em> a_b_c &#123;\n</div>\n",
    )
    config = load_config(None, {"base_url": BASE_URL, "posts": posts})
    html = {}
    for path, (post, _) in read(posts).items():
        assert post is not None
        html[path] = load_content(post, BASE_URL, config).html
    assert html["md.md"] == "<h1>Head</h1>\n<p>Some <em>text</em> with a_b_c.</p>"
    # HTML bodies are not run through Markdown: no code block from the indent, nothing lost
    assert html["html.md"] == "<div>\n    indented <em>html</em> a_b_c {\n</div>"


def test_files_are_found_recursively_and_hidden_ones_ignored(
    write_post: WritePost, posts: Path
) -> None:
    write_post("新媒体/观察者网/首页/a.md", title="a", date="2021-08-09")
    write_post("b.markdown", title="b", date="2021-08-09")
    write_post(".hidden/c.md", title="c", date="2021-08-09")
    write_post("notes.txt", title="d", date="2021-08-09")
    assert sorted(read(posts)) == ["b.markdown", "新媒体/观察者网/首页/a.md"]


def test_symlinks_leaving_the_posts_folder_are_not_followed(
    tmp_path: Path, write_post: WritePost, posts: Path
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: secret\n---\nsecret\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.md").write_text("---\ntitle: x\n---\nx\n")
    (posts / "link.md").symlink_to(secret)
    (posts / "folder").symlink_to(tmp_path / "elsewhere")
    write_post("inside.md", title="inside", date="2021-08-09")
    (posts / "alias.md").symlink_to(posts / "inside.md")
    files, problems = find_posts(posts)
    assert [f.rel for f in files] == ["alias.md", "inside.md"]
    assert sorted((p.path, p.rule) for p in problems) == [
        ("folder", "symlink-outside"),
        ("link.md", "symlink-outside"),
    ]


@pytest.mark.parametrize(
    ("name", "front", "settings", "expected"),
    [
        ("notes/my-post.md", "", {}, "2021/08/01/my-post/"),
        # the post's slug wins over its file name; its permalink over the pattern
        ("notes/my-post.md", "slug: custom", {}, "2021/08/01/custom/"),
        ("notes/my-post.md", "permalink: /about/me.html", {}, "about/me.html"),
        (
            "notes/my-post.md",
            "permalink: https://elsewhere.example.com/x",
            {},
            "https://elsewhere.example.com/x",
        ),
        # :path is Hexo's :title, with the folders
        ("notes/my-post.md", "", {"permalink": ":year/:path.html"}, "2021/notes/my-post.html"),
        # what a URL path cannot hold is percent-encoded
        ("100% 好?.md", "", {}, "2021/08/01/100%25%20%E5%A5%BD%3F/"),
        # the date is the site's: 20:00 UTC is the next day in Shanghai
        ("late.md", "", {"timezone": "Asia/Shanghai"}, "2021/08/02/late/"),
    ],
)
def test_permalinks(
    write_post: WritePost,
    posts: Path,
    name: str,
    front: str,
    settings: dict[str, str],
    expected: str,
) -> None:
    write_post(name, raw=f"---\ntitle: t\ndate: 2021-08-01T20:00:00Z\n{front}\n---\nbody\n")
    post, problems = one(posts, **settings)
    assert problems == []
    assert post.url == (expected if expected.startswith("https:") else BASE_URL + expected)


def test_unusable_permalink_falls_back_to_the_pattern(write_post: WritePost, posts: Path) -> None:
    write_post(
        "a.md", raw="---\ntitle: t\ndate: 2021-08-01\npermalink: 'javascript:alert(1)'\n---\nbody\n"
    )
    post, problems = one(posts)
    assert post.url == BASE_URL + "2021/08/01/a/"
    assert [p.element for p in problems] == ["permalink"]


def test_unusable_names_fifos_and_deep_folders(
    tmp_path: Path, write_post: WritePost, posts: Path
) -> None:
    os.mkfifo(posts / "pipe.md")  # reading it would block the build forever
    (posts / os.fsdecode(b"bad\xffname.md")).write_text("---\ntitle: t\n---\nx\n")
    deep = "/".join(["d"] * 300)  # deeper than a recursive walk could go comfortably
    write_post(f"{deep}/deep.md", title="deep", date="2021-08-09")
    files, problems = find_posts(posts)
    assert [f.rel for f in files] == [f"{deep}/deep.md"]
    assert sorted((p.path, p.rule) for p in problems) == [
        ("bad\\xffname.md", "bad-name"),
        ("pipe.md", "not-a-file"),
    ]


def test_a_post_gone_between_the_listing_and_its_stat_is_reported(
    write_post: WritePost, posts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.md", "b.md", "c.md"):
        write_post(name, title=name, date="2021-08-09")
    listed = os.scandir

    @contextlib.contextmanager
    def listed_then_removed(fd: int) -> Iterator[Iterator[os.DirEntry[str]]]:
        with listed(fd) as listing:
            entries = list(listing)
        (posts / "b.md").unlink()  # after the listing, before the stat
        yield iter(entries)

    monkeypatch.setattr(os, "scandir", listed_then_removed)
    files, problems = find_posts(posts)
    assert [f.rel for f in files] == ["a.md", "c.md"]
    assert [(p.path, p.message) for p in problems] == [
        ("b.md", "cannot read: No such file or directory")
    ]


def test_prefetch_advises_the_regular_files_and_never_blocks_on_a_fifo(
    write_post: WritePost, posts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise here: prefetch does nothing")
    write_post("a.md", title="a", date="2021-08-09")
    os.mkfifo(posts / "pipe.md")  # (a post turned into a FIFO since the scan)
    advised: list[int] = []
    fadvise = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append(os.fstat(fd).st_ino)
        fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    config = load_config(None, {"posts": posts, "base_url": BASE_URL})
    names = ("a.md", "pipe.md", "gone.md")
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (prefetch(config, [SourceFile(n, 10, 0, 0, 0) for n in names]), done.set()),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    assert done.is_set(), "prefetch blocked"
    assert advised == [(posts / "a.md").stat().st_ino, (posts / "pipe.md").stat().st_ino]


def test_prefetch_leaves_posts_in_the_page_cache_alone_and_advises_those_on_disk(
    write_post: WritePost, posts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise here: prefetch does nothing")
    for n in range(5):
        write_post(f"{n}.md", title=f"post {n}", date="2021-08-09")
    fd = os.open(posts / "0.md", os.O_RDONLY)
    try:
        os.preadv(fd, [bytearray(1)], 0, os.RWF_NOWAIT)
    except OSError:
        pytest.skip("this file system does not say what is in the page cache")
    finally:
        os.close(fd)
    advised: list[int] = []
    fadvise = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append(fd)
        fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    config = load_config(None, {"posts": posts, "base_url": BASE_URL})
    files = [SourceFile(f"{n}.md", 10, 0, 0, 0) for n in range(5)]
    prefetch(config, files)  # just written: in the page cache
    assert advised == []
    preadv = os.preadv

    def on_disk(fd: int, buffers: list[bytearray], offset: int, flags: int = 0) -> int:
        if flags & os.RWF_NOWAIT:  # what the kernel answers for pages it would have to read
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return preadv(fd, buffers, offset, flags)

    monkeypatch.setattr(os, "preadv", on_disk)
    prefetch(config, files)
    assert len(advised) == 5
