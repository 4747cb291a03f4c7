"""Properties that hold for any feed text at all: the post fits, the link is whole, cuts are clean.

Titles are built from the pieces that break naive code: emoji and ZWJ sequences,
flags, CJK, right-to-left scripts, combining marks, very long words, web addresses,
mentions, cashtags and invisible characters, plus arbitrary Unicode.
"""

from __future__ import annotations

import string
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
import regex
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hookline import weighted_length
from hookline.compose import compose
from hookline.compose.entities import neutralise_entities, x_cashtags, x_mentions
from hookline.compose.hooks import make_hook
from hookline.compose.links import x_safe_link
from hookline.compose.measure import ELLIPSIS, ComposeError, url_spans
from hookline.models import Entry, EventInfo
from tests.conftest import NOW, make_config

CONFIG = make_config(
    feeds=[
        {"id": "news", "url": "https://www.example.org/news/feed"},
        {
            "id": "rivers",
            "url": "https://www.riverstrust.org.uk/feed",
            "source": "partner",
            "partner": "Rivers Trust",
        },
    ],
    compose={"hashtags": {"Water": "#water", "Research": "#research"}},
)
PROPERTY = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

EMOJI = st.sampled_from(
    [
        "😀",
        "👍🏽",
        "👩‍💻",
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "🧑🏿‍🤝‍🧑🏻",
        "🇬🇧",
        "🇫🇷🇩🇪",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "1️⃣",
        "❤️",
    ]
)
CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=40)
KANA_HANGUL = st.text(
    st.characters(min_codepoint=0x3041, max_codepoint=0x30FF)
    | st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
    min_size=1,
    max_size=20,
)
RTL = st.text(
    st.characters(min_codepoint=0x0621, max_codepoint=0x064A)
    | st.characters(min_codepoint=0x05D0, max_codepoint=0x05EA),
    min_size=1,
    max_size=15,
)
COMBINING = st.builds(
    lambda base, marks: base + "".join(marks),
    st.sampled_from("aeiounxAZ"),
    st.lists(st.characters(min_codepoint=0x0300, max_codepoint=0x036F), min_size=1, max_size=8),
)
ASCII_WORD = st.text(string.ascii_letters + string.digits + "'-", min_size=1, max_size=14)
LONG_WORD = st.text(string.ascii_lowercase, min_size=60, max_size=500)
URL_IN_TEXT = st.builds(
    lambda host, path: f"https://{host}.com/{path}",
    st.text(string.ascii_lowercase, min_size=3, max_size=10),
    LONG_WORD,
)
HOSTILE = st.sampled_from(
    [
        "\u202e",
        "\u2066",
        "\u200b",
        "\u200d",
        "\ufeff",
        "\x00",
        "\x1b",
        "\u0301",
        "@someone",
        "＠other",
        "RT@x",
        "$ABC",
        "$A.B",
        "a@b.co",
    ]
)
TOKEN = st.one_of(
    ASCII_WORD,
    ASCII_WORD,
    EMOJI,
    CJK,
    KANA_HANGUL,
    RTL,
    COMBINING,
    LONG_WORD,
    URL_IN_TEXT,
    HOSTILE,
    st.text(max_size=12),
)
TITLES = st.builds(
    lambda tokens, sep: sep.join(tokens),
    st.lists(TOKEN, max_size=40),
    st.sampled_from([" ", " ", "", "  ", "\n"]),
)
PATH_SEGMENT = st.text(
    string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:@%", min_size=1, max_size=30
) | st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)
LINKS = st.one_of(
    st.builds(
        lambda host, segments, query: f"https://{host}/" + "/".join(segments) + query,
        st.sampled_from(["www.example.org", "www.riverstrust.org.uk", "news.example.org"]),
        st.lists(PATH_SEGMENT, max_size=8),
        st.sampled_from(["", "?id=5", "?a=1&b=two%20words", "?x=1#top"]),
    ),
    st.builds(lambda n: "https://www.example.org/" + "a" * n, st.integers(100, 3500)),
)
EVENTS = st.one_of(
    st.none(),
    st.builds(
        lambda offset, hours, venue: EventInfo(
            start=NOW + timedelta(minutes=offset),
            end=NOW + timedelta(minutes=offset, hours=hours) if hours else None,
            venue=venue or None,
        ),
        st.integers(-600, 60 * 24 * 400),
        st.integers(0, 80),
        TITLES,
    ),
)


def _without_utm(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("utm_"))
    return urlunsplit(parts._replace(query=query))


def _boundaries(text: str) -> tuple[set[int], set[int]]:
    graphemes = {0}
    position = 0
    for cluster in regex.findall(r"\X", text):
        position += len(cluster)
        graphemes.add(position)
    words = {m.start() for m in regex.finditer(r"\b", text, flags=regex.WORD)}
    words |= {i for i, ch in enumerate(text) if ch == " "}
    return graphemes, words


@PROPERTY
@given(
    title=TITLES,
    summary=TITLES,
    link=LINKS,
    happening=EVENTS,
    partner=st.booleans(),
    categories=st.lists(st.sampled_from(["Water", "Research", "Other"]), max_size=3),
)
def test_any_entry_becomes_a_post_that_fits_keeps_its_link_and_is_cut_cleanly(
    title: str, summary: str, link: str, happening: EventInfo | None, partner: bool, categories: list[str]
) -> None:
    feed = CONFIG.feeds[1 if partner else 0]
    entry = Entry(
        feed_id=feed.id,
        identity="x",
        title=title,
        link=link,
        summary=summary,
        event=happening,
        categories=tuple(categories),
    )
    hook = make_hook(entry, feed, CONFIG)
    if not hook.text:
        # Only an entry with nothing left to say is skipped, and it says why.
        with pytest.raises(ComposeError, match="title"):
            compose(entry, feed, CONFIG, NOW)
        event("skipped: nothing left of the title")
        return
    composed = compose(entry, feed, CONFIG, NOW)

    # It fits, as X counts it
    assert composed.weighted_length == weighted_length(composed.text) <= 280
    # The link is in it whole, and X links all of it
    assert _without_utm(composed.link) == x_safe_link(link)
    assert composed.link in composed.text
    assert composed.link in [url for _, _, url in url_spans(composed.text)]
    # The feed text cannot mention anyone or tag a stock, nor hide or reorder text
    assert x_mentions(composed.text) == []
    assert x_cashtags(composed.text) == []
    assert not regex.search(
        r"[\p{Cc}\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f\u061c\u2060\ufeff]", composed.text
    )
    # A shortened headline is a start of the whole one, cut between graphemes and words
    event("an event" if composed.when else "a publication")
    if composed.hook != hook.text:
        event("headline shortened")
        assert composed.hook.endswith(ELLIPSIS)
        stem = composed.hook[: -len(ELLIPSIS)]
        assert hook.text.startswith(stem)
        graphemes, words = _boundaries(hook.text)
        assert len(stem) in graphemes
        first_word_too_long = not any(0 < b <= len(stem) for b in words)
        assert len(stem) in words or first_word_too_long
        if first_word_too_long:
            event("cut inside one over-long word, between graphemes")


ONE_HUGE_WORD = st.lists(
    st.one_of(EMOJI, COMBINING, CJK, RTL, st.text(string.ascii_lowercase, min_size=1, max_size=50)),
    min_size=30,
    max_size=120,
).map("".join)


@PROPERTY
@given(title=ONE_HUGE_WORD, link=LINKS)
def test_a_headline_that_is_one_enormous_word_is_cut_between_graphemes(title: str, link: str) -> None:
    feed = CONFIG.feeds[0]
    entry = Entry(feed_id=feed.id, identity="x", title=title, link=link)
    hook = make_hook(entry, feed, CONFIG).text
    composed = compose(entry, feed, CONFIG, NOW)
    assert composed.weighted_length == weighted_length(composed.text) <= 280
    assert composed.link in [url for _, _, url in url_spans(composed.text)]
    if composed.hook != hook:
        stem = composed.hook[: -len(ELLIPSIS)]
        graphemes, words = _boundaries(hook)
        assert hook.startswith(stem)
        assert len(stem) in graphemes
        assert len(stem) in words or not any(0 < b <= len(stem) for b in words)
        event("shortened")


@PROPERTY
@given(st.text(max_size=200))
def test_neutralising_removes_only_signs_and_leaves_x_nothing_to_parse(text: str) -> None:
    out = neutralise_entities(text)
    assert x_mentions(out) == []
    assert x_cashtags(out) == []
    # Nothing but @, ＠ and $ signs was taken away
    stripped = "".join(ch for ch in text if ch not in "@＠$")
    assert "".join(ch for ch in out if ch not in "@＠$") == stripped


@PROPERTY
@given(
    st.lists(PATH_SEGMENT, min_size=1, max_size=6), st.sampled_from(["", ".", ")", "!", "?", ",", "*", "'"])
)
def test_any_path_is_posted_in_a_form_x_links_whole(segments: list[str], last: str) -> None:
    link = "https://www.example.org/" + "/".join(segments) + last
    safe = x_safe_link(link)
    assert [url for _, _, url in url_spans(f"Read this {safe} now")] == [safe]
