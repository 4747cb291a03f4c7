"""Fetch feeds (and linked pages) from the real web, and turn their bytes into entries.

The HTTP client is ours rather than feedparser's: feedparser has no timeout and no
size limit, and a feed host that drips bytes or sends 50 MB must cost one feed its
poll, not the whole run.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hookline.models import Entry, EventInfo
from hookline.poll.fetch import ALLOWED_SCHEMES, FetchResult, _lower
from hookline.text import parse_when, plain_text, plausible, struct_to_dt

if TYPE_CHECKING:
    pass

# Entries read from one feed document. Feeds list the newest first; a document with
# thousands of entries is an archive, and reading all of it would cost one DynamoDB
# read per entry on every change.
MAX_ENTRIES = 500
MAX_TITLE = 2000
MAX_SUMMARY = 5000
# Markup no real feed has, refused before feedparser reads a byte of it: feedparser's cost
# grows with the square of one element's attribute count (16,000 took seconds, 200,000 did
# not finish in 300 s), and with the element count. Real feeds use a handful of attributes
# per element and a few dozen elements per entry.
MAX_ATTRIBUTES = 500
MAX_ELEMENTS = 50_000  # start tags (feedparser: ~0.2 ms each, so at most ~10 s on a busy core)
# Only a run of this many bytes without a "<" can hold that many attributes.
_LONG_RUN = re.compile(rb"<[^<]{4096,}")
_START_TAG = re.compile(rb"<[A-Za-z_]")
_ATTRIBUTE = re.compile(rb"""[\s"'][A-Za-z_:][-\w:.]*\s*=\s*["']""")


# -- text -------------------------------------------------------------------------------


# -- dates ------------------------------------------------------------------------------


# -- events in feed entries ---------------------------------------------------------------

# feedparser names a namespaced element prefix_localname, with the prefix the RSS event
# module, xCal, RDF iCal and schema.org are known by (or the one the document declared).
# Google Calendar's Atom extension (gd:when, gd:where) carries its values in attributes,
# which feedparser hands back as a dict.
_START_KEYS = ("ev_startdate", "xcal_dtstart", "ical_dtstart", "schema_startdate", "gd_when")
_END_KEYS = ("ev_enddate", "xcal_dtend", "ical_dtend", "schema_enddate", "gd_when")
_VENUE_KEYS = ("ev_location", "xcal_location", "ical_location", "schema_location", "gd_where")
# Calendar plugins invent their own prefixes (event_, tribe_, mec_...): any element whose
# local name says start/end date or location counts. georss's `where` is coordinates, not a venue.
_START_NAME = re.compile(r"(?:^|[_-])(?:startdate|start_date|dtstart|eventstart|eventstartdate|event_start)$")
_END_NAME = re.compile(r"(?:^|[_-])(?:enddate|end_date|dtend|eventend|eventenddate|event_end)$")
_VENUE_NAME = re.compile(r"(?:^|[_-])(?:location|venue|eventlocation|event_location|event_venue)$")


def _value(raw: Any, *attributes: str) -> str | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        for attribute in attributes:
            value = raw.get(attribute)
            if isinstance(value, str) and value.strip():
                return value
    return None


def _find(
    entry: Mapping[str, Any], known: tuple[str, ...], pattern: re.Pattern[str], *attrs: str
) -> str | None:
    for key in known:
        value = _value(entry.get(key), *attrs)
        if value and value.strip():
            return value
    for key in sorted(entry):
        if key not in known and pattern.search(key):
            value = _value(entry.get(key), *attrs)
            if value and value.strip():
                return value
    return None


def event_from_entry(raw: Mapping[str, Any], default_tz: tzinfo) -> EventInfo | None:
    """Event data a feed carries itself: the RSS event module, xCal, calendar-plugin extensions."""
    start = parse_when(_find(raw, _START_KEYS, _START_NAME, "starttime", "start", "value"), default_tz)
    if start is None:
        return None
    end = parse_when(_find(raw, _END_KEYS, _END_NAME, "endtime", "end", "value"), default_tz)
    venue = plain_text(_find(raw, _VENUE_KEYS, _VENUE_NAME, "valuestring", "value", "name"))[:300]
    return EventInfo(start=start, end=end if end and end > start else None, venue=venue or None)


# -- identity -----------------------------------------------------------------------------


def _guid(raw: Mapping[str, Any]) -> str:
    guid = raw.get("id") or raw.get("guid")
    return guid.strip() if isinstance(guid, str) else ""


def _hashed(title: str, published: datetime | None) -> str:
    stamp = published.isoformat() if published else ""
    return "sha256:" + hashlib.sha256(f"{title}\x1f{stamp}".encode()).hexdigest()


_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})


def _link_candidates(raw: Mapping[str, Any]) -> list[str]:
    """The entry's links, best first: rel="alternate" HTML links in document order, other
    alternates, then the `link` feedparser chose.

    feedparser sets `guidislink` when it reaches `</id>` or `</guid>` with no link seen yet,
    and offers the guid as the link; a `<link>` that comes later replaces the link but not
    the flag. So the flag alone says nothing: the `link` is dropped only when it is the guid
    standing in (no link element has it) and that guid is not itself a web address.
    """
    elements = [
        link
        for link in raw.get("links") or []
        if isinstance(link, Mapping) and isinstance(link.get("href"), str) and link["href"].strip()
    ]
    alternates = [link for link in elements if (link.get("rel") or "alternate") == "alternate"]
    html_first = [link for link in alternates if (link.get("type") or "") in _HTML_TYPES]
    ordered = [link["href"].strip() for link in html_first + alternates]
    value = raw.get("link")
    if isinstance(value, str) and value.strip():
        value = value.strip()
        stands_in = (
            bool(raw.get("guidislink"))
            and value == _guid(raw)
            and all(link["href"].strip() != value for link in elements)
        )
        if not stands_in or urlsplit(value).scheme.lower() in ALLOWED_SCHEMES:
            ordered.append(value)
    return list(dict.fromkeys(ordered))


def _safe_link(raw: Mapping[str, Any], base: str) -> str:
    for value in _link_candidates(raw):
        try:
            link = urljoin(base, value) if base.startswith(ALLOWED_SCHEMES) else value
            parts = urlsplit(link)
            host = parts.hostname
        except ValueError:  # "http://[oops/": not an address
            continue
        if parts.scheme.lower() in ALLOWED_SCHEMES and host:
            return link[:2000]
    return ""


# -- parsing ------------------------------------------------------------------------------


class ParseError(Exception):
    """Bytes that hold no feed at all."""


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    problem: str | None = None  # feedparser's bozo note, when it recovered entries anyway


def _describe_bozo(exc: Any) -> str:
    if exc is None:
        return "malformed feed"
    name = type(exc).__name__
    text = str(exc)[:250]
    if name == "CharacterEncodingOverride":
        return f"wrong character encoding: {text}"
    if name == "CharacterEncodingUnknown":
        return f"unknown character encoding: {text}"
    if name == "NonXMLContentType":
        return f"not served as XML: {text}"
    if name == "SAXParseException":
        return f"malformed XML: {text.removeprefix('<unknown>:')}"
    return f"{name}: {text}"


def pathology(body: bytes) -> str | None:
    """Why `body` is refused unread as a parser bomb, or None. Linear in the body's size."""
    elements = len(_START_TAG.findall(body)) if body.count(b"<") > MAX_ELEMENTS else 0
    if elements > MAX_ELEMENTS:
        return (
            f"refused unread: {elements:,} elements, more than the {MAX_ELEMENTS:,} a feed may have "
            "(a parser bomb?)"
        )
    for run in _LONG_RUN.finditer(body):
        attributes = len(_ATTRIBUTE.findall(run.group(0)))
        if attributes > MAX_ATTRIBUTES:
            name = re.match(rb"<([\w:.-]{1,40})", run.group(0))
            element = name.group(1).decode("ascii", "replace") if name else "?"
            return (
                f"refused unread: an element <{element}> with {attributes:,} attributes, more than the "
                f"{MAX_ATTRIBUTES} a feed may have (an attribute bomb?)"
            )
    return None


def _not_a_feed(body: bytes, headers: Mapping[str, str], problem: str | None) -> ParseError:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    head = body[:512].lstrip().lower()
    if content_type == "text/html" or head.startswith((b"<!doctype html", b"<html")):
        return ParseError(
            "the server sent an HTML page, not a feed (has the feed moved, or is it a login page?)"
        )
    detail = f" ({problem})" if problem else ""
    return ParseError(f"not an RSS or Atom feed{detail}")


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    default_tz: tzinfo = UTC,
) -> ParsedFeed:
    """Feed bytes (and the response headers, for the encoding) as normalised entries.

    feedparser recovers what it can from malformed feeds (`bozo`); those entries are
    used and the problem is returned once, for the caller to log. Nothing in the
    feed's HTML is rendered anywhere, so feedparser's HTML sanitiser and relative-URI
    rewriting (two thirds of its parse time) are off: every text field goes through
    `plain_text` instead, which keeps no markup at all.
    """
    import feedparser

    response_headers = _lower(headers or {})
    if not body.strip():
        raise ParseError("the server sent an empty response")
    refused = pathology(body)
    if refused:
        raise ParseError(refused)
    try:
        # A stream, not bytes: given bytes, feedparser first tries to open them as a file name.
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser on truly broken bytes: one feed's error, not the run's
        raise ParseError(f"feedparser could not read it ({type(exc).__name__}: {str(exc)[:200]})") from None
    problem = _describe_bozo(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not parsed.entries and not parsed.get("version"):
        raise _not_a_feed(body, response_headers, problem)

    raws = list(parsed.entries)
    if len(raws) > MAX_ENTRIES:
        note = f"only the first {MAX_ENTRIES} of {len(raws)} entries were read"
        problem = f"{problem}; {note}" if problem else note
        raws = raws[:MAX_ENTRIES]
    # The same entry listed twice (a pinned copy, a CMS that repeats its newest item) is
    # one entry: the copies are dropped before anything is counted, so the identity the
    # entry gets does not depend on whether a copy happens to be in this document.
    raws, broken = _distinct(raws, url)
    # A guid or link that several different entries share (a CMS bug, or every event
    # linking to /events) identifies none of them.
    guids = Counter(_guid(raw) for raw in raws)
    links = Counter(_safe_link(raw, url) for raw in raws)
    entries: list[Entry] = []
    identities: set[str] = set()
    for raw in raws:
        try:
            entry = _entry(raw, feed_id, url, default_tz, guids, links)
        except Exception:  # one odd entry must not cost the feed its other entries
            broken += 1
            continue
        if entry.identity in identities:
            continue  # the same entry listed twice
        identities.add(entry.identity)
        entries.append(entry)
    if broken:
        note = f"{broken} entries could not be read"
        problem = f"{problem}; {note}" if problem else note
    return ParsedFeed(
        title=plain_text(parsed.feed.get("title"))[:MAX_TITLE], entries=entries, problem=problem
    )


def _sameness(raw: Mapping[str, Any], base: str) -> list[tuple[str, ...]]:
    """What makes two listed entries one: the same guid with the same link or the same title;
    without a guid, the same link and title; with neither, the same title and date."""
    guid = _guid(raw)
    link = _safe_link(raw, base)
    title = plain_text(raw.get("title"))[:MAX_TITLE]
    if guid:
        return [("guid+link", guid, link), ("guid+title", guid, title)]
    if link:
        return [("link+title", link, title)]
    published = struct_to_dt(raw.get("published_parsed") or raw.get("updated_parsed"))
    return [("hash", _hashed(title, published))]


def _distinct(raws: list[Any], base: str) -> tuple[list[Any], int]:
    kept: list[Any] = []
    seen: set[tuple[str, ...]] = set()
    broken = 0
    for raw in raws:
        try:
            keys = _sameness(raw, base)
        except Exception:
            broken += 1
            continue
        if any(key in seen for key in keys):
            continue
        seen.update(keys)
        kept.append(raw)
    return kept, broken


def parse_fetched(result: FetchResult, *, feed_id: str, default_tz: tzinfo = UTC) -> ParsedFeed:
    """A fetched feed, read as fetched: links relative to where its redirects ended, the
    encoding from its response headers."""
    return parse_feed(
        result.body, feed_id=feed_id, url=result.final_url, headers=result.headers, default_tz=default_tz
    )


def _entry(
    raw: Mapping[str, Any],
    feed_id: str,
    url: str,
    default_tz: tzinfo,
    guids: Counter[str],
    links: Counter[str],
) -> Entry:
    title = plain_text(raw.get("title"))[:MAX_TITLE]
    link = _safe_link(raw, url)
    published = struct_to_dt(raw.get("published_parsed") or raw.get("updated_parsed"))
    guid = _guid(raw)
    if guid and guids[guid] == 1:
        identity = guid
    elif link and links[link] == 1:
        identity = link
    else:
        identity = _hashed(title, published)
    # Every identity the entry can be known by (and no other entry of the document shares):
    # each is checked and marked seen, so an entry whose guid or link a later document
    # shares, or stops sharing, is still the entry already handled.
    candidates = [identity]
    if guid and guids[guid] == 1:
        candidates.append(guid)
    if link and links[link] == 1:
        candidates.append(link)
    categories = tuple(
        dict.fromkeys(
            plain_text(t.get("term") or t.get("label"))[:100]
            for t in raw.get("tags") or []
            if isinstance(t, Mapping)
        )
    )
    return Entry(
        feed_id=feed_id,
        identity=identity[:1000],
        title=title,
        link=link,
        summary=plain_text(raw.get("summary"))[:MAX_SUMMARY],
        categories=tuple(c for c in categories if c)[:50],
        published=published if published and plausible(published) else None,
        event=event_from_entry(raw, default_tz),
        author=plain_text(raw.get("author"))[:300],
        # A link several entries share (every event pointing at /events) must not make
        # them duplicates of each other.
        extra={
            "dedupe_link": bool(link) and links[link] == 1,
            "identities": tuple(dict.fromkeys(c[:1000] for c in candidates)),
        },
    )
