"""Shared fixtures: real files in temp folders, and a check that every feed any test
writes is valid (issue: "every feed written anywhere in the test suite passes
`feedpub validate`")."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedpub.validation import validate_feed
from tests.helpers import SHARED_CORPUS, WritePost, feed_files, json_feed_files


@pytest.fixture
def posts(tmp_path: Path) -> Path:
    folder = tmp_path / "posts"
    folder.mkdir()
    return folder


@pytest.fixture
def write_post(posts: Path) -> WritePost:
    """write_post("a.md", title="A", date="2021-08-09 10:00:00", body="text", **front_matter)."""

    def write(
        name: str, body: str = "Body text.\n", raw: str | None = None, **front: object
    ) -> Path:
        path = posts / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is None:
            lines = ["---"]
            for key, value in front.items():
                lines.append(f"{key}: {_yaml(value)}")
            lines.append("---")
            raw = "\n".join(lines) + "\n\n" + textwrap.dedent(body)
        path.write_text(raw, "utf-8")
        return path

    return write


def _yaml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@pytest.fixture
def real_corpus(tmp_path: Path) -> Path:
    """A copy of the shared real posts; skipped where the project is cloned without them."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus/real is not here (it is not part of the repository)")
    copy = tmp_path / "real"
    shutil.copytree(SHARED_CORPUS, copy)
    return copy


@pytest.fixture(autouse=True)
def every_written_feed_is_valid(tmp_path: Path) -> Iterator[None]:
    """After every test: each feed it left behind passes `feedpub validate` with no errors
    and no warnings (feedpub's feeds are held to the W3C validator's recommendations too)."""
    yield
    for path in feed_files(tmp_path) + json_feed_files(tmp_path):
        findings = validate_feed(path.read_bytes(), str(path))
        assert not findings, f"{path} does not pass feedpub validate: {[str(f) for f in findings]}"
