"""A Hugo site made from a benchmark corpus, so Hugo and feedpub publish the same feeds.

    python benchmarks/hugo_site.py POSTS SITE        # then: hugo --source SITE

The layout (what the benchmark compares feedpub with):

    SITE/hugo.toml                       baseURL, 20 items per feed, RSS output only,
                                         raw HTML passed through (the bodies are scraped HTML)
    SITE/layouts/_default/rss.xml        Hugo's own RSS template, with the full content in
                                         <description> (feedpub publishes full content) and
                                         the section's posts at every depth
    SITE/content/_index.md               the site; a cascade keeps posts (render: link) from being
                                         rendered as pages of their own (only feeds are made)
    SITE/content/<top>/<source>/<section>/_index.md   one Hugo section per category node
    SITE/content/<top>/<source>/<section>/<post>.md   each post, with its own front matter

so Hugo writes one RSS feed for the site and one for every node of the category tree, as
feedpub does (feedpub also writes Atom). Posts are copied byte for byte, except that a
front matter line Hugo cannot read is left out: a `date: Invalid Date`, which Hugo refuses
and feedpub replaces by the file's time, and blank lines before the opening `---`.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import yaml

CONFIG = """\
baseURL = "{base_url}"
title = "bench"
languageCode = "zh-cn"
disableKinds = ["taxonomy", "term", "sitemap", "robotsTXT", "404"]
enableRobotsTXT = false

[services.rss]
limit = 20

[outputs]
home = ["RSS"]
section = ["RSS"]

[markup.goldmark.renderer]
unsafe = true
"""

# Hugo 0.111's embedded rss.xml, with .Content for .Summary and every post below a section.
RSS_TEMPLATE = """\
{{- $pages := .Site.RegularPages -}}
{{- if not .IsHome -}}{{- $pages = .RegularPagesRecursive -}}{{- end -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}{{- $pages = $pages | first $limit -}}{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{{ if eq .Title .Site.Title }}{{ .Site.Title }}{{ else }}{{ with .Title }}{{ . }} on {{ end }}{{ .Site.Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content {{ if ne .Title .Site.Title }}{{ with .Title }}in {{ . }} {{ end }}{{ end }}on {{ .Site.Title }}</description>
    <generator>Hugo -- gohugo.io</generator>
    <language>{{ site.LanguageCode }}</language>
    {{- if not .Date.IsZero }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>
    {{- end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      <description>{{ .Content | html }}</description>
    </item>
    {{- end }}
  </channel>
</rss>
"""

SITE_INDEX = """\
---
title: bench
cascade:
  - _target:
      kind: page
    _build:
      render: link
---
"""

_OPENING = re.compile(r"\A\s*---\n")
_INVALID_DATE = re.compile(r"^date:[ \t]*Invalid Date[ \t]*$\n?", re.MULTILINE)
_UNSAFE = re.compile(r"[/\\\0]|^\.+$")


def make_site(posts: Path, site: Path, base_url: str) -> int:
    """Write the site (replacing one that is there); returns the number of posts copied."""
    shutil.rmtree(site, ignore_errors=True)
    content = site / "content"
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "hugo.toml").write_text(CONFIG.format(base_url=base_url))
    (site / "layouts" / "_default" / "rss.xml").write_text(RSS_TEMPLATE)
    content.mkdir()
    (content / "_index.md").write_text(SITE_INDEX)
    sections: set[tuple[str, ...]] = set()
    count = 0
    for path in sorted(posts.rglob("*.md")):
        text = path.read_text("utf-8")
        opening = _OPENING.match(text)
        if not opening:
            continue
        end = text.find("\n---\n", opening.end() - 1)
        if end < 0:
            continue
        front = _INVALID_DATE.sub("", text[opening.end() : end + 1])
        node = _category_path(front)
        folder = content.joinpath(*node)
        for depth in range(1, len(node) + 1):
            if node[:depth] not in sections:
                sections.add(node[:depth])
                index = content.joinpath(*node[:depth], "_index.md")
                index.parent.mkdir(parents=True, exist_ok=True)
                index.write_text(f"---\ntitle: {yaml.safe_dump(node[depth - 1]).strip()}\n---\n")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).write_text(f"---\n{front}---\n{text[end + 5 :]}", "utf-8")
        count += 1
    return count


def _category_path(front: str) -> tuple[str, ...]:
    try:
        meta = yaml.load(front, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return ()
    value = meta.get("categories") if isinstance(meta, dict) else None
    names = value if isinstance(value, list) else [value] if value else []
    return tuple(
        _UNSAFE.sub("-", str(name)) for name in names if isinstance(name, str | int) and name != ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("posts", type=Path)
    parser.add_argument("site", type=Path)
    parser.add_argument("--base-url", default="https://bench.example.org/")
    args = parser.parse_args()
    print(f"{make_site(args.posts, args.site, args.base_url)} posts copied into {args.site}")


if __name__ == "__main__":
    main()
