"""Fuzzing: real-format posts, mutated (tests/mutator.py), built as a site, and the
invariants that must hold whatever a post holds:

- the build never ends in an internal error (exit 70) and never prints a traceback;
- a post can never keep a feed back or stop the build: exit 0 or 1 (3 only for two
  categories on one path, which the site causes);
- no post is skipped as "a bug in feedpub", and the good post beside them is published;
- the report is written, names every post file, and lists exactly the feeds on disk;
- every feed written passes `feedpub validate` with no errors;
- nothing is written outside the output folder (and no YAML payload ran).

Seeded and bounded: FEEDPUB_FUZZ_POSTS mutated posts (default 300) from FEEDPUB_FUZZ_SEED
(default 1), in sites of BATCH posts; a failing site is bisected to the posts that fail on
their own. Run big from a shell, saving what fails:

    python -m tests.test_fuzz --posts 10000 --seed 7 --save fuzz-failures/
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from feedpub.cli import cli
from feedpub.formats import Format
from feedpub.models import Severity
from feedpub.validation import validate_feed
from tests.helpers import BASE_URL, PROJECT, SHARED_CORPUS, output_files
from tests.mutator import mutate

BATCH = 20
GOOD = "---\ntitle: Good\ndate: 2021-08-09 10:00:00\ncategories: [Good]\n---\n<p>good</p>\n"
MTIME = 1628498193


FEED_FILE_NAMES = tuple(f.file_name for f in Format)


def seeds() -> list[str]:
    """The sample posts, the shared real posts where present, and a few of our own."""
    paths = sorted(PROJECT.joinpath("posts").rglob("*.md"))
    if SHARED_CORPUS.is_dir():
        paths += sorted(SHARED_CORPUS.glob("*.md"))
    texts = [p.read_text("utf-8") for p in paths]
    texts += [
        "---\ntitle: Markdown\ndate: 2021-08-09\ncategories: [[A, B], [C]]\ntags: [t]\n---\n\n"
        "# Heading\n\nText with a [link](/relative/) and ![img](pic.png).\n\n<!-- more -->\n\nRest.\n",
        '+++\ntitle = "TOML"\ndate = 2021-08-09T10:00:00Z\ncategories = ["T"]\n+++\n\nBody.\n',
        "---\ntitle: Thumb\ndate: 2021-08-09 10:00:00\nthumbnail: /img/a.jpg\n"
        "description: A summary\npermalink: /x/\n---\n<p>x</p>\n",
    ]
    return texts


@dataclass(frozen=True)
class Failure:
    posts: tuple[bytes, ...]
    violations: tuple[str, ...]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def build_site(site: Path, posts: Sequence[bytes]) -> list[str]:
    """Build a site of the good post plus `posts`; what breaks the invariants."""
    if site.exists():
        shutil.rmtree(site)
    folder = site / "posts"
    folder.mkdir(parents=True)
    (site / "static" / "img").mkdir(parents=True)
    (site / "static" / "img" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 100)
    (folder / "good.md").write_text(GOOD, "utf-8")
    for n, data in enumerate(posts):
        (folder / f"p{n:03d}.md").write_bytes(data)
    for path in folder.iterdir():
        os.utime(path, (MTIME, MTIME))
    violations = _build_and_check(site, posts)
    # Again, with every mutated post from the incremental state: what it stored reads back.
    (folder / "good.md").write_text(GOOD + "<p>edited</p>\n", "utf-8")
    return violations + [f"second build: {v}" for v in _build_and_check(site, posts)]


def _build_and_check(site: Path, posts: Sequence[bytes]) -> list[str]:
    out, report = site / "out", site / "report.json"
    before = _tree(site)
    cwd = os.getcwd()
    os.chdir(site)  # a YAML payload that ran would leave its traces here
    try:
        args = ["build", "--posts", "posts", "--output", "out", "--base-url", BASE_URL]
        result = CliRunner().invoke(cli, [*args, "--report", "report.json", "--quiet"])
    finally:
        os.chdir(cwd)
    violations = _check(site, out, report, before, result.exit_code, result.stderr, posts)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        violations.append(f"exception {result.exception!r}")
    return violations


def _check(
    site: Path,
    out: Path,
    report: Path,
    before: dict[str, tuple[int, int]],
    code: int,
    stderr: str,
    posts: Sequence[bytes],
) -> list[str]:
    bad: list[str] = []
    if code == 70 or "internal error" in stderr:
        bad.append(f"internal error: {stderr.strip()[-300:]}")
    if "Traceback" in stderr:
        bad.append("traceback on stderr")
    after = _tree(site)
    outside = {
        p: v
        for p, v in after.items()
        if not p.startswith(("out/", "report.json", "posts/good.md"))
        and p != "out"
        and before.get(p) != v
    }
    if outside:
        bad.append(f"written outside the output folder: {sorted(outside)[:5]}")
    if not report.is_file():
        return [*bad, f"no report (exit {code}): {stderr.strip()[-300:]}"]
    data = json.loads(report.read_text("utf-8"))
    kept_back = [p for p in data["feeds"]["problems"] if p["rule"] != "category-collision"]
    if code not in (0, 1) and not (code == 3 and not kept_back):
        bad.append(f"exit {code}: {[p['message'] for p in kept_back][:3]} {stderr.strip()[-200:]}")
    statuses = {p["path"]: p for p in data["posts"]}
    names = {"good.md", *(f"p{n:03d}.md" for n in range(len(posts)))}
    if not names <= set(statuses):
        bad.append(f"posts missing from the report: {sorted(names - set(statuses))[:5]}")
    if statuses.get("good.md", {}).get("status") != "published":
        bad.append(f"the good post was not published: {statuses.get('good.md')}")
    for path, post in statuses.items():
        for problem in post["problems"]:
            if "a bug in feedpub" in problem["message"]:
                bad.append(f"{path}: {problem['message'][:200]}")
    on_disk = output_files(out)
    listed = set(data["feeds"]["written"]) | set(data["feeds"]["unchanged"])
    if on_disk != listed:
        bad.append(f"report != disk: {sorted(on_disk ^ listed)[:5]}")
    for rel in sorted(on_disk):
        path = out / rel
        if path.is_symlink() or not path.resolve().is_relative_to(out.resolve()):
            bad.append(f"{rel} is a symlink or leaves the output folder")
            continue
        if not rel.endswith(FEED_FILE_NAMES):
            continue  # the OPML and the index page are checked by their own tests
        for problem in validate_feed(path.read_bytes(), rel):
            if problem.severity is Severity.ERROR:
                bad.append(f"invalid feed: {problem}"[:300])
    return bad


def fuzz(count: int, seed: int, work: Path, batch: int = BATCH) -> tuple[int, list[Failure]]:
    """Build `count` mutated posts in sites of `batch`; (sites built, failures found)."""
    rng = random.Random(seed)
    texts = seeds()
    failures: list[Failure] = []
    built = 0
    for start in range(0, count, batch):
        posts = [mutate(rng.choice(texts), rng) for _ in range(min(batch, count - start))]
        built += 1
        violations = build_site(work / "site", posts)
        if not violations:
            continue
        alone = []
        for data in posts:  # which posts fail on their own
            found = build_site(work / "one", [data])
            built += 1
            if found:
                alone.append(Failure((data,), tuple(found)))
        failures.extend(alone or [Failure(tuple(posts), tuple(violations))])
    shutil.rmtree(work / "site", ignore_errors=True)
    shutil.rmtree(work / "one", ignore_errors=True)
    return built, failures


def test_fuzz_mutated_posts_keep_the_invariants(tmp_path: Path) -> None:
    count = int(os.environ.get("FEEDPUB_FUZZ_POSTS", "300"))
    seed = int(os.environ.get("FEEDPUB_FUZZ_SEED", "1"))
    _, failures = fuzz(count, seed, tmp_path)
    shown = [f"{f.violations[0]}\n  post: {f.posts[0][:300]!r}" for f in failures[:10]]
    assert not failures, f"{len(failures)} failing posts (seed {seed}):\n" + "\n".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fuzz feedpub build with mutated posts.")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--work", type=Path, default=Path("fuzz-work"))
    parser.add_argument("--save", type=Path, help="folder to save each failing post in")
    args = parser.parse_args()
    built, failures = fuzz(args.posts, args.seed, args.work, args.batch)
    shutil.rmtree(args.work, ignore_errors=True)
    kinds: dict[str, int] = {}
    for n, failure in enumerate(failures):
        kind = failure.violations[0][:90]
        kinds[kind] = kinds.get(kind, 0) + 1
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            for k, data in enumerate(failure.posts):
                (args.save / f"seed{args.seed}-{n:04d}-{k}.md").write_bytes(data)
            (args.save / f"seed{args.seed}-{n:04d}.txt").write_text(
                "\n".join(failure.violations), "utf-8"
            )
    print(f"{args.posts} posts, seed {args.seed}: {built} builds, {len(failures)} failing posts")
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"{n:5d}  {kind}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
