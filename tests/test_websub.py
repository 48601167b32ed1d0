"""WebSub: hub settings, hub links in feeds, and pings to a recording hub on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from feedpub import websub
from feedpub.config import load_config
from feedpub.errors import ConfigError
from feedpub.formats import Format
from feedpub.output import OutputFolder
from feedpub.validation import validate_feed
from tests.helpers import BASE_URL, WritePost, build, parse_back, run
from tests.loopback import closed_port_url, recording_hub, self_link

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds retry after 0.05 s, not the real second: same logic, a faster suite."""
    monkeypatch.setitem(websub.ping_hubs.__kwdefaults__, "backoff", 0.05)


@pytest.fixture
def site(write_post: WritePost, posts: Path) -> Path:
    write_post("a.md", title="A", categories=["新媒体", "首页"], date="2021-08-09 10:00:00")
    write_post("b.md", title="B", categories=["编程"], date="2021-08-10 10:00:00")
    return posts


def self_links(output: Path) -> dict[str, str]:
    """Each feed file (every format) → its own URL, as written in the feed."""
    files = sorted(p for fmt in Format for p in output.rglob(fmt.file_name))
    return {p.relative_to(output).as_posix(): self_link(p.read_bytes()) for p in files}


# Settings


def test_hub_key_is_a_string_or_a_list_and_is_checked(tmp_path: Path) -> None:
    toml = tmp_path / "feedpub.toml"
    toml.write_text('hub = "https://hub.example/?a=1,2"\n')
    assert load_config(toml).hubs == ("https://hub.example/?a=1,2",)  # never split on commas
    toml.write_text('hub = ["https://a.example/", "http://b.example/hub"]\n')
    assert load_config(toml).hubs == ("https://a.example/", "http://b.example/hub")
    assert load_config(toml, {"hubs": ("https://c.example/",)}).hubs == ("https://c.example/",)
    for bad in ('"ftp://a.example/"', '"https://a.example/ x"', '"/hub"', "[1]", '"http://[::1"'):
        toml.write_text(f"hub = {bad}\n")
        with pytest.raises(ConfigError, match="'hub'"):
            load_config(toml)
    toml.write_text('hub = ["https://a.example/", "https://a.example/"]\n')
    assert load_config(toml).hubs == ("https://a.example/",)  # named twice, pinged once
    toml.write_text('hubs = ["https://a.example/"]\n')
    with pytest.raises(ConfigError, match="did you mean 'hub'"):
        load_config(toml)
    toml.write_text("hubb = 1\n")
    with pytest.raises(ConfigError, match=r"known keys: .*\bhub\b"):
        load_config(toml)


def test_feeds_advertise_every_hub_and_stay_valid_without_warnings(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    hubs = ["https://hub.example/", "https://h2.example/x?a=1&b=2"]
    code, _, err = build(site, out, "--hub", hubs[0], "--hub", hubs[1], "--no-ping")
    assert code == 0, err
    for rel, self_url in self_links(out).items():
        data = (out / rel).read_bytes()
        assert validate_feed(data, rel, self_url=self_url) == []
        if rel.endswith(Format.JSON.file_name):  # its `hubs` member is JSON Feed's own test
            continue
        parsed, root = parse_back(data)
        found = [link.get("href") for link in root.iter(f"{ATOM}link") if link.get("rel") == "hub"]
        assert found == hubs
        # A reader sees them where a WebSub subscriber looks (feedparser's feed.links).
        assert [link.href for link in parsed.feed.links if link.rel == "hub"] == hubs
        if rel.endswith("rss.xml"):
            channel = root.find("channel")
            assert all(link.getparent() is channel for link in root.iter(f"{ATOM}link"))


def test_no_hub_no_hub_links_and_no_pings(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build(site, out)[0] == 0
    assert b'rel="hub"' not in (out / "rss.xml").read_bytes()
    assert not (out / websub.PENDING_FILE).exists()


# Pings from the CLI


def test_build_pings_each_changed_feed_at_its_self_url_then_nothing_when_unchanged(
    site: Path, tmp_path: Path, write_post: WritePost
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    with recording_hub() as hub:
        code, stdout, _ = build(site, out, "--hub", hub.url, "--report", str(report))
        assert code == 0
        selves = self_links(out)
        assert hub.topics() == sorted(selves.values())
        for request in hub.requests:
            assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
            assert request.form["hub.mode"] == ["publish"]
            assert request.form["hub.url"] == request.form["hub.topic"]
            assert request.headers["User-Agent"].startswith("feedpub/")
        assert f"WebSub pings: {len(selves)} sent" in stdout
        pings = json.loads(report.read_text())["pings"]
        assert len(pings["sent"]) == len(selves) and pings["failed"] == [] and pings["pending"] == 0
        assert {p["topic"] for p in pings["sent"]} == set(selves.values())

        hub.requests.clear()
        code, stdout, _ = build(site, out, "--hub", hub.url)
        assert code == 0 and hub.requests == [] and "WebSub" not in stdout

        # One post edited: only the feeds that hold it are pinged.
        write_post("b.md", title="B, edited", categories=["编程"], date="2021-08-10 10:00:00")
        assert build(site, out, "--hub", hub.url)[0] == 0
        changed = [
            f"{folder}{fmt.file_name}" for folder in ("", "categories/编程/") for fmt in Format
        ]
        assert hub.topics() == sorted(selves[f] for f in changed)


def test_unreachable_hub_is_a_warning_and_is_pinged_by_the_next_build(
    site: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    down = closed_port_url()
    code, stdout, err = build(site, out, "--hub", down, "--report", str(report))
    assert code == 0  # a failed ping never fails the build
    assert f"WebSub ping to {down} failed" in err and "sent again by the next build" in err
    assert "kept for the next build" in stdout
    pings = json.loads(report.read_text())["pings"]
    assert pings["sent"] == [] and pings["pending"] == len(self_links(out))
    # After the first failure the other pings to that hub are not tried in this build.
    assert sum(p["attempts"] for p in pings["failed"]) <= websub.ATTEMPTS * websub.WORKERS
    pending = json.loads((out / websub.PENDING_FILE).read_text())["pending"]
    assert len(pending) == len(self_links(out))

    # The hub is back at a new address: a hub no longer configured is dropped,
    # so point the pending pings at one that is (same config, same hub URL).
    with recording_hub() as hub:
        pending_file = out / websub.PENDING_FILE
        pending_file.write_text(pending_file.read_text().replace(down, hub.url))
        code, stdout, _ = build(site, out, "--hub", hub.url)
        assert code == 0
        assert hub.topics() == sorted(self_links(out).values())  # nothing changed, yet sent
        assert json.loads(pending_file.read_text())["pending"] == []
        hub.requests.clear()
        assert build(site, out, "--hub", hub.url)[0] == 0
        assert hub.requests == []


def test_no_ping_sends_nothing_and_keeps_the_pings_for_the_next_build(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with recording_hub() as hub:
        code, stdout, _ = build(site, out, "--hub", hub.url, "--no-ping")
        assert code == 0 and hub.requests == []
        assert "held back (--no-ping)" in stdout
        code, _, _ = build(site, out, "--hub", hub.url)
        assert code == 0
        assert hub.topics() == sorted(self_links(out).values())


def test_quiet_hides_failed_pings_strict_shows_them_exit_code_unaffected(
    site: Path, tmp_path: Path
) -> None:
    down = closed_port_url()
    code, stdout, err = build(site, tmp_path / "a", "--hub", down, "--quiet")
    assert (code, stdout, err) == (0, "", "")
    code, _, err = build(site, tmp_path / "b", "--hub", down, "--quiet", "--strict")
    assert code == 0 and "WebSub ping" in err


def test_removed_hub_drops_its_pending_pings(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build(site, out, "--hub", closed_port_url())[0] == 0
    assert json.loads((out / websub.PENDING_FILE).read_text())["pending"]
    assert build(site, out)[0] == 0
    assert json.loads((out / websub.PENDING_FILE).read_text())["pending"] == []


# Retries, timeouts and answers, against the recording hub


@pytest.fixture
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder holding stand-ins for feeds (outside tmp_path: they are not feeds)."""
    return tmp_path_factory.mktemp("out")


def ping(out: Path, hub_url: str, **options: float) -> websub.PingReport:
    (out / "rss.xml").write_text("<rss/>")
    config = load_config(None, {"base_url": BASE_URL, "output": out, "hubs": (hub_url,)})
    return websub.ping_hubs(config, OutputFolder(out), ["rss.xml"], **options)  # type: ignore[arg-type]


def test_transient_errors_are_retried_with_backoff(out: Path) -> None:
    with recording_hub([(503, 0, {}), (502, 0, {})]) as hub:
        started = time.monotonic()
        report = ping(out, hub.url, backoff=0.2)
        assert time.monotonic() - started >= 0.2 + 0.4  # 0.2 s, then twice that
    assert len(hub.requests) == 3
    assert [(r.ok, r.attempts, r.detail) for r in report.sent] == [(True, 3, "HTTP 204")]


def test_retry_after_is_honoured_and_a_long_one_ends_the_attempts(out: Path) -> None:
    with recording_hub([(429, 0, {"Retry-After": "1"})]) as hub:
        started = time.monotonic()
        report = ping(out, hub.url, backoff=0.01)
        assert time.monotonic() - started >= 1
    assert report.sent and len(hub.requests) == 2
    with recording_hub([(503, 0, {"Retry-After": "3600"})]) as hub:
        report = ping(out, hub.url, backoff=0.01)
    assert len(hub.requests) == 1
    assert report.failed[0].detail == "HTTP 503, retry after 3600"


def test_attempts_are_bounded_then_the_ping_waits_for_the_next_build(out: Path) -> None:
    with recording_hub(default=500) as hub:
        report = ping(out, hub.url, backoff=0.01, attempts=4)
    assert len(hub.requests) == 4
    assert report.failed[0].detail == "HTTP 500 after 4 tries"
    pending = json.loads((out / websub.PENDING_FILE).read_text())["pending"]
    assert [(p["hub"], p["file"]) for p in pending] == [(hub.url, "rss.xml")]


def test_a_refusal_is_not_retried_now(out: Path) -> None:
    with recording_hub(default=400) as hub:
        report = ping(out, hub.url, backoff=0.01)
    assert len(hub.requests) == 1 and report.failed[0].detail == "HTTP 400"
    assert report.pending == 1


def test_a_redirect_is_reported_not_followed(out: Path) -> None:
    with recording_hub(default=302) as hub:
        hub.script = [(302, 0, {"Location": hub.url + "/elsewhere"})]
        report = ping(out, hub.url, backoff=0.01)
    assert [r.path for r in hub.requests] == ["/hub"]
    assert report.failed[0].detail == "HTTP 302"


def test_a_hub_that_does_not_answer_times_out(out: Path) -> None:
    with recording_hub([(204, 2.0, {}), (204, 2.0, {})]) as hub:
        started = time.monotonic()
        report = ping(out, hub.url, timeout=0.3, attempts=2, backoff=0.05)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert report.failed[0].detail == "timed out after 2 tries"


def test_pings_run_concurrently_and_within_the_deadline(out: Path) -> None:
    files = [f"c{i}/rss.xml" for i in range(8)]
    for rel in files:
        (out / rel).parent.mkdir(parents=True)
        (out / rel).write_text("<rss/>")
    with recording_hub([(204, 0.5, {})] * 8) as hub:
        config = load_config(None, {"base_url": BASE_URL, "output": out, "hubs": (hub.url,)})
        started = time.monotonic()
        report = websub.ping_hubs(config, OutputFolder(out), files)
        assert time.monotonic() - started < 2.0  # eight half-second answers, side by side
    assert len(report.sent) == 8
    with recording_hub(default=503) as hub:
        config = load_config(None, {"base_url": BASE_URL, "output": out, "hubs": (hub.url,)})
        started = time.monotonic()
        report = websub.ping_hubs(config, OutputFolder(out), files, backoff=5, deadline=0.5)
        assert time.monotonic() - started < 2.0  # no backoff sleeps past the deadline
    assert len(report.failed) == 8


def test_a_damaged_pending_file_is_forgotten(out: Path) -> None:
    (out / ".feedpub").mkdir(parents=True)
    (out / websub.PENDING_FILE).write_text("{not json")
    with recording_hub() as hub:
        report = ping(out, hub.url)
    assert len(report.sent) == 1


def test_a_pending_list_that_cannot_be_saved_is_a_warning_not_a_failed_build(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / websub.PENDING_FILE).mkdir(parents=True)  # a folder where the file should be
    code, _, err = build(site, out, "--hub", closed_port_url())
    assert code == 0
    assert "cannot save the pings still to send" in err and "WebSub ping to" in err
    assert len(self_links(out)) == 4 * len(Format)  # site, 新媒体, 新媒体 › 首页, 编程


def test_hexo_feed_hub_is_advertised_and_pinged_in_site_mode(tmp_path: Path) -> None:
    site = tmp_path / "blog"
    (site / "source" / "_posts").mkdir(parents=True)
    (site / "source" / "_posts" / "a.md").write_text(
        "---\ntitle: A\ndate: 2021-08-09 10:00:00\ncategories: [新媒体]\n---\nA\n", "utf-8"
    )
    with recording_hub() as hub:
        (site / "_config.yml").write_text(
            f"url: https://blog.example\ntimezone: UTC\nfeed:\n  type: atom\n  hub: {hub.url}\n",
            "utf-8",
        )
        code, _, err = run("build", "--site", site)
        assert code == 0, err
        selves = self_links(site / "public")
        assert hub.topics() == sorted(selves.values()) and len(selves) == 2
    assert f'href="{hub.url}" rel="hub"' in (site / "public" / "atom.xml").read_text()


def test_an_answer_that_is_not_http_is_a_failed_ping(out: Path) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def garbage() -> None:
        for _ in range(websub.ATTEMPTS):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    thread = threading.Thread(target=garbage, daemon=True)
    thread.start()
    try:
        report = ping(out, f"http://127.0.0.1:{listener.getsockname()[1]}/", backoff=0.01)
    finally:
        listener.close()
    assert report.failed[0].detail == "the answer is not HTTP (BadStatusLine) after 3 tries"
