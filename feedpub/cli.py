"""The command line: options → Config → one call → summary and exit code.

Commands stay thin: everything they do is a call into `pipeline` or
`validate`. Errors reach the user as one line naming the file and the problem
(never a traceback), with an exit code a cron job can act on.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import __version__, pipeline
from .config import CONFIG_NAME, SITE_CONFIG_NAME, Config, load_config
from .console import exit_code_table, finish, progress, write_report
from .errors import ExitCode, FeedpubError
from .problems import Problem, Severity
from .report import Report, validation_exit_code

if TYPE_CHECKING:
    from .models import Feed

T = TypeVar("T")


class _WithExitCodes(click.Command):
    """A command whose help ends with the exit-code table, made only when help is shown
    (wrapping it takes textwrap, which nothing else of a build imports)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.epilog = exit_code_table()
        super().format_epilog(ctx, formatter)


class _Group(_WithExitCodes, click.Group):
    """The one funnel from feedpub's exceptions to messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeedpubError as e:
            _fail(ctx, str(e), e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as e:
            _fail(ctx, f"{e.filename or 'feedpub'}: {e.strerror or e}", ExitCode.OUTPUT_FAILED)
        except Exception as e:
            if os.environ.get("FEEDPUB_DEBUG"):
                raise
            _fail(
                ctx,
                f"internal error: {e!r}; please report it (FEEDPUB_DEBUG=1 shows the traceback)",
                ExitCode.INTERNAL,
            )


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    report = ctx.meta.get(_REPORT)
    if report is not None and code != ExitCode.USAGE:  # cron reads the report, not stderr
        with contextlib.suppress(OSError):
            write_report(report, Report().as_json() | {"exit_code": int(code), "error": message})
    ctx.exit(code)


_REPORT = "feedpub.report"
"""ctx.meta key: the --report file of the running command, for `_fail`."""


@click.group(cls=_Group)
@click.version_option(__version__, "--version", prog_name="feedpub")
def cli() -> None:
    """Publish RSS 2.0, Atom 1.0 and JSON Feed feeds from a folder of Markdown posts.

    \b
    Quick start:
      feedpub build                 # posts/ → output/, with ./feedpub.toml if present
      feedpub check                 # find problems in posts, write nothing
      feedpub validate output/rss.xml
      feedpub snippet               # <link> tags for a page's <head>
    """


def _site_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by commands that read the posts."""
    options = [
        click.option("--site", "site_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Root of a Hexo or Jekyll site: read its _config.yml, posts and URLs (default: the working directory, if it is one and has no feedpub.toml)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Configuration file (default: ./feedpub.toml if it exists; in site mode, feedpub.toml beside the site's _config.yml)."),
        click.option("--posts", type=click.Path(file_okay=False, path_type=Path), help="Folder of posts (default: posts)."),
        click.option("--base-url", help="Public URL of the site, e.g. https://example.org/"),
        click.option("--limit", type=click.IntRange(min=1), help="Items per feed (default: 20)."),
        click.option("--strict", is_flag=True, help="Count warnings as failures in the exit code."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing unless something is wrong (for cron)."),
        click.option("--report", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Also write what happened to every post as JSON."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@cli.command(cls=_WithExitCodes)
@_site_options
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the feeds (default: output).",
)
@click.option(
    "--format", "formats", help="Formats to write, comma-separated (default: rss,atom,json)."
)
@click.option("--full", is_flag=True, help="Ignore the incremental state: read every post again.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    help="Seconds to wait for another build on the same output (default: 60).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    help="Processes for a big build (default: 0, one per core).",
)
@click.option(
    "--hub",
    "hubs",
    multiple=True,
    metavar="URL",
    help="WebSub hub to advertise and ping (repeatable; default: the configuration's hub).",
)
@click.option(
    "--no-ping",
    is_flag=True,
    help="Ping no WebSub hub now; the pings wait for the next build.",
)
def build(
    site_dir: Path | None,
    config_file: Path | None,
    posts: Path | None,
    base_url: str | None,
    limit: int | None,
    strict: bool,
    quiet: bool,
    report: Path | None,
    output: Path | None,
    formats: str | None,
    full: bool,
    wait: float | None,
    jobs: int | None,
    hubs: tuple[str, ...],
    no_ping: bool,
) -> None:
    """Write the site's feeds and one per category, in RSS 2.0, Atom 1.0 and JSON Feed 1.1,
    with feeds.opml and feeds/index.html listing them all.

    Only what changed since the last build is read and rewritten; every feed is
    validated before it replaces the previous one.

    \b
    Examples:
      feedpub build
      feedpub build --site ~/blog           # a Hexo or Jekyll site, by its own config
      feedpub build --posts source/_posts --output public --base-url https://example.org/
      */5 * * * * cd /srv/site && feedpub build --quiet
    """
    click.get_current_context().meta[_REPORT] = report
    config = _load_config(
        site_dir,
        config_file,
        {
            "posts": posts,
            "output": output,
            "base_url": base_url,
            "limit": limit,
            "formats": formats,
            "lock_timeout": wait,
            "jobs": jobs,
            "hubs": hubs or None,
        },
    )
    result = pipeline.build(config, use_state=not full, progress=progress(quiet), ping=not no_ping)
    finish(result, config, strict, quiet, report, verb="published")


@cli.command(cls=_WithExitCodes)
@_site_options
def check(
    site_dir: Path | None,
    config_file: Path | None,
    posts: Path | None,
    base_url: str | None,
    limit: int | None,
    strict: bool,
    quiet: bool,
    report: Path | None,
) -> None:
    """Check every post without writing anything: one line per problem.

    The exit code says whether a build would skip any post (1) or not (0).

    \b
    Examples:
      feedpub check
      feedpub check --posts source/_posts --strict
      feedpub check --site ~/blog
    """
    click.get_current_context().meta[_REPORT] = report
    config = _load_config(
        site_dir, config_file, {"posts": posts, "base_url": base_url, "limit": limit}
    )
    result = pipeline.check(config, progress=progress(quiet))
    finish(result, config, strict, quiet, report, verb="would be published")


def _load_config(
    site_dir: Path | None, config_file: Path | None, overrides: dict[str, Any]
) -> Config:
    """Site mode with --site, or in a Hexo/Jekyll site root that has no feedpub.toml
    (and no --config); feedpub's own configuration otherwise."""
    site = None
    if site_dir is not None:
        from .sites import load_site

        site = load_site(site_dir.resolve())
    elif (
        config_file is None and not Path(CONFIG_NAME).is_file() and Path(SITE_CONFIG_NAME).is_file()
    ):
        from .sites import find_site  # site mode is imported only where a site may be

        site = find_site(Path.cwd())
    return load_config(config_file, overrides, site=site)


@cli.command()
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option(
    "--output-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the findings.",
)
@click.option(
    "--url", "self_url", help='Where the feed is published: its atom:link rel="self" must say so.'
)
@click.option("--strict", is_flag=True, help="Count warnings as failures in the exit code.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (and warnings with --strict).")
def validate(
    files: tuple[Path, ...], output_format: str, self_url: str | None, strict: bool, quiet: bool
) -> None:
    """Check RSS 2.0, Atom 1.0 and JSON Feed files, whoever wrote them.

    Reports errors and warnings with line numbers (for JSON Feed, the member); never fetches anything and
    never expands entities (XXE and entity bombs are reported, not followed).
    Exit code: 0 valid, 1 errors (or warnings, with --strict), 2 usage error.

    \b
    Examples:
      feedpub validate output/rss.xml output/atom.xml output/feed.json
      curl -s https://example.org/feed.xml | feedpub validate - --output-format json
    """
    from .validation import validate_feed  # lxml is imported only by the commands that need it

    findings: dict[str, list[Problem]] = {}
    for file in files:
        name = "<stdin>" if str(file) == "-" else str(file)
        findings[name] = validate_feed(_read_feed(file), name, self_url=self_url)
    every = [p for found in findings.values() for p in found]
    if output_format == "json":
        click.echo(
            json.dumps(
                {name: [p.as_dict() for p in found] for name, found in findings.items()},
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        for name, found in findings.items():
            for problem in found:
                if not quiet or problem.severity is Severity.ERROR or strict:
                    click.echo(str(problem))
            if not quiet:
                errors = sum(p.severity is Severity.ERROR for p in found)
                warnings = len(found) - errors
                verdict = "valid" if not errors else "INVALID"
                click.echo(f"{name}: {verdict} ({errors} errors, {warnings} warnings)")
    sys.exit(int(validation_exit_code(every, strict)))


def _read_feed(file: Path) -> bytes:
    """At most MAX_FEED_BYTES + 1 bytes: enough for the validator to say the file is too big."""
    from .validation import MAX_FEED_BYTES

    if str(file) == "-":
        return sys.stdin.buffer.read(MAX_FEED_BYTES + 1)
    try:
        # Opened without blocking, then checked: a FIFO with no writer must not hang the command.
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise click.BadParameter(
                    f"{file} is not a regular file (use - to read standard input)",
                    param_hint="FILES",
                )
            return f.read(MAX_FEED_BYTES + 1)
    except OSError as e:
        raise click.BadParameter(f"cannot read {file}: {e.strerror}", param_hint="FILES") from None


_SITE_OPTION = click.option("--site", "site_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Root of a Hexo or Jekyll site (as for build).")  # fmt: skip
_CONFIG_OPTION = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Configuration file (as for build).")  # fmt: skip


@cli.command()
@click.argument("category", required=False)
@_SITE_OPTION
@_CONFIG_OPTION
@click.option(
    "--posts",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of posts (default: posts).",
)
@click.option("--base-url", help="Public URL of the site, e.g. https://example.org/")
@click.option(
    "--format", "formats", help="Formats to link, comma-separated (default: the formats written)."
)
def snippet(
    category: str | None,
    site_dir: Path | None,
    config_file: Path | None,
    posts: Path | None,
    base_url: str | None,
    formats: str | None,
) -> None:  # fmt: skip
    """Print the autodiscovery <link> tags of the site's feeds, or of one category's.

    Put them in the <head> of a page, and browsers and feed readers find its feeds.
    CATEGORY is a path of category names from the top, separated by '/' (or ' › '),
    as the posts name them; an unknown category is an error (exit code 2).

    \b
    Examples:
      feedpub snippet                      # the whole site's feeds
      feedpub snippet 新媒体/观察者网        # one category's feeds
      feedpub snippet --site ~/blog Tech   # in a Hexo or Jekyll site
    """
    from .render.index_page import link_tags

    overrides = {"posts": posts, "base_url": base_url, "formats": formats}
    config = _load_config(site_dir, config_file, overrides)
    feeds = pipeline.feeds(config)
    feed = feeds[0] if category is None else _category_feed(category, feeds)
    click.echo("\n".join(link_tags(feed, config)))


def _category_feed(category: str, feeds: Sequence[Feed]) -> Feed:
    """The feed of the category `category` names: a path split at '/' or ' › ', or one name."""
    wanted = [
        tuple(part.strip() for part in category.split(separator))
        for separator in ("/", "›")
        if separator in category
    ] + [(category.strip(),)]
    by_path = {feed.category: feed for feed in feeds if feed.category}
    for path in wanted:
        if path in by_path:
            return by_path[path]
    import difflib  # only for this message

    names = {"/".join(path): path for path in by_path}
    close = difflib.get_close_matches(category, names, n=3, cutoff=0.5)
    hint = (
        f"did you mean {' or '.join(repr(c) for c in close)}?"
        if close
        else f"feeds/index.html lists the {len(by_path)} that have"
    )
    raise click.BadParameter(
        f"no category {category!r} has published posts; {hint}", param_hint="CATEGORY"
    )


@cli.command()
@_SITE_OPTION
@_CONFIG_OPTION
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Folder to serve (default: the configuration's output).")  # fmt: skip
@click.option("--posts", type=click.Path(file_okay=False, path_type=Path), help="Folder of posts, for --watch (default: posts).")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1 (0: any free port).")  # fmt: skip
@click.option("--watch", is_flag=True, help="Build now, then again whenever a post changes.")
def serve(
    site_dir: Path | None,
    config_file: Path | None,
    output: Path | None,
    posts: Path | None,
    port: int,
    watch: bool,
) -> None:
    """Serve the output folder on 127.0.0.1 to preview the feeds.

    Feeds are served with their media types, ETag and Last-Modified (304 when
    unchanged), gzip, and the WebSub Link headers, as in production. Ctrl-C stops.

    \b
    Examples:
      feedpub serve
      feedpub serve --watch --port 8080
      feedpub serve --site ~/blog --watch
    """
    from .serve import serve as run

    overrides = {"output": output, "posts": posts}
    run(functools.partial(_load_config, site_dir, config_file, overrides), port, watch, config_file)


@cli.command("server-config")
@click.argument("kind", type=click.Choice(["nginx", "apache"]))  # server_config.KINDS
@_SITE_OPTION
@_CONFIG_OPTION
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="The folder the server serves (default: the configuration's output).")  # fmt: skip
@click.option("--base-url", help="Where it is published (default: the configuration's base_url).")
def server_config(
    kind: str,
    site_dir: Path | None,
    config_file: Path | None,
    output: Path | None,
    base_url: str | None,
) -> None:
    """Print web server configuration for the output folder (nginx or Apache).

    Media types and charset, gzip, caching headers and the WebSub Link headers
    for the configured hubs; nothing of .feedpub/ is served.

    \b
    Examples:
      feedpub server-config nginx > /etc/nginx/snippets/feedpub.conf
      feedpub server-config apache > output/.htaccess
    """
    from .server_config import server_config as text

    config = _load_config(site_dir, config_file, {"output": output, "base_url": base_url})
    click.echo(text(kind, config), nl=False)


def main() -> None:
    """The `feedpub` command, to the end of the process."""
    try:
        cli(prog_name="feedpub")
    finally:
        # Python's shutdown walks every object the collector tracks, more than once: a
        # tenth of a build where nothing changed. Frozen, they are freed all the same.
        gc.freeze()
