"""Hostile feed entries and hostile web servers, generated deterministically.

Every script payload, if it ever ran in a page, would set `window.__xss` and open a
dialog, so a browser can tell a live payload from inert text. Entries are written into
feeds as a hostile CMS would: escaped text, raw markup in CDATA, entities a feed
double-encoded, links of every scheme, invalid bytes, and documents built to exhaust
a parser (entity expansion, external entities, deep nesting).
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape

from local.webserver import Resource


def _live(tag: str) -> str:
    return f"window.__xss='{tag}';alert('{tag}')"


# Text payloads: markup, script and event handlers, injections aimed at templates, email
# headers, logs and X itself, invisible and direction-changing characters, long text.
TEXT_PAYLOADS: list[str] = [
    f"<script>{_live('script')}</script>",
    f'<img src=x onerror="{_live("img")}">',
    f"<svg/onload={_live('svg')}>",
    f'"><script>{_live("attr")}</script>',
    f"'><img src=x onerror={_live('quote')}>",
    f"</textarea><script>{_live('textarea')}</script>",
    f"</title><script>{_live('title')}</script>",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    f'<a href="javascript:{_live("href")}">read more</a>',
    f"<body onload={_live('body')}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={_live('mxss')}>",
    f"<scr<script>ipt>{_live('nested')}</scr</script>ipt>",
    f"<details open ontoggle={_live('toggle')}>",
    f"<input autofocus onfocus={_live('focus')}>",
    "<style>@import 'http://evil.example/x.css';</style><link rel=stylesheet href=//evil.example/x.css>",
    f'<object data="javascript:{_live("object")}"></object><embed src=javascript:{_live("embed")}>',
    f'<meta http-equiv=refresh content="0;url=javascript:{_live("refresh")}">',
    f"<form action=javascript:{_live('form')}><button>go</button></form>",
    "{{7*7}} ${7*7} {hook} {link} %s %(title)s {{config}} <%= 7*7 %>",
    "Subject line\r\nBcc: everyone@evil.example\r\n\r\nInjected body",
    "\x1b[31mred\x1b[0m log line\nFAKE LOG: publish succeeded for everything",
    "\u202egnp.exe\u202c report \u2066hidden\u2069 \u200b\u200d zero width \ufeff",
    "@everyone @TweepyDev hello $TSLA #ad .@elonmusk ＠fullwidth",
    "Ｚ̸̡̢̛̗̱̬̲̼̿̊̈́a̷̧̛̗̱̬̲̼̿̊̈́l̷̡̛̗̱̬̲̼̿̊̈́g̷̡̛̗̱̬̲̼̿̊̈́ơ̷̡̗̱̬̲̼̿̊̈́ 🏳️‍🌈👨‍👩‍👧‍👦 河川の水質 تقرير البحث",
    "javascript:alert(1) data:text/html,<script>alert(2)</script> visit https://evil.example/login now",
    "A" * 10_240,
    ("Long title " + f"<script>{_live('long')}</script> ") * 250,
    "x" * 300 + "@" + "y" * 300,
    "'; DROP TABLE drafts; -- \" OR 1=1 -- ",
    "\\u003cscript\\u003e" + _live("json") + "\\u003c/script\\u003e",
]
# Markup entities a feed encoded twice: plain text once, markup once decoded.
DOUBLE_ENCODED = [f"&lt;script&gt;{_live('double')}&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"]

# Links no post may ever carry, and links that are fine once resolved.
UNSAFE_LINKS = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.org/report.pdf",
    "mailto:press@example.org",
    "about:blank",
    "chrome://settings",
    "\u202ehttps://evil.example",
]
SAFE_LINK_SHAPES = [
    "{base}/news/{slug}",
    "/news/{slug}",  # relative: resolved against the feed's URL
    "//127.0.0.1:{port}/news/{slug}",  # protocol-relative
    '{base}/news/{slug}?q="><script>alert(1)</script>',
    "{base}/news/{slug}#<img src=x onerror=alert(1)>",
    "{base}/news/" + "x" * 4000,
    "{base}/news/\u202e{slug}",
    "http://user:secret@127.0.0.1:{port}/news/{slug}",
]
CATEGORY_PAYLOADS = [
    "Report",
    "Research",
    "<script>alert('category')</script>",
    "Report\u202e",
    "Report\r\nX: y",
]


@dataclass
class HostileEntry:
    title: str
    link: str
    summary: str
    categories: list[str]
    guid: str
    raw: bool = False  # the title and summary go into the feed as CDATA, markup and all
    double: bool = False  # the title is markup a feed encoded twice


@dataclass
class HostileFeed:
    id: str
    path: str
    entries: list[HostileEntry] = field(default_factory=list)
    flavour: str = "rss"  # rss | atom | latin1 | bad-utf8 | control-chars | xxe | laughs | nesting
    note: str = ""


def entries(rng: random.Random, count: int, base: str, port: int, prefix: str) -> list[HostileEntry]:
    out = []
    for n in range(count):
        slug = f"{prefix}-{n}"
        payload = TEXT_PAYLOADS[n % len(TEXT_PAYLOADS)]
        if rng.random() < 0.35:
            link = rng.choice(UNSAFE_LINKS)
        else:
            link = rng.choice(SAFE_LINK_SHAPES).format(base=base, port=port, slug=slug)
        double = rng.random() < 0.1
        title = f"Research report {prefix} {n}: {rng.choice(DOUBLE_ENCODED) if double else payload}"
        out.append(
            HostileEntry(
                title=title,
                link=link,
                summary=rng.choice(TEXT_PAYLOADS)[:2000],
                categories=[rng.choice(CATEGORY_PAYLOADS), "Report"],
                guid=f"{prefix}-{n}-" + rng.choice(["", "<script>", "javascript:x", "\u202e"]),
                raw=rng.random() < 0.3,
                double=double,
            )
        )
    return out


def _text(value: str, raw: bool) -> str:
    if raw and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


def _xml_safe(value: str) -> str:
    """XML 1.0 forbids most control characters: a well-formed feed leaves them out."""
    return "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 0x20)


def feed_bytes(feed: HostileFeed, base: str, now: datetime) -> bytes:
    items = []
    for n, entry in enumerate(feed.entries):
        keep_controls = feed.flavour == "control-chars"
        clean = (lambda s: s) if keep_controls else _xml_safe
        title = entry.title
        # (a double-encoded title holds entity text already; escaping it once more is the second time)
        title_xml = _text(clean(title), entry.raw and not entry.double)
        published = format_datetime(now - timedelta(hours=1, minutes=n))
        cats = "".join(f"<category>{escape(clean(c))}</category>" for c in entry.categories)
        if feed.flavour == "atom":
            items.append(
                f'<entry><title type="html">{escape(clean(title))}</title>'
                f'<link href="{escape(entry.link, quote=True)}"/><id>{escape(clean(entry.guid))}</id>'
                f"<updated>{(now - timedelta(hours=1, minutes=n)).isoformat()}</updated>"
                + "".join(f'<category term="{escape(clean(c), quote=True)}"/>' for c in entry.categories)
                + f'<summary type="html">{escape(clean(entry.summary))}</summary></entry>'
            )
            continue
        extra = ""
        if feed.flavour == "xxe":
            extra = "<description>&xxe;</description>"
        elif feed.flavour == "laughs":
            extra = "<description>&lol9;</description>"
        elif feed.flavour == "nesting" and n == 0:
            extra = "<description>" + "<div>" * 50_000 + "deep" + "</div>" * 50_000 + "</description>"
        items.append(
            f"<item><title>{title_xml}</title><link>{escape(clean(entry.link))}</link>"
            f'<guid isPermaLink="false">{escape(clean(entry.guid))}</guid><pubDate>{published}</pubDate>{cats}'
            f"<description>{_text(clean(entry.summary), entry.raw)}</description>{extra}</item>"
        )
    if feed.flavour == "atom":
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{feed.id}</title><id>{base}{feed.path}</id><updated>{now.isoformat()}</updated>"
            + "".join(items)
            + "</feed>"
        )
        return doc.encode()
    doctype = ""
    if feed.flavour == "xxe":
        doctype = '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    elif feed.flavour == "laughs":
        doctype = (
            '<!DOCTYPE rss [<!ENTITY lol0 "lol">'
            + "".join(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(1, 10))
            + "]>"
        )
    encoding = "iso-8859-1" if feed.flavour == "latin1" else "utf-8"
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>{doctype}<rss version="2.0"><channel>'
        f"<title>{feed.id}</title><link>{base}/</link><description>hostile</description>"
        + "".join(items)
        + "</channel></rss>"
    )
    data = doc.encode("utf-8")  # a latin-1 declaration over UTF-8 bytes: a CMS's mislabel
    if feed.flavour == "bad-utf8":
        data = data.replace(b"Research report", b"Research \xff\xfe\xc3\x28 report")
    return data


FLAVOURS = ["atom", "latin1", "bad-utf8", "control-chars", "xxe", "laughs", "nesting"]


def hostile_feeds(count: int, per_feed: int, base: str, port: int, seed: int = 1) -> list[HostileFeed]:
    rng = random.Random(seed)
    feeds = []
    for n in range(count):
        flavour = FLAVOURS[n] if n < len(FLAVOURS) else "rss"
        feed = HostileFeed(f"hostile{n:02d}", f"/hostile/{n:02d}.xml", flavour=flavour)
        feed.entries = entries(rng, per_feed, base, port, f"h{n:02d}")
        feeds.append(feed)
    return feeds


# -- hostile servers -----------------------------------------------------------------------------


@dataclass
class HostileServer:
    id: str
    path: str
    resource: Resource | None  # None: nothing listens (the path points elsewhere)
    expect: str  # a pattern the feed's error must match (case-insensitive), so the reason is clear
    what: str
    url: str | None = None


def hostile_servers(good_feed: bytes) -> list[HostileServer]:
    fifty_mb = 50_000_000
    bomb = gzip.compress(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>bomb</title>' + b" " * 60_000_000, 9
    )
    too_big = "limit|too large|larger"
    too_slow = "gave up|too slow|slowly|time ran out"
    return [
        HostileServer(
            "endless", "/srv/endless.xml", Resource(endless=fifty_mb), too_big, "50 MB body, no length"
        ),
        HostileServer(
            "declared",
            "/srv/declared.xml",
            Resource(body=b"<rss>" + b"x" * fifty_mb),
            too_big,
            "50 MB body with its Content-Length",
        ),
        HostileServer(
            "gzip-bomb",
            "/srv/bomb.xml",
            Resource(body=bomb, headers={"Content-Encoding": "gzip"}, etag=False),
            too_big,
            f"gzip bomb ({len(bomb) // 1000} KB that inflate to 60 MB)",
        ),
        HostileServer(
            "drip",
            "/srv/drip.xml",
            Resource(body=good_feed, drip=0.05),
            too_slow,
            "slow drip, a byte every 50 ms",
        ),
        HostileServer(
            "stall",
            "/srv/stall.xml",
            Resource(body=good_feed, delay=4),
            "timed out|did not answer",
            "no answer for 4 s",
        ),
        HostileServer(
            "loop", "/srv/loop-a.xml", Resource(redirect="/srv/loop-b.xml"), "redirect", "redirect loop"
        ),
        HostileServer(
            "chain", "/srv/chain-0.xml", Resource(redirect="/srv/chain-1.xml"), "redirects", "9 redirects"
        ),
        HostileServer(
            "to-file",
            "/srv/to-file.xml",
            Resource(redirect="file:///etc/passwd"),
            "'file'",
            "redirect to file://",
        ),
        HostileServer(
            "to-javascript",
            "/srv/to-js.xml",
            Resource(redirect="javascript:alert(1)"),
            "'javascript'",
            "redirect to javascript:",
        ),
        HostileServer(
            "to-ftp",
            "/srv/to-ftp.xml",
            Resource(redirect="ftp://127.0.0.1/feed.xml"),
            "'ftp'",
            "redirect to ftp://",
        ),
        HostileServer("error", "/srv/error.xml", Resource(body=b"oops", status=500), "HTTP 500", "HTTP 500"),
        HostileServer("gone", "/srv/gone.xml", Resource(body=b"gone", status=410), "HTTP 410", "HTTP 410"),
        HostileServer(
            "html",
            "/srv/page.html",
            Resource(body=b"<!doctype html><html><body>not a feed</body></html>", content_type="text/html"),
            "not a feed|not an RSS|HTML",
            "an HTML page, not a feed",
        ),
        HostileServer(
            "binary",
            "/srv/binary.xml",
            Resource(body=bytes(range(256)) * 40),
            "not a feed|not an RSS|could not read",
            "binary garbage",
        ),
        HostileServer(
            "empty", "/srv/empty.xml", Resource(body=b""), "not a feed|not an RSS|empty", "an empty 200"
        ),
        HostileServer("refused", "", None, "refused", "nothing listening", url="http://127.0.0.1:9/feed.xml"),
    ]


def extra_routes() -> dict[str, Resource]:
    """The other ends of the loops and chains."""
    routes = {"/srv/loop-b.xml": Resource(redirect="/srv/loop-a.xml")}
    for n in range(1, 9):
        routes[f"/srv/chain-{n}.xml"] = Resource(redirect=f"/srv/chain-{n + 1}.xml")
    return routes
