"""Significance rules: the shipped defaults against the organisation's guidance, and every
decision with a reason a person understands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hookline.config import Config, FeedConfig, RuleSet, load_config
from hookline.models import Entry, EventInfo
from hookline.poll.rules import judge, page_could_change
from tests.conftest import NOW
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(ROOT / "config" / "hookline.yaml")


def entry(title: str, *categories: str, summary: str = "", age_days: float = 0.1, **kwargs: object) -> Entry:
    fields: dict[str, object] = {
        "feed_id": "news",
        "identity": title,
        "title": title,
        "link": "https://www.example.org/news/x",
        "summary": summary,
        "categories": categories,
        "published": NOW - timedelta(days=age_days),
    }
    fields.update(kwargs)
    return Entry(**fields)  # type: ignore[arg-type]


def decide(config: Config, feed_id: str, e: Entry) -> tuple[str, str]:
    feed = config.feed(feed_id)
    assert feed is not None
    judgement = judge(e, feed, config.rule_sets[feed.rules], NOW)
    return judgement.decision, judgement.reason


# -- the shipped defaults follow the guidance --------------------------------------------------

SIGNIFICANT = [
    (
        "news",
        entry("Half of Cambridgeshire homes could be net zero by 2035", "Research"),
        "category 'Research' matched 'Research' (rule 'publications')",
    ),
    (
        "news",
        entry("Our evidence to the select committee", "News"),
        "keyword 'evidence' matched 'evidence' (rule 'publications')",
    ),
    (
        "news",
        entry("New briefing on river quality", "Policy"),
        "category 'Policy' matched 'Policy' (rule 'publications')",
    ),
    (
        "partner-institute",
        entry("State of the Fens 2026: the full report", "Publications"),
        "category 'Publications' matched 'Publication' (rule 'partner-publications')",
    ),
    (
        "events",
        entry(
            "Open evening: what the report means for your street",
            "Events",
            event=EventInfo(start=NOW + timedelta(days=3), venue="Guildhall"),
        ),
        None,
    ),
    (
        "news",
        entry(
            "Public lecture on flood risk",
            "News",
            event=EventInfo(start=NOW + timedelta(days=10), venue="Online"),
        ),
        None,
    ),
]

ROUTINE = [
    (
        "news",
        entry("Minutes of the November board meeting", "Governance"),
        "excluded keyword 'Minutes' matched 'minutes' (rule 'publications')",
    ),
    (
        "news",
        entry("Finance officer (12 months)", "Vacancies"),
        "excluded category 'Vacancies' matched 'Vacancies' (rule 'publications')",
    ),
    (
        "news",
        entry("We are hiring: a data analyst", "News"),
        "excluded keyword 'We are hiring' matched 'we are hiring' (rule 'publications')",
    ),
    (
        "news",
        entry("Press release: chief executive welcomes budget", "News"),
        "excluded keyword 'Press release' matched 'press release' (rule 'publications')",
    ),
    (
        "news",
        entry("Chief executive comments on the budget", "Press releases"),
        "excluded category 'Press releases' matched 'Press release' (rule 'publications')",
    ),
    (
        "news",
        entry("Office closure over the holidays", "News"),
        "excluded keyword 'Office closure' matched 'office closure' (rule 'publications')",
    ),
    (
        "news",
        entry("Tender: grounds maintenance contract", "Procurement"),
        "excluded category 'Procurement' matched 'Procurement' (rule 'publications')",
    ),
    (
        "news",
        entry("A great day out at the summer fair", "News"),
        "no category or keyword of rule 'publications' matched (categories: 'News')",
    ),
    (
        "news",
        entry("Research report from last month", "Research", age_days=20),
        "older than 14 days (published 20 days ago)",
    ),
    (
        "events",
        entry(
            "Staff away day",
            "Events",
            summary="Internal only.",
            event=EventInfo(start=NOW + timedelta(days=3)),
        ),
        "excluded keyword 'Internal only' matched 'internal only' (rule 'events')",
    ),
    (
        "events",
        entry("Cancelled: river walk", "Events", event=EventInfo(start=NOW + timedelta(days=3))),
        "excluded keyword 'Cancelled' matched 'cancelled' (rule 'events')",
    ),
    ("events", entry("Save the date", "Events"), "no event start date (required by rule 'events')"),
    (
        "partner-institute",
        entry("Partner vacancy: researcher", "Jobs"),
        "excluded category 'Jobs' matched 'Jobs' (rule 'partner-publications')",
    ),
]


@pytest.mark.parametrize(("feed_id", "e", "reason"), SIGNIFICANT, ids=[e.title for _, e, _ in SIGNIFICANT])
def test_the_default_rules_draft_significant_publications_and_events(
    shipped: Config, feed_id: str, e: Entry, reason: str | None
) -> None:
    decision, why = decide(shipped, feed_id, e)
    assert decision == "draft", why
    if reason:
        assert why == reason
    else:
        assert e.event is not None
        # a date as people read it, not ISO 8601
        assert re.match(r"an event starting [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d ", why), why


@pytest.mark.parametrize(("feed_id", "e", "reason"), ROUTINE, ids=[e.title for _, e, _ in ROUTINE])
def test_the_default_rules_skip_minutes_vacancies_notices_and_bland_releases_with_a_reason(
    shipped: Config, feed_id: str, e: Entry, reason: str
) -> None:
    assert decide(shipped, feed_id, e) == ("skip", reason)


# -- matching ----------------------------------------------------------------------------------

FEED = FeedConfig(id="news", url="https://www.example.org/feed", rules="r")  # type: ignore[arg-type]


def rules(**fields: object) -> RuleSet:
    return RuleSet(**fields)  # type: ignore[arg-type]


def test_keywords_match_whole_words_in_any_case() -> None:
    r = rules(include_keywords=["AI"], exclude_keywords=["minutes"], max_age_days=None)
    assert judge(entry("What the minister said"), FEED, r, NOW).decision == "skip"  # 'said' is not 'AI'
    assert judge(entry("How ai helps farmers"), FEED, r, NOW).reason == "keyword 'ai' matched 'AI' (rule 'r')"
    assert judge(entry("Our minuteserved app"), FEED, r, NOW).decision == "skip"
    assert judge(entry("Our minuteserved app about AI"), FEED, r, NOW).decision == "draft"
    assert (
        judge(entry("AI: MINUTES of the panel"), FEED, r, NOW).reason
        == "excluded keyword 'MINUTES' matched 'minutes' (rule 'r')"
    )


def test_keywords_are_looked_for_in_the_summary_too() -> None:
    r = rules(include_keywords=["report"], max_age_days=None)
    e = entry("Rivers in 2026", summary="Our annual Report is out today.")
    assert judge(e, FEED, r, NOW).reason == "keyword 'Report' matched 'report' (rule 'r')"


def test_categories_match_in_any_case_and_the_reason_quotes_the_feeds_own_spelling() -> None:
    r = rules(include_categories=["research"], max_age_days=None)
    assert judge(entry("Rivers", "RESEARCH"), FEED, r, NOW).reason == (
        "category 'RESEARCH' matched 'research' (rule 'r')"
    )


def test_required_fields_are_named_in_the_reason() -> None:
    r = rules(require=["title", "link", "summary"], max_age_days=None)
    e = entry("Rivers", "Research", link="")
    assert judge(e, FEED, r, NOW).reason == "no http(s) link or summary (required by rule 'r')"


def test_a_rule_set_without_include_lists_drafts_everything_not_excluded() -> None:
    r = rules(exclude_keywords=["minutes"], max_age_days=None)
    assert judge(entry("Anything at all"), FEED, r, NOW).reason == (
        "no exclusion matched rule 'r', which drafts everything else"
    )


def test_an_event_is_judged_by_its_start_not_its_age_and_never_drafted_once_started() -> None:
    r = rules(include_categories=["Research"], max_age_days=7)
    old_but_coming = entry("Lecture", age_days=30, event=EventInfo(start=NOW + timedelta(days=2)))
    assert judge(old_but_coming, FEED, r, NOW).decision == "draft"
    under_way = entry("Lecture", event=EventInfo(start=NOW - timedelta(minutes=1)))
    assert judge(under_way, FEED, r, NOW).reason == (
        "the event started Wed 25 Nov 2026, 09:59 UTC (already under way)"
    )
    starting_now = entry("Lecture", event=EventInfo(start=NOW))
    assert judge(starting_now, FEED, r, NOW).decision == "skip"


# -- when the linked page is worth a request ------------------------------------------------------


@pytest.mark.parametrize(
    ("e", "needed", "why"),
    [
        (entry("Research report", "Research"), True, "a draft needs its link pre-flight"),
        (entry("Minutes of the board"), False, "no event date un-excludes minutes"),
        (entry("A day out", "News"), True, "an event date on the page would make it a draft"),
        (entry("A day out", "News", age_days=30), True, "an event is not skipped for its age"),
        (entry("", "Research"), False, "no page gives it a title"),
        (entry("Talk", event=EventInfo(start=NOW - timedelta(hours=1))), False, "the feed's own event wins"),
    ],
)
def test_the_page_is_fetched_only_when_it_could_change_the_decision(e: Entry, needed: bool, why: str) -> None:
    r = rules(
        include_categories=["Research"],
        exclude_keywords=["minutes"],
        max_age_days=14,
        require=["title", "link"],
    )
    judgement = judge(e, FEED, r, NOW)
    assert page_could_change(e, judgement, FEED, r, NOW) is needed, why


def test_an_events_reason_gives_its_start_in_the_organisations_time() -> None:
    r = rules(include_categories=["Research"])
    summer = datetime(2027, 6, 10, 17, 0, tzinfo=UTC)
    talk = entry("Lecture", event=EventInfo(start=summer))
    assert judge(talk, FEED, r, NOW, tz=ZoneInfo("Europe/London")).reason == (
        "an event starting Thu 10 Jun 2027, 18:00 BST (rule 'r')"
    )


def test_a_short_age_limit_says_one_hour_not_one_hours() -> None:
    r = rules(max_age_days=0.04)  # about an hour
    old = entry("Report", age_days=1.2 / 24)
    assert judge(old, FEED, r, NOW).reason == "older than 0.04 days (published 1 hour ago)"
