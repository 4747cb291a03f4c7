"""The linked page: does the link work, will X show a card, and is it an event?

One fetch per new entry serves both the link pre-flight and the event data in the
page's schema.org JSON-LD. Failures are warnings for the approver, never blockers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import tzinfo
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from hookline.feeds import Fetcher, FetchError, _parse_when, plain_text
from hookline.models import EventInfo

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class _HeadParser(HTMLParser):
    """Collects meta tags and JSON-LD blocks; stops caring after the body starts growing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.jsonld: list[str] = []
        self._in_jsonld = False
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and key not in self.meta:
                self.meta[key] = values.get("content", "")
        elif tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._in_jsonld = True
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_jsonld:
            self._in_jsonld = False
            self.jsonld.append("".join(self._buffer))

    def handle_data(self, data: str) -> None:
        if self._in_jsonld:
            self._buffer.append(data)


def _walk(node: Any, depth: int = 0) -> list[dict[str, Any]]:
    if depth > 8:
        return []
    found: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node[:50]:
            found.extend(_walk(item, depth + 1))
    elif isinstance(node, dict):
        found.append(node)
        for key in ("@graph", "mainEntity", "subEvent"):
            if key in node:
                found.extend(_walk(node[key], depth + 1))
    return found


def _is_event(node: dict[str, Any]) -> bool:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.endswith("Event") for k in kinds)


def _venue(location: Any) -> str | None:
    if isinstance(location, list):
        location = location[0] if location else None
    if isinstance(location, str):
        return plain_text(location) or None
    if isinstance(location, dict):
        if location.get("@type") == "VirtualLocation":
            return "online"
        name = plain_text(str(location.get("name") or ""))
        address = location.get("address")
        town = ""
        if isinstance(address, dict):
            town = plain_text(str(address.get("addressLocality") or ""))
        elif isinstance(address, str):
            town = plain_text(address)
        parts = [p for p in (name, town) if p]
        if len(parts) == 2 and parts[1].casefold() in parts[0].casefold():
            parts = parts[:1]
        return ", ".join(parts) or None
    return None


def events_in(jsonld_blocks: list[str], default_tz: tzinfo) -> list[EventInfo]:
    events = []
    for block in jsonld_blocks:
        try:
            data = json.loads(block)
        except ValueError:
            continue
        for node in _walk(data):
            if not _is_event(node):
                continue
            start = _parse_when(node.get("startDate"), default_tz)
            if start is None:
                continue
            end = _parse_when(node.get("endDate"), default_tz)
            events.append(
                EventInfo(
                    start=start, end=end if end and end > start else None, venue=_venue(node.get("location"))
                )
            )
    return events


@dataclass
class PageCheck:
    url: str
    final_url: str | None = None
    ok: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    event: EventInfo | None = None

    def warn(self, message: str) -> None:
        self.checks.append({"ok": False, "message": message})

    def good(self, message: str) -> None:
        self.checks.append({"ok": True, "message": message})

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "ok": self.ok,
            "warnings": [c["message"] for c in self.checks if not c["ok"]],
            "checks": self.checks,
        }


class LinkChecker:
    def __init__(self, fetcher: Fetcher, default_tz: tzinfo) -> None:
        self.fetcher = fetcher
        self.default_tz = default_tz
        self._cache: dict[str, PageCheck] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> PageCheck:
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None:
            return cached
        result = self._check(url)
        with self._lock:
            self._cache[url] = result
        return result

    def _check(self, url: str) -> PageCheck:
        page = PageCheck(url=url)
        try:
            fetched = self.fetcher.get(url, accept=PAGE_ACCEPT)
        except FetchError as exc:
            page.warn(f"the link does not open: {exc}")
            return page
        page.final_url = fetched.final_url
        page.ok = True
        moved = f" (redirects to {fetched.final_url})" if fetched.final_url != url else ""
        page.good(f"the link answers HTTP {fetched.status}{moved}")
        parser = _HeadParser()
        try:
            parser.feed(fetched.body.decode(_charset(fetched.headers), errors="replace"))
            parser.close()
        except Exception:  # noqa: S110 - html.parser gives up on some malformed pages; keep what it read
            pass
        meta = parser.meta
        if meta.get("twitter:card") or (meta.get("og:title") and meta.get("og:image")):
            page.good("the page has card tags, so X shows a preview")
        else:
            missing = [t for t in ("og:title", "og:image") if not meta.get(t)]
            page.warn(f"no twitter:card and missing {', '.join(missing)}: X will show a bare link")
        if not self._robots_allow(fetched.final_url):
            page.warn("robots.txt blocks Twitterbot: X cannot fetch the page for a card")
        events = events_in(parser.jsonld, self.default_tz)
        page.event = events[0] if events else None
        return page

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            known = origin in self._robots
            robots = self._robots.get(origin)
        if not known:
            robots = None
            try:
                fetched = self.fetcher.get(urljoin(origin, "/robots.txt"), accept="text/plain")
                robots = RobotFileParser()
                robots.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
            except FetchError:
                robots = None  # no robots.txt: everything allowed
            with self._lock:
                self._robots[origin] = robots
        return robots is None or robots.can_fetch("Twitterbot", url)


def _charset(headers: Any) -> str:
    content_type = headers.get("content-type", "") if headers else ""
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            candidate = value.strip("\"' ")
            try:
                "".encode(candidate)
            except LookupError:
                return "utf-8"
            return candidate
    return "utf-8"
