"""The output folder, which feedpub owns: atomic writes, a manifest, and a lock.

- Writes are atomic: bytes go to a temporary file in the target's folder, then
  `os.replace` puts them in place. A build killed at any moment leaves every feed
  either its old or its new complete file. One that replaces a file is flushed to disk
  first (a batch of files at once: `write_all`), so a power cut cannot either.
- Nothing is written through a symlink: a temporary file is created exclusively,
  under a name of its own (never an existing one, never followed), and a symlink in
  a feed's place is replaced, not followed.
- A file whose bytes did not change is not rewritten (its mtime stays, so HTTP
  caches and `If-Modified-Since` keep working).
- feedpub only ever writes below the output folder, and only removes files its
  manifest says it wrote: the feeds of a category that has no posts any more go
  away, and anything else in the folder is never touched.
- An advisory lock (fcntl) keeps two builds on one folder from interleaving.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import posixpath
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import LockTimeout, OutputError

STATE_DIR = ".feedpub"
MANIFEST = "manifest.json"
LOCK = "lock"
TEMP_SUFFIX = ".feedpub-tmp"
_LOCK_POLL_SECONDS = 0.05


class OutputFolder:
    manifest_file = f"{STATE_DIR}/{MANIFEST}"
    """The manifest, relative to the folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / STATE_DIR
        self._inside: dict[str, bool] = {}
        """Folders (relative) that resolve inside the output folder, or do not."""
        self._made: set[Path] = set()
        """Folders this object made or found there."""

    def prepare(self) -> None:
        """Create the folder (and feedpub's hidden state folder in it)."""
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"{self.root}: output is not a folder")
        try:
            if self.state_dir.is_symlink():  # feedpub's own folder, never one elsewhere
                self.state_dir.unlink()
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(
                f"{self.root}: cannot create the output folder: {e.strerror}"
            ) from None

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        """Hold the folder's lock; wait up to `timeout` seconds for another build to finish."""
        self.prepare()
        path = self.state_dir / LOCK
        try:
            if path.is_symlink():  # never a lock file elsewhere: feedpub's own, in its folder
                path.unlink()
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise OutputError(f"{path}: cannot open the lock file: {e.strerror}") from None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"{self.root}: another feedpub build has held the output folder "
                            f"for more than {timeout:g} s; giving up (see lock_timeout / --wait)"
                        ) from None
                    time.sleep(_LOCK_POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def path_of(self, rel: str) -> Path:
        """The file for a path relative to the folder; refuses anything that would leave it.

        Its folder must resolve inside the output folder; the file itself may be a symlink,
        which a write replaces (it never follows it)."""
        path = Path(rel)
        if not path.parts or ".." in path.parts or path.is_absolute() or not self._inside_root(rel):
            raise OutputError(f"{rel}: refusing to write outside the output folder {self.root}")
        return self.root / rel

    def _inside_root(self, rel: str) -> bool:
        """The folder of `rel` resolves inside the output folder: it is the folder, or its
        own folder does and it is no symlink, or it is one that leads inside. Each folder is
        looked at once (an lstat; resolving a whole path takes one a component)."""
        folder = posixpath.dirname(rel)
        known = self._inside.get(folder)
        if known is None:
            if not folder:
                known = True
            elif os.path.islink(path := os.path.join(self.root, folder)):
                known = Path(path).resolve().is_relative_to(self.root.resolve())
            else:
                known = self._inside_root(folder)
            self._inside[folder] = known
        return known

    def stat(self, rel: str) -> os.stat_result | None:
        """A file's stat, or None if it is not there (no symlink check: nothing is written)."""
        try:
            return os.stat(os.path.join(self.root, rel))
        except OSError:
            return None

    def read(self, rel: str) -> bytes | None:
        """The file's bytes; None if it is not there, or is not a regular file of ours."""
        return self._read(self.path_of(rel), rel)

    def _read(self, target: Path, rel: str) -> bytes | None:
        try:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:  # a symlink: never read through, always replaced
                return None
            raise OutputError(f"{rel}: cannot read: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a FIFO: not a file of ours
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def write(self, rel: str, data: bytes) -> bool:
        """Atomically replace `rel` with `data`; False (and nothing written) if unchanged."""
        (result,) = self.write_all([(rel, data)])
        if isinstance(result, OutputError):
            raise result
        return result

    def write_all(self, files: Iterable[tuple[str, bytes]]) -> list[bool | OutputError]:
        """`write` each file, in order, the bytes of those that replace a file flushed to
        disk together (a flush waits for the disk; several at once wait about as long as
        one; see `Batch.finish`): True where written, False
        where unchanged, and at the first file that cannot be written its error, where the
        list ends. The files after it are not written (a full disk would fail them too)."""
        batch = Batch(self)
        for rel, data in files:
            if not batch.add(rel, data):
                break
        return batch.finish()

    def _staged(self, rel: str, target: Path, parts: Sequence[bytes]) -> tuple[Path, int]:
        """These bytes (`parts`, in order) in a new temporary file beside `target` (the file
        at `rel`), not yet flushed to disk: (the temporary file, its descriptor)."""
        try:
            if target.parent not in self._made:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(target.parent)
            temp, fd = _create_temporary(target)
        except OSError as e:
            raise _cannot_write(rel, e) from None
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
        except OSError as e:
            os.close(fd)
            with contextlib.suppress(OSError):
                temp.unlink()
            raise _cannot_write(rel, e) from None
        return temp, fd

    def remove(self, rel: str) -> None:
        """Remove a file feedpub wrote, and the folders it leaves empty."""
        target = self.path_of(rel)
        try:
            target.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"{rel}: cannot remove: {e.strerror}") from None
        for temp in target.parent.glob(f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                temp.unlink()
        folder = target.parent
        root = self.root.resolve()
        while folder.resolve() != root and folder.resolve().is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:  # not empty (or not ours to remove)
                break
            self._made.discard(folder)
            folder = folder.parent

    def remove_temporaries(self, files: Iterable[str]) -> None:
        """Remove what builds killed mid-write left beside `files` (temporary files, or
        whatever was planted under their names). Under the lock no other build writes."""
        for folder in {posixpath.dirname(f) for f in files} | {STATE_DIR}:
            try:
                names = os.listdir(os.path.join(self.root, folder))
            except OSError:
                continue
            for name in names:
                if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.root, folder, name))

    def manifest(self) -> set[str]:
        """Files an earlier build wrote. A missing or damaged manifest is empty: then
        nothing is removed, which is the safe way to be wrong."""
        try:
            data = json.loads((self.state_dir / MANIFEST).read_text("utf-8"))
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return set()
        return {f for f in files if isinstance(f, str)}

    def save_manifest(self, files: Iterable[str]) -> None:
        data = {"generator": "feedpub", "files": sorted(files)}
        self.write(self.manifest_file, json.dumps(data, ensure_ascii=False, indent=1).encode())


class Batch:
    """Files written together, as `OutputFolder.write_all` writes them, given one at a time:
    each goes to its temporary file when it is added (its bytes need not be held until the
    others are ready), and `finish` flushes them to disk together and puts each in place."""

    def __init__(self, folder: OutputFolder) -> None:
        self._folder = folder
        self._results: list[bool | OutputError] = []
        self._staged: list[tuple[int, str, Path, Path, int, bool]] = []
        """Each file's result index, rel, target, temporary file, its descriptor, and whether
        it replaces a file (only then is it flushed to disk: see `finish`)."""
        self.files = 0
        """Files added (also those refused after a failure)."""
        self.bytes = 0
        """Their bytes."""

    def add(self, rel: str, *parts: bytes) -> bool:
        """Write `rel` (these bytes, in order: a feed comes in parts, which joined would be
        copied once more) to its temporary file (or find it unchanged); False when it cannot
        be written, or an earlier file of the batch could not: then it is not written."""
        size = sum(map(len, parts))
        self.files += 1
        self.bytes += size
        if self._results and isinstance(self._results[-1], OutputError):
            return False
        try:
            target = self._folder.path_of(rel)  # (once: it resolves the folders on the way)
            old = self._folder._read(target, rel)
            if old is not None and len(old) == size and old == b"".join(parts):
                self._results.append(False)
                return True
            replaces = old is not None or os.path.lexists(target)
            temp, fd = self._folder._staged(rel, target, parts)
        except OutputError as e:
            self._results.append(e)
            return False
        self._staged.append((len(self._results), rel, target, temp, fd, replaces))
        self._results.append(True)
        return True

    def finish(self) -> list[bool | OutputError]:
        """Put each added file in place: a result per file, in order, as `write_all` gives
        them.

        A file that replaces one is flushed to disk first: after a power cut the old file
        or the new one is there whole, never a file whose bytes were still to be written
        (and a full disk that only the flush finds out keeps the old one). A new file has
        no old one to lose, so it is not waited for: a cut leaves it missing or short,
        which the next build sees by its size and writes again (LastBuild.touched). (On ext4
        without a journal, a flush of a new file also writes every folder above it and
        waits for the device's cache: a fifth of a small site's first build, where nothing
        was at risk.)"""
        results, staged = self._results, self._staged
        self._results, self._staged = [], []
        end = len(results)
        flushed = iter(_flushed([fd for *_, fd, replaces in staged if replaces]))
        for i, rel, target, temp, fd, replaces in staged:
            error = next(flushed) if replaces else None
            try:
                os.close(fd)
                if i < end:
                    if error is not None:
                        raise error
                    os.replace(temp, target)
                    continue
            except OSError as e:
                if i < end:
                    results[i], end = _cannot_write(rel, e), i + 1
            with contextlib.suppress(OSError):
                temp.unlink()
        return results[:end]


def _cannot_write(rel: str, e: OSError) -> OutputError:
    reason = "the disk is full" if e.errno == errno.ENOSPC else e.strerror
    return OutputError(f"{rel}: cannot write: {reason}; the previous file is unchanged")


def _flushed(fds: list[int]) -> list[OSError | None]:
    """Each file's bytes flushed to disk (fsync), several files' at once, each in a thread
    (the kernel then commits them to the disk together); each one's error, or None."""
    errors: list[OSError | None] = [None] * len(fds)

    def flush(i: int) -> None:
        try:
            os.fsync(fds[i])
        except OSError as e:
            errors[i] = e

    threads = [threading.Thread(target=flush, args=(i,)) for i in range(1, len(fds))]
    for thread in threads:
        thread.start()
    if fds:
        flush(0)
    for thread in threads:
        thread.join()
    return errors


def _create_temporary(target: Path) -> tuple[Path, int]:
    """A new file beside `target`, created exclusively (O_EXCL, O_NOFOLLOW): it can be
    neither a file that was already there nor a symlink planted to make us write elsewhere."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = target.with_name(f".{target.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}")
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
