"""WebSub end to end, on loopback: a real hub (Flask-WebSub's), its real subscriber, the
feeds served by `feedpub serve`, and a cron-style `feedpub build` in its own process.

The subscriber finds the hub and the topic as any subscriber would (from the Link
headers of the served feed), subscribes, and the hub verifies it; then a new post is
built, feedpub pings the hub, the hub fetches the feed from `serve` and delivers it to
the subscriber. Skipped unless Flask-WebSub and Celery are installed (`pip install -e
'.[test]'`); the hub runs its Celery tasks eagerly, in the request, so no broker is needed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feedpub.config import load_config
from feedpub.serve import make_server
from tests.helpers import PROJECT, WritePost, run
from tests.loopback import free_port

flask = pytest.importorskip("flask")
pytest.importorskip("celery")
pytest.importorskip("flask_websub")


@contextmanager
def serving_app(app: Any, port: int) -> Iterator[None]:
    from werkzeug.serving import make_server as make_wsgi_server

    app.config["SERVER_NAME"] = f"127.0.0.1:{port}"
    server = make_wsgi_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with app.app_context():
            yield
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def websub_hub(folder: Path) -> Iterator[str]:
    """Flask-WebSub's hub on 127.0.0.1; yields its URL."""
    from celery import Celery
    from flask_websub.hub import Hub, SQLite3HubStorage

    celery = Celery("hub", broker="memory://", backend="cache+memory://")
    celery.conf.task_always_eager = True
    app = flask.Flask("hub")
    app.config["PUBLISH_SUPPORTED"] = True  # the hub accepts hub.mode=publish
    hub = Hub(SQLite3HubStorage(str(folder / "hub.sqlite3")), celery, REQUEST_TIMEOUT=5)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    port = free_port()
    with serving_app(app, port):
        yield f"http://127.0.0.1:{port}/hub"


@contextmanager
def websub_subscriber(folder: Path) -> Iterator[Any]:
    from flask_websub.subscriber import (
        SQLite3SubscriberStorage,
        SQLite3TempSubscriberStorage,
        Subscriber,
    )

    database = str(folder / "subscriber.sqlite3")
    subscriber = Subscriber(
        SQLite3SubscriberStorage(database), SQLite3TempSubscriberStorage(database)
    )
    app = flask.Flask("subscriber")
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    with serving_app(app, free_port()):
        yield subscriber


def wait_for(event: threading.Event, what: str, seconds: float = 20) -> None:
    assert event.wait(seconds), f"timed out waiting for {what}"


@pytest.mark.slow
def test_a_real_hub_delivers_a_new_post_to_a_real_subscriber(
    write_post: WritePost, posts: Path, tmp_path: Path
) -> None:
    from flask_websub.subscriber import discover

    write_post("old.md", title="Old news", categories=["世界"], date="2021-08-09 10:00:00")
    serve_port = free_port()
    base_url = f"http://127.0.0.1:{serve_port}/"
    with websub_hub(tmp_path) as hub_url, websub_subscriber(tmp_path) as subscriber:
        config_file = tmp_path / "feedpub.toml"
        config_file.write_text(
            f'base_url = "{base_url}"\nhub = "{hub_url}"\nposts = "posts"\noutput = "out"\n'
        )
        assert run("build", "--config", config_file, "--no-ping")[0] == 0
        server = make_server(load_config(config_file), serve_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            # Subscribe as a subscriber does: discover the hub and topic from the feed's URL.
            topic_url = base_url + "categories/%E4%B8%96%E7%95%8C/rss.xml"  # 世界
            found = discover(topic_url)
            assert found == {"hub_url": hub_url, "topic_url": topic_url}
            subscribed, delivered = threading.Event(), threading.Event()
            bodies: list[tuple[str, bytes]] = []
            subscriber.add_success_handler(lambda topic, cid, mode: subscribed.set())
            subscriber.add_error_handler(lambda topic, cid, reason: pytest.fail(reason))

            def listener(topic: str, callback_id: str, body: bytes) -> None:
                bodies.append((topic, body))
                if b"Breaking news" in body:
                    delivered.set()

            subscriber.add_listener(listener)
            subscriber.subscribe(**found)
            wait_for(subscribed, "the hub to verify the subscription")

            # A new post, and the build cron would run, in a process of its own.
            write_post("new.md", title="Breaking news", categories=["世界"], date="2021-08-10")
            report = tmp_path / "report.json"
            built = subprocess.run(
                [sys.executable, "-m", "feedpub", "build", "--config", str(config_file),
                 "--quiet", "--report", str(report)],
                capture_output=True, text=True, timeout=120,
                env={**os.environ, "PYTHONPATH": str(PROJECT)},
            )  # fmt: skip
            assert built.returncode == 0 and built.stderr == "", built.stderr
            wait_for(delivered, "the hub to deliver the new feed")
        finally:
            server.shutdown()
            server.server_close()
    topic, body = next((t, b) for t, b in bodies if b"Breaking news" in b)
    assert topic == found["topic_url"]
    parsed = feedparser.parse(io.BytesIO(body))
    assert [e.title for e in parsed.entries] == ["Breaking news", "Old news"]
    pings = json.loads(report.read_text())["pings"]
    assert pings["failed"] == [] and pings["pending"] == 0
    assert found["topic_url"] in {p["topic"] for p in pings["sent"]}
    assert all(p["hub"] == hub_url and p["detail"] == "HTTP 202" for p in pings["sent"])
