"""Production web server configuration for the output folder: nginx and Apache.

`feedpub server-config nginx|apache` prints it. Both say what `feedpub serve`
does (the facts are in serving.py): each feed's media type with its charset,
gzip, `Cache-Control: no-cache` (caches revalidate, so a hub fetching a feed right
after a ping gets the new one, and a 304 costs nothing), ETag and Last-Modified
(the servers' own), the WebSub `Link` headers, no listing, and nothing of
`.feedpub/` or any other hidden file.

The self link is the canonical origin (from `base_url`) with the path exactly as
the client sent it (still percent-encoded, without the query), so it equals the
feed's own `rel="self"` link for every category, whatever its name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from . import __version__, serving
from .config import Config
from .formats import Format

_TEXT_TYPES = sorted(set(serving.COMPRESSIBLE) - {"text/html", "image/svg+xml"})
_GZIP_TYPES = sorted(set(serving.COMPRESSIBLE) - {"text/html"})  # nginx always gzips text/html


def server_config(kind: str, config: Config) -> str:
    """The configuration text for `kind` ('nginx' or 'apache')."""
    return KINDS[kind](config)


def _origin_and_prefix(config: Config) -> tuple[str, str]:
    url = urlsplit(config.base_url)
    return f"{url.scheme}://{url.netloc}", url.path or "/"


def _feed_pattern() -> str:
    return "|".join(re.escape(fmt.file_name) for fmt in Format)


def nginx(config: Config) -> str:
    """A snippet for the `server {}` block of the site's host."""
    origin, prefix = _origin_and_prefix(config)
    output = config.output.resolve()
    where = f"root {output};" if prefix == "/" else f"alias {output}/;"
    feeds = []
    for fmt in Format:
        links = [f"add_header Link '<{hub}>; rel=\"hub\"';" for hub in config.hubs]
        links.append(f"add_header Link '<{origin}$feedpub_path>; rel=\"self\"';")
        link_lines = "\n".join(f"        {line}" for line in links)
        feeds.append(
            f"""
    location ~ /{re.escape(fmt.file_name)}$ {{
        types {{ }}
        default_type {fmt.media_type};
        # The path as the client sent it, without the query: the feed's self URL. A named
        # capture, because nginx escapes numbered ones again ($1: %E6 → %25E6).
        if ($request_uri ~ "^(?<feedpub_path>[^?]*)") {{
        }}
        add_header Cache-Control "{serving.CACHE_CONTROL}";
{link_lines}
    }}"""
        )
    return f"""\
# feedpub {__version__}: serves {output} as {config.base_url}
# Written by `feedpub server-config nginx`; write it again after changing `hub` or `base_url`.
# Include it in the server {{}} block of {urlsplit(config.base_url).hostname}, e.g.
#     include /etc/nginx/snippets/feedpub.conf;
# then `nginx -t && nginx -s reload`.

location ^~ {prefix} {{
    {where}
    autoindex off;
    etag on;
    charset utf-8;
    charset_types {" ".join(_TEXT_TYPES)};
    gzip on;
    gzip_vary on;
    gzip_min_length 256;
    gzip_types {" ".join(_GZIP_TYPES)};
    add_header Cache-Control "{serving.CACHE_CONTROL}";

    # feedpub's own files (.feedpub/: state, manifest, lock, pending pings) and temp files.
    location ~ /\\. {{
        return 404;
    }}

    location ~ \\.opml$ {{
        types {{ }}
        default_type {serving.EXTENSION_TYPES[".opml"]};
        add_header Cache-Control "{serving.CACHE_CONTROL}";
    }}
{"".join(feeds)}
}}
"""


def apache(config: Config) -> str:
    """An `.htaccess` for the output folder (or the body of its `<Directory>`)."""
    origin, _ = _origin_and_prefix(config)
    output = config.output.resolve()
    names = _feed_pattern()
    types = "\n".join(
        f'<Files "{fmt.file_name}">\n    ForceType "{fmt.media_type}; charset=utf-8"\n</Files>'
        for fmt in Format
    )
    hubs = "".join(f'\n        Header append Link "<{hub}>; rel=\\"hub\\""' for hub in config.hubs)
    return f"""\
# feedpub {__version__}: serves {output} as {config.base_url}
# Written by `feedpub server-config apache`; write it again after changing `hub` or `base_url`.
# Save it as {output}/.htaccess (feedpub never touches files it did not write), with
# AllowOverride FileInfo Indexes Options for that folder, or put it in its <Directory>.
# Modules: mime, headers, deflate and filter, rewrite (a2enmod headers deflate rewrite).

Options -Indexes
FileETag MTime Size
AddCharset utf-8 .html .xml .json .opml .css .txt
AddType {serving.EXTENSION_TYPES[".opml"]} .opml
{types}

<IfModule mod_rewrite.c>
    RewriteEngine On
    # feedpub's own files (.feedpub/: state, manifest, lock, pending pings) and temp files.
    RewriteRule (^|/)\\. - [R=404,L]
    # The path as the client sent it, without the query: the feed's self URL.
    RewriteCond %{{THE_REQUEST}} "^\\S+\\s+(?:https?://[^/]+)?([^?\\s]+)"
    RewriteRule (^|/)({names})$ - [E=FEEDPUB_SELF:%1]
</IfModule>

<IfModule mod_deflate.c>
    AddOutputFilterByType DEFLATE text/html {" ".join(_GZIP_TYPES)}
</IfModule>

<IfModule mod_headers.c>
    # mod_deflate adds "-gzip" to the ETag of what it compresses, and then never matches
    # that tag again (Apache bug 45023): a reader polling with it would never get a 304.
    RequestHeader edit* If-None-Match '-gzip"' '"'
    <FilesMatch "\\.(html|xml|json|opml)$">
        Header set Cache-Control "{serving.CACHE_CONTROL}"
    </FilesMatch>
    <FilesMatch "^({names})$">{hubs}
        Header append Link "<{origin}%{{FEEDPUB_SELF}}e>; rel=\\"self\\"" env=FEEDPUB_SELF
    </FilesMatch>
</IfModule>
"""


KINDS = {"nginx": nginx, "apache": apache}
