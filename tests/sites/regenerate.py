"""Regenerate the fixture sites' expectations from the real generators.

    python tests/sites/regenerate.py                # every site and variant
    python tests/sites/regenerate.py hexo-news      # only the builds of these sites

Each build copies a fixture site into a temporary folder, runs the real generator on it
(Hexo 8 through npm packages kept in a cache folder outside the repository, Jekyll 4 from
Debian's packages) and writes ``tests/sites/<site>/expected[.<variant>].json`` from what the
generator wrote: its feed XML and the pages of its published folder.  Nothing in an
expectation is worked out here; every value is read back from the generator's output.

A generator that is not installed is skipped with a message (see tests/sites/README.md for
the install commands); CI never runs this script.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hexo import collect_hexo
from _jekyll import collect_jekyll, jekyll_listed

SITES = Path(__file__).resolve().parent
PROJECT = SITES.parent.parent
# In the shared folder beside the repository: a real site's config and its real posts.
SHARED_CONFIG = "../shared/sites/rsshub-page/_config.yml"
SHARED_POSTS = "../shared/corpus/real"

# Every file of a copied site gets this modification time before the build, so that Hexo's
# `updated_option: mtime` gives the same instants on every machine.
FILE_TIME = "2024-02-03T04:05:06Z"
FILE_TIME_EPOCH = 1706933106

# The npm packages of the Hexo builds, at the versions that made the committed expectations.
HEXO_PACKAGES = (
    "hexo@8.1.2",
    "hexo-cli@4.3.2",
    "hexo-generator-feed@3.0.0",
    "hexo-abbrlink@2.2.1",
    "hexo-renderer-marked@7.0.1",
    "hexo-renderer-ejs@2.0.0",
    "hexo-generator-index@4.0.0",
    "hexo-generator-category@2.0.0",
    "hexo-generator-tag@2.0.0",
    "hexo-tag-embed@1.0.0",
)


@dataclass(frozen=True)
class Build:
    """One run of a generator on a fixture site."""

    site: str
    generator: str  # "hexo" or "jekyll"
    variant: str = ""  # "" for the site as committed; else names expected.<variant>.json
    config: str = "_config.yml"  # the site's config for this build, copied over _config.yml
    tz: str = "UTC"  # the TZ of the generator's process (Hexo's URL dates use it)
    shared: bool = False  # config and posts come from ../shared (SHARED_CONFIG, SHARED_POSTS)

    @property
    def expected_name(self) -> str:
        if self.shared:
            # Not expected*.json: those are fixture sites complete in the repository.
            return "real.json"
        return f"expected.{self.variant}.json" if self.variant else "expected.json"


BUILDS = (
    Build("hexo-news", "hexo"),
    Build("hexo-news", "hexo", "tokyo", tz="Asia/Tokyo"),
    Build("hexo-news", "hexo", "tokens", "_variants/tokens.yml"),
    Build("hexo-news", "hexo", "rss-only", "_variants/rss-only.yml"),
    Build("hexo-abbrlink", "hexo"),
    Build("hexo-abbrlink", "hexo", "crc32-dec", "_variants/crc32-dec.yml"),
    Build("hexo-abbrlink", "hexo", "shanghai", tz="Asia/Shanghai"),
    Build("hexo-abbrlink", "hexo", "title-path", "_variants/title-path.yml"),
    Build("rsshub-page", "hexo", config=SHARED_CONFIG, shared=True),
    Build("jekyll-news", "jekyll"),
    Build("jekyll-news", "jekyll", "tokyo", tz="Asia/Tokyo"),
    Build("jekyll-styles", "jekyll"),
    Build("jekyll-styles", "jekyll", "date", "_variants/date.yml"),
    Build("jekyll-styles", "jekyll", "ordinal", "_variants/ordinal.yml"),
    Build("jekyll-styles", "jekyll", "none", "_variants/none.yml"),
    Build("jekyll-styles", "jekyll", "tokens", "_variants/tokens.yml"),
    Build("jekyll-styles", "jekyll", "tokyo", tz="Asia/Tokyo"),
)


class Skip(Exception):
    """The generator is not installed here."""


class SkipBuild(Exception):
    """This one build cannot be made here."""


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "feedpub-site-generators"


def hexo_cache(cache: Path) -> Path:
    """The folder holding Hexo's npm packages, installed there on first use."""
    folder = cache / "hexo"
    if all(_npm_version(folder, spec) for spec in HEXO_PACKAGES):
        return folder
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise Skip("Hexo builds need node and npm (apt-get install nodejs npm)")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "package.json").exists():
        (folder / "package.json").write_text('{"name": "feedpub-hexo-cache", "private": true}\n')
    print(f"installing {' '.join(HEXO_PACKAGES)} into {folder}", flush=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--save-exact", *HEXO_PACKAGES],
        cwd=folder,
        check=True,
    )
    return folder


def _npm_version(folder: Path, spec: str) -> bool:
    name, _, version = spec.rpartition("@")
    manifest = folder / "node_modules" / name / "package.json"
    return manifest.exists() and json.loads(manifest.read_text())["version"] == version


def npm_versions(folder: Path) -> dict[str, str]:
    out = {}
    for spec in HEXO_PACKAGES:
        name = spec.rpartition("@")[0]
        manifest = folder / "node_modules" / name / "package.json"
        out[name] = json.loads(manifest.read_text())["version"]
    return out


def jekyll_versions() -> dict[str, str]:
    if shutil.which("jekyll") is None:
        raise Skip("Jekyll builds need Debian's jekyll (apt-get install jekyll ruby-jekyll-feed)")
    script = (
        "puts RUBY_VERSION;"
        "puts Gem::Specification.find_by_name('jekyll').version;"
        "puts Gem::Specification.find_by_name('jekyll-feed').version"
    )
    try:
        done = subprocess.run(["ruby", "-e", script], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise Skip(
            f"jekyll-feed is not installed (apt-get install ruby-jekyll-feed): {err}"
        ) from err
    ruby, jekyll, feed = done.stdout.split()
    return {"ruby": ruby, "jekyll": jekyll, "jekyll-feed": feed}


def copy_site(build: Build, into: Path) -> Path:
    """The fixture site copied for one build, its config replaced by the variant's."""
    source = SITES / build.site
    target = into / build.site
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns("expected*.json", "_variants", "_site", "public"),
    )
    if build.shared:
        add_shared_inputs(target)
    elif build.config != "_config.yml":
        shutil.copyfile(source / build.config, target / "_config.yml")
    for path in [target, *target.rglob("*")]:
        os.utime(path, (FILE_TIME_EPOCH, FILE_TIME_EPOCH), follow_symlinks=False)
    return target


def add_shared_inputs(target: Path) -> None:
    """The real site's config and real posts, as ../shared holds them, into a copied site.

    Only its `theme:` line changes, to the fixture theme: the real theme is not installed,
    and a theme changes no URL or date.
    """
    config = PROJECT / SHARED_CONFIG
    posts = PROJECT / SHARED_POSTS
    if not config.is_file() or not posts.is_dir():
        raise SkipBuild(f"{SHARED_CONFIG} and {SHARED_POSTS} are not here")
    text = config.read_text(encoding="utf-8")
    (target / "_config.yml").write_text(
        re.sub(r"(?m)^theme: .*$", "theme: mini", text), encoding="utf-8"
    )
    into = target / "source" / "_posts"
    into.mkdir(parents=True)
    for post in sorted(posts.glob("*.md")):
        if post.name != "README.md":
            shutil.copyfile(post, into / post.name)


def run_hexo(build: Build, site: Path, cache: Path, copied: float) -> dict:
    """Hexo's build of a copied site; ``copied`` is when the copy began."""
    (site / "node_modules").symlink_to(cache / "node_modules", target_is_directory=True)
    env = dict(os.environ, TZ=build.tz)
    hexo = cache / "node_modules" / ".bin" / "hexo"
    done = subprocess.run(
        [str(hexo), "generate"], cwd=site, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"hexo generate failed for {build}:\n{done.stdout}\n{done.stderr}")
    return collect_hexo(site, done.stdout + done.stderr, copied, time.time())


def run_jekyll(build: Build, site: Path) -> dict:
    # A second build with --future tells future posts from `published: false` ones.
    with tempfile.TemporaryDirectory(prefix="feedpub-jekyll-future-") as other:
        jekyll_build(build, site, Path(other), "--future")
        future = jekyll_listed(Path(other))
    log = jekyll_build(build, site, site / "_site")
    return collect_jekyll(site, log, future)


def jekyll_build(build: Build, site: Path, into: Path, *flags: str) -> str:
    env = dict(os.environ, TZ=build.tz, JEKYLL_ENV="production")
    done = subprocess.run(
        ["jekyll", "build", "--source", str(site), "--destination", str(into), *flags],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"jekyll build failed for {build}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def regenerate(build: Build, cache: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="feedpub-site-") as tmp:
        copied = time.time()
        site = copy_site(build, Path(tmp))
        if build.generator == "hexo":
            folder = hexo_cache(cache)
            versions = {"node": _node_version(), **npm_versions(folder)}
            result = run_hexo(build, site, folder, copied)
        else:
            versions = jekyll_versions()
            result = run_jekyll(build, site)
    expected = {
        "generator": build.generator,
        "versions": versions,
        "config": build.config,
        "environment": {"TZ": build.tz, "file_mtime": FILE_TIME},
        **({"posts_from": SHARED_POSTS} if build.shared else {}),
        **result,
    }
    if build.shared:
        # Real posts: what matters is their URLs, dates and titles, not their long bodies.
        for post in expected["posts"].values():
            for key in ("content", "summary", "tag_sections"):
                post.pop(key, None)
    out = SITES / build.site / build.expected_name
    out.write_text(json.dumps(expected, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
    posts = expected["posts"]
    shown = sum(1 for post in posts.values() if post["published"])
    print(f"wrote {out.relative_to(SITES.parent.parent)}: {shown} of {len(posts)} posts published")


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip().lstrip("v")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="*", help="fixture sites to rebuild (default: all)")
    parser.add_argument(
        "--cache", type=Path, default=default_cache(), help="where Hexo's npm packages are kept"
    )
    args = parser.parse_args(argv)
    unknown = set(args.sites) - {build.site for build in BUILDS}
    if unknown:
        parser.error(f"no such fixture site: {', '.join(sorted(unknown))}")
    skipped: set[str] = set()
    for build in BUILDS:
        if args.sites and build.site not in args.sites:
            continue
        if build.generator in skipped:
            continue
        try:
            regenerate(build, args.cache)
        except Skip as why:
            print(f"skipping the {build.generator} sites: {why}")
            skipped.add(build.generator)
        except SkipBuild as why:
            print(f"skipping {build.site}/{build.expected_name}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
