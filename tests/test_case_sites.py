"""Bad input that takes more than one post, or a folder beside the posts: one site per
case, tests/cases/sites/<what is wrong>/, holding `posts/` (and `static/` where the case
needs it) and `expected.toml`: the build's exit code, each post's status and problems
(as in tests/cases/*.toml), any `[config]`, and `guids`, the guids the site's RSS feed
must hold, in order. A new regression is a new folder.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from feedpub import pipeline
from feedpub.config import load_config
from tests.helpers import BASE_URL, output_files, parse_back

SITES = sorted(p for p in (Path(__file__).parent / "cases" / "sites").iterdir() if p.is_dir())
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
MTIME = 1628498193


@pytest.mark.parametrize("case", SITES, ids=lambda p: p.name)
def test_site(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected: dict[str, Any] = tomllib.loads((case / "expected.toml").read_text("utf-8"))
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site"
    shutil.copytree(case, site)
    for path in (site / "posts").rglob("*"):
        os.utime(path, (MTIME, MTIME))
    settings = {
        "posts": str(site / "posts"),
        "output": str(site / "out"),
        "static": str(site / "static"),
        "base_url": BASE_URL,
        **expected.get("config", {}),
    }
    report = pipeline.build(load_config(None, settings), now=NOW)

    assert int(report.exit_code()) == expected["exit_code"], [str(p) for p in report.feed_problems]
    outcomes = {p.path: p for p in report.posts}
    assert sorted(outcomes) == sorted(expected["posts"])
    for path, want in expected["posts"].items():
        outcome = outcomes[path]
        assert outcome.status == want["status"], (path, [str(p) for p in outcome.problems])
        assert len(outcome.problems) == len(want["problems"]), [str(p) for p in outcome.problems]
        for problem, (severity, element, words) in zip(
            outcome.problems, want["problems"], strict=True
        ):
            assert (str(problem.severity), problem.element or "") == (severity, element)
            assert words in problem.message, str(problem)
    parsed, _ = parse_back((site / "out" / "rss.xml").read_bytes())
    if "guids" in expected:
        assert [e.id for e in parsed.entries] == expected["guids"]
    assert output_files(site / "out") == set(report.written) | set(report.unchanged)
