"""What cron operators rely on: crashes, overlapping runs, huge posts, failing disks."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from feedpub.errors import ExitCode
from feedpub.output import OutputFolder
from tests.helpers import (
    BASE_URL,
    WritePost,
    build,
    feed_files,
    parse_back,
    run,
    snapshot,
    write_many,
)

FEEDPUB = [sys.executable, "-m", "feedpub"]


@pytest.mark.slow
def feedpub(*args: str | Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*FEEDPUB, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_a_build_killed_at_any_moment_leaves_old_or_new_complete_feeds(tmp_path: Path) -> None:
    posts, out, reference = tmp_path / "posts", tmp_path / "out", tmp_path / "reference"
    write_many(posts, 600)
    args = ("build", "--posts", posts, "--base-url", BASE_URL, "--limit", "50")
    assert (
        subprocess.run([*FEEDPUB, *map(str, args), "--output", out], capture_output=True).returncode
        == 0
    )
    old = snapshot(out)
    write_many(posts, 300, start=600)  # every feed changes
    started = time.monotonic()
    assert (
        subprocess.run(
            [*FEEDPUB, *map(str, args), "--output", reference], capture_output=True
        ).returncode
        == 0
    )
    duration = time.monotonic() - started
    new = snapshot(reference)
    assert set(new) == set(old) and all(new[f] != old[f] for f in new)

    for fraction in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95):
        with feedpub(*args, "--output", out, "--full") as process:
            time.sleep(duration * fraction)
            process.send_signal(signal.SIGKILL)
        for rel, data in snapshot(out).items():
            assert data in (old[rel], new[rel]), (
                f"{rel} is neither the old nor the new feed after SIGKILL"
            )
            parse_back(data)
    # The next build recovers: lock released by the kernel, state either old or new, output complete.
    done = subprocess.run([*FEEDPUB, *map(str, args), "--output", out], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == new
    assert not list(out.rglob("*.feedpub-tmp"))


def test_a_second_build_waits_for_the_first_then_gives_up_with_its_own_code(
    two_posts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with OutputFolder(out).locked(timeout=1):
        started = time.monotonic()
        code, _, err = build(two_posts, out, "--wait", "0.5")
        assert time.monotonic() - started >= 0.5
    assert code == ExitCode.LOCKED
    assert "another feedpub build" in err and "Traceback" not in err
    assert build(two_posts, out)[0] == 0


@pytest.mark.slow
def test_two_builds_at_once_both_finish_and_feeds_are_whole(tmp_path: Path) -> None:
    posts, out = tmp_path / "posts", tmp_path / "out"
    write_many(posts, 300)
    args = ("build", "--posts", posts, "--output", out, "--base-url", BASE_URL)
    with feedpub(*args) as first, feedpub(*args) as second:
        errors = first.communicate(timeout=120)[1], second.communicate(timeout=120)[1]
    assert (first.returncode, second.returncode) == (0, 0), errors
    for data in snapshot(out).values():
        parse_back(data)


def test_five_megabyte_body_is_published_and_oversized_posts_are_refused(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    paragraph = "<p>" + "长文本 long text, " * 20 + "</p>\n"
    write_post(
        "huge.md",
        title="Huge",
        date="2021-08-09",
        body=paragraph * (5 * 1024 * 1024 // len(paragraph.encode())),
    )
    assert (posts / "huge.md").stat().st_size > 5_000_000
    code, out, err = build(posts, tmp_path / "out")
    assert code == 0 and "1 published" in out
    assert "huge.md: warning: body: 5," in err and "more than feeds carry" in err
    feed = (tmp_path / "out" / "rss.xml").read_bytes()
    assert len(feed) < 1_000_000  # the feed carries the beginning and a link, not 5 MB twice
    parsed, _ = parse_back(feed)
    assert (
        parsed.entries[0]
        .content[0]
        .value.endswith(
            '<a href="https://news.example.org/2021/08/09/huge/" rel="noopener noreferrer">…</a></p>'
        )
    )
    code, _, err = build(
        posts, tmp_path / "out2", "--config", _config(tmp_path, "max_post_bytes = 1048576")
    )
    assert code == 1 and "is more than max_post_bytes (1,048,576); not read" in err


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feedpub.toml"
    path.write_text(text + "\n")
    return path


def test_same_titles_and_same_permalinks_are_all_published_with_distinct_ids(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    write_post("a/same.md", title="Same title", date="2021-08-09 10:00:00")
    write_post("b/same.md", title="Same title", date="2021-08-09 11:00:00")
    write_post("c/other.md", title="Same title", date="2021-08-09 12:00:00")
    code, _, err = build(posts, tmp_path / "out")
    assert code == 0
    assert (
        "b/same.md: warning: permalink https://news.example.org/2021/08/09/same/ is also a/same.md's"
        in err
    )
    parsed, _ = parse_back((tmp_path / "out" / "rss.xml").read_bytes())
    assert len(parsed.entries) == 3
    assert len({e.id for e in parsed.entries}) == 3
    assert all(e.title == "Same title" for e in parsed.entries)


def test_full_disk_keeps_every_published_feed(
    two_posts: Path, tmp_path: Path, write_post: WritePost, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build(two_posts, out)
    before = snapshot(out)
    write_post("new.md", title="New", date="2021-08-11", categories=["编程"])

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    code, _, err = build(two_posts, out)
    assert code == ExitCode.OUTPUT_FAILED
    assert "the disk is full; the previous file is unchanged" in err
    assert snapshot(out) == before
    monkeypatch.undo()
    assert build(two_posts, out)[0] == 0  # and the next run, with room, catches up
    assert snapshot(out) != before


def test_a_new_feed_a_power_cut_left_short_is_written_again(
    two_posts: Path, tmp_path: Path
) -> None:
    """What a cut leaves of a new file that was never flushed: missing, or shorter (its size
    is written with its bytes). The next build sees either and writes the file whole."""
    out = tmp_path / "out"
    assert build(two_posts, out)[0] == 0
    whole = {p: p.read_bytes() for p in feed_files(out)}
    short, missing = sorted(whole)[:2]
    stamp = short.stat()
    short.write_bytes(whole[short][:100])
    os.utime(short, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    missing.unlink()
    assert build(two_posts, out)[0] == 0
    assert {p: p.read_bytes() for p in feed_files(out)} == whole


def test_output_that_cannot_be_a_folder_is_a_clear_error(two_posts: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    code, _, err = run(
        "build", "--posts", two_posts, "--config", _config(tmp_path, 'output = "out"')
    )
    assert code == ExitCode.OUTPUT_FAILED
    assert "output is not a folder" in err and "Traceback" not in err
    code, _, err = build(two_posts, tmp_path / "out")  # on the command line, click says so first
    assert code == ExitCode.USAGE and "is a file" in err


def test_invalid_feed_is_never_written_and_the_old_one_stays(
    two_posts: Path, tmp_path: Path, write_post: WritePost, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build(two_posts, out)
    before = snapshot(out)
    write_post("new.md", title="New", date="2021-08-11")
    from feedpub import render

    original = render.render_document

    def broken(feed, fmt, contents, config):  # type: ignore[no-untyped-def]
        data = original(feed, fmt, contents, config)
        if fmt != "rss" or feed.category:
            return data

        def bad(items: tuple[bytes, ...]) -> tuple[bytes, ...]:
            first, *others = items
            return (first.replace(b"<pubDate>", b"<pubDate>not a date ", 1), *others)

        return data._replace(items=bad(data.items), skeletons=bad(data.skeletons))

    monkeypatch.setattr(render, "render_document", broken)
    code, _, err = build(two_posts, out)
    assert code == ExitCode.FEED_KEPT_BACK
    assert "rss.xml" in err and "pubDate" in err
    assert (out / "rss.xml").read_bytes() == before["rss.xml"]
    assert (out / "atom.xml").read_bytes() != before["atom.xml"]  # the valid feeds were published
    monkeypatch.undo()
    assert build(two_posts, out)[0] == 0


@pytest.fixture
def two_posts(write_post: WritePost, posts: Path) -> Path:
    write_post("a.md", title="A", categories=["编程"], date="2021-08-09 10:00:00")
    write_post("b.md", title="B", categories=["新媒体", "观察者网"], date="2021-08-10 10:00:00")
    return posts


def test_nothing_outside_the_output_folder_is_written(two_posts: Path, tmp_path: Path) -> None:
    before = {p for p in tmp_path.rglob("*")}
    build(two_posts, tmp_path / "out")
    after = {p for p in tmp_path.rglob("*")}
    assert all(p.is_relative_to(tmp_path / "out") for p in after - before)
    assert run("check", "--posts", two_posts)[0] == 0
    assert {p for p in tmp_path.rglob("*")} == after


def test_feeds_parse_as_xml_with_the_declared_encoding(two_posts: Path, tmp_path: Path) -> None:
    build(two_posts, tmp_path / "out")
    for path in feed_files(tmp_path / "out"):
        tree = etree.parse(str(path))
        assert tree.docinfo.encoding == "UTF-8"


def test_colliding_categories_keep_back_only_their_feeds(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    write_post("a.md", title="A", categories=["Tech"], date="2021-08-09")
    write_post("b.md", title="B", categories=["tech"], date="2021-08-10")
    write_post("c.md", title="C", categories=["Other"], date="2021-08-11")
    write_post("d.md", title="D", categories=["caf\u00e9"], date="2021-08-12")
    write_post(
        "e.md", title="E", categories=["cafe\u0301"], date="2021-08-12"
    )  # the same, decomposed
    code, _, err = build(posts, tmp_path / "out")
    assert code == ExitCode.FEED_KEPT_BACK
    assert "categories 'Tech' and 'tech' would both be written to categories/Tech/" in err
    out = tmp_path / "out"
    assert sorted(snapshot(out)) == [
        "atom.xml",
        "categories/Other/atom.xml",
        "categories/Other/rss.xml",
        "categories/café/atom.xml",
        "categories/café/rss.xml",
        "rss.xml",
    ]
    parsed, _ = parse_back((out / "rss.xml").read_bytes())
    assert len(parsed.entries) == 5
    cafe, _ = parse_back((out / "categories" / "café" / "rss.xml").read_bytes())
    assert len(cafe.entries) == 2
