"""The public API (`import feedpub`): the names people call from Python, pinned."""

from __future__ import annotations

import subprocess
import sys

import pytest

import feedpub
from feedpub import _HOMES  # type: ignore[attr-defined]

PUBLIC = [
    "Config",
    "ConfigError",
    "ExitCode",
    "FeedpubError",
    "Format",
    "LockTimeout",
    "OutputError",
    "PostReport",
    "PostStatus",
    "Problem",
    "Report",
    "Severity",
    "__version__",
    "build",
    "check",
    "load_config",
    "validate_feed",
]


def test_the_public_names_are_pinned() -> None:
    assert sorted(feedpub.__all__) == PUBLIC
    assert sorted([*_HOMES, "__version__"]) == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(feedpub, name) is not None


def test_unknown_names_are_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        feedpub.no_such_thing  # noqa: B018


def test_importing_feedpub_loads_no_stage() -> None:
    # A build in which nothing changed must not pay for parsers it never uses.
    code = "import sys, feedpub; print(sorted(m for m in sys.modules if m.startswith('feedpub')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['feedpub']"


def test_a_build_from_python(tmp_path) -> None:  # type: ignore[no-untyped-def]
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.md").write_text("---\ntitle: A\ndate: 2021-08-09\n---\nHello.\n", "utf-8")
    config = feedpub.load_config(None, {"posts": str(posts), "output": str(tmp_path / "out")})
    report = feedpub.build(config)
    assert report.exit_code() is feedpub.ExitCode.OK
    assert [p.status for p in report.posts] == [feedpub.PostStatus.PUBLISHED]
    assert feedpub.validate_feed((tmp_path / "out" / "rss.xml").read_bytes(), "rss.xml") == []
