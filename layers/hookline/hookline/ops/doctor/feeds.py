"""Feeds: every configured feed answers and parses."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from hookline.config import FeedConfig
from hookline.ops.doctor.base import FAIL, OK, WARN, Check, DoctorBase


class FeedChecks(DoctorBase):
    def check_feeds(self) -> Iterator[Check]:
        feeds = list(enumerate(self.config.feeds))
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(feeds)))) as pool:
            yield from pool.map(lambda pair: self.check_feed(*pair), feeds)

    def check_feed(self, index: int, feed: FeedConfig) -> Check:
        from hookline.poll.feeds import ParseError, parse_fetched
        from hookline.poll.fetch import FetchError

        url = str(feed.url)
        name = f"feed {feed.id}"
        try:
            result = self.fetcher.get(
                url, configured=True
            )  # the config names it; its redirects elsewhere are guarded
        except FetchError as exc:
            return Check(
                FAIL, name, f"{url}: {exc}; check feeds[{index}].url in {self.config_source}, or the site"
            )
        try:
            parsed = parse_fetched(result, feed_id=feed.id, default_tz=self.config.organisation.tz)
        except ParseError as exc:
            return Check(
                FAIL, name, f"{url} answers but is not a feed ({exc}): use the site's RSS or Atom feed URL"
            )
        moved = f"; it redirects to {result.final_url}: use that URL" if result.redirects else ""
        if not parsed.entries:
            return Check(WARN, name, f"{url} answers and parses, but has no entries{moved}")
        dates = [e.published for e in parsed.entries if e.published]
        newest = f", newest {max(dates):%Y-%m-%d}" if dates else ""
        count = len(parsed.entries)
        summary = f"{url} answers and parses: {count} {'entry' if count == 1 else 'entries'}{newest}"
        hub = websub_hub(result.body, result.headers)
        if hub:
            # Reported, not used: a one-minute poll of an unchanged feed is a 304 costing a share
            # of one invocation, while a push subscription needs a public callback route, lease
            # renewals and signature checks for a gain of under a minute (README, 'Feeds and rules').
            summary += (
                f"; it advertises a WebSub hub ({hub}), which hookline does not need: it polls every minute"
            )
        if parsed.problem:
            return Check(WARN, name, f"{summary}, with a problem feedparser worked round ({parsed.problem})")
        if moved:
            return Check(WARN, name, summary + moved)
        return Check(OK, name, summary)


_HUB_LINK = re.compile(rb"<(?:[a-z0-9]+:)?link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def websub_hub(body: bytes, headers: Mapping[str, str]) -> str | None:
    """The WebSub hub a feed advertises (`<link rel="hub" href=...>` in the feed, or an HTTP
    `Link: <...>; rel="hub"` header), or None. Feed content is untrusted: only an http(s) URL is
    reported, shortened."""
    found: str | None = None
    for raw in re.finditer(r'<([^>]+)>\s*;[^,]*\brel="?hub"?', headers.get("link", "")):
        found = raw.group(1)
        break
    if found is None:
        for tag in _HUB_LINK.finditer(body[:200_000]):
            attrs = {
                m.group(1).lower(): (m.group(2) or m.group(3) or b"") for m in _ATTR.finditer(tag.group(0))
            }
            if b"hub" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"href"):
                found = attrs[b"href"].decode("utf-8", "replace").strip()
                break
    if not found or not re.match(r"^https?://[^\s<>\"']+$", found):
        return None
    return found[:200]
