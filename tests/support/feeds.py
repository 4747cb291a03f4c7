"""Feeds as organisations' websites publish them, built for a test's clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape


@dataclass
class Item:
    title: str
    slug: str
    category: str = "Report"
    age: timedelta = timedelta(hours=2)
    summary: str = "A summary of the publication."
    guid: str | None = None
    event_start: datetime | None = None
    venue: str | None = None
    extra: str = ""
    link: str | None = None
    categories: list[str] = field(default_factory=list)


def rss(base: str, items: list[Item], now: datetime, title: str = "Example Trust news") -> bytes:
    parts = []
    for item in items:
        link = item.link if item.link is not None else f"{base}/news/{item.slug}"
        cats = "".join(f"<category>{escape(c)}</category>" for c in [item.category, *item.categories] if c)
        event = ""
        if item.event_start is not None:
            event = f"<ev:startdate>{item.event_start.isoformat()}</ev:startdate>"
            if item.venue:
                event += f"<ev:location>{escape(item.venue)}</ev:location>"
        parts.append(
            f"<item><title>{escape(item.title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{escape(item.guid or "guid-" + item.slug)}</guid>'
            f"<pubDate>{format_datetime(now - item.age)}</pubDate>{cats}"
            f"<description>{escape(item.summary)}</description>{event}{item.extra}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/">'
        f"<channel><title>{escape(title)}</title><link>{base}/</link><description>test</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def page(title: str, *, card: bool = True, jsonld: str = "") -> bytes:
    meta = (
        (
            f'<meta property="og:title" content="{escape(title)}"><meta property="og:image" content="/c.png">'
            '<meta name="twitter:card" content="summary">'
        )
        if card
        else ""
    )
    script = f'<script type="application/ld+json">{jsonld}</script>' if jsonld else ""
    return f"<!doctype html><html><head><title>{escape(title)}</title>{meta}{script}</head><body></body></html>".encode()
