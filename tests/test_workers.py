"""Worker processes: results in order, the work shared as it goes, failures told, and no
process left behind whatever happens."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import pickle
import signal
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from feedpub import workers
from feedpub.workers import WorkerError
from tests.helpers import post


def _children() -> set[int]:
    """This process's living (or unreaped) children."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


@pytest.fixture(autouse=True)
def _no_process_left() -> object:
    if not Path("/proc/self/task").is_dir():
        pytest.skip("needs Linux's /proc to see child processes")
    before = _children()
    yield
    assert _children() == before
    assert gc.get_freeze_count() == 0


def test_results_come_in_order_and_the_work_is_shared() -> None:
    parent = os.getpid()

    def square(n: int) -> tuple[int, int]:
        time.sleep(0.02)
        return n * n, os.getpid()

    results = list(workers.run(square, list(range(40)), 3))
    assert [r for r, _ in results] == [n * n for n in range(40)]
    done_by = {pid for _, pid in results}
    assert parent in done_by  # the calling process is one of the workers
    assert len(done_by) == 3


def test_a_worker_waits_while_the_caller_has_not_taken_its_results(tmp_path: Path) -> None:
    """Back-pressure: a caller slower than its workers (it stores what they parse) holds a
    few results of each, not every result they could make meanwhile."""
    parent, started = os.getpid(), tmp_path / "started"

    def task(n: int) -> bytes:
        with started.open("a") as log:
            log.write(f"{os.getpid()}\n")
        return bytes(1_200_000)  # more than a pipe holds: the worker waits for its reader

    results = workers.run(task, list(range(60)), 2)
    next(results)  # (the caller works on tasks too while it waits for the first)
    time.sleep(1.0)  # the caller is busy: the worker must not run ahead through every task
    by_worker = [pid for pid in started.read_text().split() if int(pid) != parent]
    # the one taken, those waiting, one in the pipe, one being made
    assert len(by_worker) <= 1 + workers._AHEAD + 2
    assert len(list(results)) == 59  # and every result still comes


def test_a_process_that_draws_long_tasks_takes_fewer() -> None:
    parent = os.getpid()

    def task(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    # Whichever process takes the long first task, the other does the short ones meanwhile.
    pids = list(workers.run(task, [0.6] + [0.02] * 10, 2))
    assert parent in pids and len(set(pids)) == 2
    assert pids[1:].count(pids[0]) <= 3


def test_batches_keep_the_order_and_end_in_quarter_slices() -> None:
    items = list(range(10_000))
    slices = list(workers.batches(items, 20, tail=2))
    assert [i for s in slices for i in s] == items
    assert [len(s) for s in slices] == [500] * 18 + [125] * 8
    assert [len(s) for s in workers.batches(items[:10], 3)] == [4, 4, 2]
    for n in (0, 1, 3, 401):
        assert [i for s in workers.batches(items[:n], 8, tail=2) for i in s] == items[:n]


def test_the_caller_leaves_the_last_tasks_to_the_workers() -> None:
    pids = list(workers.run(lambda n: (time.sleep(0.01), os.getpid())[1], list(range(12)), 2, 4))
    assert os.getpid() not in pids[-4:] and len(pids) == 12


def test_one_process_or_one_task_stays_in_this_process() -> None:
    assert list(workers.run(lambda n: os.getpid(), [1, 2, 3], 1)) == [os.getpid()] * 3
    assert list(workers.run(lambda n: os.getpid(), [1], 4)) == [os.getpid()]


def _fails_in_a_worker(parent: int, error: BaseException) -> object:
    def task(n: int) -> int:
        if os.getpid() != parent:
            raise error
        time.sleep(0.3)  # long enough for the worker to take the other task
        return n

    return task


def test_an_error_in_a_worker_is_raised_here_with_its_traceback() -> None:
    task = _fails_in_a_worker(os.getpid(), ValueError("bad value"))
    with pytest.raises(ValueError, match="bad value") as raised:
        list(workers.run(task, [0, 1], 2))  # type: ignore[arg-type]
    cause = raised.value.__cause__
    assert isinstance(cause, WorkerError)
    assert "Traceback" in str(cause) and "bad value" in str(cause)


class _Unpicklable(Exception):
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("not today")


def test_an_error_that_cannot_be_pickled_is_told_in_words() -> None:
    task = _fails_in_a_worker(os.getpid(), _Unpicklable("odd"))
    with pytest.raises(WorkerError, match="_Unpicklable: odd"):
        list(workers.run(task, [0, 1], 2))  # type: ignore[arg-type]


def test_a_worker_that_dies_is_an_error_naming_the_signal() -> None:
    parent = os.getpid()

    def task(n: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.3)
        return n

    with pytest.raises(WorkerError, match="killed by signal 9"):
        list(workers.run(task, [0, 1, 2], 2))


def test_a_build_that_stops_early_stops_its_workers() -> None:
    def slow(n: int) -> int:
        time.sleep(0.05)
        return n

    results = workers.run(slow, list(range(100)), 2)
    assert next(results) == 0
    assert isinstance(results, Generator)
    results.close()  # the fixture checks that no worker is left


def test_an_error_here_stops_the_workers() -> None:
    parent = os.getpid()

    def task(n: int) -> int:
        if os.getpid() == parent and n > 0:
            raise KeyError(n)
        time.sleep(0.05)
        return n

    with pytest.raises(KeyError):
        list(workers.run(task, list(range(50)), 2))


def test_progress_advances_as_results_arrive() -> None:
    seen: list[str] = []

    def progress(items: object, label: str) -> object:
        seen.append(label)
        return items

    results = list(workers.run_with_progress(lambda n: -n, [1, 2, 3], 2, progress, "Work"))  # type: ignore[arg-type]
    assert results == [-1, -2, -3]
    assert seen == ["Work"]


def test_when_no_worker_can_be_started_the_work_is_done_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert list(workers.run(lambda n: (n, os.getpid()), [1, 2, 3], 2)) == [
        (n, os.getpid()) for n in (1, 2, 3)
    ]


def test_a_post_comes_back_from_a_worker_as_it_was() -> None:
    posts = [
        post("a/b.md", 3, ("x", "y"), tags=("t",), author="Ana", thumbnail="https://e.org/i.jpg"),
        post(
            "c.md", summary="<p>s</p>", draft=True, updated=dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
        ),
    ]
    back = list(workers.run(lambda p: p, posts, 2))
    assert back == posts
    assert pickle.loads(pickle.dumps(posts[1], pickle.HIGHEST_PROTOCOL)) == posts[1]
