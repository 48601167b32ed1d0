"""Spreading a big build's heavy work (parsing posts, publishing feeds) over the cores,
and reporting its progress.

Parsing YAML and rendering feeds is CPU-bound Python, so threads would not help;
worker processes do. Starting them costs tens of milliseconds, so small builds
(the usual cron run) stay in one process. Results come back in order, so a
build's output never depends on how the work was spread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

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


def batches(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """`items` in about `count` slices of equal size, in order."""
    size = max(1, -(-len(items) // max(1, count)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def run(function: Callable[[T], R], tasks: Sequence[T], processes: int) -> Iterator[R]:
    """`function(task)` for every task, results in order; over `processes` processes.

    The calling process is one of them: it works through its share (every
    `processes`-th task) while the others run in worker processes, so no core
    waits and its share of the results is never pickled. `function` must be
    picklable (a module-level function or a functools.partial of one).
    """
    if processes <= 1 or len(tasks) <= 1:
        yield from map(function, tasks)
        return
    # Imported here: most builds (a cron run that changed little) never start a worker.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    processes = min(processes, len(tasks))
    methods = multiprocessing.get_all_start_methods()
    # fork starts in milliseconds and inherits the imported modules; elsewhere, the default.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    parent = os.getpid()
    with ProcessPoolExecutor(
        max_workers=processes - 1,
        mp_context=context,
        initializer=_die_with_parent,
        initargs=(parent,),
    ) as pool:
        futures = {i: pool.submit(function, task) for i, task in enumerate(tasks) if i % processes}
        for i, task in enumerate(tasks):
            yield function(task) if i % processes == 0 else futures[i].result()


def run_with_progress(
    function: Callable[[T], R],
    tasks: Sequence[T],
    processes: int,
    progress: Progress,
    label: str,
) -> Iterator[R]:
    """`run`, advancing the progress bar as each result arrives."""
    results = run(function, tasks, processes)
    for _ in progress(tasks, label):
        yield next(results)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its build: if the build is killed (SIGKILL from cron's
    timeout, the OOM killer), a worker left behind would keep writing feeds and
    hold the output folder's lock."""
    if sys.platform == "linux":
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        import threading

        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


_PR_SET_PDEATHSIG = 1
