"""`feedpub serve`: the output folder over HTTP on 127.0.0.1, for previews.

It answers as the production configurations do (serving.py holds the shared
facts): the right Content-Type with its charset, ETag and Last-Modified from the
file, 304 on If-None-Match / If-Modified-Since, gzip when the client accepts it,
and the WebSub Link headers on feeds. It serves only what is inside the output
folder: no `..`, no symlink that leads out, no hidden file (`.feedpub/`, temp files).
With `watch`, a change to a post (or the static files, or the configuration)
rebuilds the site; a failed rebuild is printed and the server goes on.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import serving
from .config import CONFIG_NAME, Config
from .errors import FeedpubError
from .formats import INDEX_FILE
from .report import PostStatus

HOST = "127.0.0.1"
GZIP_MIN_BYTES = 256
"""Smaller bodies are sent as they are: gzip would make them bigger."""
WATCH_STEP_MS = 300
"""A rebuild waits until the posts have been quiet this long (a bot writes many at once)."""
WATCH_DEBOUNCE_MS = 3000
"""...but never longer than this."""
WATCH_TICK_MS = 500

Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    """socketserver's 5 makes a hub or reader connecting many times at once wait a second."""

    def __init__(self, config: Config, port: int, log: Echo | None = None) -> None:
        self.config = config
        self.root = config.output.resolve()
        self.log = log
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"


def make_server(config: Config, port: int = 8000, log: Echo | None = None) -> PreviewServer:
    """A server bound to 127.0.0.1:`port` (0: any free port); call serve_forever() on it."""
    if not config.output.is_dir():
        raise FeedpubError(f"{config.output}: output folder does not exist (run feedpub build)")
    try:
        return PreviewServer(config, port, log)
    except OSError as e:
        raise FeedpubError(f"{HOST}:{port}: cannot listen: {e.strerror}") from None


def serve(
    load: Callable[[], Config],
    port: int,
    watch: bool,
    config_file: Path | None = None,
    echo: Echo = _stderr,
) -> None:
    """Serve until Ctrl-C (or SIGTERM); with `watch`, build first and after every change.

    `load` reads the configuration (again on each rebuild: it may be what changed);
    `config_file` is the feedpub.toml to watch besides the default one."""
    config = load()
    watcher: _Watcher | None = None
    if watch:
        watcher = _Watcher(load, config, config_file, echo)
        watcher.rebuild("starting")
    server = make_server(config, port, log=echo)
    if watcher:
        watcher.server = server
        watcher.start()
    echo(f"Serving {config.output} at {server.url} (Ctrl-C stops)")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if watcher:
            watcher.stop()
    echo("Stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Watcher:
    """Rebuilds the site when its posts, static files or configuration change."""

    def __init__(
        self, load: Callable[[], Config], config: Config, config_file: Path | None, echo: Echo
    ) -> None:
        self.load = load
        self.config_file = config_file
        self.config = config
        self.echo = echo
        self.server: PreviewServer | None = None
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feedpub-watch", daemon=True)

    def start(self) -> None:
        """Start watching; returns once the watch is in place, so no change is missed."""
        self.thread.start()
        self.ready.wait(timeout=10)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _watched(self) -> tuple[list[Path], Callable[[Any, str], bool]]:
        config = self.config
        settings = {Path(self.config_file or CONFIG_NAME).resolve()}
        if config.site is not None:  # site mode: the generator's _config.yml, and ours beside it
            settings |= {config.site.root / "_config.yml", config.site.root / CONFIG_NAME}
        settings = {p for p in settings if p.is_file()}
        sources = [p.resolve() for p in (config.posts, config.static) if p.is_dir()]
        output = config.output.resolve()
        folders = [*sources, *{p.parent for p in settings}]

        def relevant(change: Any, name: str) -> bool:
            path = Path(name)
            if path in settings:
                return True
            if path.is_relative_to(output):
                return False
            return any(
                path.is_relative_to(folder)
                and not any(part.startswith(".") for part in path.relative_to(folder).parts)
                for folder in sources
            )

        return folders, relevant

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as e:  # say so, and go on serving what is there
            self.echo(f"Watching stopped: {e!r}; the files are still served, not rebuilt")
        finally:
            self.ready.set()

    def _watch(self) -> None:
        import watchfiles  # only `serve --watch` needs it

        folders, relevant = self._watched()
        for changes in watchfiles.watch(
            *folders,
            watch_filter=relevant,
            step=WATCH_STEP_MS,
            debounce=WATCH_DEBOUNCE_MS,
            stop_event=self.stop_event,
            raise_interrupt=False,
            # An empty set every so often: the first one says the watch is in place.
            rust_timeout=WATCH_TICK_MS,
            yield_on_timeout=True,
        ):
            self.ready.set()
            if changes:
                self.rebuild(f"{len(changes)} change{'s' * (len(changes) != 1)}")

    def rebuild(self, why: str) -> None:
        from . import pipeline

        try:
            self.config = self.load()  # the configuration may be what changed
            report = pipeline.build(self.config, ping=False)
        except FeedpubError as e:
            self.echo(f"Rebuild ({why}) failed: {e}; still serving the previous files")
            return
        except Exception as e:  # a preview server outlives a bug; the message says what
            self.echo(f"Rebuild ({why}) failed: internal error {e!r}; still serving")
            return
        if self.server is not None:
            self.server.config = self.config
        for post in report.posts.with_problems:
            for problem in post.problems:
                self.echo(str(problem))
        for problem in report.feed_problems:
            self.echo(str(problem))
        self.echo(
            f"Rebuilt ({why}): {report.count(PostStatus.PUBLISHED)} posts published, "
            f"{len(report.written)} feeds written, {len(report.unchanged)} unchanged"
        )


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: HTTPStatus
    message: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "feedpub-serve"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _refuse(self) -> None:
        self._plain(HTTPStatus.METHOD_NOT_ALLOWED, "GET and HEAD only\n", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _respond(self, body: bool) -> None:
        found = self._locate()
        if isinstance(found, _Refusal):
            self._plain(found.status, found.message, found.headers, body)
            return
        path, rel = found
        try:
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                data = f.read()
        except OSError:
            self._plain(HTTPStatus.NOT_FOUND, "not found\n", body=body)
            return
        content_type = serving.media_type(rel)
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        headers = {
            "Content-Type": content_type,
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
            "X-Content-Type-Options": "nosniff",
        }
        if cache := serving.cache_control(rel):
            headers["Cache-Control"] = cache
        zipped = serving.compressible(content_type) and len(data) >= GZIP_MIN_BYTES
        if zipped:
            headers["Vary"] = "Accept-Encoding"
            if self._accepts_gzip():
                etag = etag[:-1] + '-gzip"'  # another representation, another tag (RFC 9110)
                data = gzip.compress(data, mtime=0)
                headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        links = serving.link_headers(self.server.config, rel)
        if self._not_modified(etag, stat.st_mtime):
            self._send(HTTPStatus.NOT_MODIFIED, headers, links, b"", body)
            return
        self._send(HTTPStatus.OK, headers, links, data, body)

    def _locate(self) -> tuple[Path, str] | _Refusal:
        """The file a request path names, or why there is none."""
        raw = urlsplit(self.path).path
        try:
            decoded = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return _Refusal(HTTPStatus.BAD_REQUEST, "the path is not UTF-8\n", {})
        if not decoded.startswith("/") or "\0" in decoded or "\\" in decoded:
            return _Refusal(HTTPStatus.BAD_REQUEST, "bad path\n", {})
        parts = [p for p in decoded.split("/") if p]
        if ".." in parts:
            return _Refusal(HTTPStatus.FORBIDDEN, "the path leaves the output folder\n", {})
        if any(p.startswith(".") for p in parts):  # .feedpub/, temp files, .htaccess
            return _Refusal(HTTPStatus.NOT_FOUND, "not found\n", {})
        root = self.server.root
        real = Path(os.path.realpath(root.joinpath(*parts)))
        if not real.is_relative_to(root):  # a symlink that leads out
            return _Refusal(HTTPStatus.FORBIDDEN, "the path leaves the output folder\n", {})
        if real.is_dir():
            if not raw.endswith("/"):
                return _Refusal(HTTPStatus.MOVED_PERMANENTLY, "moved\n", {"Location": raw + "/"})
            if not parts and not (real / "index.html").is_file() and (root / INDEX_FILE).is_file():
                # The preview's front page: the index of every feed.
                location = "/" + INDEX_FILE.removesuffix("index.html")
                return _Refusal(
                    HTTPStatus.FOUND, "see the index of feeds\n", {"Location": location}
                )
            real = real / "index.html"
            parts.append("index.html")
        if not real.is_file():
            return _Refusal(HTTPStatus.NOT_FOUND, "not found\n", {})
        return real, "/".join(parts)

    def _accepts_gzip(self) -> bool:
        for item in self.headers.get("Accept-Encoding", "").split(","):
            coding, _, params = item.strip().partition(";")
            if coding.strip().lower() in ("gzip", "x-gzip", "*"):
                q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
                try:
                    return float(q) > 0
                except ValueError:
                    return False
        return False

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            plain = etag.replace('-gzip"', '"')  # either representation of this version
            return "*" in tags or etag in tags or plain in tags or plain[:-1] + '-gzip"' in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return when.tzinfo is not None and int(mtime) <= when.timestamp()

    def _plain(
        self,
        status: HTTPStatus,
        message: str,
        extra: dict[str, str] | None = None,
        body: bool = True,
    ) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8", **(extra or {})}
        if "Location" in headers:
            headers["Location"] = quote(headers["Location"], safe="/%:@!$&'()*+,;=-._~")
        self._send(status, headers, [], message.encode(), body)

    def _send(
        self,
        status: HTTPStatus,
        headers: dict[str, str],
        links: list[str],
        data: bytes,
        body: bool,
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        for link in links:
            self.send_header("Link", link)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and status != HTTPStatus.NOT_MODIFIED:
            try:
                self.wfile.write(data)
            except ConnectionError:  # the reader went away: nothing to say to anyone
                self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")
