"""Fetch feeds (and linked pages) from the real web, and turn their bytes into entries.

The HTTP client is ours rather than feedparser's: feedparser has no timeout and no
size limit, and a feed host that drips bytes or sends 50 MB must cost one feed its
poll, not the whole run.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hookline import __version__
from hookline.models import Entry, EventInfo
from hookline.poll.netguard import Guard, Refused, Unresolvable, normalise_host, private_allowed
from hookline.text import parse_when, plain_text, plausible, struct_to_dt

if TYPE_CHECKING:
    import urllib3

    from hookline.config import Polling

USER_AGENT = f"hookline/{__version__} (+https://github.com/hookline/hookline)"
FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ALLOWED_SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
# A redirect or 304 body this small is read to keep the connection; anything else closes it.
DRAIN_LIMIT = 65536
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


class FetchError(Exception):
    """The resource could not be fetched; the message says why, in words a person can act on."""


class InternalAddressError(FetchError):
    """A URL from feed content points at a loopback, private, link-local or other internal
    address, and was refused before any connection was made (see hookline.poll.netguard)."""

    def __init__(self, detail: str, url: str) -> None:
        super().__init__(f"the link points at an internal address ({detail}) and was not fetched")
        self.detail = detail
        self.url = url


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    # The whole fetch, however slowly the server drips: a read timeout alone resets on every byte.
    total_timeout: float = 20.0


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    redirects: tuple[str, ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


class Fetcher:
    """A bounded HTTP GET: timeouts, a byte cap, limited http(s)-only redirects, gzip, and
    the address guard.

    Every URL is guarded (hookline.poll.netguard: resolved once, refused if any address is
    internal, connected to by the checked address) unless the caller says the operator
    named it: `get(url, configured=True)` for the configured feeds and `preview`'s SOURCE.
    Even then a redirect that leaves that URL's host is guarded, hop by hop.

    One Fetcher is shared by every thread of a poll (urllib3's pool is thread-safe);
    `bounded(deadline)` gives a view of it that never runs past a poll's deadline.
    """

    def __init__(
        self,
        limits: FetchLimits | None = None,
        pool: urllib3.PoolManager | None = None,
        maxsize: int = 16,
        *,
        deadline: float | None = None,
        guard: Guard | None = None,
    ):
        import urllib3

        self.limits = limits or FetchLimits()
        self.deadline = deadline
        # Off unless HOOKLINE_ALLOW_PRIVATE_ADDRESSES says so (the local stack and tests).
        self.guard = guard or Guard(allow_private=private_allowed())
        self._urllib3 = urllib3
        self.pool = pool or urllib3.PoolManager(
            num_pools=max(10, maxsize),
            maxsize=maxsize,
            retries=False,
        )

    @classmethod
    def for_polling(cls, polling: Polling, *, guard: Guard | None = None) -> Fetcher:
        return cls(
            FetchLimits(
                connect_timeout=polling.connect_timeout_seconds,
                read_timeout=polling.read_timeout_seconds,
                max_bytes=polling.max_bytes,
                max_redirects=polling.max_redirects,
                total_timeout=polling.fetch_timeout_seconds,
            ),
            maxsize=polling.concurrency,
            guard=guard,
        )

    def bounded(self, deadline: float | None) -> Fetcher:
        """The same fetcher (same connection pool) whose every request ends by `deadline`."""
        clone = copy.copy(self)
        clone.deadline = deadline
        return clone

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        deadline: float | None = None,
        configured: bool = False,
    ) -> FetchResult:
        """GET `url`. `configured=True` only for a URL the operator named (a feed in the config,
        a `preview` SOURCE): anything taken from feed content must stay guarded."""
        limits = self.limits
        end = time.monotonic() + limits.total_timeout
        too_slow = f"gave up after {limits.total_timeout:g}s (the server is too slow)"
        for limit in (deadline, self.deadline):
            if limit is not None and limit < end:
                end = limit
                too_slow = "gave up: the poll's time ran out before the server answered"
        # Per-request headers replace the pool's defaults in urllib3, so all are set here.
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        trusted = _host_of(url) if configured else None
        current = url
        visited = {url}
        redirects: list[str] = []
        while True:
            _check_scheme(current, url)
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise FetchError(too_slow)
            timeout = self._urllib3.Timeout(
                connect=min(limits.connect_timeout, remaining), read=min(limits.read_timeout, remaining)
            )
            try:
                if trusted is not None and _host_of(current) == trusted:
                    resp = self.pool.request(
                        "GET",
                        current,
                        headers=headers,
                        redirect=False,
                        preload_content=False,
                        decode_content=True,
                        timeout=timeout,
                    )
                else:
                    resp = self._guarded(current, url, headers, timeout)
            except (self._urllib3.exceptions.HTTPError, ValueError) as exc:
                if remaining < limits.read_timeout and _is_timeout(exc):
                    raise FetchError(too_slow) from None  # the deadline, not the server's pace
                raise FetchError(_describe(exc, limits)) from None
            complete = False
            try:
                if resp.status in REDIRECTS:
                    location = (resp.headers.get("location") or "").strip()
                    if not location:
                        raise FetchError(f"HTTP {resp.status} redirect without a Location header")
                    target = urljoin(current, location)
                    if target in visited:
                        raise FetchError(f"redirect loop: {current} redirects back to {target}")
                    if len(redirects) >= limits.max_redirects:
                        raise FetchError(f"more than {limits.max_redirects} redirects (stopped at {current})")
                    complete = _drain_small(resp)
                    visited.add(target)
                    redirects.append(target)
                    current = target
                    continue
                if resp.status == 304:
                    complete = _drain_small(resp)
                    return FetchResult(url, current, 304, b"", _lower(resp.headers), tuple(redirects))
                if resp.status >= 300 or resp.status < 200:
                    raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".strip())
                body = self._read_capped(resp, end, too_slow)
                complete = True
                return FetchResult(url, current, resp.status, body, _lower(resp.headers), tuple(redirects))
            finally:
                if not complete:
                    # Unread bytes (a cut-off body, a slow drip) must never reach the next
                    # request on a kept-alive connection: close it instead of reusing it.
                    resp.close()
                resp.release_conn()

    def _guarded(
        self, current: str, original: str, headers: dict[str, str], timeout: Any
    ) -> urllib3.BaseHTTPResponse:
        """One request to `current`, connected to by the addresses the guard checked (never a
        second lookup), with the URL's own host in Host, SNI and the certificate check."""
        parts = urlsplit(current)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"not a valid URL ({exc})") from None
        try:
            addresses = self.guard.addresses(host, port)
        except Refused as exc:
            detail = str(exc) if current == original else f"{exc}, reached by a redirect to {current[:200]}"
            raise InternalAddressError(detail, current) from None
        except Unresolvable:
            raise FetchError("the host name does not resolve") from None
        scheme = parts.scheme.lower()
        server_name = normalise_host(host)
        pool_kwargs = (
            {"server_hostname": server_name, "assert_hostname": server_name} if scheme == "https" else {}
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # The Host header as the URL wrote it, without any userinfo (`user@host`).
        sent = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        failure: Exception = FetchError("the host name does not resolve")
        for address in addresses:
            pool = self.pool.connection_from_host(address, port, scheme, pool_kwargs=pool_kwargs)
            try:
                return pool.urlopen(
                    "GET",
                    target,
                    headers=sent,
                    redirect=False,
                    retries=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=True,
                    timeout=timeout,
                )
            except self._urllib3.exceptions.NewConnectionError as exc:
                failure = exc  # the next checked address, as a resolver's list is meant to be tried
        raise failure

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, end: float, too_slow: str) -> bytes:
        cap = self.limits.max_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            # Even compressed it would decode to more than the cap: not one byte is read.
            raise FetchError(
                f"larger than the {_mb(cap)} limit (the server says {_mb(int(declared))}); not downloaded"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > end:
                    raise FetchError(too_slow.replace("answered", "finished sending"))
                # read1 returns what has arrived (at most 64 KiB, decompressed): the deadline
                # is checked between chunks however slowly they come.
                chunk = resp.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"larger than the {_mb(cap)} limit; stopped reading at {_mb(cap)}")
                chunks.append(chunk)
        except self._urllib3.exceptions.HTTPError as exc:
            if _is_timeout(exc) and end - time.monotonic() < self.limits.read_timeout:
                raise FetchError(too_slow.replace("answered", "finished sending")) from None
            raise FetchError(_describe(exc, self.limits)) from None
        except (OSError, EOFError, ValueError) as exc:  # broken gzip, reset connection
            raise FetchError(f"the response could not be read: {exc}") from None
        return b"".join(chunks)


def _drain_small(resp: urllib3.BaseHTTPResponse) -> bool:
    """Read a small leftover body so the connection can be reused; False if it is not small."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= DRAIN_LIMIT:
        try:
            resp.drain_conn()
        except Exception:
            return False
        return True
    return False


def _host_of(url: str) -> str:
    try:
        return normalise_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _mb(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def _check_scheme(current: str, original: str) -> None:
    scheme = urlsplit(current).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        if current == original:
            raise FetchError(f"only http and https URLs can be fetched, not {scheme or 'a relative URL'!r}")
        raise FetchError(
            f"redirected to a {scheme!r} URL ({current[:200]}), which is not allowed (only http and https)"
        )


def _is_timeout(exc: Exception) -> bool:
    return "timed out" in str(exc).lower() or "Timeout" in type(exc).__name__


def _describe(exc: Exception, limits: FetchLimits) -> str:
    text = str(exc)
    name = type(exc).__name__
    if name == "ConnectTimeoutError" or "connect timeout" in text.lower():
        return f"could not connect within {limits.connect_timeout:g}s"
    if "timed out" in text.lower() or "Timeout" in name:
        return f"the server did not answer within {limits.read_timeout:g}s"
    if name == "NameResolutionError" or "Name or service not known" in text:
        return "the host name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    if "CERTIFICATE" in text.upper() or "SSL" in name:
        return f"TLS/certificate error ({text[:200]})"
    if name == "DecodeError":
        return "the compressed response is corrupt"
    if name == "ProtocolError":
        return f"the connection broke off ({text[:200]})"
    if name in ("LocationValueError", "LocationParseError") or isinstance(exc, ValueError):
        return f"not a valid URL ({text[:200]})"
    return f"network error ({name}: {text[:200]})"


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
