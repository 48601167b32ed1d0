"""Bad input, one file per case: tests/cases/<what is wrong>.md, with its expected outcome
in <what is wrong>.toml beside it. A new regression is a new pair of files.

The expected file says the post's `status`, every problem reported about it
(severity, field, words of the message, and the line where there is one), any
settings the case needs (`[config]`), and what a feed reader must see (`[post]`:
parsed back from the written RSS with feedparser).
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
from tests.helpers import BASE_URL, parse_back

CASES = sorted((Path(__file__).parent / "cases").glob("*.md"))
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
MTIME = 1628498193  # 2021-08-09T08:36:33Z: the date a post without a readable one falls back to


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected: dict[str, Any] = tomllib.loads(case.with_suffix(".toml").read_text("utf-8"))
    monkeypatch.chdir(tmp_path)  # a YAML payload that ran would leave its traces here
    posts = tmp_path / "posts"
    posts.mkdir()
    shutil.copyfile(case, posts / case.name)
    os.utime(posts / case.name, (MTIME, MTIME))
    settings = {
        "posts": str(posts),
        "output": str(tmp_path / "out"),
        "base_url": BASE_URL,
        **expected.get("config", {}),
    }
    report = pipeline.build(load_config(None, settings), now=NOW)

    (outcome,) = report.posts
    assert outcome.path == case.name
    assert outcome.status == expected["status"], [str(p) for p in outcome.problems]
    assert len(outcome.problems) == len(expected["problems"]), [str(p) for p in outcome.problems]
    for problem, (severity, element, words, *line) in zip(
        outcome.problems, expected["problems"], strict=True
    ):
        assert (str(problem.severity), problem.element or "") == (severity, element), str(problem)
        assert words in problem.message, str(problem)
        assert problem.line == (line[0] if line else problem.line), str(problem)
    assert report.exit_code() == (1 if expected["status"] == "skipped" else 0)

    parsed, _ = parse_back((tmp_path / "out" / "rss.xml").read_bytes())
    if expected["status"] != "published":
        assert parsed.entries == []
    if "post" in expected:
        _check_item(parsed.entries[0], expected["post"])
    # Nothing outside the output folder, nothing executed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "posts"]
    assert [p.name for p in posts.iterdir()] == [case.name]
    out = (tmp_path / "out").resolve()
    assert all(p.resolve().is_relative_to(out) for p in out.rglob("*"))


def _check_item(entry: Any, post: dict[str, Any]) -> None:
    if "title" in post:
        assert entry.title == post["title"]
    if "author" in post:
        assert entry.author == post["author"]
    if "categories" in post:
        assert [t["term"] for t in entry.get("tags", [])] == post["categories"]
    if "enclosure" in post:
        enclosures = [e["href"] for e in entry.get("enclosures", [])]
        assert enclosures == ([post["enclosure"]] if post["enclosure"] else [])
    if "date" in post:
        published = dt.datetime(*entry.published_parsed[:6], tzinfo=dt.UTC)
        assert published == dt.datetime.fromisoformat(post["date"])
    content = entry.content[0].value
    if "content" in post:
        assert post["content"] in content
    for fragment in post.get("absent", []):
        assert fragment not in content
