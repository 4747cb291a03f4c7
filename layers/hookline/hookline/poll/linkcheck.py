"""The linked page: does the link work, will X show a card, and is it an event?

One fetch per new entry serves both the link pre-flight and the event data in the
page's schema.org JSON-LD. Failures are warnings for the approver, never blockers:
every check ends up in `PageCheck.checks` as {"ok": bool, "message": str}, which
the review page and `preview` show as they are.

The page is fetched with the feeds' own bounded client (timeouts, size cap,
http(s)-only redirects), so a hostile page costs one check, not the run. Its URL
comes from feed content, so every fetch here (the page, each redirect, robots.txt) is
guarded: a link at an internal address is refused unfetched (hookline.poll.netguard).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from hookline.models import EventInfo
from hookline.poll.fetch import Fetcher, FetchError, InternalAddressError
from hookline.poll.page import card_of, describe_type, looks_like_html, read_page
from hookline.text import parse_when, plain_text

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
ROBOTS_AGENT = "Twitterbot"  # the crawler X sends for link cards
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_JSONLD_NODES = 2_000
CACHE_SECONDS = 600.0
CACHE_SIZE = 512

# -- schema.org events in JSON-LD -----------------------------------------------------------

_SCHEMA = re.compile(r"^(?:https?://schema\.org/|schema:)", re.IGNORECASE)
# Event subtypes whose names do not end in "Event", and "events" that are not ones
# a person can attend (a broadcast or publication of a work).
_EVENT_TYPES = frozenset({"Event", "Festival", "Hackathon", "CourseInstance"})
_NOT_ATTENDABLE = frozenset({"PublicationEvent", "BroadcastEvent", "OnDemandEvent", "DeliveryEvent"})
_WRAPPERS = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$")


@dataclass(frozen=True)
class PageEvent:
    info: EventInfo
    status: str | None = None  # schema.org eventStatus: EventCancelled, EventPostponed, ...
    name: str = ""


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {_SCHEMA.sub("", k) for k in kinds if isinstance(k, str)}


def _is_event(node: dict[str, Any]) -> bool:
    return any((t in _EVENT_TYPES or t.endswith("Event")) and t not in _NOT_ATTENDABLE for t in _types(node))


def _nodes(data: Any) -> list[dict[str, Any]]:
    """Every object in the document, parents before children, in document order."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack and len(found) < MAX_JSONLD_NODES:
        node, depth = stack.pop()
        if depth > 16:
            continue
        children: list[Any] = []
        if isinstance(node, list):
            children = node
        elif isinstance(node, dict):
            found.append(node)
            children = [v for v in node.values() if isinstance(v, dict | list)]
        stack.extend((child, depth + 1) for child in reversed(children))
    return found


def _text(value: Any) -> str:
    """A JSON-LD value as plain text: strings, numbers, {"@value": ...}, or a list's first."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return _text(value.get("@value") or value.get("name") or "")
    if isinstance(value, list):
        return next((t for t in (_text(v) for v in value[:10]) if t), "")
    return ""


def _deref(value: Any, index: dict[str, dict[str, Any]]) -> Any:
    """{"@id": "#venue"} pointing at another node of the page: that node."""
    if isinstance(value, dict) and "@id" in value and len(value) <= 2 and "@type" not in value:
        return index.get(str(value["@id"]), value)
    return value


def _address(value: Any, index: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """(street, town) of a PostalAddress, or ("", text) of an address written as text."""
    value = _deref(value, index)
    if isinstance(value, list):
        value = next((v for v in value if v), None)
        value = _deref(value, index)
    if isinstance(value, str):
        return "", plain_text(value)
    if isinstance(value, dict):
        return _text(value.get("streetAddress")), _text(value.get("addressLocality"))
    return "", ""


def _place(value: Any, index: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """(where, online) for one location value."""
    value = _deref(value, index)
    if isinstance(value, str):
        text = plain_text(value)
        # A location given as a bare meeting URL is an online event, not a venue name.
        return ("", True) if re.match(r"^https?://", text) else (text, False)
    if not isinstance(value, dict):
        return "", False
    types = _types(value)
    if "VirtualLocation" in types:
        return "", True
    if "PostalAddress" in types:
        street, town = _address(value, index)
        return ", ".join(p for p in (street, town) if p), False
    name = _text(value.get("name"))
    street, town = _address(value.get("address"), index)
    parts = [name] if name else [p for p in (street,) if p]
    # "Ely Cathedral" already says Ely; "Wembley Arena" does not say "Ely".
    if town and not any(re.search(rf"(?<!\w){re.escape(town)}(?!\w)", p, re.IGNORECASE) for p in parts):
        parts.append(town)
    return ", ".join(parts), False


def _venue(node: dict[str, Any], index: dict[str, dict[str, Any]]) -> str | None:
    location = node.get("location")
    values = location if isinstance(location, list) else [location]
    physical = ""
    online = False
    for value in values[:10]:
        where, virtual = _place(value, index)
        online = online or virtual
        physical = physical or where
    mode = _text(node.get("eventAttendanceMode"))
    if "OnlineEventAttendanceMode" in mode:
        return "online"  # an address given for an online event is the organiser's, not a venue
    physical = _cap(physical, MAX_VENUE)  # a page's venue is "where", never a megabyte
    if physical and (online or "MixedEventAttendanceMode" in mode):
        return f"{physical} and online"
    return physical or ("online" if online else None)


def _loads(block: str) -> Any:
    text = _WRAPPERS.sub("", block.strip())
    # strict=False: pages put raw line breaks inside JSON strings, which browsers accept.
    return json.loads(text, strict=False)


def page_events(blocks: list[str], default_tz: tzinfo) -> tuple[list[PageEvent], list[str]]:
    """The events in a page's JSON-LD blocks, and a note for each block that could not be read.

    Handles @graph, arrays, nested and @id-referenced locations, VirtualLocation,
    schema.org subtypes (MusicEvent, Festival...) and "schema:"/URL-prefixed types. A
    block that is not JSON is skipped, with a note, and the others still count.
    """
    events: list[PageEvent] = []
    problems: list[str] = []
    for block in blocks:
        if not block.strip():
            continue
        try:
            data = _loads(block)
        except (ValueError, RecursionError) as exc:
            if "Event" in block:
                problems.append(f"not valid JSON ({str(exc).split(':')[0]})")
            continue
        nodes = _nodes(data)
        index = {str(n["@id"]): n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 2}
        for node in nodes:
            if not _is_event(node):
                continue
            start = parse_when(_text(node.get("startDate")) or None, default_tz)
            if start is None:
                continue
            end = parse_when(_text(node.get("endDate")) or None, default_tz)
            status = _SCHEMA.sub("", _text(node.get("eventStatus"))) or None
            events.append(
                PageEvent(
                    EventInfo(
                        start=start, end=end if end and end > start else None, venue=_venue(node, index)
                    ),
                    status=status,
                    name=_text(node.get("name")),
                )
            )
    return events, problems


def events_in(jsonld_blocks: list[str], default_tz: tzinfo) -> list[EventInfo]:
    return [e.info for e in page_events(jsonld_blocks, default_tz)[0]]


def choose_event(events: list[PageEvent], now: datetime | None) -> PageEvent | None:
    """The page's event: the first one still to start (a series lists past dates too)."""
    if not events:
        return None
    if now is not None:
        upcoming = [e for e in events if e.info.start >= now]
        if upcoming:
            return min(upcoming, key=lambda e: e.info.start)
    return events[0]


# -- the pre-flight -----------------------------------------------------------------------


@dataclass
class PageCheck:
    url: str
    final_url: str | None = None
    status: int | None = None
    ok: bool = False  # the link opens; the checks say everything else
    checks: list[dict[str, Any]] = field(default_factory=list)
    event: EventInfo | None = None
    event_status: str | None = None
    # Why the link was refused unfetched (an internal address), for the poll's log line.
    refused: str | None = None
    # The page's own card (title, description, image URL), cleaned and capped: Bluesky's card.
    card: dict[str, str] | None = None

    def warn(self, message: str) -> None:
        self.checks.append({"ok": False, "message": message})

    def good(self, message: str) -> None:
        self.checks.append({"ok": True, "message": message})

    @property
    def warnings(self) -> list[str]:
        return [c["message"] for c in self.checks if not c["ok"]]

    def as_json(self) -> dict[str, Any]:
        """What is stored on the draft: every string capped, so a hostile page (a 1 MB venue,
        a 2,000-character redirect target) cannot push the draft towards DynamoDB's 400 KB."""
        event = self.event.as_json() if self.event else None
        if event and event.get("venue"):
            event["venue"] = _cap(event["venue"], MAX_VENUE)
        checks = [
            {"ok": bool(c.get("ok")), "message": _cap(str(c.get("message", "")), MAX_MESSAGE)}
            for c in self.checks[:MAX_CHECKS]
        ]
        return {
            "url": _cap(self.url, MAX_URL),
            "final_url": _cap(self.final_url, MAX_URL) if self.final_url else self.final_url,
            "status": self.status,
            "ok": self.ok,
            "warnings": [c["message"] for c in checks if not c["ok"]],
            "checks": checks,
            "event": event,
            "event_status": _cap(self.event_status, 100) if self.event_status else None,
            "card": self.card,
        }


# Caps on what a page's pre-flight stores (see PageCheck.as_json).
MAX_URL = 2000
MAX_VENUE = 300
MAX_MESSAGE = 500
MAX_CHECKS = 20


def _cap(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


_STATUS_WARNINGS = {
    "EventCancelled": "The page says the event is cancelled.",
    "EventPostponed": "The page says the event is postponed.",
    "EventRescheduled": "The page says the event was rescheduled: check the date in the post.",
    "EventMovedOnline": "The page says the event has moved online: check the venue in the post.",
}


class LinkChecker:
    """Checks linked pages, each at most once per `cache_seconds` (a poll or preview run)."""

    def __init__(
        self,
        fetcher: Fetcher,
        default_tz: tzinfo,
        *,
        clock: Callable[[], datetime] | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.fetcher = fetcher
        self.default_tz = default_tz
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict[str, tuple[float, PageCheck]] = OrderedDict()
        self._robots: dict[str, tuple[float, Any, str | None]] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> PageCheck:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None and now - cached[0] < self.cache_seconds:
                self._cache.move_to_end(url)
                return cached[1]
        result = self._check(url)
        with self._lock:
            self._cache[url] = (now, result)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    def _check(self, url: str) -> PageCheck:
        page = PageCheck(url=url)
        try:
            fetched = self.fetcher.get(url, accept=PAGE_ACCEPT)
        except InternalAddressError as exc:
            page.refused = str(exc)
            page.warn(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            return page
        except FetchError as exc:
            if str(exc).startswith("larger than"):
                page.ok = True
                page.warn(f"The page is {exc}, so it was not checked for card tags.")
            else:
                page.warn(f"The link does not open: {exc}.")
            return page
        page.final_url = fetched.final_url
        page.status = fetched.status
        page.ok = True
        moved = ""
        if fetched.final_url != url:
            moved = f" after {len(fetched.redirects)} redirect(s), at {fetched.final_url}"
        if fetched.status == 200:
            page.good(f"The link answers HTTP 200{moved}.")
        else:
            page.warn(f"The link answers HTTP {fetched.status}{moved}, not 200.")
        content_type = (fetched.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in HTML_TYPES and not looks_like_html(fetched.body):
            page.warn(
                f"The link is a {describe_type(content_type)}, not a web page: X shows it without a card."
            )
            self._check_robots(page, fetched.final_url)
            return page
        parser = read_page(fetched.body, fetched.headers)
        page.card = card_of(parser.meta, fetched.final_url)
        self._check_card(page, parser.meta)
        self._check_robots(page, fetched.final_url)
        events, problems = page_events(parser.jsonld, self.default_tz)
        chosen = choose_event(events, self.clock() if self.clock else None)
        if chosen is not None:
            page.event = chosen.info
            page.event_status = chosen.status
            if chosen.status in _STATUS_WARNINGS:
                page.warn(_STATUS_WARNINGS[chosen.status])
        elif problems:
            page.warn(
                f"The page's schema.org event data could not be read ({problems[0]}), "
                "so its date and venue were not used."
            )
        return page

    @staticmethod
    def _check_card(page: PageCheck, meta: dict[str, str]) -> None:
        title = meta.get("og:title") or meta.get("twitter:title")
        card = meta.get("twitter:card")
        image = meta.get("og:image") or meta.get("twitter:image")
        if title and (card or image):
            kind = f"a {card} card" if card else "a card"
            page.good(f"X can show {kind}: the page has {'an image and ' if image else ''}a title.")
            return
        missing = []
        if not title:
            missing.append("og:title")
        if not (card or image):
            missing.append("og:image or twitter:card")
        page.warn(f"The page has no {' and no '.join(missing)} tag: X will show a bare link, no card.")

    def _check_robots(self, page: PageCheck, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.monotonic()
        with self._lock:
            known = self._robots.get(origin)
        if known is None or now - known[0] >= self.cache_seconds:
            known = (now, *self._read_robots(origin))
            with self._lock:
                self._robots[origin] = known
        _, robots, problem = known
        if problem:
            page.warn(f"robots.txt could not be read ({problem}): X may not fetch the page for a card.")
        elif robots is not None and not robots.can_fetch(url, ROBOTS_AGENT):
            page.warn("robots.txt blocks Twitterbot: X cannot fetch the page, so the post has no card.")
        else:
            page.good("robots.txt lets Twitterbot fetch the page.")

    def _read_robots(self, origin: str) -> tuple[Any, str | None]:
        from protego import Protego

        try:
            fetched = self.fetcher.get(f"{origin}/robots.txt", accept="text/plain")
        except FetchError as exc:
            # RFC 9309: a 4xx robots.txt means no rules; anything else means unknown.
            if re.match(r"HTTP 4\d\d", str(exc)):
                return None, None
            return None, str(exc)
        return Protego.parse(fetched.body.decode("utf-8", errors="replace")), None


def preflight(
    fetcher: Fetcher, url: str, tz: tzinfo, *, clock: Callable[[], datetime] | None = None
) -> PageCheck:
    """A fresh pre-flight of `url` (nothing cached), for the publisher just before posting."""
    return LinkChecker(fetcher, tz, clock=clock, cache_seconds=0).check(url)
