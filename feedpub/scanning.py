"""The scan: every post file under the posts folder, found and stat'ed, kept by column.

Finding files is kept apart from reading them (sources.py) and parsing them (reader.py),
so that a build in which nothing changed can stat every post and stop, without loading a
parser.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import itertools
import operator
import os
import struct
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, overload

from .problems import Problem

POST_SUFFIXES = (".md", ".markdown")


class PostNames(NamedTuple):
    """Which regular files of a folder are posts by their names alone: the scan's common
    case, looked at without a call per file (`scan_posts`)."""

    hidden: str
    """A name that starts with one of these characters is not a post."""
    suffixes: tuple[str, ...]
    """A post's name ends with one of these (lower case), in any case."""
    unwanted_ends: tuple[str, ...] = ()
    """Nor does a post's name end with one of these."""


POST_NAMES = PostNames(".", POST_SUFFIXES)
"""Outside site mode: `*.md` and `*.markdown` files, but hidden ones."""


class SourceFile(NamedTuple):
    """A post file found on disk, with the stat facts the incremental state keys on.

    A named tuple, not a dataclass: a scan makes one per post, and a build where nothing
    changed is little more than the scan."""

    rel: str
    """Path relative to the posts folder, with '/' separators."""
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


class Scan:
    """The post files found, by column, so that a million of them are no million objects:
    their names, in the order of the walk (which depends only on what the folders hold:
    sorting a million paths would cost a fifth of a build where nothing changed), each
    run of them under the folder they are in (a path is made when it is asked for), and
    each stat fact in an array of 64-bit integers. A time that does not fit 64 bits (a
    file dated after 2262) is clamped there, and the file is also kept whole in `odd`,
    by path."""

    __slots__ = (
        "ctimes",
        "folders",
        "inodes",
        "mtimes",
        "names",
        "odd",
        "problems",
        "sizes",
        "starts",
    )

    def __init__(self) -> None:
        self.names: list[str] = []
        self.starts: list[int] = []
        """Where each run of files of one folder starts, and that folder ('' or 'a/b/')."""
        self.folders: list[str] = []
        self.sizes = array("q")
        self.mtimes = array("q")
        self.ctimes = array("q")
        self.inodes = array("Q")
        self.odd: dict[str, SourceFile] = {}
        self.problems: list[Problem] = []

    def __len__(self) -> int:
        return len(self.names)

    def columns(self) -> tuple[array[int], array[int], array[int], array[int]]:
        return self.sizes, self.mtimes, self.ctimes, self.inodes

    def runs(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[str, list[str]]]:
        """The files from `start` to `stop`, as (folder, names) runs."""
        stop = len(self.names) if stop is None else stop
        run = bisect.bisect_right(self.starts, start) - 1
        while start < stop:
            end = self.starts[run + 1] if run + 1 < len(self.starts) else len(self.names)
            yield self.folders[run], self.names[start : min(end, stop)]
            start, run = end, run + 1

    def rels(self, start: int = 0, stop: int | None = None) -> list[str]:
        """The paths of the files from `start` to `stop`."""
        return [folder + name for folder, names in self.runs(start, stop) for name in names]

    def file(self, i: int) -> SourceFile:
        rel = self.folders[bisect.bisect_right(self.starts, i) - 1] + self.names[i]
        odd = self.odd.get(rel) if self.odd else None
        return odd or SourceFile(rel, self.sizes[i], self.mtimes[i], self.ctimes[i], self.inodes[i])

    def files(self) -> list[SourceFile]:
        """Every file as a SourceFile (what a build that reads every file needs)."""
        return self.lazy_files()[:]

    def lazy_files(self) -> ScanFiles:
        """Every file, each made a SourceFile only when asked (what a first build parses)."""
        return ScanFiles(self)

    def enter(self, folder: str) -> None:
        """The files added next are in this folder ('' or ending in '/')."""
        if self.folders and self.folders[-1] == folder:
            return
        if self.starts and self.starts[-1] == len(self.names):  # the last run had no file
            self.folders[-1] = folder
        else:
            self.starts.append(len(self.names))
            self.folders.append(folder)

    def add(self, file: SourceFile) -> None:
        """One file, the slow way (the walk appends to the columns itself)."""
        rel, size, mtime, ctime, inode = file
        if not (_LOW <= mtime <= _HIGH and _LOW <= ctime <= _HIGH and inode <= _TOP):
            self.odd[rel] = file
            mtime, ctime = _clamped(mtime), _clamped(ctime)
            inode = min(inode, _TOP)
        folder, slash, name = rel.rpartition("/")
        self.enter(folder + slash)
        self.names.append(name)
        self.sizes.append(size)
        self.mtimes.append(mtime)
        self.ctimes.append(ctime)
        self.inodes.append(inode)


_LOW, _HIGH, _TOP = -(2**63), 2**63 - 1, 2**64 - 1


class ScanFiles(Sequence[SourceFile]):
    """A scan's files as a sequence that makes each SourceFile when it is asked for: a first
    build hands every file to the parser a batch at a time, and a million SourceFiles held
    at once were most of its memory."""

    __slots__ = ("_scan",)

    def __init__(self, scan: Scan) -> None:
        self._scan = scan

    def __len__(self) -> int:
        return len(self._scan)

    @overload
    def __getitem__(self, index: int) -> SourceFile: ...
    @overload
    def __getitem__(self, index: slice) -> list[SourceFile]: ...
    def __getitem__(self, index: int | slice) -> SourceFile | list[SourceFile]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self._scan))
            if step != 1:
                return [self._scan.file(i) for i in range(start, stop, step)]
            scan = self._scan
            columns = (column[start:stop] for column in scan.columns())
            files = list(map(SourceFile, scan.rels(start, stop), *columns))
            return [scan.odd.get(f.rel, f) for f in files] if scan.odd else files
        if not -len(self._scan) <= index < len(self._scan):
            raise IndexError(index)
        return self._scan.file(index % len(self._scan))


def _clamped(ns: int) -> int:
    return max(_LOW, min(ns, _HIGH))


def find_posts(
    root: Path, keep: Callable[[str, bool], bool] | None = None
) -> tuple[list[SourceFile], list[Problem]]:
    """`scan_posts`, a SourceFile per file, sorted by path."""
    scan = scan_posts(root, keep)
    return sorted(scan.files()), scan.problems


def scan_posts(
    root: Path,
    keep: Callable[[str, bool], bool] | None = None,
    jobs: int = 0,
    names: Callable[[str], PostNames | None] | None = None,
) -> Scan:
    """Every `*.md`/`*.markdown` under `root` (in site mode: the files and folders
    `keep(rel, is_folder)` chooses, which the site's generator reads as posts; in a
    folder for which `names(folder)` gives a rule, a regular file the rule takes is kept
    without asking `keep`, and the others are asked).

    Hidden files and folders are ignored. Symlinks are followed only while they
    stay inside `root`, so a post folder written by many people cannot make
    feedpub read (and publish) a file from elsewhere on the machine.

    This is most of a build where nothing changed, so a plain post file (the common
    case; in site mode, a regular file the site keeps) costs one stat and five appends to
    columns; only the rare entry (a symlink, a folder, a FIFO, a name that is not UTF-8, a
    file the site does not keep) takes the long way.
    A folder of many post files is stat'ed over `jobs` processes (0 = one per core).
    """
    with without_cycle_collection():
        scan = Scan()
        _walk(root, keep, names, scan, jobs)
        return scan


def _walk(
    root: Path,
    keep: Callable[[str, bool], bool] | None,
    names: Callable[[str], PostNames | None] | None,
    scan: Scan,
    jobs: int,
) -> None:
    problems = scan.problems
    real_root = root.resolve()
    visited = {real_root}
    # A stack, not recursion: a folder tree can be deeper than Python's stack.
    folders = [(str(root), "")]
    for folder, rel, fd in _opened(folders, problems):
        prefix = f"{rel}/" if rel else ""
        scan.enter(prefix)
        # Plain post files (the common case) are stat'ed in the order the folder lists them,
        # which is the order of their inodes on disk; everything else is looked at after,
        # in name order, so that what is reported and which path to a folder wins never
        # depends on the listing order.
        others: list[os.DirEntry[str]] = []
        try:
            with os.scandir(fd) as listing:
                # Taken a batch at a time, whose columns go into the scan's at once: the
                # names looked at in one comprehension, the files stat'ed and their facts
                # taken by map, at C speed, not by a statement per file.
                rule = POST_NAMES if keep is None else names(prefix) if names else None
                batches = _plain_batches(listing, prefix, keep, rule, others)
                for plain in itertools.islice(batches, _BATCHES_ALONE):
                    stats = _stats(plain, others)
                    found = list(map(_NAME, plain))
                    _add_plain(scan, prefix, found, [list(map(f, stats)) for f in _FACTS])
                rest = [entry.name for plain in batches for entry in plain]
            if rest:
                _add_shared(scan, prefix, fd, rest, others, jobs)
        except OSError as e:
            problems.append(Problem(rel or ".", f"cannot list folder: {e.strerror}"))
            continue
        subfolders = []
        for entry in sorted(others, key=_NAME):
            name = entry.name
            entry_rel = prefix + name
            try:
                if keep is not None:
                    is_folder = entry.is_dir()
                    if not keep(entry_rel, is_folder):
                        continue
                    is_post = not is_folder
                else:
                    is_post = name.lower().endswith(POST_SUFFIXES)
                if not _is_utf8(name):
                    # Its name could not go into a URL, a feed or a report: say so and go on.
                    shown = entry_rel.encode("utf-8", "surrogateescape").decode(
                        "utf-8", "backslashreplace"
                    )
                    problems.append(
                        Problem(shown, "the name is not valid UTF-8; rename it", rule="bad-name")
                    )
                    continue
                if entry.is_symlink():
                    target = Path(folder, name).resolve()
                    if not target.is_relative_to(real_root):
                        if is_post or target.is_dir():
                            message = "symlink leaves the posts folder; not followed"
                            problems.append(Problem(entry_rel, message, rule="symlink-outside"))
                        continue
                    if target.is_dir() and target in visited:
                        continue  # a loop, or a folder already read
                    visited.add(target)
                if entry.is_dir():
                    subfolders.append((os.path.join(folder, name), entry_rel))
                elif is_post and entry.is_file():
                    stat = entry.stat()
                    scan.add(
                        SourceFile(
                            entry_rel, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino
                        )
                    )
                elif is_post:  # a FIFO or a device: reading it could block the build forever
                    problems.append(
                        Problem(entry_rel, "not a regular file; not read", rule="not-a-file")
                    )
            except OSError as e:
                problems.append(Problem(entry_rel, f"cannot read: {e.strerror}"))
        folders.extend(reversed(subfolders))


_BATCH = 1024
"""(A batch's stat results are held together: batches of 1,024 scanned faster than of 4,096.)"""
_BATCHES_ALONE = 16
"""A folder's first batches are stat'ed here; the post files after them (a bot's folder of a
hundred thousand posts) over the cores (`_add_shared`)."""
_SHARED_FILES = 8 * _BATCH
"""Fewer files than this after a folder's first batches are stat'ed in one process: forking
would cost more than they take to stat."""


def _plain_batches(
    listing: Iterator[os.DirEntry[str]],
    prefix: str,
    keep: Callable[[str, bool], bool] | None,
    rule: PostNames | None,
    others: list[os.DirEntry[str]],
) -> Iterator[list[os.DirEntry[str]]]:
    """The plain post files of a listing (in site mode: the regular files the site keeps,
    by the folder's `rule` where it has one), a batch at a time; every other entry but
    the hidden ones goes to `others`."""
    while batch := list(itertools.islice(listing, _BATCH)):
        if rule is not None:
            hidden, suffixes, unwanted = rule
            plain = [
                entry
                for entry in batch
                if (name := entry.name)[0] not in hidden
                and (name.endswith(suffixes) or name.lower().endswith(suffixes))
                and not (unwanted and name.endswith(unwanted))
                and entry.is_file(follow_symlinks=False)
                and (name.isascii() or _is_utf8(name))
            ]
        else:
            assert keep is not None
            plain = [
                entry
                for entry in batch
                if (name := entry.name)[0] != "."
                and entry.is_file(follow_symlinks=False)
                and (name.isascii() or _is_utf8(name))
                and keep(prefix + name, False)
            ]
        if len(plain) < len(batch):
            chosen = set(plain)
            others += [e for e in batch if e not in chosen and e.name[0] != "."]
        yield plain


def _add_shared(
    scan: Scan, prefix: str, fd: int, names: list[str], others: list[os.DirEntry[str]], jobs: int
) -> None:
    """Plain post files of the folder open as `fd`, by name, stat'ed over `jobs` processes
    (0 = one per core; the caller is one, the others are forked) a batch at a time, into
    the scan's columns in their order.

    Stat'ing is nearly all the kernel's time, which processes share between the cores
    (threads cannot: each takes the GIL back after every call). A file that cannot be
    stat'ed goes to `others` with the folder listed again, to be said in its turn; one gone
    since is said here, as `_stats` has it said in one process.
    """
    from . import workers  # (not imported by a build of a small site)

    processes = workers.worker_count(jobs, len(names), _SHARED_FILES)
    # Taken a batch at a time, as in one process: never every file's stat held at once.
    parts = [names[i : i + _BATCH] for i in range(0, len(names), _BATCH)]
    failed: dict[str, str] = {}
    results = workers.run(functools.partial(_stat_names, fd), parts, processes)
    for part, (columns, part_failed) in zip(parts, results, strict=True):
        if part_failed:
            unstated = dict(part_failed)
            failed.update((part[i], reason) for i, reason in unstated.items())
            part = [name for i, name in enumerate(part) if i not in unstated]
        _add_plain(scan, prefix, part, columns)
    if failed:
        with os.scandir(fd) as listing:
            again = [entry for entry in listing if entry.name in failed]
        others += again
        for name in sorted(failed.keys() - set(map(_NAME, again))):
            scan.problems.append(Problem(prefix + name, f"cannot read: {failed[name]}"))


def _stat_names(fd: int, names: Sequence[str]) -> tuple[list[list[int]], list[tuple[int, str]]]:
    """Each name's stat facts (lstat, through the folder's descriptor: a plain file's stat),
    by column, and the index of each that could not be stat'ed, with the reason."""
    stat = functools.partial(os.stat, dir_fd=fd, follow_symlinks=False)
    failed: list[tuple[int, str]] = []
    try:
        stats = list(map(stat, names))
    except OSError:
        stats = []
        for i, name in enumerate(names):
            try:
                stats.append(stat(name))
            except OSError as e:
                failed.append((i, e.strerror or str(e)))
    return [list(map(f, stats)) for f in _FACTS], failed


_FACTS = tuple(map(operator.attrgetter, ("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")))


def _stats(plain: list[os.DirEntry[str]], others: list[os.DirEntry[str]]) -> list[os.stat_result]:
    """Each plain file's stat (no symlink's: `stat()` of an entry that is none is its
    lstat); a file that cannot be stat'ed (gone since the listing) goes to `others`, to be
    said in its turn, and out of `plain`."""
    try:
        return list(map(os.DirEntry.stat, plain))
    except OSError:
        stats = []
        for entry in plain[:]:
            try:
                stats.append(entry.stat())
            except OSError:
                plain.remove(entry)
                others.append(entry)
        return stats


def _add_plain(scan: Scan, prefix: str, names: list[str], stats: Sequence[list[int]]) -> None:
    """Plain post files of one folder into the scan's columns, each column packed at once:
    appended to lists, then packed, they cost a third less than appended to the arrays one
    by one (an array parses each item it is given as a call's argument)."""
    try:
        packed = [
            struct.pack(f"{len(names)}{kind}", *column)
            for kind, column in zip("qqqQ", stats, strict=True)
        ]
    except struct.error:  # a time that does not fit 64 bits: file by file (see Scan.add)
        for name, *stat in zip(names, *stats, strict=True):
            scan.add(SourceFile(prefix + name, *stat))
        return
    scan.names += names
    for column, data in zip(scan.columns(), packed, strict=True):
        column.frombytes(data)


def _opened(
    folders: list[tuple[str, str]], problems: list[Problem]
) -> Iterator[tuple[str, str, int]]:
    """The folders on the walk's stack (path, path from the root), popped as it pushes,
    each with a descriptor of it, open while the walk looks at its entries: they are
    listed and stat'ed through it, a lookup of one name in it rather than of the whole
    path again (a quarter of the walk's time, more with a symlink on the path)."""
    while folders:
        folder, rel = folders.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            problems.append(Problem(rel or ".", f"cannot list folder: {e.strerror}"))
            continue
        try:
            yield folder, rel, fd
        finally:
            os.close(fd)


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused, for work that makes objects by the hundred
    thousand and no cycles (a scan, decoding the last build's record): the collector
    would walk them all again each time their number grew by a quarter."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


_NAME = operator.attrgetter("name")


def _is_utf8(name: str) -> bool:
    """False for a file name with bytes that are not UTF-8 (os gives them as surrogates)."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
