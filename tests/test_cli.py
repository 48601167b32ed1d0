"""The command line, through click's runner and as a real subprocess."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedpub import __version__
from feedpub.cli import cli
from feedpub.console import write_report
from feedpub.errors import ExitCode
from feedpub.models import Problem, Severity
from feedpub.report import PostReport, PostReports, PostStatus, Report
from tests.helpers import BASE_URL, PROJECT, WritePost, build, feed_files, parse_back, run


@pytest.fixture
def sample_posts(write_post: WritePost, posts: Path) -> Path:
    write_post(
        "新媒体/观察者网/首页/guancha.md",
        title="河南省委书记",
        categories=["新媒体", "观察者网", "首页"],
        author="观察者网",
        date="Mon, 09 Aug 2021 08:36:33 GMT",
        thumbnail="https://picsum.photos/400/300?random=3381",
        body="<div>\n<p>正文</p>\n</div>\n",
    )
    write_post(
        "编程/md.md",
        title="Markdown",
        categories=["编程"],
        date="2021-08-10 10:00:00",
        body="# Hi\n\n[rel](../x/)\n",
    )
    write_post("draft.md", title="Draft", date="2021-08-01", draft=True)
    return posts


def test_build_writes_valid_feeds_readers_agree_on(sample_posts: Path, tmp_path: Path) -> None:
    code, out, _ = build(sample_posts, tmp_path / "out")
    assert code == 0
    assert (
        "3 files read (3 parsed): 2 published, 1 draft" in out
        and "Feeds: 17 written, 0 unchanged" in out  # 5 feeds in 3 formats, OPML, index
        and "Done in" in out
    )
    files = feed_files(tmp_path / "out")
    assert len(files) == 10
    ids: dict[Path, list[str]] = {}
    for path in files:
        parsed, _ = parse_back(path.read_bytes())
        ids[path] = [e.id for e in parsed.entries]
        assert len(set(ids[path])) == len(ids[path])
        for entry in parsed.entries:
            assert entry.link.startswith(BASE_URL)
            for link in entry.get("links", []):
                assert link["href"].startswith("https://")
    site_feed, _ = parse_back((tmp_path / "out" / "rss.xml").read_bytes())
    guancha = site_feed.entries[1]
    assert guancha.title == "河南省委书记"
    assert dt.datetime(*guancha.published_parsed[:6], tzinfo=dt.UTC) == dt.datetime(
        2021, 8, 9, 8, 36, 33, tzinfo=dt.UTC
    )
    assert guancha.enclosures[0] == {
        "href": "https://picsum.photos/400/300?random=3381",
        "type": "image/jpeg",
        "length": "0",
    }
    markdown = site_feed.entries[0]
    assert (
        'href="https://news.example.org/2021/08/10/x/"' in markdown.content[0].value
    )  # relative link made absolute


def test_second_build_writes_nothing_and_bytes_are_identical(
    sample_posts: Path, tmp_path: Path
) -> None:
    build(sample_posts, tmp_path / "out")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in feed_files(tmp_path / "out")}
    code, out, _ = build(sample_posts, tmp_path / "out")
    assert code == 0 and "Feeds: 0 written, 17 unchanged" in out
    assert {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in feed_files(tmp_path / "out")
    } == before
    code, out, _ = build(sample_posts, tmp_path / "out", "--full")
    assert "Feeds: 0 written, 17 unchanged" in out and "(3 parsed)" in out
    assert {p: p.read_bytes() for p in feed_files(tmp_path / "out")} == {
        p: b for p, (b, _) in before.items()
    }


def test_formats_and_limit_options(sample_posts: Path, tmp_path: Path) -> None:
    code, _, _ = build(sample_posts, tmp_path / "out", "--format", "atom", "--limit", "1")
    assert code == 0
    assert {p.name for p in feed_files(tmp_path / "out")} == {"atom.xml"}
    parsed, _ = parse_back((tmp_path / "out" / "atom.xml").read_bytes())
    assert len(parsed.entries) == 1


def test_category_without_posts_loses_its_feeds_and_foreign_files_stay(
    sample_posts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    build(sample_posts, out)
    (out / "categories" / "编程" / "index.html").write_text("written by Hexo")
    (sample_posts / "编程" / "md.md").unlink()
    code, stdout, _ = build(sample_posts, out)
    assert code == 0 and "3 removed" in stdout
    assert not (out / "categories" / "编程" / "rss.xml").exists()
    assert (out / "categories" / "编程" / "index.html").read_text() == "written by Hexo"


def test_bad_post_is_named_others_are_published(
    sample_posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    write_post("broken.md", raw="---\ntitle: [unclosed\n---\nbody\n")
    code, out, err = build(sample_posts, tmp_path / "out", "--report", tmp_path / "report.json")
    assert code == 1
    assert "broken.md:2: error: front matter is not valid YAML" in err
    assert "2 published" in out and "1 skipped" in out
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = {p["path"]: p["status"] for p in report["posts"]}
    assert statuses == {
        "broken.md": "skipped",
        "draft.md": "draft",
        "新媒体/观察者网/首页/guancha.md": "published",
        "编程/md.md": "published",
    }
    assert report["exit_code"] == 1


@pytest.mark.parametrize(
    "paths",
    [
        ["a.md"],
        ['quote"d.md', "back\\slash.md", "tab\tand\nnewline.md", "\u2028.md", "新媒体/观察者网.md"],
        ["emoji😀.md", "control\x01.md", "bad\\xffname.md", "z.md"],
    ],
)
def test_the_report_is_what_json_indents_byte_for_byte(paths: list[str], tmp_path: Path) -> None:
    """The report's posts are written from a template (json indents in Python, slowly):
    the text must be json.dumps's."""
    posts = [PostReport(path, PostStatus.PUBLISHED, ()) for path in paths]
    problem = Problem(paths[0], 'bad "value"\n', Severity.ERROR, 3, "title", "rule")
    posts.insert(1, PostReport("skipped.md", PostStatus.SKIPPED, (problem, problem)))
    for some in (posts, posts[:1], posts[1:2], []):
        data = Report(PostReports.of(some)).as_json()
        listed = data | {"posts": list(data["posts"])}
        write_report(tmp_path / "report.json", data)
        written = (tmp_path / "report.json").read_text(encoding="utf-8")
        assert written == json.dumps(listed, ensure_ascii=False, indent=1) + "\n"


def test_quiet_prints_nothing_unless_something_is_wrong(
    sample_posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    write_post("warned.md", title="w", date="Invalid Date")
    code, out, err = build(sample_posts, tmp_path / "out", "--quiet")
    assert (code, out, err) == (0, "", "")
    code, _, err = build(sample_posts, tmp_path / "out", "--quiet", "--strict")
    assert code == 1 and "warned.md: warning:" in err


def test_quiet_builds_from_the_state_print_the_errors_alone(
    sample_posts: Path, tmp_path: Path, write_post: WritePost
) -> None:
    # Built again from the state (nothing changed, then one edit), the reports' warnings
    # are not even made into Problems: quiet, only a skipped file's errors are shown.
    write_post("warned.md", title="w", date="Invalid Date")
    (sample_posts / "bad.md").write_bytes(b"---\ntitle: [\n---\n")
    for edit in (None, None, "edited.md"):
        if edit:
            write_post(edit, title="e", date="2021-08-09 10:00:00")
        code, out, err = build(sample_posts, tmp_path / "out", "--quiet")
        assert (code, out) == (1, "")
        assert err.count("error:") == 1 and "bad.md:3: error:" in err and "warning" not in err
    code, _, err = build(sample_posts, tmp_path / "out", "--quiet", "--strict")
    assert code == 1 and "warned.md: warning:" in err and "bad.md:3: error:" in err


def test_check_writes_nothing_and_says_whether_posts_would_be_skipped(
    sample_posts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "--posts", sample_posts)
    assert code == 0 and "2 would be published" in out
    (sample_posts / "bad.md").write_bytes(b"---\ntitle: \xff\n---\n")
    code, _, err = run("check", "--posts", sample_posts)
    assert code == 1 and "bad.md:2: error: not valid utf-8: byte 0xff at offset 11" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--config", "missing.toml"], "configuration file not found"),
        (["build", "--base-url", "example.org"], "'base_url' must be an absolute http(s) URL"),
        (["build", "--posts", "no/such/folder"], "posts folder does not exist"),
        (["build", "--format", "xml"], "'formats' must be some of rss, atom, json"),
    ],
)
def test_usage_errors_are_messages_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_unknown_or_mistyped_config_key_is_named(tmp_path: Path, sample_posts: Path) -> None:
    config = tmp_path / "feedpub.toml"
    config.write_text('titel = "x"\n')
    code, _, err = run("build", "--config", config, "--posts", sample_posts)
    assert code == 2 and "unknown key 'titel'" in err
    config.write_text('limit = "20"\n')
    code, _, err = run("build", "--config", config, "--posts", sample_posts)
    assert code == 2 and "'limit' must be an integer" in err


def test_config_file_folders_are_relative_to_the_file(
    tmp_path: Path, sample_posts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "feedpub.toml").write_text(
        f'base_url = "{BASE_URL}"\nposts = "posts"\noutput = "public"\ntitle = "T"\n'
    )
    monkeypatch.chdir(PROJECT / "tests")
    code, _, _ = run("build", "--config", tmp_path / "feedpub.toml")
    assert code == 0
    parsed, _ = parse_back((tmp_path / "public" / "rss.xml").read_bytes())
    assert parsed.feed.title == "T"


@pytest.mark.parametrize("command", ["build", "check", "validate"])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out
    assert f"feedpub {command}" in (PROJECT / "README.md").read_text("utf-8")


def test_version_and_exit_codes_in_help() -> None:
    assert run("--version")[1].strip() == f"feedpub, version {__version__}"
    help_text = run("--help")[1]
    assert "Exit codes" in help_text
    flat = " ".join(help_text.split())
    for code in ExitCode:  # the table is made from the enum, every code with its meaning
        assert f"{code.value} {code.meaning}" in flat


def test_real_subprocesses(sample_posts: Path, tmp_path: Path) -> None:
    python = sys.executable
    script = Path(python).with_name("feedpub")
    for command in ([python, "-m", "feedpub"], [str(script)]):
        done = subprocess.run(
            [
                *command,
                "build",
                "--posts",
                str(sample_posts),
                "--output",
                str(tmp_path / "out"),
                "--base-url",
                BASE_URL,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "2 published" in done.stdout
    assert (tmp_path / "out" / "atom.xml").is_file()


class _Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "quiet", "shown"), [(True, False, True), (False, False, False), (True, True, False)]
)
def test_progress_bar_only_on_a_terminal_only_for_long_work(
    monkeypatch: pytest.MonkeyPatch, tty: bool, quiet: bool, shown: bool
) -> None:
    from feedpub import console

    terminal = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(console, "_PROGRESS_DELAY", 0.05)
    wrap = console.progress(quiet)
    assert list(wrap([1], "Quick")) == [1]  # a single step never gets a bar
    done = []
    for item in wrap(list(range(6)), "Reading posts"):
        time.sleep(0.02)
        done.append(item)
    assert done == list(range(6))
    assert ("Reading posts" in terminal.getvalue()) is shown
    assert "Quick" not in terminal.getvalue()


FEEDS = PROJECT / "tests" / "feeds"


def test_validate_good_feeds_exit_0_and_bad_ones_1() -> None:
    good = sorted((FEEDS / "good").glob("*.xml"))
    code, out, _ = run("validate", *good)
    assert code == 0, out
    assert out.count(": valid (0 errors") == len(good)
    code, out, _ = run("validate", FEEDS / "bad" / "rss-bad-pubdate.xml", good[0])
    assert code == 1
    assert "rss-bad-pubdate.xml:" in out and "error: <pubDate>" in out and "[rss-date]" in out
    assert "INVALID" in out


def test_validate_json_stdin_url_and_strict(tmp_path: Path) -> None:
    feed = (FEEDS / "good" / "minimal-rss.xml").read_bytes()
    result = CliRunner().invoke(cli, ["validate", "-", "--output-format", "json"], input=feed)
    assert result.exit_code == 0
    findings = json.loads(result.stdout)["<stdin>"]
    assert [(f["severity"], f["rule"]) for f in findings] == [("warning", "missing-self-link")]
    assert {"path", "line", "element", "rule", "message"} <= set(findings[0])
    strict = CliRunner().invoke(cli, ["validate", "-", "--strict"], input=feed)
    assert strict.exit_code == 1
    # --url: the self link must name where the feed is published
    ours = tmp_path / "rss.xml"
    ours.write_bytes((FEEDS.parent / "golden" / "expected" / "rss.xml").read_bytes())
    assert run("validate", ours, "--url", "https://golden.example.org/blog/rss.xml")[0] == 0
    code, out, _ = run("validate", ours, "--url", "https://elsewhere.example.org/rss.xml")
    assert code == 1 and "self-link-mismatch" in out


def test_validate_refuses_xxe_without_reading_the_file_it_names(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    attack = tmp_path / "attack.xml"
    attack.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<rss version="2.0"><channel><title>&x;</title><link>https://a.example/</link>'
        "<description>d</description></channel></rss>\n"
    )
    code, out, _ = run("validate", attack, "--output-format", "json")
    assert code == 1
    assert "TOP-SECRET-VALUE" not in out
    assert json.loads(out)[str(attack)][0]["rule"] == "entity-declaration"


def test_validate_usage_errors() -> None:
    assert run("validate")[0] == 2
    code, _, err = run("validate", "no/such/feed.xml")
    assert code == 2 and "Traceback" not in err


_LOADED = """
import atexit, sys
atexit.register(lambda: print(" ".join(sorted(sys.modules))))
sys.argv = ["feedpub", *sys.argv[1:]]
from feedpub.cli import main
main()
"""


def test_a_build_where_nothing_changed_loads_only_what_it_needs(
    sample_posts: Path, tmp_path: Path
) -> None:
    """Start-up is most of such a build: no parser, builder, renderer, writer, worker pool or
    site mode is imported to find that nothing changed (in a folder that is not a site's root
    and has no feedpub.toml), nor the libraries only they use."""
    command = [sys.executable, "-c", _LOADED, "build", "--posts", str(sample_posts)]
    command += ["--output", str(tmp_path / "out"), "--base-url", BASE_URL, "--quiet"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "feedpub.builder" in first.stdout.split()  # the probe sees what a build loads
    for library in ("email", "importlib.resources"):  # publishing needs neither
        assert library not in first.stdout.split()
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    loaded = set(again.stdout.split())
    assert "feedpub.pipeline" in loaded
    for module in (
        "builder",
        "writer",
        "reader",
        "bodies",
        "render",
        "validation",
        "sites",
        "urls",
        "reading",
        "workers",
        "models",  # posts and feeds: five dataclasses to define (problems.py has Problem)
        "state.cached",
    ):
        assert f"feedpub.{module}" not in loaded
    for library in (
        "yaml",
        "yaml_rs",
        "lxml",
        "nh3",
        "markdown_it_pyrs",
        "tomllib",
        "pickle",
        "textwrap",
        "hashlib",  # OpenSSL: the scan and the settings are compared as they are, not hashed
    ):
        assert library not in loaded


def test_a_build_that_reads_a_plain_post_does_not_load_pyyaml(
    sample_posts: Path, tmp_path: Path
) -> None:
    """PyYAML's import costs more than reading a post (its reader compiles a pattern over
    all of Unicode): a post whose front matter yaml-rs reads as PyYAML would is read
    without it; one that needs PyYAML still gets it."""
    posts = sample_posts
    command = [sys.executable, "-c", _LOADED, "build", "--posts", str(posts)]
    command += ["--output", str(tmp_path / "out"), "--base-url", BASE_URL, "--quiet"]
    subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    plain = "---\ntitle: A plain post\ndate: Mon, 09 Aug 2021 08:36:33 GMT\ncategories: [News]\n---\nHi.\n"
    (posts / "plain.md").write_text(plain, encoding="utf-8")
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    loaded = set(again.stdout.split())
    assert "feedpub.reader" in loaded and "yaml_rs" in loaded  # the post was read
    assert "yaml" not in loaded and "frontmatter" not in loaded
    (posts / "yes.md").write_text(plain.replace("A plain post", "yes"), encoding="utf-8")
    third = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "yaml" in set(third.stdout.split())  # `title: yes` is YAML 1.1's true: PyYAML reads it
