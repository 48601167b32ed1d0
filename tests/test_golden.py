"""Golden files: a tiny fixed site and its exact expected output, byte for byte: its feeds in
every format, the OPML subscription list and the feeds' index page.

After an intended change to the output, regenerate them and review the diff:

    FEEDPUB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from feedpub import pipeline
from feedpub.config import load_config
from feedpub.output import STATE_DIR

GOLDEN = Path(__file__).parent / "golden"
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def test_golden_site(tmp_path: Path) -> None:
    golden_site = tmp_path / "site"
    shutil.copytree(GOLDEN / "site", golden_site)
    config = load_config(golden_site / "feedpub.toml", {"output": str(tmp_path / "out")})
    report = pipeline.build(config, now=NOW)
    assert report.exit_code() == 0
    produced = _files(tmp_path / "out")
    expected_dir = GOLDEN / "expected"
    if os.environ.get("FEEDPUB_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, data in produced.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(data)
    expected = _files(expected_dir)
    assert sorted(produced) == sorted(expected)
    for rel, data in produced.items():
        assert data.decode() == expected[rel].decode(), (
            f"{rel} differs from tests/golden/expected/{rel}"
        )


def _files(folder: Path) -> dict[str, bytes]:
    """Every file feedpub published below `folder` (not its own state)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and STATE_DIR not in p.relative_to(folder).parts
    }
