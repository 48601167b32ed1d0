"""Deterministic benchmark corpora: N Hexo-style posts like the ones scraping bots write.

    python benchmarks/corpus.py OUT N [--seed S] [--body-bytes B]

Post n depends only on (seed, n), so the first 1,000 posts of a 10,000-post corpus
are the 1,000-post corpus. Posts nest as <area>/<source>/<section>/<date>-<n>.md,
as on the real site; front matter is the bot's (title, a three-level category path,
headimg and thumbnail from picsum.photos, author, comments, an RFC 2822 date). 95% of
bodies are scraped HTML and 5% Markdown, log-normally sized around 6 KB; about 1% of
dates are the bot's "Invalid Date". `--body-bytes` makes every body about B bytes instead
(a million posts of 1 KB keep the disk use sane).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sys
from pathlib import Path

AREAS = {
    "新媒体": {
        "观察者网": ["首页", "国际"],
        "金色财经": ["快讯"],
        "36氪": ["快讯", "深度"],
        "澎湃新闻": ["时事"],
    },
    "编程": {
        "开源中国": ["资讯", "博客"],
        "掘金": ["前端", "后端"],
        "V2EX": ["技术"],
        "博客园": ["首页"],
    },
    "科技": {"cnBeta": ["资讯"], "IT之家": ["最新"], "煎蛋": ["新鲜事"], "少数派": ["文章"]},
    "财经": {"华尔街见闻": ["快讯", "要闻"], "雪球": ["热帖"], "第一财经": ["头条"]},
    "Tech": {
        "Hacker News": ["Front Page", "Show HN"],
        "LWN": ["Headlines"],
        "Lobsters": ["Hottest"],
    },
    "World": {"BBC News": ["Asia", "Business"], "The Guardian": ["World"], "Reuters": ["Markets"]},
}
SOURCES = [
    (area, source, sections)
    for area, sources in AREAS.items()
    for source, sections in sources.items()
]
WEIGHTS = [1 / (rank + 1) for rank in range(len(SOURCES))]  # a few sources write most posts
ZH = "疫情 防控 经济 发展 市场 企业 政策 数据 技术 创新 平台 用户 开源 芯片 投资 监管 会议 发布 版本 系统 社区 代码 城市 学校 汽车 电池 季度 营收".split()
EN = "the of and to in for on with release kernel browser compiler security market data model server memory latency Linux Rust Python GPU".split()
START = dt.datetime(2019, 8, 10, tzinfo=dt.UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600


def sentence(r: random.Random, english: bool) -> str:
    words = [r.choice(EN if english else ZH) for _ in range(r.randint(6, 20))]
    return (" ".join(words).capitalize() + ".") if english else ("".join(words) + "。")


def html_body(r: random.Random, n: int, size: int, english: bool) -> str:
    parts = ["<div>   "]
    while _bytes(parts) < size:
        roll = r.random()
        if roll < 0.07:
            parts.append(
                f'<p><img src="https://picsum.photos/800/600?random={n}{len(parts)}" referrerpolicy="no-referrer"></p>'
            )
        elif roll < 0.12:
            parts.append(
                f'<p><a href="https://example.com/a/{n}-{len(parts)}?utm_source=rss&amp;ref=feed">{sentence(r, english)}</a></p>'
            )
        else:
            text = " ".join(sentence(r, english) for _ in range(r.randint(1, 5)))
            parts.append(
                f"<p>\n{text}\n</p>"
                if r.random() < 0.7
                else f"<p><strong>{text[:30]}</strong>{text[30:]}</p>"
            )
    return "\n".join([*parts, "</div>"]) + "\n"


def markdown_body(r: random.Random, n: int, size: int, english: bool) -> str:
    parts: list[str] = []
    while _bytes(parts) < size:
        roll = r.random()
        if roll < 0.1:
            parts.append("## " + sentence(r, english).rstrip("。."))
        elif roll < 0.2:
            parts.append("\n".join(f"- {sentence(r, english)}" for _ in range(3)))
        elif roll < 0.25:
            parts.append(f"```python\nprint({n})  # {r.choice(EN)}\n```")
        else:
            parts.append(
                " ".join(sentence(r, english) for _ in range(r.randint(1, 4)))
                + f" [link](https://example.com/md/{n})"
            )
    return "\n\n".join(parts) + "\n"


def _bytes(parts: list[str]) -> int:
    return sum(len(p.encode()) for p in parts)


def post(seed: str, n: int, body_bytes: int | None = None) -> tuple[str, str]:
    """(relative path, text) of post n; bodies of about `body_bytes` if given."""
    r = random.Random(f"{seed}/{n}")
    area, source, sections = r.choices(SOURCES, weights=WEIGHTS)[0]
    section = r.choice(sections)
    english = area in ("Tech", "World")
    when = START + dt.timedelta(seconds=r.randrange(SPAN_SECONDS))
    size = int(min(30_000, max(800, r.lognormvariate(math.log(6000), 0.6))))
    size = body_bytes or size
    body = (
        markdown_body(r, n, size, english) if r.random() < 0.05 else html_body(r, n, size, english)
    )
    title = sentence(r, english)[:60].replace("'", "''")
    image = f"https://picsum.photos/400/300?random={r.randrange(10000)}"
    date = "Invalid Date" if r.random() < 0.01 else when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    text = (
        f"\n---\ntitle: '{title}'\ncategories: \n - {area}\n - {source}\n - {section}\n"
        f"headimg: '{image}'\nauthor: {source}\ncomments: false\ndate: {date}\nthumbnail: '{image}'\n---\n\n{body}"
    )
    return f"{area}/{source}/{section}/{when:%Y-%m-%d}-{n}.md", text


def generate(
    out: Path, count: int, seed: str = "feedpub", body_bytes: int | None = None
) -> dict[str, object]:
    """Write the corpus to `out` (replacing one that is there) and describe it."""
    posts = out / "posts"
    if posts.exists():
        for old in posts.rglob("*.md"):
            old.unlink()
    total = 0
    for n in range(1, count + 1):
        rel, text = post(seed, n, body_bytes)
        path = posts / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
    summary = {"posts": count, "seed": seed, "body_bytes": body_bytes, "bytes": total}
    (out / "corpus.json").write_text(json.dumps(summary) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", default="feedpub")
    parser.add_argument("--body-bytes", type=int, help="every body about this size")
    args = parser.parse_args(argv)
    json.dump(generate(args.out, args.count, args.seed, args.body_bytes), sys.stdout)
    print()


if __name__ == "__main__":
    main()
