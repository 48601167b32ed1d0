"""Faults around the posts, not in them: the output folder, the incremental state, the
report, and `feedpub validate` on hostile documents. Whatever happens, a build says
exactly what is on disk, writes its report, and never ends in an internal error."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from feedpub.config import load_config
from feedpub.errors import ExitCode
from feedpub.formats import SITE_FILES, Format
from feedpub.models import Entry, Feed
from feedpub.output import STATE_DIR, TEMP_SUFFIX
from feedpub.report import FeedStatus
from feedpub.state import STATE_FILE
from feedpub.validation import validate_feed
from feedpub.writer import PublishJob, publish
from tests.helpers import BASE_URL, WritePost, build, feed_files, output_files, post, run


@pytest.fixture
def site(write_post: WritePost, posts: Path) -> Path:
    write_post("a.md", title="A", categories=["A"], date="2021-08-09 10:00:00")
    write_post("b.md", title="B", categories=["B"], date="2021-08-10 10:00:00")
    return posts


def _report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _on_disk(out: Path) -> set[str]:
    return output_files(out)


# -- the output folder ------------------------------------------------------------------


def test_a_symlink_planted_as_the_temporary_file_is_never_written_through(
    site: Path, tmp_path: Path
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    outside.write_text("secret", "utf-8")
    out.mkdir()
    (out / f".rss.xml{TEMP_SUFFIX}").symlink_to(outside)
    (out / f".atom.xml.0000{TEMP_SUFFIX}").symlink_to(outside)
    assert build(site, out)[0] == 0
    assert outside.read_text("utf-8") == "secret"
    assert not (out / "rss.xml").is_symlink() and not (out / "atom.xml").is_symlink()
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))  # what was planted in feedpub's names is gone


def test_a_symlink_in_a_feeds_place_is_replaced_not_followed(site: Path, tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    assert build(site, out)[0] == 0
    outside.write_bytes((out / "rss.xml").read_bytes())  # the same bytes: still replaced
    (out / "rss.xml").unlink()
    (out / "rss.xml").symlink_to(outside)
    (out / "atom.xml").unlink()
    (out / "atom.xml").symlink_to(tmp_path / "nowhere.xml")
    assert build(site, out, "--full")[0] == 0
    assert not (out / "rss.xml").is_symlink() and not (out / "atom.xml").is_symlink()
    assert not (tmp_path / "nowhere.xml").exists()
    assert outside.read_bytes() == (out / "rss.xml").read_bytes()


@pytest.mark.parametrize("planted", ["lock", STATE_FILE, f"{STATE_FILE}-wal", ""])
def test_symlinks_planted_in_feedpubs_own_folder_are_not_followed(
    site: Path, tmp_path: Path, planted: str
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    assert build(site, out)[0] == 0
    elsewhere.mkdir()
    (elsewhere / "file").write_text("untouched", "utf-8")
    link = out / STATE_DIR / planted if planted else out / STATE_DIR
    if link.is_dir() and not planted:
        for part in link.iterdir():
            part.unlink()
        link.rmdir()
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(elsewhere if not planted else elsewhere / "file")
    code, _, err = build(site, out, "--full")
    assert code == 0, err
    assert [p.name for p in elsewhere.iterdir()] == ["file"]
    assert (elsewhere / "file").read_text("utf-8") == "untouched"
    assert not link.is_symlink()


def test_a_write_failing_mid_build_leaves_a_report_of_exactly_what_is_on_disk(
    site: Path, tmp_path: Path, write_post: WritePost
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    assert build(site, out)[0] == 0
    write_post("c.md", title="C", categories=["C"], date="2021-08-11 10:00:00")
    (out / "categories" / "C").write_text("a file where the category's folder must go", "utf-8")
    before = {rel: (out / rel).read_bytes() for rel in output_files(out)}
    code, _, err = build(site, out, "--report", report)
    assert code == ExitCode.OUTPUT_FAILED
    data = _report(report)
    assert data["exit_code"] == ExitCode.OUTPUT_FAILED
    feeds = data["feeds"]
    failed = {p["path"] for p in feeds["problems"]}
    assert failed == {f"categories/C/{fmt.file_name}" for fmt in Format}
    assert all(p["rule"] == "write-failed" for p in feeds["problems"])
    # the site feeds now hold C, and the subscription list and index page count it
    assert set(feeds["written"]) == {fmt.file_name for fmt in Format} | set(SITE_FILES)
    planted = "categories/C"
    assert _on_disk(out) - {planted} == set(feeds["written"]) | set(feeds["unchanged"])
    for rel in feeds["unchanged"]:
        assert (out / rel).read_bytes() == before[rel]
    for rel in feeds["written"]:
        if rel.endswith(".xml"):
            assert b"<title>C</title>" in (out / rel).read_bytes()
    assert json.loads((out / "feed.json").read_bytes())["items"][0]["title"] == "C"
    assert "categories/C/rss.xml" in err


def test_a_report_is_written_for_every_error_that_is_not_a_usage_error(
    site: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    a_file = tmp_path / "a-file"
    a_file.write_text("", "utf-8")
    code, _, err = build(site, a_file / "out", "--report", report)
    assert code == ExitCode.OUTPUT_FAILED and err.startswith("Error:")
    assert _report(report)["exit_code"] == ExitCode.OUTPUT_FAILED
    assert "cannot create the output folder" in _report(report)["error"]
    report.unlink()

    out = tmp_path / "out"
    assert build(site, out)[0] == 0
    with open(out / STATE_DIR / "lock", "rb+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another build holds the folder
        code, _, _ = build(site, out, "--wait", "0", "--report", report)
    assert code == ExitCode.LOCKED
    assert _report(report)["exit_code"] == ExitCode.LOCKED
    assert "another feedpub build" in _report(report)["error"]
    report.unlink()

    code, _, _ = run("build", "--posts", tmp_path / "no-such-folder", "--report", report)
    assert code == ExitCode.USAGE and not report.exists()  # usage errors: nothing to report


# -- the incremental state --------------------------------------------------------------


def _state(out: Path) -> Path:
    return out / STATE_DIR / STATE_FILE


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE meta SET value = CAST(X'7BFF7D' AS TEXT) WHERE key = 'last_build'",
        "UPDATE posts SET title = CAST(X'41FF' AS TEXT)",
        "UPDATE feeds SET path = CAST(X'FF' AS TEXT) WHERE path = 'rss.xml'",
    ],
    ids=["last-build", "posts-row", "feeds-row"],
)
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_a_state_that_is_not_utf8_is_rebuilt(
    site: Path, tmp_path: Path, write_post: WritePost, damage: str, full: bool
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    assert build(site, out)[0] == 0
    reference = {rel: (out / rel).read_bytes() for rel in output_files(out)}
    write_post("a.md", title="A", categories=["A"], date="2021-08-09 10:00:00")  # a is touched
    with sqlite3.connect(_state(out)) as db:
        db.execute(damage)
    code, _, err = build(site, out, "--report", report, *(["--full"] if full else []))
    assert code == 0, err
    assert {rel: (out / rel).read_bytes() for rel in output_files(out)} == reference
    if not full:
        assert "incremental state was unreadable" in " ".join(_report(report)["notices"])
    code, out_text, err = build(site, out)  # repaired: the next build uses it, silently
    assert (code, err) == (0, "") and "(0 parsed)" in out_text


def test_a_state_locked_by_another_process_is_waited_for_then_bypassed(
    site: Path, tmp_path: Path, write_post: WritePost
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    assert build(site, out)[0] == 0
    write_post("c.md", title="C", date="2021-08-11 10:00:00")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        db = sqlite3.connect(_state(out), isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        db.execute("ROLLBACK")
        db.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        started = time.monotonic()
        code, _, err = build(site, out, "--wait", "1", "--report", report)
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert code == 0, err
    assert 1 <= took < 30  # it waited for the lock, then went on without the state
    assert "this build runs without it" in " ".join(_report(report)["notices"])
    assert "C" in (out / "rss.xml").read_text("utf-8")


def test_a_folder_in_place_of_the_state_is_moved_aside_and_the_state_rebuilt(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert build(site, out)[0] == 0
    _state(out).unlink()
    _state(out).mkdir()
    (_state(out) / "keep.txt").write_text("the user's", "utf-8")
    code, _, err = build(site, out)
    assert code == 0 and "moved aside" in err
    assert _state(out).is_file()
    (aside,) = (out / STATE_DIR).glob(f"{STATE_FILE}.unusable-*")
    assert (aside / "keep.txt").read_text("utf-8") == "the user's"
    code, text, err = build(site, out)
    assert (code, err) == (0, "") and "(0 parsed)" in text  # incremental again


# -- the writer's last line of defence ------------------------------------------------


def test_a_post_whose_item_fails_validation_is_left_out_not_the_feed(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    for name in ("good.md", "bad.md"):
        (posts / name).write_text("---\ntitle: x\n---\n<p>x</p>\n", "utf-8")
    settings = {"base_url": BASE_URL, "output": str(tmp_path / "out"), "posts": str(posts)}
    config = load_config(None, settings)
    good = post("good.md", 1)
    # A value that no check of the reader let through, as a bug might: a space in the host.
    bad = post("bad.md", 2, url="https://news example.org/bad/")
    entries = (Entry(bad, bad.url, bad.date), Entry(good, good.url, good.date))
    feed = Feed((), "t", "d", (), BASE_URL, BASE_URL, bad.date, entries)
    (outcome,) = publish([PublishJob(feed, Format.RSS, "fp")], config, lambda items, _: items)
    assert outcome.status is FeedStatus.STALE  # the pipeline builds it again without bad.md
    assert list(outcome.broken_posts) == ["bad.md"]
    assert "its feed item would not be valid" in outcome.broken_posts["bad.md"].message
    assert not feed_files(tmp_path / "out")

    # Every item failing is the feed's fault (or feedpub's): kept back, nobody blamed.
    alone = Feed((), "t", "d", (), BASE_URL, BASE_URL, bad.date, entries[:1])
    (outcome,) = publish([PublishJob(alone, Format.RSS, "fp")], config, lambda items, _: items)
    assert outcome.status is FeedStatus.INVALID and not outcome.broken_posts


# -- feedpub validate -------------------------------------------------------------------


def test_validate_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "feedpub", "validate", str(fifo)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == ExitCode.USAGE
    assert "not a regular file" in done.stderr


def test_validate_answers_absurd_documents_briefly() -> None:
    # Before the caps these took minutes: the schema copy was quadratic in attributes, and
    # every broken item was put into words. (Timing is the benchmarks' to prove.)
    attributes = " ".join(f'a{i}="x"' for i in range(100_000))
    channel = "<title>t</title><link>https://e.org/</link><description>d</description>"
    problems = validate_feed(
        f'<rss version="2.0"><channel {attributes}>{channel}</channel></rss>'.encode(), "a.xml"
    )
    assert [p.rule for p in problems if p.severity == "error"] == ["too-many-attributes"]

    item = "<item><title>t</title><link>nope</link><pubDate>bad</pubDate><x/></item>\n"
    problems = validate_feed(
        f'<rss version="2.0"><channel>{channel}{item * 20_000}</channel></rss>'.encode(), "b.xml"
    )
    assert len(problems) < 500  # 100 of a rule in full, then "and N more"
    more = {p.rule: p.message for p in problems if p.message.startswith("and ")}
    assert more["rss-date"] == "and 19,900 more like the 100 above"
    assert "and 19,900 more <item>s" in more["schema"]
