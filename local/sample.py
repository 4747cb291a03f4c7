"""The demo's sample website: a news feed and its pages, dated relative to now so it never goes stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from local.webserver import Resource, WebServer

ITEMS = [
    # (slug, title, category, hours ago, summary, event in how many days (or None), venue)
    (
        "net-zero-homes-report",
        "New report: half of Cambridgeshire homes could be net zero by 2035",
        "Report",
        3,
        "Our new research maps which homes can reach net zero, and what it would cost.",
        None,
        None,
    ),
    (
        "board-minutes-november",
        "Minutes of the November board meeting",
        "Minutes",
        5,
        "The minutes of the board meeting held this month.",
        None,
        None,
    ),
    (
        "open-evening-climate",
        "Open evening: what the net zero report means for your street",
        "Events",
        8,
        "Join the authors for a public discussion of the findings.",
        3,
        "Guildhall, Cambridge",
    ),
    (
        "vacancy-data-officer",
        "Vacancy: data officer (12 months)",
        "Vacancies",
        20,
        "We are hiring a data officer.",
        None,
        None,
    ),
    (
        "river-quality-briefing",
        "Briefing: river quality in the Fens has improved for the first time in a decade",
        "Briefing",
        30,
        "A two-page briefing on the latest monitoring data.",
        None,
        None,
    ),
    (
        "office-closure",
        "Office closure over the holidays",
        "Notices",
        40,
        "Our office will be closed between the holidays.",
        None,
        None,
    ),
]


def _event_start(now: datetime, days: int) -> datetime:
    """18:00 UTC, `days` from now: an evening event that is always in the future."""
    return (now + timedelta(days=days)).replace(hour=18, minute=0, second=0, microsecond=0)


def _page(base: str, slug: str, title: str, summary: str, start: datetime | None, venue: str | None) -> bytes:
    jsonld = ""
    if start is not None:
        event = {
            "@context": "https://schema.org",
            "@type": "Event",
            "name": title,
            "startDate": start.isoformat(),
            "endDate": (start + timedelta(hours=2)).isoformat(),
            "location": {"@type": "Place", "name": venue, "address": {"addressLocality": "Cambridge"}},
        }
        jsonld = f'<script type="application/ld+json">{json.dumps(event)}</script>'
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta property="og:title" content="{escape(title)}">
<meta property="og:image" content="{base}/static/card.png">
<meta name="twitter:card" content="summary_large_image">{jsonld}</head>
<body><h1>{escape(title)}</h1><p>{escape(summary)}</p></body></html>""".encode()


def feed_xml(base: str, now: datetime | None = None) -> bytes:
    now = now or datetime.now(UTC)
    items = []
    for slug, title, category, hours_ago, summary, start_in, venue in ITEMS:
        published = format_datetime(now - timedelta(hours=hours_ago))
        event = ""
        if start_in is not None:
            start = _event_start(now, start_in)
            event = f"<ev:startdate>{start.isoformat()}</ev:startdate><ev:location>{escape(venue or '')}</ev:location>"
        items.append(
            f"<item><title>{escape(title)}</title><link>{base}/news/{slug}</link>"
            f'<guid isPermaLink="false">sample-{slug}</guid><pubDate>{published}</pubDate>'
            f"<category>{escape(category)}</category><description>{escape(summary)}</description>{event}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
        f"<title>Example Trust news</title><link>{base}/</link><description>Sample feed</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def serve_sample(server: WebServer, host: str | None = None) -> str:
    """Serve the sample site; its links name `host` (resolved to the server by local.hosts) if given."""
    base = f"http://{host}:{server.server_address[1]}" if host else server.base_url
    server.add("/news/feed", Resource(body=lambda: feed_xml(base), etag=True))
    now = datetime.now(UTC)
    for slug, title, _category, _ago, summary, start_in, venue in ITEMS:
        start = _event_start(now, start_in) if start_in else None
        server.add(
            f"/news/{slug}",
            Resource(
                body=_page(base, slug, title, summary, start, venue), content_type="text/html; charset=utf-8"
            ),
        )
    server.add("/robots.txt", Resource(body=b"User-agent: *\nAllow: /\n", content_type="text/plain"))
    return f"{base}/news/feed"
