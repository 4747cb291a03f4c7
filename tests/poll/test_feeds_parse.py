"""Feed bytes as organisations' CMSs really write them, turned into entries."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hookline.poll.feeds import ParseError, parse_feed
from hookline.text import plain_text

LONDON = ZoneInfo("Europe/London")
BASE = "https://www.example.org/news/feed"


def rss(items: str, ns: str = "", encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0" {ns}><channel><title>News</title>'
        f"<link>https://www.example.org/</link>{items}</channel></rss>"
    ).encode(encoding if encoding in ("utf-8", "iso-8859-1") else "utf-8")


def parse(body: bytes, **kwargs: object) -> list:
    return parse_feed(body, feed_id="news", url=BASE, default_tz=LONDON, **kwargs).entries  # type: ignore[arg-type]


# -- identity -------------------------------------------------------------------------------


def test_identity_is_the_guid_else_the_link_else_a_hash_of_title_and_date() -> None:
    entries = parse(
        rss(
            "<item><title>A</title><link>/news/a</link><guid>tag:example.org,2026:a</guid></item>"
            "<item><title>B</title><link>https://www.example.org/news/b</link></item>"
            "<item><title>C</title><pubDate>Wed, 25 Nov 2026 09:00:00 GMT</pubDate></item>"
        )
    )
    a, b, c = entries
    assert a.identity == "tag:example.org,2026:a"
    assert a.link == "https://www.example.org/news/a"  # relative links resolved against the feed
    assert b.identity == "https://www.example.org/news/b"
    assert c.identity.startswith("sha256:")
    assert c.link == ""
    # the same title and date always give the same identity, so the entry is seen once
    assert (
        parse(rss("<item><title>C</title><pubDate>Wed, 25 Nov 2026 09:00:00 GMT</pubDate></item>"))[
            0
        ].identity
        == c.identity
    )


def test_a_guid_that_several_entries_share_identifies_none_of_them() -> None:
    # Given a CMS that gives every item the same guid
    entries = parse(
        rss(
            "<item><title>One</title><link>/n/1</link><guid>https://www.example.org/</guid></item>"
            "<item><title>Two</title><link>/n/2</link><guid>https://www.example.org/</guid></item>"
        )
    )
    # Then each is identified by its own link instead, and neither hides the other
    assert [e.identity for e in entries] == ["https://www.example.org/n/1", "https://www.example.org/n/2"]
    assert len({e.key for e in entries}) == 2


def test_entries_that_share_a_link_stay_distinct_and_are_not_deduplicated_by_it() -> None:
    entries = parse(
        rss(
            "<item><title>Talk one</title><link>/events</link></item>"
            "<item><title>Talk two</title><link>/events</link></item>"
        )
    )
    assert len({e.identity for e in entries}) == 2
    assert [e.extra["dedupe_link"] for e in entries] == [False, False]


def test_an_entry_listed_twice_is_one_entry() -> None:
    # Given a feed that lists the same item twice (same title, link and no guid)
    entries = parse(rss("<item><title>Same</title><link>/n/s</link></item>" * 2))
    # Then it is one entry, so it can only ever be one draft
    assert len(entries) == 1


# -- hostile text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title_xml", "expected"),
    [
        ("Hi &lt;script&gt;alert(1)&lt;/script&gt; there", "Hi there"),
        ("<![CDATA[Hi <img src=x onerror=alert(1)> <script>alert(2)</script>there]]>", "Hi there"),
        ("Hi &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; there", "Hi there"),
        ("<![CDATA[<svg onload=alert(1)><b>Bold</b> move]]>", "Bold move"),
        ("Fish &amp; chips &lt; 5 pounds", "Fish & chips < 5 pounds"),
        ("AT&amp;T and R&amp;D", "AT&T and R&D"),
    ],
)
def test_markup_in_titles_never_survives_as_markup(title_xml: str, expected: str) -> None:
    [entry] = parse(rss(f"<item><title>{title_xml}</title><link>/n/x</link></item>"))
    assert entry.title == expected


def test_atom_html_and_xhtml_titles_become_plain_text() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<entry><id>1</id><title type="html">Hi &lt;b onclick="x()"&gt;bold&lt;/b&gt; &amp;amp; more</title>'
        b'<link href="/a"/></entry>'
        b'<entry><id>2</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Hi <script>alert(1)</script>'
        b"<b>x</b></div></title></entry></feed>"
    )
    first, second = parse(body)
    assert first.title == "Hi bold & more"
    assert second.title == "Hi x"
    assert second.link == ""  # feedparser offers the id "2" as a link; it is not a URL


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x"]
)
def test_links_that_are_not_http_are_dropped(link: str) -> None:
    [entry] = parse(rss(f"<item><title>T</title><link>{link.replace('<', '&lt;')}</link></item>"))
    assert entry.link == ""


def test_plain_text_keeps_ordinary_angle_brackets_and_drops_hidden_content() -> None:
    assert plain_text("x < y and y > z") == "x < y and y > z"
    assert plain_text("<p>One</p><p>Two</p>") == "One Two"
    assert plain_text("<style>p{}</style>Visible<!-- hidden -->") == "Visible"


def test_a_ten_kilobyte_title_is_bounded() -> None:
    [entry] = parse(rss(f"<item><title>{'word ' * 2000}</title><link>/n/x</link></item>"))
    assert len(entry.title) <= 2000


# -- broken feeds -----------------------------------------------------------------------------


def test_a_feed_with_invalid_utf8_is_read_with_its_problem_reported() -> None:
    # Given a feed that says utf-8 but was written in windows-1252
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Caf\xe9 culture report</title><link>/n/cafe</link></item></channel></rss>"
    )
    parsed = parse_feed(body, feed_id="news", url=BASE)
    # Then the entry is recovered with its text readable, and the problem is named
    assert [e.title for e in parsed.entries] == ["Café culture report"]
    assert parsed.problem is not None
    assert parsed.problem.startswith("wrong character encoding")


def test_the_charset_in_the_response_headers_is_honoured() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Caf\xe9</title><link>/c</link></item></channel></rss>'
    parsed = parse_feed(
        body, feed_id="news", url=BASE, headers={"Content-Type": "application/rss+xml; charset=iso-8859-1"}
    )
    assert parsed.entries[0].title == "Café"
    assert parsed.problem is None


def test_a_malformed_feed_gives_the_entries_feedparser_recovers() -> None:
    body = rss("<item><title>Recovered &nbsp; report</title><link>/n/r</link></item><item><title>Unclosed")
    parsed = parse_feed(body, feed_id="news", url=BASE)
    assert parsed.entries[0].title == "Recovered report"
    assert parsed.problem
    assert parsed.problem.startswith("malformed XML")


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"", {}, "the server sent an empty response"),
        (b"   \n", {}, "the server sent an empty response"),
        (
            b"<!doctype html><html><head><title>Log in</title></head><body>Please log in</body></html>",
            {"Content-Type": "text/html"},
            "the server sent an HTML page, not a feed (has the feed moved, or is it a login page?)",
        ),
        (b'{"items": []}', {"Content-Type": "application/json"}, "not an RSS or Atom feed"),
    ],
)
def test_bytes_that_hold_no_feed_are_a_clear_error(
    body: bytes, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, feed_id="news", url=BASE, headers=headers)
    assert str(caught.value).startswith(message)


def test_an_entity_expansion_bomb_is_refused_quickly() -> None:
    levels = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' if i else '<!ENTITY l0 "lol">' for i in range(10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [{levels}]><rss version="2.0"><channel><title>t</title>'
        "<item><title>&l9;</title><link>/n/x</link></item></channel></rss>"
    ).encode()
    started = time.monotonic()
    try:
        entries = parse(body)
    except ParseError:
        entries = []
    assert time.monotonic() - started < 10
    assert all(len(e.title) < 10_000 for e in entries)


def test_a_quadratic_blowup_is_refused_by_the_parser_and_the_entry_stays_bounded() -> None:
    # One 50 KB entity used 50,000 times: 2.5 GB if expanded, and no nesting for a depth limit to catch.
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]><rss version="2.0">'
        "<channel><title>t</title><item><title>" + "&a;" * 50_000 + "</title><link>/n/x</link></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, feed_id="news", url=BASE)
    assert "amplification" in (parsed.problem or "")
    assert all(len(e.title) <= 2000 for e in parsed.entries)


def test_an_external_entity_is_never_read() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><rss version="2.0">'
        b"<channel><title>t</title><item><title>a &x; b</title><link>/n/x</link></item></channel></rss>"
    )
    [entry] = parse(body)
    assert entry.title == "a b"


# -- dates and events ------------------------------------------------------------------------


def test_published_comes_from_pubdate_or_updated() -> None:
    entries = parse(
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<entry><id>1</id><title>A</title><link href="/a"/><updated>2026-11-24T10:00:00+01:00</updated></entry>'
        b"</feed>"
    )
    assert entries[0].published == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


EVENT_FEEDS = {
    "rss event module": (
        'xmlns:ev="http://purl.org/rss/1.0/modules/event/"',
        "<ev:startdate>2026-12-03T18:30:00+01:00</ev:startdate><ev:enddate>2026-12-03T20:00:00+01:00</ev:enddate>"
        "<ev:location>Guildhall, Cambridge</ev:location>",
        datetime(2026, 12, 3, 18, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 12, 3, 20, 0, tzinfo=timezone(timedelta(hours=1))),
        "Guildhall, Cambridge",
    ),
    "xCal (Trumba, Localist)": (
        'xmlns:xCal="urn:ietf:params:xml:ns:xcal"',
        "<xCal:dtstart>20261203T183000Z</xCal:dtstart><xCal:dtend>20261203T200000Z</xCal:dtend>"
        "<xCal:location>Room 4 &amp; foyer</xCal:location>",
        datetime(2026, 12, 3, 18, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 20, 0, tzinfo=UTC),
        "Room 4 & foyer",
    ),
    "xCal nested in a vevent": (
        'xmlns:xcal="urn:ietf:params:xml:ns:xcal"',
        "<xcal:vevent><xcal:dtstart>2026-12-03T18:30:00</xcal:dtstart><xcal:location>Hall</xcal:location></xcal:vevent>",
        datetime(2026, 12, 3, 18, 30, tzinfo=LONDON),
        None,
        "Hall",
    ),
    "RDF iCal": (
        'xmlns:ical="http://www.w3.org/2002/12/cal/ical#"',
        "<ical:dtstart>2026-12-03T18:30:00Z</ical:dtstart><ical:location>Library</ical:location>",
        datetime(2026, 12, 3, 18, 30, tzinfo=UTC),
        None,
        "Library",
    ),
    "Google Calendar gd:when": (
        'xmlns:gd="http://schemas.google.com/g/2005"',
        '<gd:when startTime="2026-12-03T18:30:00.000+00:00" endTime="2026-12-03T19:30:00.000+00:00"/>'
        '<gd:where valueString="Town hall"/>',
        datetime(2026, 12, 3, 18, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 19, 30, tzinfo=UTC),
        "Town hall",
    ),
    "calendar plugin with its own prefix and a local time": (
        'xmlns:ev="http://purl.org/rss/2.0/modules/event/"',
        "<ev:startdate>2026-12-03 18:30:00</ev:startdate><ev:location>Hall B</ev:location>",
        datetime(2026, 12, 3, 18, 30, tzinfo=LONDON),
        None,
        "Hall B",
    ),
    "schema.org elements": (
        'xmlns:schema="http://schema.org/"',
        "<schema:startDate>2026-12-03T18:30</schema:startDate><schema:location>Museum</schema:location>",
        datetime(2026, 12, 3, 18, 30, tzinfo=LONDON),
        None,
        "Museum",
    ),
    "a date without a time": (
        'xmlns:ev="http://purl.org/rss/1.0/modules/event/"',
        "<ev:startdate>2026-12-03</ev:startdate>",
        datetime(2026, 12, 3, 0, 0, tzinfo=LONDON),
        None,
        None,
    ),
}


@pytest.mark.parametrize("case", list(EVENT_FEEDS))
def test_event_dates_and_venues_are_read_from_every_common_feed_extension(case: str) -> None:
    ns, fields, start, end, venue = EVENT_FEEDS[case]
    [entry] = parse(rss(f"<item><title>Open evening</title><link>/e/1</link>{fields}</item>", ns=ns))
    assert entry.event is not None
    assert entry.event.start == start
    assert entry.event.start.utcoffset() == start.utcoffset()  # the feed's offset kept, else London's
    assert entry.event.end == end
    assert entry.event.venue == venue


def test_an_end_before_the_start_is_ignored_and_nonsense_dates_are_no_event() -> None:
    ns = 'xmlns:ev="http://purl.org/rss/1.0/modules/event/"'
    [ok, bad] = parse(
        rss(
            "<item><title>A</title><link>/e/a</link><ev:startdate>2026-12-03T18:00:00Z</ev:startdate>"
            "<ev:enddate>2026-12-02T18:00:00Z</ev:enddate></item>"
            "<item><title>B</title><link>/e/b</link><ev:startdate>next Tuesday-ish</ev:startdate></item>",
            ns=ns,
        )
    )
    assert ok.event is not None
    assert ok.event.end is None
    assert bad.event is None


def test_an_ordinary_post_has_no_event() -> None:
    [entry] = parse(rss("<item><title>Annual report</title><link>/n/r</link></item>"))
    assert entry.event is None


def test_a_pinned_copy_of_an_entry_is_the_same_entry_with_the_identity_it_has_alone() -> None:
    # Given an item listed once, and the same item again as a pinned copy with a newer date
    item = (
        "<item><title>Big report</title><link>/n/big</link><guid>post-77</guid><pubDate>{}</pubDate></item>"
    )
    alone = parse(rss(item.format("Wed, 25 Nov 2026 09:00:00 GMT")))
    pinned = parse(
        rss(
            item.format("Mon, 30 Nov 2026 09:00:00 GMT")
            + "<item><title>Other</title><link>/n/other</link><guid>post-78</guid></item>"
            + item.format("Wed, 25 Nov 2026 09:00:00 GMT")
        )
    )
    # Then the copies are one entry, known by the same identity (so the same draft key)
    assert [e.title for e in pinned] == ["Big report", "Other"]
    assert pinned[0].identity == alone[0].identity == "post-77"
    assert pinned[0].key == alone[0].key
    # And every identity it can be known by is offered for the seen check
    assert set(pinned[0].extra["identities"]) == {"post-77", "https://www.example.org/n/big"}


def test_entries_sharing_a_guid_but_not_a_title_or_link_stay_two_entries() -> None:
    entries = parse(
        rss(
            "<item><title>One</title><link>/n/1</link><guid>same</guid></item>"
            "<item><title>Two</title><link>/n/2</link><guid>same</guid></item>"
        )
    )
    assert len(entries) == 2
    assert all("same" not in e.extra["identities"] for e in entries)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            rss("<item " + " ".join(f'a{i}="x"' for i in range(2000)) + "><title>T</title></item>"),
            "an element <item> with 2,000 attributes",
        ),
        (
            rss("<item><title>T</title><description>" + "<b>x</b>" * 60_000 + "</description></item>"),
            "elements",
        ),
    ],
)
def test_parser_bombs_are_refused_unread_with_the_reason(body: bytes, said: str) -> None:
    # Given markup no real feed has, which feedparser would take minutes over
    # When it is parsed, it is refused before feedparser sees it, saying why
    # (how fast is measured in tests/reliability/test_hostile_partners.py and docs/reliability.md)
    with pytest.raises(ParseError, match="refused unread") as caught:
        parse(body)
    assert said in str(caught.value)


def test_an_ordinary_element_with_a_few_attributes_is_read() -> None:
    [entry] = parse(
        rss('<item xml:lang="en" rdf:about="x" a="1" b="2"><title>Title here</title><link>/n/1</link></item>')
    )
    assert entry.title == "Title here"
