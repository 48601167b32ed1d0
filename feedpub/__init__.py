"""feedpub: a folder of Markdown posts in, standards-valid RSS 2.0, Atom 1.0 and JSON Feed out.

For use from Python::

    import feedpub

    config = feedpub.load_config(None, {"posts": "posts", "output": "public/feeds"})
    report = feedpub.build(config)
    print(report.exit_code(), report.written)
    problems = feedpub.validate_feed(data, "feed.xml")

The names are imported when first used, so `import feedpub` (and a build in which
nothing changed) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .config import Config, load_config
    from .errors import ConfigError, ExitCode, FeedpubError, LockTimeout, OutputError
    from .formats import Format
    from .models import Problem, Severity
    from .pipeline import build, check
    from .report import PostReport, PostStatus, Report
    from .validation import validate_feed

_HOMES = {
    "Config": "config",
    "load_config": "config",
    "ConfigError": "errors",
    "ExitCode": "errors",
    "FeedpubError": "errors",
    "LockTimeout": "errors",
    "OutputError": "errors",
    "Format": "formats",
    "Problem": "models",
    "Severity": "models",
    "build": "pipeline",
    "check": "pipeline",
    "PostReport": "report",
    "PostStatus": "report",
    "Report": "report",
    "validate_feed": "validation",
}
__all__ = [  # the same names as _HOMES: tests/test_api.py holds them together
    "Config",
    "ConfigError",
    "ExitCode",
    "FeedpubError",
    "Format",
    "LockTimeout",
    "OutputError",
    "PostReport",
    "PostStatus",
    "Problem",
    "Report",
    "Severity",
    "__version__",
    "build",
    "check",
    "load_config",
    "validate_feed",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module 'feedpub' has no attribute {name!r}")
