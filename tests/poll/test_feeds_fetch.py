"""The bounded fetcher against a real local web server that misbehaves the way real sites do."""

from __future__ import annotations

import gzip
import time
import tracemalloc

import pytest

from hookline.poll.fetch import USER_AGENT, Fetcher, FetchError, FetchLimits
from local.webserver import Resource, WebServer

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fetcher(**limits: float) -> Fetcher:
    return Fetcher(FetchLimits(**limits))  # type: ignore[arg-type]


def test_a_feed_is_fetched_with_a_user_agent_that_names_hookline_and_its_url(web: WebServer) -> None:
    # Given a feed
    url = web.add("/feed.xml", FEED)

    # When it is fetched
    result = fetcher().get(url)

    # Then the body arrives whole, and the site can see who is asking and where to read about it
    assert result.status == 200
    assert result.body == FEED
    [headers] = web.requests_for("/feed.xml")
    assert headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("hookline/")
    assert "+https://" in USER_AGENT
    assert "gzip" in headers["Accept-Encoding"]


def test_etag_and_last_modified_make_the_next_fetch_conditional(web: WebServer) -> None:
    # Given a feed served with an ETag, fetched once
    url = web.add("/feed.xml", FEED)
    first = fetcher().get(url)
    assert first.etag

    # When it is fetched again with the validators it gave
    second = fetcher().get(url, etag=first.etag, last_modified="Wed, 25 Nov 2026 09:00:00 GMT")

    # Then the server answers 304 with no body, and the request carried both validators
    assert second.not_modified
    assert second.body == b""
    headers = web.requests_for("/feed.xml")[1]
    assert headers["If-None-Match"] == first.etag
    assert headers["If-Modified-Since"] == "Wed, 25 Nov 2026 09:00:00 GMT"


def test_last_modified_alone_gives_a_304_too(web: WebServer) -> None:
    stamp = "Tue, 24 Nov 2026 08:00:00 GMT"
    url = web.add("/feed.xml", Resource(body=FEED, etag=False, last_modified=stamp))
    first = fetcher().get(url)
    assert first.last_modified == stamp
    assert fetcher().get(url, last_modified=first.last_modified).not_modified


def test_a_gzipped_feed_is_decompressed(web: WebServer) -> None:
    url = web.add("/feed.xml", Resource(body=FEED, gzip=True))
    result = fetcher().get(url)
    assert result.body == FEED
    assert result.headers["content-encoding"] == "gzip"


def test_a_50_mb_body_is_cut_off_at_the_cap_without_being_loaded_whole(web: WebServer) -> None:
    # Given a server that streams 50 MB with no Content-Length
    url = web.add("/huge.xml", Resource(endless=50_000_000))

    # When it is fetched with the default 5 MB cap, measuring what Python allocates meanwhile
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as caught:
            fetcher(max_bytes=5_000_000).get(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Then reading stops at the cap with a clear error, and memory never held the whole body
    assert str(caught.value) == "larger than the 5 MB limit; stopped reading at 5 MB"
    assert peak < 15_000_000, f"peak {peak / 1e6:.1f} MB while refusing a 50 MB body"
    assert time.monotonic() - started < 5


def test_a_body_declared_larger_than_the_cap_is_not_downloaded_at_all(web: WebServer) -> None:
    # Given a server whose Content-Length says 6 MB (an ordinary, honest large file)
    url = web.add("/big.xml", b"x" * 6_000_000)

    # When it is fetched with a 5 MB cap
    with pytest.raises(FetchError) as caught:
        fetcher(max_bytes=5_000_000).get(url)

    # Then it is refused from the headers alone
    assert str(caught.value) == "larger than the 5 MB limit (the server says 6 MB); not downloaded"


def test_a_gzip_bomb_is_cut_off_at_the_cap_after_decompression(web: WebServer) -> None:
    # Given 60 MB of zeros that travel as 60 KB of gzip
    bomb = gzip.compress(b"\0" * 60_000_000)
    url = web.add("/bomb.xml", Resource(body=bomb, headers={"Content-Encoding": "gzip"}))

    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as caught:
            fetcher(max_bytes=5_000_000).get(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert "larger than the 5 MB limit" in str(caught.value)
    assert peak < 15_000_000


def test_a_slow_drip_is_stopped_by_the_total_deadline_not_the_read_timeout(web: WebServer) -> None:
    # Given a server that sends one byte every 50 ms: each read is quick, the whole is endless
    url = web.add("/drip.xml", Resource(body=FEED * 20, drip=0.05))

    # When it is fetched with a 5 s read timeout but a 1 s total limit
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher(read_timeout=5, total_timeout=1).get(url)

    # Then the total limit ends it, about on time
    assert "gave up after 1s" in str(caught.value)
    assert time.monotonic() - started < 2.5


def test_a_server_that_does_not_answer_times_out(web: WebServer) -> None:
    url = web.add("/slow.xml", Resource(body=FEED, delay=3))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher(read_timeout=0.5).get(url)
    assert str(caught.value) == "the server did not answer within 0.5s"
    assert time.monotonic() - started < 2


def test_the_polls_deadline_ends_a_fetch_early(web: WebServer) -> None:
    # Given a poll with 0.5 s left and a feed that takes 3 s
    url = web.add("/slow.xml", Resource(body=FEED, delay=3))
    bounded = fetcher(read_timeout=10).bounded(time.monotonic() + 0.5)

    # Then the fetch gives up when the poll's time is up, and says so
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        bounded.get(url)
    assert time.monotonic() - started < 1.5
    assert str(caught.value) == "gave up: the poll's time ran out before the server answered"


def test_a_redirect_loop_is_named_as_one(web: WebServer) -> None:
    web.add("/a", Resource(redirect=web.url("/b")))
    web.add("/b", Resource(redirect="/a"))
    with pytest.raises(FetchError) as caught:
        fetcher().get(web.url("/a"))
    assert str(caught.value) == f"redirect loop: {web.url('/b')} redirects back to {web.url('/a')}"


def test_a_long_redirect_chain_stops_at_the_limit(web: WebServer) -> None:
    for i in range(10):
        web.add(f"/r{i}", Resource(redirect=f"/r{i + 1}", status=301))
    with pytest.raises(FetchError) as caught:
        fetcher(max_redirects=3).get(web.url("/r0"))
    assert str(caught.value) == f"more than 3 redirects (stopped at {web.url('/r3')})"


def test_a_redirect_within_the_limit_is_followed_and_reported(web: WebServer) -> None:
    web.add("/old.xml", Resource(redirect="/new.xml", status=308))
    web.add("/new.xml", FEED)
    result = fetcher().get(web.url("/old.xml"))
    assert result.body == FEED
    assert result.final_url == web.url("/new.xml")
    assert result.redirects == (web.url("/new.xml"),)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://ftp.example.org/feed.xml", "gopher://x/"])
def test_a_redirect_to_a_scheme_other_than_http_is_refused(web: WebServer, target: str) -> None:
    web.add("/feed.xml", Resource(redirect=target))
    with pytest.raises(FetchError) as caught:
        fetcher().get(web.url("/feed.xml"))
    scheme = target.split(":")[0]
    assert str(caught.value).startswith(f"redirected to a {scheme!r} URL")
    assert "not allowed (only http and https)" in str(caught.value)


def test_a_feed_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(FetchError) as caught:
        fetcher().get("file:///etc/passwd")
    assert str(caught.value) == "only http and https URLs can be fetched, not 'file'"


@pytest.mark.parametrize(
    ("status", "message"), [(404, "HTTP 404 Not Found"), (503, "HTTP 503 Service Unavailable")]
)
def test_an_http_error_is_reported_with_its_status(web: WebServer, status: int, message: str) -> None:
    url = web.add("/feed.xml", Resource(body=b"no", status=status))
    with pytest.raises(FetchError) as caught:
        fetcher().get(url)
    assert str(caught.value) == message


def test_a_refused_connection_is_reported() -> None:
    with pytest.raises(FetchError) as caught:
        fetcher().get("http://127.0.0.1:9/feed.xml", configured=True)  # a configured feed
    assert str(caught.value) == "connection refused"


def test_a_connection_cut_off_mid_body_is_not_reused_for_the_next_request(web: WebServer) -> None:
    # Given one fetcher (one connection pool) and a huge body it gives up on
    shared = fetcher(max_bytes=100_000)
    web.add("/huge.xml", Resource(endless=10_000_000))
    small = web.add("/feed.xml", FEED)
    with pytest.raises(FetchError):
        shared.get(web.url("/huge.xml"))

    # When the same fetcher then fetches a small feed from the same server
    result = shared.get(small)

    # Then it gets that feed, not the rest of the huge one
    assert result.body == FEED
