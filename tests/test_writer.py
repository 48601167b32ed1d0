"""The output folder: atomic writes, unchanged files left alone, nothing written outside,
a manifest that removes only feedpub's own stale files, the lock; and each item validated once."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from feedpub.errors import LockTimeout, OutputError
from feedpub.output import TEMP_SUFFIX, Batch, OutputFolder
from tests.helpers import WritePost, build, feed_files


def test_write_is_atomic_and_skips_unchanged_bytes(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    assert folder.write("a/page.txt", b"<rss/>") is True
    target = tmp_path / "out" / "a" / "page.txt"
    before = target.stat()
    time.sleep(0.01)
    assert folder.write("a/page.txt", b"<rss/>") is False
    assert target.stat().st_mtime_ns == before.st_mtime_ns and target.stat().st_ino == before.st_ino
    assert folder.write("a/page.txt", b"<rss></rss>") is True
    assert target.read_bytes() == b"<rss></rss>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["page.txt"]  # no temporary file left


@pytest.mark.parametrize(
    "rel",
    [
        "../escape.xml",
        "/etc/feedpub.xml",
        "a/../../escape.xml",
        "link/rss.xml",
        "a/deep-link/b/rss.xml",
        "a/..",
        "",
    ],
)
def test_nothing_is_written_outside_the_folder(tmp_path: Path, rel: str) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "out" / "a").mkdir()
    (tmp_path / "out" / "a" / "deep-link").symlink_to(tmp_path / "elsewhere")
    folder.write("a/inside.xml", b"x")  # (its folders are known to be inside after this)
    with pytest.raises(OutputError, match="outside the output folder"):
        folder.write(rel, b"x")
    assert not (tmp_path / "escape.xml").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_symlinked_folder_that_leads_inside_is_written_through(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    (tmp_path / "out" / "real").mkdir()
    (tmp_path / "out" / "alias").symlink_to(tmp_path / "out" / "real")
    assert folder.write("alias/b/page.txt", b"x") is True
    assert (tmp_path / "out" / "real" / "b" / "page.txt").read_bytes() == b"x"


def test_a_folder_removed_is_made_again_by_a_later_write(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    folder.write("categories/a/page.txt", b"x")
    folder.remove("categories/a/page.txt")
    assert not (tmp_path / "out" / "categories").exists()
    assert folder.write("categories/a/page.txt", b"y") is True
    assert (tmp_path / "out" / "categories" / "a" / "page.txt").read_bytes() == b"y"


def test_remove_deletes_the_file_and_empty_folders_only(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    folder.write("categories/a/b/page.txt", b"x")
    folder.write("categories/a/page.txt", b"x")
    (tmp_path / "out" / "categories" / "a" / "index.html").write_text("not ours")
    folder.remove("categories/a/b/page.txt")
    folder.remove("categories/a/page.txt")
    assert not (tmp_path / "out" / "categories" / "a" / "b").exists()
    assert (tmp_path / "out" / "categories" / "a" / "index.html").read_text() == "not ours"


def test_manifest_round_trip_and_damage(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    assert folder.manifest() == set()
    folder.save_manifest({"rss.xml", "categories/新媒体/rss.xml"})
    assert folder.manifest() == {"rss.xml", "categories/新媒体/rss.xml"}
    (folder.state_dir / "manifest.json").write_text("{not json")
    assert folder.manifest() == set()  # damaged: remove nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_folder_keeps_the_old_file(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    folder.write("page.txt", b"old")
    (tmp_path / "out").chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            folder.write("page.txt", b"new")
    finally:
        (tmp_path / "out").chmod(0o700)
    assert (tmp_path / "out" / "page.txt").read_bytes() == b"old"


def test_full_disk_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    folder.write("page.txt", b"old")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match="disk is full"):
        folder.write("page.txt", b"new")
    assert (tmp_path / "out" / "page.txt").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name != ".feedpub"] == ["page.txt"]


def test_files_written_together_stop_at_the_first_that_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flushed to disk together, written in order: the files before the one that cannot be
    written are, it and those after it keep their old bytes, and no temporary file stays."""
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    for name in ("a", "b", "c", "d"):
        folder.write(f"{name}.txt", b"old")
    real_fsync = os.fsync

    def full_for_c(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path / "out" / ".c.txt.")):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_for_c)
    files = [(f"{name}.txt", b"new") for name in ("a", "b", "c", "d")]
    files.insert(0, ("unchanged.txt", b"same"))
    folder.write("unchanged.txt", b"same")
    *written, failed = folder.write_all(files)
    assert written == [False, True, True]  # d.txt, after the failure, has no result
    assert isinstance(failed, OutputError) and "c.txt: cannot write: the disk is full" in str(
        failed
    )
    on_disk = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    assert on_disk == {
        "unchanged.txt": b"same", "a.txt": b"new", "b.txt": b"new", "c.txt": b"old", "d.txt": b"old"
    }  # fmt: skip


def test_a_batch_writes_each_file_when_it_is_added_and_puts_them_in_place_together(
    tmp_path: Path,
) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    folder.write("same.txt", b"same")
    batch = Batch(folder)
    assert batch.add("a/new.txt", b"new") and batch.add("same.txt", b"same")
    staged = [p for p in (tmp_path / "out" / "a").iterdir() if p.name.endswith(TEMP_SUFFIX)]
    assert [p.read_bytes() for p in staged] == [b"new"]  # written already, not yet in place
    assert not (tmp_path / "out" / "a" / "new.txt").exists()
    assert (batch.files, batch.bytes) == (2, 7)
    assert batch.finish() == [True, False]
    assert [p.name for p in (tmp_path / "out" / "a").iterdir()] == ["new.txt"]
    assert (tmp_path / "out" / "a" / "new.txt").read_bytes() == b"new"


def test_only_a_file_that_replaces_one_waits_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new file has no old one to lose in a power cut, so it is not flushed; a file that
    replaces a published one (or whatever stands at its path) is, before it takes its place."""
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    (tmp_path / "out" / "elsewhere.txt").write_bytes(b"x")
    (tmp_path / "out" / "link.txt").symlink_to("elsewhere.txt")
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[1].split(".")[1])
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    assert folder.write_all([("a/new.txt", b"one"), ("link.txt", b"one")]) == [True, True]
    assert flushed == ["link"]
    assert folder.write_all([("a/new.txt", b"two"), ("a/other.txt", b"two")]) == [True, True]
    assert flushed == ["link", "new"]
    assert (tmp_path / "out" / "a" / "new.txt").read_bytes() == b"two"
    assert not (tmp_path / "out" / "link.txt").is_symlink()


def _hold_lock(
    root: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    with OutputFolder(Path(root)).locked(timeout=5):
        ready.set()
        release.wait(10)


def test_a_second_build_waits_then_gives_up(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(str(tmp_path / "out"), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        started = time.monotonic()
        with (
            pytest.raises(LockTimeout, match="another feedpub build"),
            OutputFolder(tmp_path / "out").locked(timeout=0.3),
        ):
            pass
        assert 0.25 < time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(10)
    with OutputFolder(tmp_path / "out").locked(timeout=1):  # released: free again
        pass


def test_a_path_blocked_by_a_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    (tmp_path / "out" / "categories").write_text("a file where a folder should be")
    with pytest.raises(OutputError, match="cannot write"):
        folder.write("categories/a/page.txt", b"x")


def test_each_item_is_validated_once_per_group_and_a_bad_one_in_every_feed(
    write_post: WritePost, posts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feeds of 新媒体 and 新媒体 › 观察者网 show the same two items: the validator reads
    them once, and an item that breaks the feed still keeps its post out of both."""
    write_post("a.md", title="A", categories=["新媒体", "观察者网"], date="2021-08-09")
    write_post("b.md", title="B", categories=["新媒体", "观察者网"], date="2021-08-10")
    from feedpub import render, validation

    checked: list[int] = []
    validate = validation.validate_feed

    def counting(data, name, self_url=None, warnings=True):  # type: ignore[no-untyped-def]
        if name.endswith("rss.xml"):
            checked.append(data.count(b"<item>"))
        return validate(data, name, self_url, warnings)

    monkeypatch.setattr(validation, "validate_feed", counting)
    assert build(posts, tmp_path / "out", "--format", "rss")[0] == 0
    assert sorted(checked) == [0, 2, 2]  # the site's feed, 新媒体's, and 观察者网's head alone
    original = render.render_document

    def broken(feed, fmt, contents, config):  # type: ignore[no-untyped-def]
        data = original(feed, fmt, contents, config)

        def bad(items: tuple[bytes, ...]) -> tuple[bytes, ...]:
            return tuple(
                i.replace(b"<pubDate>", b"<pubDate>no ") if b"/a/" in i else i for i in items
            )

        return data._replace(items=bad(data.items), skeletons=bad(data.skeletons))

    monkeypatch.setattr(render, "render_document", broken)
    code, _, err = build(posts, tmp_path / "again", "--format", "rss")
    assert code != 0 and "a.md" in err
    for feed in feed_files(tmp_path / "again"):
        assert (
            b"<title>B</title>" in feed.read_bytes()
            and b"<title>A</title>" not in feed.read_bytes()
        )
