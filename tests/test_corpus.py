"""A build over every real post in ../shared/corpus/real, in which every post is accounted
for (skipped cleanly where the project is cloned without ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from feedpub.models import Severity
from feedpub.validation import validate_feed
from tests.helpers import feed_files, parse_back, run

BASE = "https://news.example.org/"
GUANCHA_URL = BASE + "2021/08/09/000-guancha/"
GUANCHA_FEEDS = [
    "",
    "categories/新媒体/",
    "categories/新媒体/观察者网/",
    "categories/新媒体/观察者网/首页/",
]
IMAGE = "https://picsum.photos/400/300?random=3381"


def test_every_real_post_is_accounted_for(real_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = run(
        "build",
        "--posts",
        real_corpus,
        "--output",
        out,
        "--base-url",
        BASE,
        "--limit",
        "1000",
        "--report",
        tmp_path / "r.json",
    )
    assert code == 0, stderr
    report = json.loads((tmp_path / "r.json").read_text())
    statuses = {p["path"]: p["status"] for p in report["posts"]}
    posts = sorted(p.name for p in real_corpus.glob("*.md"))
    assert sorted(statuses) == posts
    assert statuses.pop("README.md") == "ignored"
    assert set(statuses.values()) == {"published"}
    assert len(statuses) == 76
    warned = {p["path"] for p in report["posts"] if p["problems"]}
    # 12 "Invalid Date" posts and 3 whose front matter only reads line by line; README is not a post
    assert len(warned) == 16

    site, _ = parse_back((out / "rss.xml").read_bytes())
    assert len(site.entries) == 76
    for path in feed_files(out):
        data = path.read_bytes()
        parsed, _ = parse_back(data)
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids))
        findings = validate_feed(data, str(path))
        assert [str(f) for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)] == []


def test_guancha_post_in_its_four_feeds(real_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("build", "--posts", real_corpus, "--output", out, "--base-url", BASE, "--limit", "1000")
    atom_ns = {"a": "http://www.w3.org/2005/Atom"}
    for folder in GUANCHA_FEEDS:
        rss = etree.parse(str(out / folder / "rss.xml")).getroot()
        item = next(i for i in rss.iter("item") if i.findtext("link") == GUANCHA_URL)
        assert item.findtext("pubDate") == "Mon, 09 Aug 2021 08:36:33 +0000"
        assert dict(item.find("enclosure").attrib) == {
            "url": IMAGE,
            "length": "0",
            "type": "image/jpeg",
        }
        atom = etree.parse(str(out / folder / "atom.xml")).getroot()
        entry = next(
            e
            for e in atom.iterfind("a:entry", atom_ns)
            if e.findtext("a:id", namespaces=atom_ns) == GUANCHA_URL
        )
        assert entry.findtext("a:published", namespaces=atom_ns) == "2021-08-09T08:36:33+00:00"
        enclosure = entry.find("a:link[@rel='enclosure']", atom_ns)
        assert (enclosure.get("href"), enclosure.get("type"), enclosure.get("length")) == (
            IMAGE,
            "image/jpeg",
            "0",
        )
    # and a feed for every node of the category tree, in both formats
    assert len(feed_files(out)) == 124
