"""The builder: posts → the site feed and one feed per category node. Pure, so tested
with Post values directly."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from feedpub.builder import EMPTY_SITE_UPDATED, build_feeds
from feedpub.config import Config, load_config
from feedpub.formats import Format
from feedpub.models import Feed, Post
from tests.helpers import BASE_URL, post

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def config(**settings: Any) -> Config:
    return load_config(None, {"base_url": BASE_URL, **settings})


def feeds_by_category(posts: list[Post], **settings: Any) -> dict[tuple[str, ...], Feed]:
    return {f.category: f for f in build_feeds(posts, config(**settings), NOW).feeds}


def sources(feed: Feed) -> list[str]:
    return [e.post.source for e in feed.entries]


def test_one_feed_per_node_holding_every_post_at_or_below_it() -> None:
    feeds = feeds_by_category(
        [
            post("a.md", 1, ("新媒体", "观察者网", "首页")),
            post("b.md", 2, ("新媒体", "金色财经")),
            post("c.md", 3, ("编程",)),
            post("d.md", 4),
        ]
    )
    assert {k: sources(f) for k, f in feeds.items()} == {
        (): ["d.md", "c.md", "b.md", "a.md"],
        ("新媒体",): ["b.md", "a.md"],
        ("新媒体", "观察者网"): ["a.md"],
        ("新媒体", "观察者网", "首页"): ["a.md"],
        ("新媒体", "金色财经"): ["b.md"],
        ("编程",): ["c.md"],
    }


def test_several_paths_put_a_post_once_in_each_node() -> None:
    feeds = feeds_by_category([post("a.md", 1, ("编程", "Python"), ("编程", "Go"), ("Tech",))])
    assert sorted(feeds) == [(), ("Tech",), ("编程",), ("编程", "Go"), ("编程", "Python")]
    assert sources(feeds[("编程",)]) == ["a.md"]


def test_flat_categories_make_every_name_its_own_feed() -> None:
    feeds = feeds_by_category([post("a.md", 1, ("a",), ("b",))], categories="flat")
    assert sorted(feeds) == [(), ("a",), ("b",)]


def test_newest_first_ties_broken_by_path_and_limited() -> None:
    posts = [post("b.md", 5), post("a.md", 5), post("c.md", 9), post("d.md", 1)]
    site = feeds_by_category(posts, limit=3)[()]
    assert sources(site) == ["c.md", "a.md", "b.md"]
    assert sources(feeds_by_category(list(reversed(posts)), limit=3)[()]) == sources(site)


def test_drafts_and_future_posts_are_left_out_until_their_time() -> None:
    future = post("future.md", date=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    build = build_feeds([post("a.md"), post("draft.md", draft=True), future], config(), NOW)
    assert sources(build.feeds[0]) == ["a.md"]
    assert [p.source for p in build.drafts] == ["draft.md"]
    assert [p.source for p in build.scheduled] == ["future.md"]
    later = build_feeds(
        [post("a.md"), future], config(), dt.datetime(2030, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    )
    assert sources(later.feeds[0]) == ["future.md", "a.md"]


def test_titles_urls_and_updated() -> None:
    newer = post("b.md", 2, ("新媒体", "观察者网"), updated=dt.datetime(2021, 9, 1, tzinfo=dt.UTC))
    feeds = feeds_by_category([post("a.md", 3, ("新媒体", "观察者网")), newer], title="Site")
    feed = feeds[("新媒体", "观察者网")]
    assert feed.title == "Site › 新媒体 › 观察者网"
    assert (
        feed.url
        == BASE_URL + "categories/%E6%96%B0%E5%AA%92%E4%BD%93/%E8%A7%82%E5%AF%9F%E8%80%85%E7%BD%91/"
    )
    assert feed.file(Format.RSS) == "categories/新媒体/观察者网/rss.xml"
    assert feed.file_url(Format.ATOM) == feed.url + "atom.xml"
    # the newest item's date, updated included: never the clock
    assert feed.updated == dt.datetime(2021, 9, 1, tzinfo=dt.UTC)
    assert feeds_by_category([])[()].updated == EMPTY_SITE_UPDATED


def test_category_map_and_unsafe_names() -> None:
    feeds = feeds_by_category(
        [post("a.md", 1, ("新媒体", "..", "a/b?c")), post("b.md", 1, ("%2e%2e%2f",))],
        category_map={"新媒体": "new-media"},
    )
    directories = {f.directory for f in feeds.values()}
    assert ("categories", "new-media") in directories
    for directory in directories:
        for part in directory:
            assert part not in ("", ".", "..") and "/" not in part and "%" not in part


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Tech", "tech"),
        ("a/b", "a-b"),
        ("a b", "a-b"),
        ("e\u0301", "\u00e9"),
    ],  # the last: NFD and NFC
)
def test_categories_landing_on_one_path_are_kept_back_and_the_rest_built(
    first: str, second: str
) -> None:
    build = build_feeds(
        [post("a.md", 1, (first,)), post("b.md", 1, (second,)), post("c.md", 1, ("Other",))],
        config(),
        NOW,
    )
    assert sorted(f.category for f in build.feeds) == [(), ("Other",)]
    (collision,) = build.collisions
    assert sorted(collision.categories) == sorted([(first,), (second,)])
    problems = collision.problems(list(Format))
    assert [p.path for p in problems] == [f"{collision.folder}/{f.file_name}" for f in Format]
    assert {p.rule for p in problems} == {"category-collision"}
    assert "category_map" in problems[0].message
    assert repr(first) in problems[0].message and repr(second) in problems[0].message


def test_shared_permalinks_get_stable_distinct_ids() -> None:
    old = post("x/same.md", 1)
    new = post("y/same.md", 1, date=dt.datetime(2021, 8, 1, 13, tzinfo=dt.UTC))
    build = build_feeds([new, old], config(), NOW)
    urls = {e.post.source: e.url for e in build.feeds[0].entries}
    assert urls["x/same.md"] == BASE_URL + "2021/08/01/same/"
    assert urls["y/same.md"].startswith(BASE_URL + "2021/08/01/same-") and urls[
        "y/same.md"
    ].endswith("/")
    assert [p.path for p in build.problems] == ["y/same.md"]
    # a third post with the same permalink changes neither id
    third = post("z/same.md", 1, date=dt.datetime(2021, 8, 1, 14, tzinfo=dt.UTC))
    again = {
        e.post.source: e.url for e in build_feeds([third, new, old], config(), NOW).feeds[0].entries
    }
    assert again["x/same.md"] == urls["x/same.md"] and again["y/same.md"] == urls["y/same.md"]


def test_id_does_not_change_when_the_title_is_edited() -> None:
    before = build_feeds([post("a.md", title="Tpyo")], config(), NOW).feeds[0].entries[0].url
    after = (
        build_feeds([dataclasses.replace(post("a.md"), title="Typo")], config(), NOW)
        .feeds[0]
        .entries[0]
        .url
    )
    assert before == after
