"""`feedpub server-config`: the printed configurations, run by the real nginx and Apache.

nginx and Apache run on a loopback port with a temporary prefix, the generated
configuration included as a site would include it; the tests skip where they are
not installed (`apt-get install nginx apache2`).
"""

from __future__ import annotations

import grp
import gzip
import http.client
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from feedpub.formats import Format
from tests.helpers import WritePost, run
from tests.loopback import free_port, self_link

HUBS = ("https://hub.example/", "https://h2.example/x?a=1&b=2")
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


@dataclass
class Site:
    output: Path
    base_url: str
    port: int
    prefix: str


def make_site(write_post: WritePost, posts: Path, tmp_path: Path, prefix: str) -> Site:
    write_post(
        "a.md", title="A post", categories=["新媒体", "观察者网"], date="2021-08-09 10:00:00"
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}{prefix}"
    output = tmp_path / "out"
    hub_args = [arg for hub in HUBS for arg in ("--hub", hub)]
    code, _, err = run(
        "build",
        "--posts",
        posts,
        "--output",
        output,
        "--base-url",
        base_url,
        *hub_args,
        "--no-ping",
    )
    assert code == 0, err
    return Site(output, base_url, port, prefix)


def server_config(kind: str, site: Site) -> str:
    hub_lines = "".join(f'"{hub}", ' for hub in HUBS)
    config = site.output.parent / "feedpub.toml"
    config.write_text(f'base_url = "{site.base_url}"\nhub = [{hub_lines}]\noutput = "out"\n')
    code, text, err = run("server-config", kind, "--config", config)
    assert code == 0, err
    return text


def get(site: Site, path: str, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        connection.request(
            "GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.fixture
def nginx(tmp_path: Path) -> str:
    found = shutil.which("nginx", path=SBIN)
    if found is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


@contextmanager
def running_nginx(binary: str, site: Site, snippet: str) -> Iterator[None]:
    """nginx in the foreground, one process, on the site's port, with `snippet` included."""
    prefix = site.output.parent / "nginx"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "feedpub.conf").write_text(snippet)
    mime_types = Path("/etc/nginx/mime.types")
    (prefix / "nginx.conf").write_text(
        f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    {f"include {mime_types};" if mime_types.is_file() else ""}
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{site.port};
        server_name localhost;
        include {prefix}/feedpub.conf;
    }}
}}
"""
    )
    command = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(site.port, process, prefix / "logs" / "error.log")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def check_served_as_feedpub_serve_serves(site: Site) -> None:
    """What both servers must do, as `feedpub serve` does."""
    feeds = {
        "rss.xml": "application/rss+xml",
        "atom.xml": "application/atom+xml",
        "categories/新媒体/观察者网/rss.xml": "application/rss+xml",
        "feed.json": "application/feed+json",
        "categories/新媒体/观察者网/feed.json": "application/feed+json",
        "feeds/index.html": "text/html",
    }
    for rel, kind in feeds.items():
        path = site.prefix + urllib.parse.quote(rel)
        status, headers, body = get(site, path)
        assert status == 200, (path, body[:200])
        assert body == (site.output / rel).read_bytes()
        assert headers["Content-Type"].replace(" ", "").lower() == f"{kind};charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        if rel.endswith(".html"):
            assert "Link" not in headers
            continue
        links = [link.strip() for value in headers.get_all("Link") for link in value.split(",")]
        assert links == [
            *(f'<{hub}>; rel="hub"' for hub in HUBS),
            f'<{self_link(body)}>; rel="self"',
        ]
        # The query is not part of the self URL.
        _, with_query, _ = get(site, path + "?cachebust=1")
        assert f'<{self_link(body)}>; rel="self"' in with_query.get_all("Link")[-1]
        # gzip when asked, with the same bytes inside.
        status, zipped, data = get(site, path, Accept_Encoding="gzip")
        assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(data) == body
        assert "Accept-Encoding" in zipped["Vary"]
        # Validators from the file: 304 on If-None-Match and on If-Modified-Since.
        assert get(site, path, If_None_Match=headers["ETag"])[0] == 304
        assert get(site, path, If_Modified_Since=headers["Last-Modified"])[0] == 304
    status, headers, _ = get(site, site.prefix + "feeds.opml")
    assert status == 200 and headers["Content-Type"].replace(" ", "") == "text/x-opml;charset=utf-8"
    assert "Link" not in headers
    for hidden in (".feedpub/manifest.json", ".feedpub/state.sqlite3", ".feedpub/"):
        assert get(site, site.prefix + hidden)[0] == 404, hidden
    assert get(site, site.prefix + "categories/")[0] in (403, 404)  # no listing
    # A reader polling with what it was told last time gets a 304.
    first = feedparser.parse(site.base_url + "atom.xml")
    assert first.status == 200 and first.entries[0].title == "A post"
    assert feedparser.parse(site.base_url + "atom.xml", etag=first.etag).status == 304
    assert feedparser.parse(site.base_url + "atom.xml", modified=first.modified).status == 304


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["/", "/blog/"])
def test_nginx_serves_the_feeds_with_the_printed_snippet(
    nginx: str, write_post: WritePost, posts: Path, tmp_path: Path, prefix: str
) -> None:
    site = make_site(write_post, posts, tmp_path, prefix)
    with running_nginx(nginx, site, server_config("nginx", site)):
        check_served_as_feedpub_serve_serves(site)


APACHE_MODULES = ("mpm_event", "authz_core", "unixd", "mime", "dir", "headers", "deflate",
                  "filter", "rewrite", "alias")  # fmt: skip


@pytest.fixture
def apache() -> tuple[str, Path]:
    found = shutil.which("apache2", path=SBIN) or shutil.which("httpd", path=SBIN)
    modules = Path("/usr/lib/apache2/modules")
    if found is None or not modules.is_dir():
        pytest.skip("Apache is not installed (apt-get install apache2)")
    return found, modules


@contextmanager
def running_apache(binary: str, modules: Path, site: Site) -> Iterator[None]:
    """Apache in the foreground on the site's port, serving the output folder at the
    site's path, with the printed .htaccess in it."""
    root = site.output.parent / "apache"
    (root / "logs").mkdir(parents=True)
    loads = "\n".join(
        f"LoadModule {name}_module {modules}/mod_{name}.so"
        for name in APACHE_MODULES
        if (modules / f"mod_{name}.so").is_file()
    )
    mount = (
        f"DocumentRoot {site.output}"
        if site.prefix == "/"
        else f"DocumentRoot {root}\nAlias {site.prefix} {site.output}/"
    )
    user = ""
    if os.geteuid() == 0:  # Apache will not serve as root; its workers run as nobody
        nobody = pwd.getpwnam("nobody")
        user = f"User nobody\nGroup {grp.getgrgid(nobody.pw_gid).gr_name}"
    (root / "httpd.conf").write_text(
        f"""
ServerRoot {root}
{loads}
Listen 127.0.0.1:{site.port}
ServerName 127.0.0.1
PidFile {root}/httpd.pid
ErrorLog {root}/logs/error.log
LogLevel warn
Mutex file:{root}
TypesConfig {"/etc/mime.types" if Path("/etc/mime.types").is_file() else "/dev/null"}
{user}
{mount}
<Directory {site.output}>
    AllowOverride All
    Require all granted
</Directory>
"""
    )
    env = {**os.environ, "APACHE_RUN_DIR": str(root), "APACHE_LOCK_DIR": str(root)}
    command = [binary, "-f", str(root / "httpd.conf"), "-DFOREGROUND"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(site.port, process, root / "logs" / "error.log")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["/", "/blog/"])
def test_apache_serves_the_feeds_with_the_printed_htaccess(
    apache: tuple[str, Path], write_post: WritePost, posts: Path, tmp_path: Path, prefix: str
) -> None:
    # Somewhere Apache's workers can read (pytest's folders are private to their user).
    readable = Path(tempfile.mkdtemp(prefix="feedpub-apache-"))
    try:
        readable.chmod(0o755)
        site = make_site(write_post, posts, readable, prefix)
        (site.output / ".htaccess").write_text(server_config("apache", site))
        with running_apache(*apache, site):
            check_served_as_feedpub_serve_serves(site)
    finally:
        shutil.rmtree(readable)


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_printed_configuration_names_every_format_hub_and_the_output_folder(
    write_post: WritePost, posts: Path, tmp_path: Path, kind: str
) -> None:
    site = make_site(write_post, posts, tmp_path, "/news/")
    text = server_config(kind, site)
    assert str(site.output.resolve()) in text and site.base_url in text
    for fmt in Format:
        assert fmt.file_name.replace(".", "\\.") in text and fmt.media_type in text
    for hub in HUBS:
        assert f"<{hub}>; rel=" in text
    assert "text/x-opml" in text and "no-cache" in text
    if kind == "nginx":
        assert "location ^~ /news/ {" in text and f"alias {site.output.resolve()}/;" in text


def test_server_config_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("server-config", "caddy")
    assert code == 2 and "nginx" in err
    code, _, err = run("server-config", "nginx", "--base-url", "ftp://x/")
    assert code == 2 and "base_url" in err


def test_server_config_in_site_mode_serves_the_sites_public_folder(tmp_path: Path) -> None:
    site = tmp_path / "blog"
    (site / "source" / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text(
        "url: https://blog.example/news\nfeed:\n  hub: https://hub.example/\n", "utf-8"
    )
    code, text, err = run("server-config", "nginx", "--site", site)
    assert code == 0, err
    assert f"alias {(site / 'public').resolve()}/;" in text and "location ^~ /news/ {" in text
    assert "add_header Link '<https://hub.example/>; rel=\"hub\"';" in text
