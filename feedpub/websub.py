"""WebSub publishing: after a build, tell each hub which feeds changed.

A ping is one form-encoded POST to a hub, `hub.mode=publish` with `hub.url` and
`hub.topic` both set to the feed's public URL (hubs read one or the other:
PubSubHubbub 0.3 hubs `hub.url`, WebSub-era hubs such as Flask-WebSub
`hub.topic`). Pings run concurrently, each with a timeout and a few retries with
backoff. A ping that still fails is a warning, never a failed build: it is kept
in `.feedpub/websub.json` in the output folder and sent again by the next build.
That file lives beside the incremental state, not in it, because the state is
emptied on every change of settings or version and a pending ping must survive.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from email.message import Message

from . import __version__
from .config import Config
from .errors import FeedpubError
from .formats import Format

PENDING_FILE = ".feedpub/websub.json"
TIMEOUT = 10.0
"""Seconds one request may take (connecting and answering)."""
ATTEMPTS = 3
BACKOFF = 1.0
"""Seconds before the second attempt; doubled before each later one."""
MAX_RETRY_AFTER = 30.0
"""A hub's Retry-After longer than this ends the attempts: the next build tries again."""
DEADLINE = 60.0
"""Seconds the whole ping phase may take; what has not started by then waits for the next build."""
WORKERS = 8
USER_AGENT = f"feedpub/{__version__} (WebSub publisher)"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Folder(Protocol):
    """What this module needs of the output folder (output.OutputFolder)."""

    def read(self, rel: str) -> bytes | None: ...
    def write(self, rel: str, data: bytes) -> bool: ...
    def stat(self, rel: str) -> Any: ...


# Named tuples, not frozen dataclasses: defined at every start-up, also of a build where
# nothing changed (which is mostly start-up), they cost a quarter as much.
class Ping(NamedTuple):
    """One feed to announce to one hub."""

    hub: str
    file: str
    """The feed's path in the output folder; its topic URL follows from `base_url`."""


class PingResult(NamedTuple):
    """What became of one ping."""

    hub: str
    topic: str
    file: str
    ok: bool
    attempts: int
    """Requests sent: 0 when the ping was not tried (hub unreachable, out of time)."""
    detail: str
    """The hub's answer (`HTTP 204`) or why it failed."""

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class PingReport(NamedTuple):
    """What the ping phase of one build did."""

    sent: tuple[PingResult, ...] = ()
    failed: tuple[PingResult, ...] = ()
    """Kept for the next build."""
    skipped: tuple[Ping, ...] = ()
    """Not sent because of `--no-ping`; kept for the next build that pings."""
    notes: tuple[str, ...] = ()
    """Warnings about the pending list itself (it could not be saved)."""

    @property
    def pending(self) -> int:
        return len(self.failed) + len(self.skipped)

    def warnings(self) -> list[str]:
        return [
            f"{r.file}: warning: WebSub ping to {r.hub} failed ({r.detail}); "
            "it will be sent again by the next build"
            for r in self.failed
        ] + [f"{PENDING_FILE}: warning: {note}" for note in self.notes]

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": [r.as_dict() for r in self.sent],
            "failed": [r.as_dict() for r in self.failed],
            "pending": self.pending,
        }


def is_feed(config: Config, rel: str) -> bool:
    """Whether a file of the output folder is a feed (a WebSub topic)."""
    if config.site and rel in config.site.feed_files().values():
        return True  # the site feed, where the generator's feed plugin writes it
    return PurePosixPath(rel).name in {fmt.file_name for fmt in Format}


def topic_url(config: Config, rel: str) -> str:
    """A feed's public URL: the same as its own rel="self" link."""
    from .urls import site_url  # only when a ping is sent

    return site_url(config.base_url, rel)


def ping_hubs(
    config: Config,
    folder: Folder,
    changed: Iterable[str],
    *,
    send: bool = True,
    now: dt.datetime | None = None,
    post: Callable[[str, str, float], tuple[int, str]] | None = None,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    deadline: float = DEADLINE,
) -> PingReport:
    """Ping every hub about every changed feed, and the pings earlier builds left pending.

    Call it under the output folder's lock. `changed` are output paths written by
    this build (anything that is not a feed is ignored). With `send=False`
    nothing is sent and every ping is kept for later.
    """
    now = now or dt.datetime.now(dt.UTC)
    pending = _load_pending(folder)
    wanted = {Ping(hub, rel) for hub in config.hubs for rel in changed if is_feed(config, rel)}
    for ping in wanted:
        pending.setdefault(ping, now.isoformat(timespec="seconds"))
    # A hub no longer configured, or a feed no longer there, is not pinged.
    pending = {
        ping: since
        for ping, since in pending.items()
        if ping.hub in config.hubs and folder.stat(ping.file) is not None
    }
    batch = sorted(pending)
    # Saved before sending: a build killed mid-ping sends them again next time.
    notes = _save_pending(folder, pending)
    if not batch:
        return PingReport(notes=notes)
    if not send:
        return PingReport(skipped=tuple(batch), notes=notes)
    results = _send_all(
        [(p, topic_url(config, p.file)) for p in batch],
        post or _post,
        timeout=timeout,
        attempts=attempts,
        backoff=backoff,
        deadline=deadline,
    )
    failed = tuple(r for r in results if not r.ok)
    notes = _save_pending(
        folder, {Ping(r.hub, r.file): pending[Ping(r.hub, r.file)] for r in failed}
    )
    return PingReport(sent=tuple(r for r in results if r.ok), failed=failed, notes=notes)


def _send_all(
    pings: Sequence[tuple[Ping, str]],
    post: Callable[[str, str, float], tuple[int, str]],
    *,
    timeout: float,
    attempts: int,
    backoff: float,
    deadline: float,
) -> list[PingResult]:
    """Every ping, concurrently. A hub that could not be reached at all is not tried
    again in this build: its other pings would only wait out the same timeout."""
    ends = time.monotonic() + deadline
    unreachable: dict[str, str] = {}
    lock = threading.Lock()

    def one(item: tuple[Ping, str]) -> PingResult:
        ping, topic = item
        with lock:
            down = unreachable.get(ping.hub)
        if down is not None:
            return PingResult(ping.hub, topic, ping.file, False, 0, f"not tried: {down}")
        if time.monotonic() >= ends:
            return PingResult(ping.hub, topic, ping.file, False, 0, "not tried: out of time")
        result, reached = _send(ping, topic, post, timeout, attempts, backoff, ends)
        if not reached:
            with lock:
                unreachable.setdefault(ping.hub, f"the hub could not be reached ({result.detail})")
        return result

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(WORKERS, len(pings)), thread_name_prefix="ping") as ex:
        return list(ex.map(one, pings))


def _send(
    ping: Ping,
    topic: str,
    post: Callable[[str, str, float], tuple[int, str]],
    timeout: float,
    attempts: int,
    backoff: float,
    ends: float,
) -> tuple[PingResult, bool]:
    """One ping with its retries; and whether the hub answered at all."""
    body = urllib.parse.urlencode(
        [("hub.mode", "publish"), ("hub.url", topic), ("hub.topic", topic)]
    )
    reached = False
    detail = ""
    for attempt in range(1, attempts + 1):
        wait = backoff * 2 ** (attempt - 1)
        try:
            status, retry_after = post(ping.hub, body, timeout)
        except (OSError, ValueError) as e:  # refused, reset, timed out, DNS; a bad URL
            detail = _reason(e)
        else:
            reached = True
            detail = f"HTTP {status}"
            if 200 <= status < 300:
                return PingResult(ping.hub, topic, ping.file, True, attempt, detail), True
            if status not in _RETRY_STATUSES:
                break  # the hub said no; asking again now would get the same answer
            if retry_after:
                hinted = _retry_after_seconds(retry_after)
                if hinted is None or hinted > MAX_RETRY_AFTER:
                    detail += f", retry after {retry_after}"
                    break
                wait = max(wait, hinted)
        if attempt == attempts or time.monotonic() + wait >= ends:
            break
        time.sleep(wait)
    tries = f" after {attempt} tries" if attempt > 1 else ""
    return PingResult(ping.hub, topic, ping.file, False, attempt, detail + tries), reached


@functools.cache
def _opener() -> Any:
    """urllib's opener, but a redirect is the hub's answer, reported, not followed: urllib
    would turn a redirected POST into a GET that 'succeeds' without publishing anything.
    (Imported here: urllib.request and ssl cost a build that pings nothing.)"""
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects())


def _post(hub: str, body: str, timeout: float) -> tuple[int, str]:
    """POST the form to the hub: (status, Retry-After or "")."""
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        hub,
        data=body.encode("ascii"),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return response.status, ""
    except http.client.HTTPException as e:  # not HTTP at all: a wrong port, a broken proxy
        raise OSError(f"the answer is not HTTP ({type(e).__name__})") from None
    except urllib.error.HTTPError as e:
        headers: Message = e.headers
        e.close()
        return e.code, headers.get("Retry-After", "")


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)  # urllib's URLError wraps the socket's error
    if isinstance(reason, BaseException):
        error = reason
    if isinstance(error, TimeoutError):
        return "timed out"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _retry_after_seconds(value: str) -> float | None:
    if value.strip().isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _load_pending(folder: Folder) -> dict[Ping, str]:
    """Pings earlier builds could not send → since when they wait. A damaged or unreadable
    file is empty: the feeds are published all the same, and the next change pings again."""
    try:
        data = folder.read(PENDING_FILE)
        entries = json.loads(data)["pending"] if data else []
        return {Ping(e["hub"], e["file"]): str(e["since"]) for e in entries}
    except (OSError, FeedpubError, ValueError, KeyError, TypeError):
        return {}


def _save_pending(folder: Folder, pending: dict[Ping, str]) -> tuple[str, ...]:
    """Save the list; a failure is a note, never a failed build (the feeds are written)."""
    try:
        if not pending and folder.read(PENDING_FILE) is None:
            return ()
        entries = [
            {"hub": p.hub, "file": p.file, "since": since} for p, since in sorted(pending.items())
        ]
        data = {"generator": "feedpub", "pending": entries}
        folder.write(PENDING_FILE, json.dumps(data, ensure_ascii=False, indent=1).encode() + b"\n")
    except (OSError, FeedpubError) as e:
        return (f"cannot save the pings still to send ({e}); they may be lost",)
    return ()
