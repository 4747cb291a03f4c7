"""The link pre-flight against a real local web server, and schema.org events in JSON-LD.

Every failure is a warning the approver reads, never an exception and never a blocker.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hookline.poll.fetch import Fetcher, FetchLimits
from hookline.poll.linkcheck import LinkChecker, PageCheck, page_events, preflight
from local.webserver import Resource
from tests.support.feeds import page

LONDON = ZoneInfo("Europe/London")
OPEN_ROBOTS = b"User-agent: *\nAllow: /\n"


def checker(**limits: float) -> LinkChecker:
    return LinkChecker(Fetcher(FetchLimits(**limits)), LONDON)  # type: ignore[arg-type]


def messages(result: PageCheck) -> list[tuple[bool, str]]:
    return [(c["ok"], c["message"]) for c in result.checks]


def test_a_working_page_with_a_card_and_open_robots_passes_every_check(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/news/river", page("River quality report"), content_type="text/html; charset=utf-8")

    result = checker().check(url)

    assert result.ok and result.status == 200 and result.final_url == url
    assert messages(result) == [
        (True, "The link answers HTTP 200."),
        (True, "X can show a summary card: the page has an image and a title."),
        (True, "robots.txt lets Twitterbot fetch the page."),
    ]
    assert result.warnings == []
    # And the stored form is what the review page reads: a list of {ok, message}
    stored = json.loads(json.dumps(result.as_json()))
    assert stored["checks"][0] == {"ok": True, "message": "The link answers HTTP 200."}
    assert stored["final_url"] == url


def test_a_redirected_link_is_followed_and_its_final_address_shown(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    final = web.add("/2026/river-quality", page("River quality"), content_type="text/html")
    web.add("/r/1", Resource(redirect="/r/2", status=301))
    start = web.add("/r/2", Resource(redirect=final, status=302)).replace("/r/2", "/r/1")

    result = checker().check(start)

    assert result.final_url == final
    assert messages(result)[0] == (True, f"The link answers HTTP 200 after 2 redirect(s), at {final}.")


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (Resource(body=b"gone", status=404, content_type="text/html"), "HTTP 404 Not Found"),
        (Resource(body=b"oops", status=503, content_type="text/html"), "HTTP 503 Service Unavailable"),
        (Resource(redirect="ftp://files.example.org/report.pdf"), "redirected to a 'ftp' URL"),
    ],
)
def test_a_link_that_does_not_open_is_a_warning_not_an_error(web, resource, reason):
    url = web.add("/news/broken", resource)
    result = checker().check(url)
    assert result.ok is False
    [warning] = result.warnings
    # The fetcher's own words say why (they are the feeds' words, shared with feed errors)
    assert warning.startswith(f"The link does not open: {reason}")


def test_a_slow_page_costs_one_warning_within_the_feeds_timeouts(web):
    # Given the same limits as feeds (here, a short read timeout) and a page that hangs
    url = web.add("/news/slow", Resource(body=page("Slow"), delay=3, content_type="text/html"))
    began = time.monotonic()
    result = checker(read_timeout=0.3, total_timeout=1).check(url)
    # Then the check gives up quickly and says why
    assert time.monotonic() - began < 2.5
    [warning] = result.warnings
    assert warning.startswith("The link does not open: ")
    assert any(word in warning for word in ("timed out", "within", "gave up"))


def test_a_page_over_the_size_cap_is_reported_unchecked_not_broken(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/news/huge", b"<html>" + b"x" * 60_000, content_type="text/html")
    result = checker(max_bytes=20_000).check(url)
    assert result.ok is True
    [warning] = result.warnings
    assert warning.startswith("The page is larger than the 0.02 MB limit")
    assert warning.endswith("so it was not checked for card tags.")


@pytest.mark.parametrize(
    ("head", "warning"),
    [
        (
            "",
            "The page has no og:title and no og:image or twitter:card tag: X will show a bare link, no card.",
        ),
        (
            '<meta property="og:title" content="River">',
            "The page has no og:image or twitter:card tag: X will show a bare link, no card.",
        ),
        (
            '<meta property="og:image" content="/c.png">',
            "The page has no og:title tag: X will show a bare link, no card.",
        ),
    ],
)
def test_a_page_without_card_tags_warns_that_x_shows_a_bare_link(web, head, warning):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/news/plain", f"<html><head>{head}</head><body>Hi</body></html>", content_type="text/html")
    assert checker().check(url).warnings == [warning]


def test_a_twitter_card_with_a_title_needs_no_open_graph_image(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    head = (
        '<meta name="twitter:card" content="summary_large_image"><meta name="twitter:title" content="River">'
    )
    url = web.add("/news/tw", f"<html><head>{head}</head></html>", content_type="text/html")
    result = checker().check(url)
    assert result.warnings == []
    assert (True, "X can show a summary_large_image card: the page has a title.") in messages(result)


def test_a_page_served_with_the_wrong_content_type_is_still_read_as_a_page(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/news/mislabelled", page("River"), content_type="application/octet-stream")
    assert checker().check(url).warnings == []


def test_a_pdf_link_warns_that_x_shows_no_card(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/files/report.pdf", b"%PDF-1.7 ...", content_type="application/pdf")
    result = checker().check(url)
    assert result.ok
    assert result.warnings == [
        "The link is a PDF document (application/pdf), not a web page: X shows it without a card."
    ]


@pytest.mark.parametrize(
    ("robots", "blocked"),
    [
        (b"User-agent: Twitterbot\nDisallow: /\n", True),
        (b"User-agent: *\nDisallow: /news/\n", True),
        (b"User-agent: *\nDisallow: /\n\nUser-agent: Twitterbot\nAllow: /\n", False),
        # RFC 9309: the longest match wins (urllib.robotparser would take the first line)
        (b"User-agent: *\nDisallow: /\nAllow: /news/\n", False),
        (b"User-agent: *\nDisallow: /private/\n", False),
    ],
)
def test_robots_txt_is_read_as_x_would_for_twitterbot(web, robots, blocked):
    web.add("/robots.txt", robots, content_type="text/plain")
    url = web.add("/news/river", page("River"), content_type="text/html")
    warning = "robots.txt blocks Twitterbot: X cannot fetch the page, so the post has no card."
    assert (warning in checker().check(url).warnings) is blocked


def test_a_missing_robots_txt_allows_everything_and_a_broken_one_is_a_warning(web):
    url = web.add("/news/river", page("River"), content_type="text/html")
    assert checker().check(url).warnings == []  # 404: no rules
    web.add("/robots.txt", Resource(body=b"down", status=500, content_type="text/plain"))
    [warning] = checker().check(url).warnings
    assert warning.startswith("robots.txt could not be read (HTTP 500")
    assert warning.endswith("X may not fetch the page for a card.")


def test_each_link_is_fetched_once_and_robots_once_per_site(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    first = web.add("/news/a", page("A"), content_type="text/html")
    second = web.add("/news/b", page("B"), content_type="text/html")
    links = checker()
    # When a poll meets the same link twice, and another link on the same site
    assert links.check(first) is links.check(first)
    links.check(second)
    # Then each page was fetched once, and robots.txt once
    assert len(web.requests_for("/news/a")) == 1
    assert len(web.requests_for("/news/b")) == 1
    assert len(web.requests_for("/robots.txt")) == 1


def test_the_publishers_preflight_checks_again_from_scratch(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    url = web.add("/news/a", page("A"), content_type="text/html")
    fetcher = Fetcher()
    assert preflight(fetcher, url, LONDON).warnings == []
    # Given the page went away after the draft was made
    web.add("/news/a", Resource(body=b"gone", status=410, content_type="text/html"))
    # Then the check just before publishing sees it
    assert preflight(fetcher, url, LONDON).warnings == ["The link does not open: HTTP 410 Gone."]
    assert len(web.requests_for("/news/a")) == 2


def test_the_page_event_and_a_cancelled_status_reach_the_approver(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Event",
            "name": "Fens water summit",
            "startDate": "2026-12-01T18:00:00+00:00",
            "eventStatus": "https://schema.org/EventCancelled",
            "location": {"@type": "Place", "name": "The Maltings", "address": {"addressLocality": "Ely"}},
        }
    )
    url = web.add("/events/summit", page("Summit", jsonld=jsonld), content_type="text/html")
    result = checker().check(url)
    assert result.event is not None and result.event.venue == "The Maltings, Ely"
    assert result.event_status == "EventCancelled"
    assert result.warnings == ["The page says the event is cancelled."]
    assert result.as_json()["event"]["start"] == "2026-12-01T18:00:00+00:00"


def test_unreadable_event_data_is_a_warning(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    broken = '{"@type": "Event", "startDate": "2026-12-01T18:00", }'
    url = web.add("/events/broken", page("Summit", jsonld=broken), content_type="text/html")
    result = checker().check(url)
    assert result.event is None
    assert result.warnings == [
        "The page's schema.org event data could not be read (not valid JSON (Expecting property name enclosed in double quotes)), so its date and venue were not used."
    ]


# -- schema.org events in JSON-LD ------------------------------------------------------------


def events(*blocks: object, raw: list[str] | None = None):
    texts = [json.dumps(b) for b in blocks] + (raw or [])
    return page_events(texts, LONDON)[0]


def test_a_plain_event_with_place_and_postal_address():
    [event] = events(
        {
            "@context": "https://schema.org",
            "@type": "Event",
            "name": "Fens water summit",
            "startDate": "2026-12-01T18:00:00Z",
            "endDate": "2026-12-01T20:30:00Z",
            "location": {
                "@type": "Place",
                "name": "The Maltings",
                "address": {"@type": "PostalAddress", "streetAddress": "Ship Lane", "addressLocality": "Ely"},
            },
        }
    )
    assert event.info.start == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    assert event.info.end == datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
    assert event.info.venue == "The Maltings, Ely"
    assert event.name == "Fens water summit"


def test_an_event_in_a_graph_with_its_venue_referenced_by_id():
    [event] = events(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "@id": "https://example.org/e#page", "name": "Summit"},
                {
                    "@type": "Place",
                    "@id": "#hall",
                    "name": "Guildhall",
                    "address": "Market Square, Cambridge",
                },
                {
                    "@type": "EducationEvent",
                    "name": "Summit",
                    "startDate": "2026-12-02T10:00",
                    "location": {"@id": "#hall"},
                },
            ],
        }
    )
    assert event.info.start == datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    assert event.info.venue == "Guildhall, Market Square, Cambridge"


def test_events_nested_in_arrays_main_entities_and_sub_events():
    found = events(
        [
            {"@type": "Organization", "name": "Trust"},
            {"@type": "WebPage", "mainEntity": {"@type": "Event", "startDate": "2026-12-03"}},
        ],
        {
            "@type": "EventSeries",
            "startDate": "2026-01-01",
            "subEvent": [{"@type": "MusicEvent", "startDate": "2026-12-04T19:30"}],
        },
    )
    assert [e.info.start for e in found] == [
        datetime(2026, 12, 3, tzinfo=LONDON),
        datetime(2026, 12, 4, 19, 30, tzinfo=LONDON),
    ]


@pytest.mark.parametrize(
    ("location", "mode", "venue"),
    [
        ({"@type": "VirtualLocation", "url": "https://meet.example.org/x"}, None, "online"),
        (
            [{"@type": "Place", "name": "Guildhall"}, {"@type": "VirtualLocation"}],
            None,
            "Guildhall and online",
        ),
        (
            {"@type": "Place", "name": "Guildhall"},
            "https://schema.org/MixedEventAttendanceMode",
            "Guildhall and online",
        ),
        (None, "https://schema.org/OnlineEventAttendanceMode", "online"),
        ("The Corn Exchange, Cambridge", None, "The Corn Exchange, Cambridge"),
        ("https://zoom.example.org/j/123", None, "online"),
        (
            {"@type": "PostalAddress", "streetAddress": "1 High St", "addressLocality": "Ely"},
            None,
            "1 High St, Ely",
        ),
        (
            {"@type": "Place", "name": "Ely Cathedral", "address": {"addressLocality": "Ely"}},
            None,
            "Ely Cathedral",
        ),
        (
            {"@type": "Place", "name": "Wembley Arena", "address": {"addressLocality": "Ely"}},
            None,
            "Wembley Arena, Ely",
        ),
        ({"@type": "Place", "name": [{"@value": "Fish &amp; Chips Hall"}]}, None, "Fish & Chips Hall"),
        ({"@type": "Place"}, None, None),
    ],
)
def test_venues_in_every_shape_pages_write_them(location, mode, venue):
    node = {"@type": "Event", "startDate": "2026-12-01T18:00"}
    if location is not None:
        node["location"] = location
    if mode:
        node["eventAttendanceMode"] = mode
    [event] = events(node)
    assert event.info.venue == venue


@pytest.mark.parametrize(
    "kind",
    [
        "Event",
        "schema:Event",
        "https://schema.org/Festival",
        "http://schema.org/SportsEvent",
        ["Event", "Thing"],
        "Hackathon",
    ],
)
def test_event_types_however_they_are_written(kind):
    assert len(events({"@type": kind, "startDate": "2026-12-01"})) == 1


@pytest.mark.parametrize("kind", ["BroadcastEvent", "PublicationEvent", "EventSeries", "Article", None])
def test_things_that_are_not_events_one_can_attend(kind):
    assert events({"@type": kind, "startDate": "2026-12-01"}) == []


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (["2026-12-01T18:00:00+01:00", "2026-12-08T18:00"], datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),
        ({"@value": "2026-12-01T18:00Z", "@type": "DateTime"}, datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
        ("20261201T180000Z", datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
    ],
)
def test_start_dates_in_lists_value_objects_and_compact_form(start, expected):
    [event] = events({"@type": "Event", "startDate": start})
    assert event.info.start == expected


def test_an_event_without_a_start_or_with_an_end_before_it():
    assert events({"@type": "Event", "name": "Someday"}) == []
    [event] = events({"@type": "Event", "startDate": "2026-12-01T18:00", "endDate": "2026-12-01T17:00"})
    assert event.info.end is None


def test_broken_blocks_are_skipped_and_the_good_ones_still_count():
    good = {"@type": "Event", "startDate": "2026-12-01T18:00"}
    found, problems = page_events(
        [
            '{"@type": "Event", "startDate": "2026-12-01", }',  # trailing comma
            "<!-- " + json.dumps(good) + " -->",  # an old CMS's comment wrapper
            "//<![CDATA[\n" + json.dumps({**good, "name": "CDATA"}) + "\n//]]>",
            '{"@type": "Event", "name": "line\nbreak", "startDate": "2026-12-05"}',  # raw newline in a string
            "[" * 100_000 + "]" * 100_000,  # deeper than json can go
            "",
            "null",
            '"just a string"',
        ],
        LONDON,
    )
    assert [e.name for e in found] == ["", "CDATA", "line break"]
    assert len(problems) == 1


def test_the_next_upcoming_event_of_a_series_is_the_one_used(web):
    web.add("/robots.txt", OPEN_ROBOTS, content_type="text/plain")
    series = [
        {"@type": "Event", "name": past, "startDate": start}
        for past, start in (
            ("spring", "2026-03-01T18:00Z"),
            ("winter", "2026-12-01T18:00Z"),
            ("autumn", "2026-11-30T18:00Z"),
        )
    ]
    url = web.add("/events/talks", page("Talks", jsonld=json.dumps(series)), content_type="text/html")
    links = LinkChecker(Fetcher(), LONDON, clock=lambda: datetime(2026, 11, 25, tzinfo=UTC))
    assert links.check(url).event.start == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
