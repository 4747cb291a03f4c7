"""Posts as the organisation's guidance asks: hook (headline) + link; events say when and where.

Every expected post here is written out in full, as an approver would see it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hookline import weighted_length
from hookline.compose import compose
from hookline.compose.clean import clean_text
from hookline.compose.entities import x_cashtags, x_mentions
from hookline.compose.hooks import first_sentence
from hookline.compose.measure import ComposeError, url_spans
from hookline.compose.when import describe_when, refresh_when
from hookline.config import ConfigError
from hookline.models import Entry, EventInfo
from tests.conftest import NOW, Clock, make_config

OWN_FEED = {"id": "news", "url": "https://www.example.org/news/feed"}
PARTNER_FEED = {
    "id": "rivers",
    "url": "https://www.riverstrust.org.uk/feed",
    "source": "partner",
    "partner": "Rivers Trust",
}
UTM = "utm_source=x&utm_medium=social&utm_campaign=hookline"
LONDON = ZoneInfo("Europe/London")


def config(**compose_settings: Any) -> Any:
    extra: dict[str, Any] = {"feeds": [OWN_FEED, PARTNER_FEED]}
    if compose_settings:
        extra["compose"] = compose_settings
    return make_config(**extra)


def entry(title: str, link: str = "https://www.example.org/news/river-quality", **kw: Any) -> Entry:
    return Entry(feed_id="news", identity=link, title=title, link=link, **kw)


def post(title: str, *, feed: int = 0, cfg: Any = None, now: datetime = NOW, **kw: Any) -> str:
    cfg = cfg or config()
    return compose(entry(title, **kw), cfg.feeds[feed], cfg, now).text


# -- the hook --------------------------------------------------------------------------------


def test_an_own_publication_is_its_headline_and_its_utm_tagged_link():
    assert post("New report: river quality in the Fens improves for a third year") == (
        "New report: river quality in the Fens improves for a third year "
        f"https://www.example.org/news/river-quality?{UTM}"
    )


def test_a_partner_publication_names_the_partner_and_its_link_carries_no_utm_tags():
    text = post(
        "State of our rivers 2026: the annual assessment",
        feed=1,
        link="https://www.riverstrust.org.uk/reports/state-of-our-rivers-2026",
    )
    assert text == (
        "From Rivers Trust: State of our rivers 2026: the annual assessment "
        "https://www.riverstrust.org.uk/reports/state-of-our-rivers-2026"
    )


def test_entities_are_decoded_even_when_a_feed_encoded_them_twice():
    assert post("Fish &amp;amp; chips &#8211; a history of the &quot;chippy&quot;").startswith(
        'Fish & chips – a history of the "chippy" https://'
    )


@pytest.mark.parametrize(
    ("title", "hook"),
    [
        ("Why &lt;b&gt;rivers&lt;/b&gt; matter&lt;br/&gt;now", "Why rivers matter now"),
        ("Growth <5% and a < b > c in the Fens", "Growth <5% and a < b > c in the Fens"),
    ],
)
def test_markup_a_feed_encoded_twice_is_dropped_but_comparisons_stay(title, hook):
    assert post(title) == f"{hook} https://www.example.org/news/river-quality?{UTM}"


def test_a_template_starting_with_an_empty_field_loses_its_separator():
    cfg = config(templates={"own_event": "{venue}: {hook}, {when} {link}"})
    event = EventInfo(start=EVENT.start)
    assert post("Fens water summit", cfg=cfg, event=event).startswith(
        "Fens water summit, Tue 1 Dec, 18:00 https://"
    )


def test_line_breaks_tabs_and_unusual_spaces_collapse_to_single_spaces():
    assert post("  Annual\n\n report\t on\u00a0the   Fens\u2003wetlands \r\n").startswith(
        "Annual report on the Fens wetlands https://"
    )


@pytest.mark.parametrize(
    ("title", "hook"),
    [
        ("Press release: Council adopts the Fens water plan", "Council adopts the Fens water plan"),
        ("NEWS:   Council adopts the Fens water plan", "Council adopts the Fens water plan"),
        ("News: Update: Council adopts the Fens water plan", "Council adopts the Fens water plan"),
        # A prefix is a whole label, never the start of a word
        ("Newsletter readers choose the Fens water plan", "Newsletter readers choose the Fens water plan"),
    ],
)
def test_boilerplate_prefixes_are_removed(title, hook):
    assert post(title) == f"{hook} https://www.example.org/news/river-quality?{UTM}"


def test_the_prefixes_to_remove_are_configurable():
    cfg = config(strip_prefixes=["Blog post -", "Opinion |"])
    assert post("Opinion | Why the Fens matter to all of us", cfg=cfg).startswith("Why the Fens matter")
    assert post("Blog post - Why the Fens matter to all of us", cfg=cfg).startswith("Why the Fens matter")


SUMMARY = "The council has published its plan to reach net zero by 2035. It was agreed on Tuesday."


@pytest.mark.parametrize(
    "title", ["", "News", "Update", "Press release", "Annual report 2026", "  ", "Blog."]
)
def test_a_weak_title_gives_way_to_the_summarys_first_sentence(title):
    # Given an entry whose title is empty, three words or fewer, or generic
    # When it is composed
    # Then the hook is the summary's first sentence (a headline: no full stop)
    assert post(title, summary=SUMMARY) == (
        f"The council has published its plan to reach net zero by 2035 https://www.example.org/news/river-quality?{UTM}"
    )


def test_a_weak_title_with_no_summary_stays_as_it_is():
    assert (
        post("Annual report 2026") == f"Annual report 2026 https://www.example.org/news/river-quality?{UTM}"
    )


def test_the_weak_title_list_is_configurable():
    cfg = config(weak_titles=["latest from the trust"])
    text = post("Latest from the Trust!", cfg=cfg, summary=SUMMARY)
    assert text.startswith("The council has published its plan")


@pytest.mark.parametrize(
    ("summary", "sentence"),
    [
        (
            "Dr. Smith and Prof. J. Bloggs open the centre. More later.",
            "Dr. Smith and Prof. J. Bloggs open the centre.",
        ),
        ("Rivers, e.g. the Cam, are cleaner. Fish are back.", "Rivers, e.g. the Cam, are cleaner."),
        ("Is the Fens plan working? We asked farmers.", "Is the Fens plan working?"),
        ("会議は東京で開かれます。詳細は後日。", "会議は東京で開かれます。"),
        ("No full stop at all in this one", "No full stop at all in this one"),
    ],
)
def test_the_first_sentence_ends_at_a_real_sentence_end(summary, sentence):
    assert first_sentence(summary) == sentence


def test_a_long_headline_is_cut_at_a_word_with_an_ellipsis_and_the_post_fits_exactly():
    # Given a headline far longer than a post
    words = [f"word{i:03d}" for i in range(80)]
    composed = compose(entry(" ".join(words)), config().feeds[0], config(), NOW)
    # Then the post is within 280, ends its headline on a whole word plus an ellipsis,
    # and one more word would not have fitted
    assert composed.weighted_length == weighted_length(composed.text) <= 280
    assert composed.hook.endswith("…")
    kept = composed.hook[:-1].split(" ")
    assert kept == words[: len(kept)]
    longer = composed.text.replace(composed.hook, " ".join(words[: len(kept) + 1]) + "…")
    assert weighted_length(longer) > 280


def test_trailing_punctuation_is_not_left_before_the_ellipsis():
    title = "Fens water plan, " + ", ".join(["consultation"] * 40)
    composed = compose(entry(title), config().feeds[0], config(), NOW)
    assert composed.hook.endswith("consultation…")


def test_a_headline_in_a_script_without_spaces_is_cut_between_words_not_graphemes():
    title = "気候変動に関する新しい報告書を公表しました" * 12
    composed = compose(entry(title), config().feeds[0], config(), NOW)
    assert composed.weighted_length <= 280
    assert composed.hook.endswith("…")
    assert title.startswith(composed.hook[:-1])
    assert len(composed.hook) > 100  # CJK counts 2: about 125 characters fit, not a handful


# -- templates -------------------------------------------------------------------------------

EVENT = EventInfo(
    start=datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
    end=datetime(2026, 12, 1, 20, 30, tzinfo=UTC),
    venue="Ely Cathedral, Ely",
)


def test_an_own_event_says_what_when_and_where():
    assert post("Fens water summit", event=EVENT) == (
        f"Fens water summit: Tue 1 Dec, 18:00–20:30, Ely Cathedral, Ely https://www.example.org/news/river-quality?{UTM}"
    )


def test_a_partner_event_names_the_partner_too():
    text = post("Fens water summit", feed=1, link="https://www.riverstrust.org.uk/events/summit", event=EVENT)
    assert text == (
        "From Rivers Trust: Fens water summit, Tue 1 Dec, 18:00–20:30, Ely Cathedral, Ely "
        "https://www.riverstrust.org.uk/events/summit"
    )


def test_an_event_without_a_venue_leaves_the_venue_out_with_its_comma():
    event = EventInfo(start=EVENT.start)
    assert post("Fens water summit", event=event) == (
        f"Fens water summit: Tue 1 Dec, 18:00 https://www.example.org/news/river-quality?{UTM}"
    )


def test_a_headline_ending_in_a_question_mark_takes_no_colon_after_it():
    assert post("What next for the Fens?", event=EVENT).startswith("What next for the Fens? Tue 1 Dec, 18:00")


def test_a_very_long_venue_is_shortened_so_the_headline_keeps_its_room():
    venue = "The Great Hall, " + "Very Long Building Name " * 12 + "Cambridge"
    composed = compose(entry("Fens water summit", event=EventInfo(EVENT.start, venue=venue)), *_own())
    assert composed.text.startswith("Fens water summit: Tue 1 Dec, 18:00, The Great Hall, Very Long")
    assert "…" in composed.text
    assert composed.weighted_length <= 280


def _own() -> tuple[Any, Any, datetime]:
    cfg = config()
    return cfg.feeds[0], cfg, NOW


def test_templates_are_configurable_per_kind_and_per_feed():
    cfg = make_config(
        feeds=[{**OWN_FEED, "template": "New from us: {hook} {link}"}, PARTNER_FEED],
        compose={"templates": {"partner_publication": "{partner} publishes: {hook} {link}"}},
    )
    assert post("River report", cfg=cfg, summary="").startswith("New from us: River report https://")
    assert post("River report", feed=1, cfg=cfg).startswith("Rivers Trust publishes: River report https://")


@pytest.mark.parametrize(
    ("where", "template", "message"),
    [
        ("compose.templates.own_event", "{hook} {when} at {vnue} {link}", "unknown placeholder {vnue}"),
        ("compose.templates.own_publication", "{hook}", "must contain {link}"),
        ("compose.templates.partner_publication", "From {partner}: {link}", "must contain {hook}"),
        ("feeds[0].template", "{headline} {link}", "unknown placeholder {headline}"),
    ],
)
def test_a_template_mistake_is_a_config_error_naming_the_field(where, template, message):
    data: dict[str, Any] = {"feeds": [OWN_FEED]}
    if where.startswith("feeds"):
        data["feeds"] = [{**OWN_FEED, "template": template}]
    else:
        data["compose"] = {"templates": {where.rsplit(".", 1)[1]: template}}
    with pytest.raises(ConfigError) as caught:
        make_config(**data)
    assert any(p.startswith(where + ":") and message in p for p in caught.value.problems), (
        caught.value.problems
    )


# -- hashtags --------------------------------------------------------------------------------


def test_hashtags_come_from_the_category_map_in_category_order_whatever_the_case():
    cfg = config(hashtags={"research": "#research", "Water": "water"})
    text = post("River quality report", cfg=cfg, categories=("Water", "Research", "Other"))
    assert text == f"River quality report https://www.example.org/news/river-quality?{UTM} #water #research"


def test_hashtags_are_added_only_while_they_fit_and_never_cut_the_headline():
    cfg = config(hashtags={"Water": "#water", "Research": "#research"})
    link = f"https://www.example.org/news/river-quality?{UTM}"
    # Given a headline that leaves room for " #water" (7) but not also " #research" (10)
    room = 280 - 23 - 1 - 7
    title = ("x" * 9 + " ") * 24 + "y" * 9
    assert len(title) == room
    text = post(title, cfg=cfg, categories=("Water", "Research"))
    assert text == f"{title} {link} #water"
    assert weighted_length(text) == 280


def test_a_hashtag_already_in_the_headline_is_not_repeated_and_the_count_is_capped():
    cfg = config(hashtags={"A": "#alpha", "B": "#beta", "C": "#gamma"}, max_hashtags=2)
    text = post("Why #Alpha matters for the Fens", cfg=cfg, categories=("A", "B", "C"))
    assert text.endswith(" #beta #gamma")
    assert text.count("#alpha") + text.count("#Alpha") == 1


def test_a_hashtags_placeholder_puts_them_where_the_template_says():
    cfg = config(hashtags={"Water": "#water"}, templates={"own_publication": "{hook} {hashtags} {link}"})
    assert post("River report", cfg=cfg, categories=("Water",)).startswith("River report #water https://")
    assert post("River report", cfg=cfg).startswith("River report https://")


@pytest.mark.parametrize("tag", ["#12345", "#two words", "#", "#hash-tag"])
def test_a_hashtag_x_would_not_recognise_is_a_config_error(tag):
    with pytest.raises(
        ConfigError, match=r"compose\.hashtags: hashtag .* for category .Water. is not one X recognises"
    ):
        make_config(compose={"hashtags": {"Water": tag}})


# -- links and UTM ---------------------------------------------------------------------------


def test_utm_tags_keep_the_existing_query_exactly_as_written():
    link = "https://www.example.org/news?id=5&q=river%20quality&copy=2#summary"
    text = post("River quality report", link=link)
    assert f"https://www.example.org/news?id=5&q=river%20quality&copy=2&{UTM}#summary" in text


def test_utm_tags_the_site_already_set_are_not_overwritten():
    text = post("River quality report", link="https://www.example.org/a?utm_source=newsletter")
    assert "https://www.example.org/a?utm_source=newsletter&utm_medium=social&utm_campaign=hookline" in text


def test_own_subdomains_are_own_links_and_other_sites_in_an_own_feed_get_no_tags():
    cfg = make_config(organisation={"own_domains": ["example.org"]}, feeds=[OWN_FEED])
    assert f"https://shop.example.org/book?{UTM}" in post(
        "Our new book on rivers", cfg=cfg, link="https://shop.example.org/book"
    )
    assert post("Our new book on rivers", cfg=cfg, link="https://www.bbc.co.uk/news/fens").endswith(
        "https://www.bbc.co.uk/news/fens"
    )


def test_a_partner_link_on_the_organisations_own_host_still_gets_no_tags():
    text = post("Joint report with the Trust", feed=1, link="https://www.example.org/joint-report")
    assert text.endswith(" https://www.example.org/joint-report")


def test_utm_can_be_switched_off_or_name_the_feed_and_kind():
    off = config(utm={"enabled": False})
    assert post("River quality report", cfg=off).endswith("/news/river-quality")
    named = config(utm={"campaign": "hookline-{feed}-{kind}", "content": "auto"})
    assert post("River quality report", cfg=named).endswith(
        "?utm_source=x&utm_medium=social&utm_campaign=hookline-news-publication&utm_content=auto"
    )
    with pytest.raises(ConfigError, match=r"compose.utm.campaign: unknown placeholder \{date\}"):
        config(utm={"campaign": "{date}"})


@pytest.mark.parametrize(
    ("link", "posted"),
    [
        ("https://www.bbc.co.uk/新闻/报告", "https://www.bbc.co.uk/%E6%96%B0%E9%97%BB/%E6%8A%A5%E5%91%8A"),
        ("https://www.bbc.co.uk/report.", "https://www.bbc.co.uk/report%2E"),
        ("https://www.bbc.co.uk/a_(b)", "https://www.bbc.co.uk/a_(b)"),
        ("https://www.bbc.co.uk/report!", "https://www.bbc.co.uk/report%21"),
        ("https://www.bbc.co.uk/a b", "https://www.bbc.co.uk/a%20b"),
    ],
)
def test_links_are_written_so_that_x_links_all_of_them(link, posted):
    # X stops a link at a non-ASCII path character and drops trailing punctuation;
    # percent-encoded, the same address is linked whole.
    text = post("River quality report", feed=1, link=link)
    assert text.endswith(" " + posted)
    assert [u for _, _, u in url_spans(text)] == [posted]


# -- untrusted text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "hook"),
    [
        ("Fens\u202e report\u202c plan", "Fens report plan"),  # right-to-left override
        ("Fens\u2066 report\u2069 plan", "Fens report plan"),  # isolates
        ("Fens\u200b report\u200e plan\ufeff", "Fens report plan"),  # zero-width space, LRM, BOM
        ("Fens\x00 report\x1b[31m plan\x7f", "Fens report[31m plan"),  # C0 controls (an ANSI escape's ESC)
        ("Fens\u2060 report\u00ad plan\U000e0041\U000e0042", "Fens report plan"),  # joiner, soft hyphen, tags
        ("\u0301Fens report plan", "Fens report plan"),  # a combining mark with nothing to sit on
        ("Fens \u0301\u0302report plan", "Fens report plan"),  # ...or only a space
        ("Fens\u3164 report \u2800 plan", "Fens report plan"),  # blank-looking fillers
    ],
)
def test_control_bidi_and_zero_width_characters_are_removed(hostile, hook):
    assert post(hostile) == f"{hook} https://www.example.org/news/river-quality?{UTM}"


@pytest.mark.parametrize(
    "kept",
    [
        "Coders 👩‍💻 and families 👨‍👩‍👧 at the Fens fair",  # ZWJ sequences
        "Wales 🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f win the cup",  # subdivision flag
        "Tea ☕️ and ❤️ at the Fens",  # emoji presentation selectors
        "گزارش می\u200cخواهیم درباره آب",  # Persian needs its zero-width non-joiner
        "ශ්\u200dරී ලංකා වාර්තාව",  # Sinhala writes "Sri" with a joiner
        "Tiếng Việt: báo cáo về sông",  # stacked Vietnamese accents
    ],
)
def test_characters_that_belong_to_the_text_are_kept(kept):
    assert post(kept).startswith(kept + " https://")


def test_runs_of_variation_selectors_hiding_data_are_cut_to_one():
    smuggled = "Hello 😀" + "".join(chr(0xE0100 + i) for i in range(40)) + " world"
    assert post(smuggled).startswith("Hello 😀\U000e0100 world https://")


@pytest.mark.parametrize(
    ("title", "hook"),
    [
        ("Report by @OxfamGB and @Defra_UK on rivers", "Report by OxfamGB and Defra_UK on rivers"),
        ("＠FullWidth names the ＠Trust in its report", "FullWidth names the Trust in its report"),
        ("RT@someone: the Fens report is out now", "RTsomeone: the Fens report is out now"),
        ("Shares in $TSLA and $BP.L fall after the report", "Shares in TSLA and BP.L fall after the report"),
        ("Index $2010:HK and $VOW:GR listed in the report", "Index 2010:HK and VOW:GR listed in the report"),
        (
            "A $5m fund and £12.50 fees: what the report says",
            "A $5m fund and £12.50 fees: what the report says",
        ),
        (
            "Contact press@example.org about the Fens report",
            "Contact press@example.org about the Fens report",
        ),
        ("@@double and @user@example.org in the report", "double and user@example.org in the report"),
    ],
)
def test_feed_text_cannot_mention_anyone_or_tag_a_stock(title, hook):
    text = post(title)
    assert text == f"{hook} https://www.example.org/news/river-quality?{UTM}"
    assert x_mentions(text) == []
    assert x_cashtags(text) == []


def test_a_feed_can_opt_out_of_neutralising_mentions():
    cfg = make_config(feeds=[{**OWN_FEED, "neutralise_mentions": False}])
    text = post("Report by @OxfamGB on the Fens", cfg=cfg)
    assert text.startswith("Report by @OxfamGB on the Fens")
    assert x_mentions(text) == ["OxfamGB"]


def test_a_mention_in_a_venue_is_neutralised_too():
    text = post("Fens water summit", event=EventInfo(EVENT.start, venue="@EvilVenue Hall"))
    assert ", EvilVenue Hall https://" in text
    assert x_mentions(text) == []


@pytest.mark.parametrize(
    ("title", "hook"),
    [
        ("Read the report at https://evil.com/phish now", "Read the report now"),
        ("Read the report (www.evil.com/phish)", "Read the report"),
        ("River report: see bit.ly/abc123", "River report"),
        ("GOV.UK guidance on river quality updated", "GOV.UK guidance on river quality updated"),
    ],
)
def test_web_addresses_in_a_headline_go_but_site_names_stay(title, hook):
    # The post's one link is the entry's own; a bare site name is a name.
    assert post(title) == f"{hook} https://www.example.org/news/river-quality?{UTM}"


@pytest.mark.parametrize(
    ("title", "summary", "reason"),
    [
        (
            "\u202e\u200b\x00",
            "",
            "the title is empty once control characters, mentions and web addresses are removed",
        ),
        (
            "https://evil.com/x",
            "",
            "the title is empty once control characters, mentions and web addresses are removed",
        ),
        ("", "", "the entry has no title"),
    ],
)
def test_a_title_with_nothing_left_is_skipped_with_the_reason(title, summary, reason):
    with pytest.raises(ComposeError) as caught:
        post(title, summary=summary)
    assert str(caught.value) == reason


def test_an_entry_without_a_link_is_skipped_with_the_reason():
    with pytest.raises(ComposeError, match="the entry has no http"):
        post("River quality report", link="")


def test_a_link_x_cannot_shorten_that_leaves_no_room_is_skipped_with_the_reason():
    with pytest.raises(ComposeError, match=r"no room for a headline \(the link alone counts \d+ of 280\)"):
        post("River quality report", feed=1, link="https://www.bbc.co.uk/" + "a" * 5000)


def test_an_approvers_edit_is_cleaned_without_touching_its_link_or_mentions():
    edited = "Thanks @OxfamGB!\u202e See https://www.example.org/a?x=1&copy=2&amp;y"
    assert (
        clean_text(edited, neutralise=False)
        == "Thanks @OxfamGB! See https://www.example.org/a?x=1&copy=2&amp;y"
    )


# -- events: when, in the organisation's time zone --------------------------------------------


def when(start: datetime, now: datetime, end: datetime | None = None, **compose_settings: Any) -> str:
    return describe_when(EventInfo(start=start, end=end), config(**compose_settings), now)


def test_when_uses_the_configured_format_and_the_organisations_time_zone():
    # Given a London organisation and an event at 18:00 UTC on a summer day
    start = datetime(2027, 7, 6, 17, 0, tzinfo=UTC)
    # Then the post says 18:00 (BST), in the configured style
    assert when(start, NOW) == "Tue 6 Jul, 18:00"
    assert when(start, NOW, event_format="%A %-d %B at %-I.%M%p") == "Tuesday 6 July at 6.00PM"
    new_york = make_config(organisation={"timezone": "America/New_York"})
    assert describe_when(EventInfo(start), new_york, NOW) == "Tue 6 Jul, 13:00"


def test_today_and_tomorrow_follow_the_local_calendar_day_not_utc(clock: Clock):
    # Given it is 23:30 on Tuesday 30 June in London (22:30 UTC)
    clock.now = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
    start = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)  # Wednesday 18:00 BST
    assert when(start, clock()) == "tomorrow, 18:00"
    # When the clock passes local midnight (still 30 June in UTC)
    clock.advance(hours=1)
    assert clock().date().day == 30
    # Then the same event is today
    assert when(start, clock()) == "today, 18:00"
    # And two days out it has its date again
    assert when(start + timedelta(days=2), clock()) == "Fri 3 Jul, 18:00"
    assert when(start, clock(), relative_days=False) == "Wed 1 Jul, 18:00"


def test_the_same_utc_time_reads_an_hour_apart_either_side_of_the_autumn_change(clock: Clock):
    clock.now = datetime(2026, 10, 19, 9, 0, tzinfo=UTC)
    assert when(datetime(2026, 10, 20, 17, 0, tzinfo=UTC), clock()) == "tomorrow, 18:00"  # BST
    assert when(datetime(2026, 10, 27, 17, 0, tzinfo=UTC), clock()) == "Tue 27 Oct, 17:00"  # GMT


def test_an_event_across_the_night_the_clocks_go_back(clock: Clock):
    # Given it is 00:30 BST on Sunday 25 October 2026; at 02:00 BST clocks go back to 01:00 GMT
    clock.now = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    # When an event runs from 01:30 BST (00:30 UTC) to 02:00 GMT (02:00 UTC): 90 minutes
    start, end = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    # Then the post gives the times the clocks will show
    assert when(start, clock(), end) == "today, 01:30–02:00"
    assert when(datetime(2026, 10, 25, 18, 0, tzinfo=UTC), clock()) == "today, 18:00"
    # And 24 hours on it is 23:30 GMT, still Sunday: the next evening is tomorrow
    clock.advance(days=1)
    assert when(datetime(2026, 10, 26, 18, 0, tzinfo=UTC), clock()) == "tomorrow, 18:00"


def test_an_event_the_night_the_clocks_go_forward(clock: Clock):
    # At 01:00 GMT on Sunday 29 March 2026 clocks go forward to 02:00 BST
    clock.now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert when(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), clock()) == "tomorrow, 00:30"  # GMT
    assert when(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), clock()) == "tomorrow, 02:30"  # BST
    assert (
        when(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), clock(), datetime(2026, 3, 29, 2, 0, tzinfo=UTC))
        == "tomorrow, 00:30–03:00"
    )


def test_end_times_on_the_same_day_and_on_a_later_day():
    start = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert when(start, NOW, start + timedelta(hours=8)) == "Tue 1 Dec, 09:30–17:30"
    assert when(start, NOW, start + timedelta(days=2, hours=7)) == "Tue 1 Dec, 09:30 to Thu 3 Dec, 16:30"
    assert (
        when(start, NOW, start - timedelta(hours=1)) == "Tue 1 Dec, 09:30"
    )  # an end before the start is ignored


def test_an_event_with_a_date_but_no_time_is_shown_as_a_day():
    start = datetime(2026, 12, 5, tzinfo=LONDON)
    assert when(start, NOW) == "Sat 5 Dec"
    assert when(start, NOW, datetime(2026, 12, 6, tzinfo=LONDON)) == "Sat 5 Dec to Sun 6 Dec"
    assert when(datetime(2026, 11, 26, tzinfo=LONDON), NOW) == "tomorrow"


def test_a_draft_saying_tomorrow_says_today_when_published_the_next_day(clock: Clock):
    # Given a draft composed on Tuesday for an event on Wednesday evening
    cfg = config()
    clock.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    event = EventInfo(datetime(2026, 11, 25, 18, 0, tzinfo=UTC), venue="Ely Cathedral")
    composed = compose(entry("Fens water summit", event=event), cfg.feeds[0], cfg, clock())
    assert composed.text.startswith("Fens water summit: tomorrow, 18:00, Ely Cathedral https://")
    # When it is published on Wednesday
    clock.advance(days=1)
    refreshed = refresh_when(composed.text, event, cfg, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), clock())
    # Then it says today, and still fits
    assert refreshed.startswith("Fens water summit: today, 18:00, Ely Cathedral https://")
    assert weighted_length(refreshed) <= 280
    # But an approver's own wording is left as they wrote it
    edited = "Tomorrow night in Ely! " + composed.link
    assert refresh_when(edited, event, cfg, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), clock()) == edited


def test_a_long_event_post_is_fitted_to_its_longest_possible_when():
    # Given an event post composed "today" whose headline fills the post
    event = EventInfo(datetime(2026, 11, 25, 18, 0, tzinfo=UTC), datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
    cfg = config()
    composed = compose(entry("word " * 80, event=event), cfg.feeds[0], cfg, NOW)
    # Then every way the when can be written later still fits
    for later in (NOW - timedelta(days=1), NOW, NOW + timedelta(hours=8)):
        assert weighted_length(refresh_when(composed.text, event, cfg, NOW, later)) <= 280


# -- the README's examples are what hookline writes -------------------------------------------


def test_the_readme_examples_are_exactly_what_compose_writes():
    from hookline.config import load_config
    from tests.support.paths import ROOT

    cfg = load_config(ROOT / "config" / "hookline.example.yaml")
    news, events, partner = (cfg.feed(i) for i in ("news", "events", "partner-institute"))
    examples = [
        (
            Entry(
                "news",
                "1",
                "Press release: Half of Cambridgeshire homes could be net zero by 2035, says new report",
                "https://www.example.org/news/net-zero-homes-report",
                categories=("Research",),
            ),
            news,
        ),
        (
            Entry(
                "partner-institute",
                "2",
                "State of our rivers 2026: the annual assessment",
                "https://www.partner.example.net/publications/state-of-our-rivers-2026",
            ),
            partner,
        ),
        (
            Entry(
                "events",
                "3",
                "Fens water summit: farmers, scientists and the council",
                "https://www.example.org/events/fens-water-summit",
                event=EventInfo(
                    datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
                    datetime(2026, 12, 1, 20, 30, tzinfo=UTC),
                    "The Maltings, Ely",
                ),
            ),
            events,
        ),
        (
            Entry(
                "events",
                "4",
                "Repair café",
                "https://www.example.org/events/repair-cafe",
                summary="Bring your broken toasters and bikes to our volunteers. Free.",
                event=EventInfo(datetime(2026, 11, 26, 10, 0, tzinfo=UTC), None, "online"),
            ),
            events,
        ),
        (
            Entry(
                "news",
                "5",
                "News: @CllrSmith and $ACME back the \u202eFens plan\u200b",
                "https://www.example.org/news/fens-plan",
            ),
            news,
        ),
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## What the posts look like") : readme.index("## Deploying")]
    for item, feed in examples:
        assert f"`{compose(item, feed, cfg, NOW).text}`" in section


# -- hooks from summaries read like headlines ----------------------------------------------------


def test_a_summary_with_no_full_stop_gives_a_headline_cut_at_a_clause_not_a_280_character_hook():
    # Given a weak title and a summary that is one long run-on sentence
    summary = (
        "Our new analysis of river quality across the Fens shows that nitrate levels fell for the third "
        "year running, while phosphate stayed stubbornly high in the lower reaches near Ely and the "
        "drainage boards say more money is needed for monitoring"
    )
    text = post("Update", summary=summary)
    hook = text.split(" https://")[0]
    # Then the hook is its first clause, as a headline would be
    assert hook == (
        "Our new analysis of river quality across the Fens shows that nitrate levels fell for the third year running"
    )
    assert len(hook) <= 160


def test_a_summary_with_no_clause_break_is_cut_at_a_word_with_an_ellipsis():
    summary = " ".join(["river"] * 30 + ["quality"] * 30)
    hook = post("News", summary=summary).split(" https://")[0]
    assert hook.endswith("…") and len(hook) <= 151
    assert hook[:-1].split()[-1] in ("river", "quality")


@pytest.mark.parametrize(
    ("summary", "why"),
    [
        ("A. Smith, B. Jones, C. Patel, D. Okafor, E. Wright and F. Li", "a list of names"),
        ("£50 from Ann, £20 from Bob, £15 from Cai, £10 from Dee", "a list of amounts"),
        ("| year | nitrate | phosphate |\n|------|---------|-----------|\n| 2025 | 3.1 | 0.4 |", "table"),
        ("2025: 3.1 / 0.4 / 7.7 / 12.9 / 44.0 / 0.001", "numbers or symbols"),
    ],
)
def test_a_weak_title_whose_summary_is_no_headline_is_kept_or_skipped_with_the_reason(summary, why):
    # A title that is a headline, only short, is posted as it is
    assert post("Annual report 2026", summary=summary).startswith("Annual report 2026 https://")
    # A one- or two-character title with such a summary is skipped, saying why
    with pytest.raises(ComposeError) as caught:
        post("i", summary=summary)
    assert str(caught.value).startswith("the title 'i' is too short to be a headline")
    assert why in str(caught.value)


def test_a_one_or_two_character_title_is_weak_and_gives_way_to_the_summary():
    assert post("Q3", summary=SUMMARY).startswith(
        "The council has published its plan to reach net zero by 2035 "
    )
    with pytest.raises(ComposeError, match="too short to be a headline"):
        post("i")


@pytest.mark.parametrize(
    ("title", "hook"),
    [
        ("Lorem ipsum dolor sit amet#8230; more", "Lorem ipsum dolor sit amet… more"),
        ("The trust#039;s annual report for 2026", "The trust's annual report for 2026"),
        ("Broken &#xZZ; and &bogus; references in a title", "Broken and references in a title"),
        ("A lost #1234567; reference that names nothing", "A lost reference that names nothing"),
    ],
)
def test_broken_entities_are_repaired_or_removed_never_posted(title, hook):
    assert post(title).split(" https://")[0] == hook
