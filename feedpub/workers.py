"""Spreading a big build's heavy work (parsing posts, publishing feeds) over the cores,
and reporting its progress.

Parsing YAML and rendering feeds is CPU-bound Python, so threads would not help;
worker processes do. Starting them costs tens of milliseconds, so small builds
(the usual cron run) stay in one process. Results come back in order, so a
build's output never depends on how the work was spread.

Workers are forked once the tasks are known, so they inherit the tasks (and every
module the parent has imported) instead of receiving them pickled; only results
travel, over a pipe. Each process takes the next task when it is free (a token
passed through a pipe holds the next task's number), so a process that drew short
tasks takes more of them, and the calling process works as one of them. At most
`_AHEAD` results of a worker wait for the caller to take them; a worker further ahead
waits (its pipe is full), so a caller slower than its workers (it stores what they
parse) holds a few results, not a pile of them. The pipe holds 1 MiB (`_widen`), so a
result is written into it at once, and the worker goes on while the caller reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import pickle
import select
import signal
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[Sequence[Any], str], Iterable[Any]]
"""Wraps work that may take a while (items, label) → the same items, e.g. with a progress bar."""


def no_progress(items: Sequence[T], label: str) -> Iterable[T]:
    return items


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(jobs: int, work: int, worth_it: int) -> int:
    """Processes to use: `jobs` (0 = one per core), but only one when `work` < `worth_it`."""
    if work < worth_it:
        return 1
    return max(1, jobs or available_cores())


def batches(items: Sequence[T], count: int, tail: int = 0) -> Iterator[Sequence[T]]:
    """`items` in about `count` slices of equal size, in order, each sliced when it is
    asked for (slices of a sequence that makes its items are made one at a time).

    The last `tail` slices' items come in slices a quarter of that size: processes taking
    the slices in turn then finish within a quarter of a slice of each other, where the
    first to finish would wait up to a whole slice for the last."""
    size = max(1, -(-len(items) // max(1, count)))
    small = max(1, size // 4)
    end = max(0, len(items) - tail * size)
    for i in range(0, end, size):
        yield items[i : min(i + size, end)]
    for i in range(end, len(items), small):
        yield items[i : i + small]


def run(
    function: Callable[[T], R], tasks: Sequence[T], processes: int, leave: int = 0
) -> Iterator[R]:
    """`function(task)` for every task, results in order; over `processes` processes.

    The calling process is one of them; it leaves the last `leave` tasks to the others
    (it has other work by then). An exception raised by `function` in a worker
    is raised here (with the worker's traceback as its cause); a worker that dies
    (killed, out of memory) is a `WorkerError`. The results must be picklable.
    """
    if processes <= 1 or len(tasks) <= 1:
        yield from map(function, tasks)
        return
    try:
        pool = _Pool(function, tasks, min(processes, len(tasks)) - 1, len(tasks) - leave)
    except OSError:  # no process can be started (a process limit, no memory): work alone
        yield from map(function, tasks)
        return
    try:
        yield from pool.results()
    finally:
        pool.close()


def run_with_progress(
    function: Callable[[T], R],
    tasks: Sequence[T],
    processes: int,
    progress: Progress,
    label: str,
    leave: int = 0,
) -> Iterator[R]:
    """`run`, advancing the progress bar as each result arrives."""
    results = run(function, tasks, processes, leave)
    for _ in progress(tasks, label):
        yield next(results)


class WorkerError(RuntimeError):
    """A worker process failed: it died, or (as the cause of the error it raised) its traceback."""


_HEADER = struct.Struct("<BIQ")  # kind, task number, payload length
_RESULT, _ERROR, _DONE = 0, 1, 2
_TOKEN = struct.Struct("<I")
_AHEAD = 2
"""Results of one worker received but not yet taken, at most (a worker blocks on its pipe
once it is full). Never a deadlock: a worker's results come in the order of its tasks, so one
whose next result the caller waits for has none waiting."""


class _Worker:
    def __init__(self, pid: int, results: int) -> None:
        self.pid = pid
        self.results = results
        """The read end of the pipe this worker sends its results through."""
        self.finished = False
        """It said it had no more tasks to take."""
        self.waiting = 0
        """Its results received and not yet taken by the caller."""
        self.thread: threading.Thread | None = None


class _Pool(Generic[T, R]):
    """Forked workers and the calling process taking tasks from one counter."""

    def __init__(
        self, function: Callable[[T], R], tasks: Sequence[T], count: int, mine: int
    ) -> None:
        self.function, self.tasks = function, tasks
        self.mine = mine
        """The caller takes no task from this one on."""
        self.done: dict[int, tuple[int, bytearray, _Worker]] = {}
        self.failure: str | None = None
        self.closing = False
        self.changed = threading.Condition()
        self.token_r, self.token_w = os.pipe()
        os.set_blocking(self.token_r, False)  # shared by every process: each waits in select
        os.write(self.token_w, _TOKEN.pack(0))
        self.workers: list[_Worker] = []
        # The workers' garbage collector must not touch what they inherit: every object
        # it visits is a page the kernel copies (and the parent's, for the same reason).
        gc.freeze()
        _trim()
        parent = os.getpid()
        try:
            for _ in range(count):
                results_r, results_w = os.pipe()
                _widen(results_w)
                try:
                    pid = os.fork()
                except BaseException:
                    os.close(results_r)
                    os.close(results_w)
                    raise
                if pid == 0:  # pragma: no cover (the worker; its work is checked through run)
                    os.close(results_r)
                    self._work(parent, results_w)
                os.close(results_w)
                self.workers.append(_Worker(pid, results_r))
        except BaseException:
            self.close()
            raise
        for worker in self.workers:
            worker.thread = threading.Thread(target=self._receive, args=(worker,), daemon=True)
            worker.thread.start()

    # -- in the calling process ------------------------------------------------------

    def results(self) -> Iterator[R]:
        own: dict[int, R] = {}
        for index in range(len(self.tasks)):
            while index not in own:
                with self.changed:
                    sent = self.done.pop(index, None)
                    if sent is not None:
                        sent[2].waiting -= 1
                        self.changed.notify_all()
                if sent is not None:
                    # Neither its bytes nor (once taken) the result are held here after:
                    # they are megabytes.
                    kind, payload = sent[0], sent[1]
                    del sent
                    result = _decode(kind, payload)
                    del payload
                    yield result
                    del result
                    break
                mine = self._claim(self.mine)
                if mine is not None:
                    own[mine] = self.function(self.tasks[mine])
                    continue
                with self.changed:  # every task is taken: wait for a worker's
                    while index not in self.done and self.failure is None:
                        self.changed.wait()
                    if index not in self.done:
                        raise WorkerError(self.failure)
            else:
                yield own.pop(index)

    def _claim(self, end: int) -> int | None:
        """The next task's number, or None when every task before `end` is taken."""
        while True:
            if self.failure is not None:  # a worker died, perhaps holding the token
                raise WorkerError(self.failure)
            select.select([self.token_r], [], [], 0.1)
            try:
                token = os.read(self.token_r, _TOKEN.size)  # written whole, so read whole
                break
            except BlockingIOError:  # another process took it first
                continue
        index: int = _TOKEN.unpack(token)[0]
        if index >= end:  # not taken: the token goes back as it was
            os.write(self.token_w, token)
            return None
        os.write(self.token_w, _TOKEN.pack(index + 1))
        return index

    def _receive(self, worker: _Worker) -> None:
        """A thread per worker: reads its results as they come (they may be big, and a
        worker must not wait for the calling process to finish a task of its own)."""
        while True:
            with self.changed:
                while worker.waiting >= _AHEAD and not self.closing:
                    self.changed.wait()
            header = _read(worker.results, _HEADER.size)
            if header is None:
                break
            kind, index, length = _HEADER.unpack(header)
            if kind == _DONE:
                worker.finished = True
                break
            payload = _read(worker.results, length)
            if payload is None:
                break
            with self.changed:
                self.done[index] = (kind, payload, worker)
                worker.waiting += 1
                self.changed.notify_all()
            del payload  # (freed once decoded, not when the next one comes)
        if not worker.finished:
            _, status = os.waitpid(worker.pid, 0)
            worker.pid = 0
            with self.changed:
                self.failure = self.failure or f"a worker process {_death(status)}"
                self.changed.notify_all()

    def close(self) -> None:
        """Stop the workers (at once, if the build did not take every result) and reap them."""
        with self.changed:
            self.closing = True
            self.changed.notify_all()
        for worker in self.workers:
            if not worker.finished and worker.pid:
                with contextlib.suppress(OSError):
                    os.kill(worker.pid, signal.SIGKILL)
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join()
            if worker.pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(worker.pid, 0)
            os.close(worker.results)
        self.workers = []
        for fd in (self.token_r, self.token_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        gc.unfreeze()

    # -- in a worker -----------------------------------------------------------------

    def _work(self, parent: int, results: int) -> None:
        code = 1
        try:
            _die_with_parent(parent)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops us
            for worker in self.workers:  # the pipes of the workers forked before this one
                os.close(worker.results)
            while (index := self._claim(len(self.tasks))) is not None:
                try:
                    kind, payload = _RESULT, _encode(self.function(self.tasks[index]))
                except BaseException as e:
                    kind, payload = _ERROR, _encode_error(e)
                _write(results, _HEADER.pack(kind, index, len(payload)))
                _write(results, payload)  # (not joined to its header: a copy of megabytes)
                del payload  # not held through the next task
            _write(results, _HEADER.pack(_DONE, 0, 0))
            code = 0
        finally:
            os._exit(code)


def _trim() -> None:
    """Give the memory the caller freed back to the kernel before forking (glibc keeps it
    for later): pages a worker inherits and the caller then reuses are pages copied.

    And from now on (in the workers too, which inherit it), keep glibc from holding on to
    big buffers once freed: results travel as buffers of megabytes, and glibc by default
    raises its threshold for giving them back with each one freed, and gives each thread
    that receives them a heap of its own (measured: 71 MB → 61 MB for a first build of
    10,000 posts, for no more CPU time).

    The threshold is 1 MiB, not glibc's starting 128 KiB: a batch's results and a feed's
    bytes are a few hundred KiB each, and every buffer that gets pages of its own is
    faulted in page by page and handed back when freed (a first build of 10,000 posts in
    two processes took 59,000 page faults, 24,000 with these; 2 MB more memory). The heap
    keeps glibc's 128 KiB free at its top: 4 MiB, in each process, cost 3 MB more at the
    peak of that build for no CPU time measurable."""
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None)
            libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
            libc.mallopt(_M_TRIM_THRESHOLD, 128 * 1024)
            libc.mallopt(_M_ARENA_MAX, 2)
            libc.malloc_trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's malloc.h


def _widen(pipe: int) -> None:
    """Let a worker's pipe hold 1 MiB (Linux's limit for a user), a whole result of a
    batch of posts or of a publish group. Through 64 KiB, a worker waited at every
    64 KiB for the caller's receiving thread, and that thread for the caller's busy
    thread to let go of the GIL (up to 5 ms each time): at 10,000 posts its second core
    was idle 15 ms after every batch it read and 70 ms after every group it published."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):  # (a user over the kernel's quota of pipe pages)
            fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


_PIPE_BYTES = 1 << 20


def _encode(result: object) -> bytes:
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def _encode_error(error: BaseException) -> bytes:
    trace = "".join(traceback.format_exception(error))
    try:
        return _encode((error, trace))
    except Exception:  # an exception that cannot be pickled: its words still can
        return _encode((WorkerError(f"{type(error).__name__}: {error}"), trace))


def _decode(kind: int, payload: bytes | bytearray) -> Any:
    if kind == _RESULT:
        return pickle.loads(payload)
    error, trace = pickle.loads(payload)
    raise error from WorkerError(f"in a worker process:\n{trace}")


def _read(fd: int, size: int) -> bytearray | None:
    """Exactly `size` bytes from a pipe, read into one buffer (chunks joined would hold a
    result twice: megabytes, at the peak of a build), or None at its end."""
    data = bytearray(size)
    view, done = memoryview(data), 0
    while done < size:
        n = os.readv(fd, [view[done:]])
        if not n:
            return None
        done += n
    return data


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)} ({signal.Signals(os.WTERMSIG(status)).name})"
    return f"stopped with exit code {os.waitstatus_to_exitcode(status)} before it finished"


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its build: if the build is killed (SIGKILL from cron's
    timeout, the OOM killer), a worker left behind would keep writing feeds and
    hold the output folder's lock."""
    if sys.platform == "linux":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


_PR_SET_PDEATHSIG = 1
