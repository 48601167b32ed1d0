"""feedpub's speed and memory, the way cron operators meet them, and beside its peers.

    python benchmarks/bench.py                           # 10,000 / 100,000 / 1,000,000 posts
    python benchmarks/bench.py --sizes 10000 --repeat 5
    python benchmarks/bench.py --sizes 10000 --peers-only   # only feedpub, Hugo, feedgen side by side
    python benchmarks/bench.py --sizes 10000 --profile      # where a cold build's time goes

For each corpus size it times real `feedpub build` processes: a cold build (no output, no
state), a build where nothing changed, then one after a post was added (the site's newest,
so its feeds change), one after that post was edited, one after it was deleted, and one
after 5% of the posts were rewritten with a new thumbnail URL (what the site's bot does); it reports the median wall time of
each, the time of the stat walk over the posts folder (the floor of a build where nothing
changed), and the peak memory of a cold and of an incremental build, run apart from the
timed ones (proportional set size of feedpub and its workers together, sampled from /proc:
pages the forked workers share with their parent count once). Sizes above 100,000 are run
once, and their memory is sampled in the timed runs.

Then, for the sizes in `--peer-sizes`, it builds the same corpus with Hugo (when `hugo` is
on PATH; the site is made by hugo_site.py, whose docstring gives its layout) and with the
plain feedgen script (feedgen_baseline.py), alternating with feedpub: `--pairs` rounds of
feedpub cold, Hugo cold, feedgen, feedpub nothing changed, Hugo nothing changed (the order
within a round flips every round), and prints the medians and the ratios of wall and CPU
time (user + system of the process and the children it waited for, from wait4). Every cold
build, of each tool, starts without its last output, which is moved aside (and deleted when the
run ends: see `_removed`), and with the kernel's pending writes flushed (os.sync), so that
none of them times the writeback of what came before.

feedpub's bytecode is compiled before anything is timed, as pip compiles a package it installs:
run from a checkout where Python may not write `__pycache__` (PYTHONDONTWRITEBYTECODE, a
read-only tree), every process would otherwise compile each module it imports again, a cost
no installed copy has (about 30 ms of a nothing-changed build at 10,000 posts). The editable
install's import finder is kept: it only imports earlier what feedpub imports anyway.

Corpora come from the project's shared generator (`../shared/tools/make_corpus.py`) when
it is there, else from corpus.py beside this file; sizes above 100,000 always come from
corpus.py with 1 KB bodies, to keep the disk use sane. They are generated once, into
benchmarks/corpora/. This is a measurement, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import datetime as dt
import email.utils
import itertools
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402  (the generators beside this file)
import hugo_site  # noqa: E402

CORPORA = HERE / "corpora"
RESULTS = HERE / "results"
REMOVED = RESULTS / "removed"
"""What the cold builds start without (`_removed`), deleted when the run ends."""
SHARED_GENERATOR = HERE.parent.parent / "shared" / "tools" / "make_corpus.py"
BASE_URL = "https://bench.example.org/"
SHORT_BODIES_ABOVE = 100_000
SHORT_BODY_BYTES = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--peer-sizes", default="10000", help="sizes to build with the peers too")
    parser.add_argument("--pairs", type=int, default=5, help="alternating rounds with the peers")
    parser.add_argument("--peers-only", action="store_true", help="skip feedpub's own table")
    parser.add_argument("--own-corpus", action="store_true", help="corpus.py even if shared's is there")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="profile a cold build instead")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    peer_sizes = {int(s) for s in args.peer_sizes.split(",") if s}
    if args.profile:
        for size in sizes:
            profile(corpus_for(size, args.own_corpus), size)
        return
    compile_bytecode()
    results: dict[str, object] = {"command": " ".join(sys.argv), "rows": [], "peers": []}
    rows = []
    peers = []
    try:
        if not args.peers_only:
            for size in sizes:
                repeat = args.repeat if size <= SHORT_BODIES_ABOVE else 1
                rows.append(measure(corpus_for(size, args.own_corpus), size, repeat))
        for size in sizes:
            if size in peer_sizes:
                peers.append(side_by_side(corpus_for(size, args.own_corpus), size, args.pairs))
    finally:
        shutil.rmtree(REMOVED, ignore_errors=True)
    if rows:
        print_table(rows)
    if peers:
        print_peers(peers)
    results["rows"], results["peers"] = rows, peers
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "last.json").write_text(json.dumps(results, indent=1) + "\n")


def compile_bytecode() -> None:
    """Compile the feedpub that `python -m feedpub` runs, as `pip install` would have."""
    import feedpub

    for folder in feedpub.__path__:
        compileall.compile_dir(folder, quiet=1)


# --- corpora -------------------------------------------------------------------------


def corpus_for(size: int, own: bool = False) -> Path:
    """The posts folder of a corpus of `size` posts, generated the first time."""
    shared = SHARED_GENERATOR.is_file() and not own and size <= SHORT_BODIES_ABOVE
    body_bytes = SHORT_BODY_BYTES if size > SHORT_BODIES_ABOVE else None
    name = f"shared-{size}" if shared else f"own-{size}" + ("-short" if body_bytes else "")
    folder = CORPORA / name
    summary = folder / "corpus.json"
    if not summary.is_file() or json.loads(summary.read_text()).get("posts") != size:
        print(f"generating {size:,} posts in {folder} …", file=sys.stderr)
        if shared:
            command = [sys.executable, str(SHARED_GENERATOR), str(folder), str(size)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        else:
            corpus.generate(folder, size, body_bytes=body_bytes)
    return folder / "posts"


# --- running and measuring processes ---------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    """User + system seconds of the process and the children it waited for."""
    peak_mb: float = 0.0


def run(command: list[str], sample: bool = False) -> Run:
    """One process, timed; with `sample`, its tree's peak memory too. It runs in this folder,
    which has no feedpub.toml: the options are the whole configuration, wherever the
    benchmark is started from (the repository's root has the sample site's)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=HERE)
    sampler = _TreeMemory(process.pid)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    peak = 0.0
    if sample:
        sampler.stop()
        peak = (sampler.peak_kb or usage.ru_maxrss) / 1024  # ru_maxrss where /proc is not there
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:  # a corpus publishes every post: anything else is a failure
        raise SystemExit(f"exit code {process.returncode}: {' '.join(command)}")
    return Run(wall, usage.ru_utime + usage.ru_stime, peak)


class _TreeMemory(threading.Thread):
    """Samples the summed memory (PSS) of a process and its children, every 5 ms, or less
    often while a sample takes longer than 1/20 of that: the kernel walks every page of a
    process to sum its PSS (20 ms for a 1 GB process), and a sampler that takes a core
    from the build it measures makes the build slower than it is."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            started = time.perf_counter()
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.pid)))
            self._done.wait(max(0.005, 20 * (time.perf_counter() - started)))

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


def feedpub_command(posts: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "feedpub", "build", "--posts", str(posts), "--output", str(output),
        "--base-url", BASE_URL, "--quiet",
    ]  # fmt: skip


# --- feedpub's own table ---------------------------------------------------------------

COLUMNS = ("cold", "same", "added", "edited", "deleted", "rewritten")
HEADINGS = (
    "cold build", "nothing changed", "one post added", "one post edited", "one post deleted",
    "5% rewritten",
)  # fmt: skip


def measure(posts: Path, size: int, repeat: int) -> dict[str, float | int]:
    output = RESULTS / str(size)
    command = feedpub_command(posts, output)
    times: dict[str, list[float]] = {column: [] for column in COLUMNS}
    files = sorted(posts.rglob("*.md"))
    bot_run = files[::20]  # 5% of the posts
    originals = {path: path.read_bytes() for path in bot_run}
    # The added post is the site's newest (dated now), in an existing post's categories: it
    # enters the site's feed and its categories' feeds, and is then edited and deleted.
    template = files[len(files) // 2].read_bytes()
    added = files[len(files) // 2].with_name("bench-added.md")
    # Memory is sampled in runs of its own, since reading /proc costs CPU the timed runs would
    # lose; with a single run (a million posts, where a cold build takes minutes), in those.
    sampled = repeat == 1
    peaks: dict[str, list[float]] = {"cold": [], "incremental": []}

    def timed(column: str) -> None:
        if column == "cold":
            _into_page_cache(files)
        result = run(command, sample=sampled)
        times[column].append(result.wall)
        peaks["cold" if column == "cold" else "incremental"].append(result.peak_mb)

    try:
        if not sampled:
            shutil.rmtree(output, ignore_errors=True)
            peaks["cold"].append(run(command, sample=True).peak_mb)
            peaks["incremental"].append(run(command, sample=True).peak_mb)
            added.write_bytes(_newest(template, "sampled"))
            peaks["incremental"].append(run(command, sample=True).peak_mb)
            added.unlink()
        for k in range(repeat):
            _removed(output)
            timed("cold")
            timed("same")
            added.write_bytes(_newest(template, f"added {k}"))
            timed("added")
            added.write_bytes(_newest(template, f"added {k}").replace(b"</p>", b" edited</p>", 1))
            timed("edited")
            added.unlink()
            timed("deleted")
            for path, data in originals.items():
                path.write_bytes(_new_thumbnail(data, k))
            timed("rewritten")
            for path, data in originals.items():
                path.write_bytes(data)
    finally:
        added.unlink(missing_ok=True)
        for path, data in originals.items():
            path.write_bytes(data)
    walk = statistics.median(
        run([sys.executable, "-c", _WALK, str(posts)]).wall for _ in range(repeat)
    )
    row: dict[str, float | int] = {"posts": size}
    row.update({column: statistics.median(values) for column, values in times.items()})
    row.update(walk=walk, peak_cold=max(peaks["cold"]), peak_incremental=max(peaks["incremental"]))
    print(json.dumps(row), file=sys.stderr)
    return row


def _removed(*folders: Path) -> None:
    """The folders moved out of the way, and every write the kernel still holds done
    (os.sync) before a cold build is timed: the writeback of what came before (a corpus
    just generated, the last build's files) would otherwise share the disk and the cores
    with it (a million posts' cold build ran 82 s right after its corpus was made).

    Moved into REMOVED, which is deleted when the run ends, not deleted now: ext4 without
    a journal (these machines' disks) does not hand out an inode freed in the last minute,
    and every new inode is found by stepping over each such one. A cold build right after
    `rm -rf` of the last one's output stepped over those, and every earlier round's, for
    each of its files and folders (feedpub's time creating its files grew from 7 to 40 ms
    over four rounds, Hugo's less: it makes fewer). A site's first build meets none of it."""
    REMOVED.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        if folder.exists():
            folder.rename(REMOVED / f"{next(_REMOVALS)}-{folder.name}")
    os.sync()


_REMOVALS = itertools.count()


def _into_page_cache(files: list[Path]) -> None:
    """Read every post once, untimed, before a cold build: it then measures feedpub, not the
    disk. (The kernel drops files it has not used for a while, and a million posts read from
    the disk made a cold build twice as slow as one read from memory.)"""
    for path in files:
        path.read_bytes()


def _newest(template: bytes, title: str) -> bytes:
    """A copy of a post, retitled and dated now."""
    now = email.utils.format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
    lines = template.decode("utf-8").split("\n")
    for i, line in enumerate(lines):
        if line.startswith("title:"):
            lines[i] = f"title: '{title}'"
        elif line.startswith("date:"):
            lines[i] = f"date: {now}"
    return "\n".join(lines).encode("utf-8")


_WALK = """
import os, sys
def walk(folder):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    with os.scandir(fd) as listing:
        for entry in listing:
            if entry.is_dir(follow_symlinks=False):
                walk(os.path.join(folder, entry.name))
            else:
                entry.stat(follow_symlinks=False)
    os.close(fd)
walk(sys.argv[1])
"""
"""The floor of a build where nothing changed: a bare walk that stats every file, through a
descriptor of its folder as feedpub does (a lookup of one name, not of the whole path), in a
fresh Python process, and nothing else."""


def _new_thumbnail(data: bytes, run: int) -> bytes:
    return data.replace(b"?random=", f"?v={run}&random=".encode())


def print_table(rows: list[dict[str, float | int]]) -> None:
    print()
    print(f"| posts | {' | '.join(HEADINGS)} | stat walk | peak memory (cold / incremental) |")
    print("|---:" * (len(HEADINGS) + 3) + "|")
    for row in rows:
        cells = " | ".join(f"{row[column]:.2f} s" for column in COLUMNS)
        print(
            f"| {row['posts']:,} | {cells} | {row['walk']:.2f} s | "
            f"{row['peak_cold']:.0f} MB / {row['peak_incremental']:.0f} MB |"
        )


# --- side by side with the peers -------------------------------------------------------


def side_by_side(posts: Path, size: int, pairs: int) -> dict[str, object]:
    """Alternating rounds of feedpub, Hugo and the feedgen script over one corpus."""
    tools: dict[str, dict[str, Callable[[], Run]]] = {}
    output = RESULTS / f"{size}-feedpub"
    command = feedpub_command(posts, output)
    tools["feedpub"] = {
        "cold": lambda: (_removed(output), run(command))[1],
        "same": lambda: run(command),
    }
    hugo = shutil.which("hugo")
    if hugo:
        site = posts.parent / "hugo"
        if not (site / "hugo.toml").is_file():
            print(f"making the Hugo site in {site} …", file=sys.stderr)
            hugo_site.make_site(posts, site, BASE_URL)
        public, cache = RESULTS / f"{size}-hugo", RESULTS / f"{size}-hugo-cache"
        hugo_command = [hugo, "--source", str(site), "--destination", str(public),
                        "--cacheDir", str(cache), "--quiet"]  # fmt: skip

        def hugo_cold() -> Run:
            _removed(public, cache)
            return run(hugo_command)

        tools["hugo"] = {"cold": hugo_cold, "same": lambda: run(hugo_command)}
    else:
        print("hugo is not on PATH: compared with the feedgen script only", file=sys.stderr)
    feedgen_output = RESULTS / f"{size}-feedgen"
    baseline = [sys.executable, str(HERE / "feedgen_baseline.py"), str(posts), str(feedgen_output)]
    tools["feedgen"] = {"cold": lambda: (_removed(feedgen_output), run(baseline))[1]}
    for kinds in tools.values():  # one untimed round: files in the page cache, sites made
        for kind in kinds.values():
            kind()
    runs: dict[str, dict[str, list[Run]]] = {t: {k: [] for k in kinds} for t, kinds in tools.items()}  # fmt: skip
    for round_ in range(pairs):
        order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
        for kind in ("cold", "same"):
            for tool in order:
                if kind in tools[tool]:
                    runs[tool][kind].append(tools[tool][kind]())
    medians = {
        tool: {
            f"{kind} {measure}": statistics.median(getattr(r, measure) for r in results)
            for kind, results in kinds.items()
            for measure in ("wall", "cpu")
        }
        for tool, kinds in runs.items()
    }
    summary = {"posts": size, "pairs": pairs, "medians": medians}
    print(json.dumps(summary), file=sys.stderr)
    return summary


def print_peers(peers: list[dict[str, object]]) -> None:
    for summary in peers:
        medians: dict[str, dict[str, float]] = summary["medians"]  # type: ignore[assignment]
        print(f"\n{summary['posts']:,} posts, {summary['pairs']} alternating rounds (medians):\n")
        print("| tool | cold wall | cold CPU | nothing changed wall | nothing changed CPU |")
        print("|---|---:|---:|---:|---:|")
        for tool, values in medians.items():
            cells = [values.get(k) for k in ("cold wall", "cold cpu", "same wall", "same cpu")]
            print(f"| {tool} | " + " | ".join(f"{v:.2f} s" if v else "–" for v in cells) + " |")
        ours = medians["feedpub"]
        for peer, values in medians.items():
            if peer == "feedpub":
                continue
            ratios = [
                f"{what} {ours[key] / values[key]:.2f}×"
                for what, key in (
                    ("cold wall", "cold wall"),
                    ("cold CPU", "cold cpu"),
                    ("nothing changed wall", "same wall"),
                    ("nothing changed CPU", "same cpu"),
                )
                if key in values
            ]
            print(f"\nfeedpub / {peer}: " + ", ".join(ratios))


# --- profile ---------------------------------------------------------------------------

STAGES: dict[str, Callable[[str], bool]] = {
    "find post files (scandir, stat)": lambda f: f.endswith("scanning.py:scan_posts"),
    "parse front matter (YAML)": lambda f: f.endswith("front_matter.py:_load"),
    "read posts (all of reading)": lambda f: f.endswith("reader.py:read_post"),
    "group into feeds": lambda f: f.endswith("builder.py:build_feeds"),
    "bodies: Markdown, sanitise": lambda f: f.endswith("bodies.py:load_content"),
    "render": lambda f: f.endswith("render/__init__.py:render_document"),
    "validate": lambda f: f.endswith("validation/__init__.py:validate_feed"),
    "write atomically": lambda f: f.endswith(("output.py:add", "output.py:finish")),
    "incremental state (SQLite)": lambda f: f.endswith(
        ("state/__init__.py:save", "state/__init__.py:remember_posts", "make_indexes")
    ),
}


def profile(posts: Path, size: int) -> None:
    """A cold build in one process (jobs = 1), its CPU time split by stage."""
    from feedpub import pipeline
    from feedpub.config import load_config

    output = RESULTS / f"{size}-profile"
    shutil.rmtree(output, ignore_errors=True)
    config = load_config(
        None, {"posts": str(posts), "output": str(output), "base_url": BASE_URL, "jobs": 1}
    )
    # CPU time, not wall time: on a shared machine, waiting for a core is not the build's cost.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.runcall(pipeline.build, config)
    total = time.process_time() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(RESULTS / f"{size}-profile.pstats"))
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(
        f"\nCold build of {size:,} posts in one process: {total:.2f} s of CPU under the profiler\n"
    )
    print("| stage | time | share |\n|---|---:|---:|")
    for stage, matches in STAGES.items():
        cumulative = sum(v[3] for (file, _, name), v in stats.items() if matches(f"{file}:{name}"))
        print(f"| {stage} | {cumulative:.2f} s | {cumulative / total:.0%} |")


if __name__ == "__main__":
    main()
