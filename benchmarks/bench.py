"""feedpub's speed and memory, the way cron operators meet them.

    python benchmarks/bench.py                      # 1,000 / 10,000 / 100,000 posts
    python benchmarks/bench.py --sizes 10000 --repeat 5
    python benchmarks/bench.py --sizes 10000 --profile   # where a cold build's time goes

For each corpus size it times real `feedpub build` processes: a cold build (no
output, no state), a build where nothing changed, one after a post was edited and
one after a post was added, and reports the median wall time of each, and the peak
memory of a cold and an unchanged build run apart from the timed ones (proportional set size of feedpub and its worker processes together, sampled
from /proc on Linux: pages the forked workers share with their parent count once). Corpora are generated once by corpus.py into benchmarks/corpora/.
This is a measurement, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402  (the generator beside this file)

CORPORA = HERE / "corpora"
RESULTS = HERE / "results"
BASE_URL = "https://bench.example.org/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated corpus sizes")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (median is reported)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one cold build per size instead"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.profile:
        for size in sizes:
            profile(size)
        return
    rows = [measure(size, args.repeat) for size in sizes]
    print()
    print(
        "| posts | cold build | nothing changed | one post edited | one post added | peak memory |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for size, cold, same, edited, added, peak in rows:
        print(
            f"| {size:,} | {cold:.2f} s | {same:.2f} s | {edited:.2f} s | {added:.2f} s | {peak:.0f} MB |"
        )


def corpus_for(size: int) -> Path:
    folder = CORPORA / str(size)
    if (
        not (folder / "corpus.json").is_file()
        or f'"posts": {size},' not in (folder / "corpus.json").read_text()
    ):
        print(f"generating {size:,} posts in {folder} …", file=sys.stderr)
        corpus.generate(folder, size)
    return folder / "posts"


def measure(size: int, repeat: int) -> tuple[int, float, float, float, float, float]:
    posts = corpus_for(size)
    output = RESULTS / str(size)
    command = [
        sys.executable,
        "-m",
        "feedpub",
        "build",
        "--posts",
        str(posts),
        "--output",
        str(output),
    ]
    command += ["--base-url", BASE_URL, "--quiet"]
    cold, same, edited, added, peaks = [], [], [], [], []
    # Memory is sampled in runs of their own: reading /proc costs CPU the timed runs would lose.
    shutil.rmtree(output, ignore_errors=True)
    for _ in range(2):  # a cold build, then one where nothing changed
        timed(command, peaks, sample=True)
    newest = max(posts.rglob("*.md"), key=lambda p: p.name)
    original = newest.read_bytes()
    extra = posts / "bench-added"
    try:
        for run in range(repeat):
            shutil.rmtree(output, ignore_errors=True)
            shutil.rmtree(extra, ignore_errors=True)
            cold.append(timed(command, peaks))
            same.append(timed(command, peaks))
            newest.write_bytes(original.replace(b"</div>", f"<p>edit {run}</p></div>".encode(), 1))
            edited.append(timed(command, peaks))
            added_post = extra / f"added-{run}.md"
            added_post.parent.mkdir(exist_ok=True)
            added_post.write_bytes(
                original.replace(b"title: '", f"title: 'Added {run} ".encode(), 1)
            )
            added.append(timed(command, peaks))
    finally:
        newest.write_bytes(original)
        shutil.rmtree(extra, ignore_errors=True)
    row = (size, *(statistics.median(times) for times in (cold, same, edited, added)), max(peaks))
    print(f"{size:>7,} posts: cold {row[1]:.2f} s, nothing changed {row[2]:.2f} s, "
          f"edited {row[3]:.2f} s, added {row[4]:.2f} s, peak {row[5]:.0f} MB", file=sys.stderr)  # fmt: skip
    return row


def timed(command: list[str], peaks: list[float], sample: bool = False) -> float:
    """Wall time of one run; with `sample`, appends the run's peak memory (MB) to `peaks`."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    sampler = _TreeMemory(process.pid)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if sample:
        sampler.stop()
        peaks.append(
            (sampler.peak_kb or usage.ru_maxrss) / 1024
        )  # ru_maxrss where /proc is not there
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: some posts skipped, which a benchmark corpus may have
        raise SystemExit(f"feedpub failed with exit code {process.returncode}: {' '.join(command)}")
    return elapsed


class _TreeMemory(threading.Thread):
    """Samples the summed memory (PSS) of a process and its children, every 5 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.pid)))
            self._done.wait(0.005)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            children = Path(f"/proc/{pids[i]}/task/{pids[i]}/children").read_text().split()
        except OSError:
            children = []
        pids.extend(int(c) for c in children)
        i += 1
    return pids


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


STAGES: dict[str, Callable[[str], bool]] = {
    "find post files (scandir, stat)": lambda f: f.endswith("sources.py:find_posts"),
    "parse front matter (YAML)": lambda f: f.endswith("front_matter.py:_load"),
    "read posts (all of reading)": lambda f: f.endswith("reader.py:read_post"),
    "group into feeds": lambda f: f.endswith("builder.py:build_feeds"),
    "bodies: Markdown, sanitise": lambda f: f.endswith("reader.py:load_content"),
    "render (feedgen)": lambda f: f.endswith("render.py:render"),
    "validate": lambda f: f.endswith("validate.py:validate_feed"),
    "write atomically": lambda f: f.endswith("writer.py:write"),
    "incremental state (SQLite)": lambda f: (
        f.endswith("state.py:save") or f.endswith("state.py:remember_posts")
    ),
}


def profile(size: int) -> None:
    """A cold build in one process (jobs = 1), its time split by stage."""
    from feedpub import pipeline
    from feedpub.config import load_config

    posts = corpus_for(size)
    output = RESULTS / f"{size}-profile"
    shutil.rmtree(output, ignore_errors=True)
    config = load_config(
        None, {"posts": str(posts), "output": str(output), "base_url": BASE_URL, "jobs": 1}
    )
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(pipeline.build, config)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(f"\nCold build of {size:,} posts in one process: {total:.2f} s under the profiler\n")
    print("| stage | time | share |\n|---|---:|---:|")
    for stage, matches in STAGES.items():
        cumulative = sum(v[3] for (file, _, name), v in stats.items() if matches(f"{file}:{name}"))
        print(f"| {stage} | {cumulative:.2f} s | {cumulative / total:.0%} |")


if __name__ == "__main__":
    main()
