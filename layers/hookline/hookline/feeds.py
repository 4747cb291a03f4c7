"""Fetch feeds (and linked pages) from the real web, and turn their bytes into entries.

The HTTP client is ours rather than feedparser's: feedparser has no timeout and no
size limit, and a feed host that drips bytes or sends 50 MB must cost one feed its
poll, not the whole run.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hookline import __version__
from hookline.models import Entry, EventInfo

if TYPE_CHECKING:
    import urllib3

USER_AGENT = f"hookline/{__version__} (+https://github.com/hookline/hookline)"
FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    """The resource could not be fetched; the message says why, in words a person can act on."""


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
    """A bounded HTTP GET: timeouts, a byte cap, limited http(s)-only redirects, gzip."""

    def __init__(
        self, limits: FetchLimits | None = None, pool: urllib3.PoolManager | None = None, maxsize: int = 16
    ):
        import urllib3

        self.limits = limits or FetchLimits()
        self._urllib3 = urllib3
        self.pool = pool or urllib3.PoolManager(
            num_pools=max(10, maxsize),
            maxsize=maxsize,
            retries=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        )

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        deadline: float | None = None,
    ) -> FetchResult:
        limits = self.limits
        started = time.monotonic()
        end = started + limits.total_timeout
        if deadline is not None:
            end = min(end, deadline)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        redirects: list[str] = []
        while True:
            _check_scheme(current, url)
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"gave up after {limits.total_timeout:g}s (the server is too slow)")
            timeout = self._urllib3.Timeout(
                connect=min(limits.connect_timeout, remaining), read=min(limits.read_timeout, remaining)
            )
            try:
                resp = self.pool.request(
                    "GET",
                    current,
                    headers=headers,
                    redirect=False,
                    preload_content=False,
                    decode_content=True,
                    timeout=timeout,
                )
            except self._urllib3.exceptions.HTTPError as exc:
                raise FetchError(_describe(exc)) from None
            try:
                if resp.status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(f"HTTP {resp.status} redirect without a Location header")
                    if len(redirects) >= limits.max_redirects:
                        raise FetchError(f"more than {limits.max_redirects} redirects (a redirect loop?)")
                    current = urljoin(current, location.strip())
                    redirects.append(current)
                    continue
                if resp.status == 304:
                    return FetchResult(url, current, 304, b"", _lower(resp.headers), tuple(redirects))
                if resp.status >= 400:
                    raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".strip())
                body = self._read_capped(resp, end)
                return FetchResult(url, current, resp.status, body, _lower(resp.headers), tuple(redirects))
            finally:
                resp.release_conn()

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, end: float) -> bytes:
        cap = self.limits.max_bytes
        declared = resp.headers.get("content-length")
        if (
            declared
            and declared.isdigit()
            and int(declared) > cap
            and not resp.headers.get("content-encoding")
        ):
            resp.drain_conn()
            raise FetchError(f"larger than the {_mb(cap)} limit (the server says {_mb(int(declared))})")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > end:
                    raise FetchError(
                        f"gave up after {self.limits.total_timeout:g}s (the server sends too slowly)"
                    )
                chunk = resp.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"larger than the {_mb(cap)} limit; stopped reading")
                chunks.append(chunk)
        except self._urllib3.exceptions.HTTPError as exc:
            raise FetchError(_describe(exc)) from None
        except (OSError, EOFError, ValueError) as exc:  # broken gzip, reset connection
            raise FetchError(f"the response could not be read: {exc}") from None
        return b"".join(chunks)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _mb(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def _check_scheme(current: str, original: str) -> None:
    scheme = urlsplit(current).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        if current == original:
            raise FetchError(f"only http and https URLs can be fetched, not {scheme or 'a relative URL'!r}")
        raise FetchError(f"redirected to a {scheme!r} URL, which is not allowed (only http and https)")


def _describe(exc: Exception) -> str:
    text = str(exc)
    name = type(exc).__name__
    if "timed out" in text.lower() or "Timeout" in name:
        return "timed out waiting for the server"
    if "NameResolution" in text or "Name or service not known" in text:
        return "the host name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    if "CERTIFICATE" in text.upper() or "SSL" in name:
        return "TLS/certificate error"
    return f"network error ({name})"


# -- parsing --------------------------------------------------------------------------


class ParseError(Exception):
    """Bytes that hold no feed at all."""


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    problem: str | None = None  # feedparser's bozo note, when it recovered entries anyway


_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


def plain_text(value: str | None) -> str:
    """Feed text as plain text: tags dropped, entities decoded, whitespace collapsed."""
    if not value:
        return ""
    text = _TAG.sub(" ", value)
    return _SPACE.sub(" ", html.unescape(text)).strip()


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _parse_when(value: Any, default_tz: tzinfo) -> datetime | None:
    """An event date as feeds write it: ISO 8601, RFC 822, or a date alone."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?", text)
            if not compact:
                return None
            y, mo, d, h, mi, s, z = compact.groups()
            parsed = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))  # noqa: DTZ001
            if z:
                parsed = parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def _first(entry: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = entry.get(key)
        if value:
            return value
    return None


def event_from_entry(raw: Mapping[str, Any], default_tz: tzinfo) -> EventInfo | None:
    """Event data a feed carries itself: the RSS event module, xCal, calendar-plugin extensions."""
    start = _parse_when(
        _first(
            raw,
            "ev_startdate",
            "xcal_dtstart",
            "dtstart",
            "event_startdate",
            "event_start",
            "tribe_event_start",
        ),
        default_tz,
    )
    if start is None:
        return None
    end = _parse_when(
        _first(raw, "ev_enddate", "xcal_dtend", "dtend", "event_enddate", "event_end", "tribe_event_end"),
        default_tz,
    )
    venue = plain_text(
        _first(raw, "ev_location", "xcal_location", "location", "event_location", "event_venue")
    )
    return EventInfo(start=start, end=end if end and end > start else None, venue=venue or None)


def identity_of(raw: Mapping[str, Any], title: str, published: datetime | None) -> str:
    """guid/id, else link, else a hash of title and date."""
    guid = raw.get("id") or raw.get("guid")
    if isinstance(guid, str) and guid.strip():
        return guid.strip()
    link = raw.get("link")
    if isinstance(link, str) and link.strip():
        return link.strip()
    stamp = published.isoformat() if published else ""
    return "sha256:" + hashlib.sha256(f"{title}\x1f{stamp}".encode()).hexdigest()


def _safe_link(value: Any, base: str) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    link = urljoin(base, value.strip())
    return link if urlsplit(link).scheme.lower() in ALLOWED_SCHEMES else ""


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    default_tz: tzinfo = UTC,
) -> ParsedFeed:
    import feedparser

    parsed = feedparser.parse(body, response_headers=dict(headers or {}))
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
        if not parsed.entries:
            version = parsed.get("version")
            if not version:
                raise ParseError(f"not a feed: {problem}")
    elif not parsed.get("version") and not parsed.entries:
        raise ParseError("not an RSS or Atom feed")
    entries = []
    for raw in parsed.entries:
        title = plain_text(raw.get("title"))
        link = _safe_link(raw.get("link"), url)
        published = _struct_to_dt(raw.get("published_parsed") or raw.get("updated_parsed"))
        categories = tuple(
            dict.fromkeys(plain_text(t.get("term") or t.get("label")) for t in raw.get("tags") or [] if t)
        )
        entries.append(
            Entry(
                feed_id=feed_id,
                identity=identity_of(raw, title, published)[:1000],
                title=title,
                link=link,
                summary=plain_text(raw.get("summary")),
                categories=tuple(c for c in categories if c),
                published=published,
                event=event_from_entry(raw, default_tz),
                author=plain_text(raw.get("author")),
            )
        )
    return ParsedFeed(title=plain_text(parsed.feed.get("title")), entries=entries, problem=problem)
