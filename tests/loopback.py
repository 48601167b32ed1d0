"""Loopback helpers for the tests: a hub that records what it is sent, free ports, and
the URL a served feed names as its own."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class RecordingHub:
    """Answers each POST with the next scripted (status, delay seconds, extra headers),
    then with `default`; records every request it was sent."""

    script: list[tuple[int, float, dict[str, str]]] = field(default_factory=list)
    default: int = 204
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def topics(self) -> list[str]:
        return sorted(r.form["hub.topic"][0] for r in self.requests)

    def answer(self) -> tuple[int, float, dict[str, str]]:
        with self._lock:
            return self.script.pop(0) if self.script else (self.default, 0.0, {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # socketserver's 5 drops concurrent connects for a second


@contextmanager
def recording_hub(
    script: list[tuple[int, float, dict[str, str]]] | None = None, default: int = 204
) -> Iterator[RecordingHub]:
    hub = RecordingHub(list(script or []), default)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode("ascii")
            status, delay, headers = hub.answer()
            with hub._lock:
                hub.requests.append(
                    Recorded(self.path, dict(self.headers), urllib.parse.parse_qs(body))
                )
            time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()
            except OSError:  # the client gave up waiting (a timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}/hub"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/hub"


def self_link(data: bytes) -> str:
    """A feed's own URL, as the feed says it (JSON Feed's feed_url, or the rel="self" link)."""
    if data.lstrip().startswith(b"{"):
        return str(json.loads(data)["feed_url"])
    return str(etree.fromstring(data).find(".//{*}link[@rel='self']").get("href"))
