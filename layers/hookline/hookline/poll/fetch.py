"""The one HTTP client for everything hookline fetches: timeouts, a byte cap, http(s)-only redirects, conditional GETs, and the address guard on every URL that comes from feed content."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hookline import __version__
from hookline.poll.netguard import Guard, Refused, Unresolvable, normalise_host, private_allowed

if TYPE_CHECKING:
    import urllib3

    from hookline.config import Polling


USER_AGENT = f"hookline/{__version__} (+https://github.com/hookline/hookline)"
FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ALLOWED_SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
# A redirect or 304 body this small is read to keep the connection; anything else closes it.
DRAIN_LIMIT = 65536


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
        end, too_slow = self._end(deadline)
        headers = _headers(accept, etag, last_modified)
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

    def _end(self, deadline: float | None) -> tuple[float, str]:
        """When this request must end, and what to say if the server has not answered by then."""
        end = time.monotonic() + self.limits.total_timeout
        too_slow = f"gave up after {self.limits.total_timeout:g}s (the server is too slow)"
        for limit in (deadline, self.deadline):
            if limit is not None and limit < end:
                end = limit
                too_slow = "gave up: the poll's time ran out before the server answered"
        return end, too_slow

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


def _headers(accept: str, etag: str | None, last_modified: str | None) -> dict[str, str]:
    # Per-request headers replace the pool's defaults in urllib3, so all are set here.
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


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
