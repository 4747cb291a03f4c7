"""Rule terms matched as a person reads them: inflections of each term (never a shared stem),
case, accents, entities, hyphens and spacing; exact terms; and the false matches a stemmer makes.

Vocabularies: the categories of feedparser's own test corpus (real feeds' tags, Cyrillic and
German included), and the categories and titles UK councils, universities and charities file
their pages under."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookline.config import Config, FeedConfig, RuleSet, load_config
from hookline.models import Entry
from hookline.poll.matching import Text, find, term
from hookline.poll.rules import judge
from tests.conftest import NOW
from tests.support.paths import REFERENCE, ROOT

FEED = FeedConfig(id="news", url="https://www.example.org/feed", rules="r")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(ROOT / "config" / "hookline.yaml")


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(ROOT / "config" / "hookline.example.yaml")


def entry(title: str, *categories: str, summary: str = "") -> Entry:
    return Entry(
        feed_id="news",
        identity=title,
        title=title,
        link="https://www.example.org/news/x",
        summary=summary,
        categories=categories,
        published=NOW - timedelta(hours=2),
    )


def rules(**fields: object) -> RuleSet:
    return RuleSet(max_age_days=None, **fields)  # type: ignore[arg-type]


def decide(config: Config, feed_id: str, e: Entry) -> tuple[str, str]:
    feed = config.feed(feed_id)
    assert feed is not None
    j = judge(e, feed, config.rule_sets[feed.rules], NOW)
    return j.decision, j.reason


# -- the council feed of the issue -------------------------------------------------------------


def test_a_council_publication_filed_under_a_plural_category_is_drafted_and_says_why(shipped: Config) -> None:
    # Given a council's climate action plan, filed as its CMS files it
    plan = entry("Climate action plan 2026-2030", "Publications", "Climate")

    # When the shipped rules judge it
    decision, reason = decide(shipped, "news", plan)

    # Then it is drafted, and the reason names the entry's category and the rule term it matched
    assert (decision, reason) == (
        "draft",
        "category 'Publications' matched 'Publication' (rule 'publications')",
    )


def test_a_publication_whose_summary_gives_a_time_in_minutes_is_not_excluded_as_minutes(
    shipped: Config,
) -> None:
    # Given a council's plan whose summary says how long its survey takes
    plan = entry(
        "Climate action plan 2026-2030",
        "Climate",
        summary="Our plan for net zero by 2030. Have your say: the survey takes 10 minutes.",
    )
    # Then the shipped rules draft it for the plan, as a person reading it would
    assert decide(shipped, "news", plan) == ("draft", "keyword 'plan' matched 'plan' (rule 'publications')")
    # While a meeting's minutes are still excluded
    minutes = entry("Cabinet, 1 December", "Climate", summary="The minutes of the meeting on the plan.")
    assert decide(shipped, "news", minutes)[1] == (
        "excluded keyword 'minutes' matched 'minutes' (rule 'publications')"
    )


# Real UK council, university and charity vocabularies: (title, categories, expected decision).
SECTOR = [
    # council
    ("Climate action plan 2026-2030", ("Publications", "Climate"), "draft"),
    ("Local Plan: have your say on the draft", ("Planning policy",), "draft"),
    ("Housing strategy 2026 to 2031 adopted", ("Strategies",), "draft"),
    ("Budget consultation opens", ("Consultations",), "draft"),
    ("Annual report and accounts 2025/26", ("Annual reports",), "draft"),
    ("Public meeting on the new bus station", ("Community",), "draft"),
    ("Planning application 25/01234/FUL: 12 High Street", ("Planning applications",), "skip"),
    ("Road closure: Mill Road, 3 to 7 March", ("Roads and transport",), "skip"),
    ("Bin collections over Christmas", ("Waste",), "skip"),
    ("Full Council minutes, 12 February", ("Council and democracy",), "skip"),
    ("Last-minute change to the market day", ("Markets",), "skip"),
    ("Environmental health officer", ("Jobs and careers",), "skip"),
    ("Statement from the leader of the council", ("Statements",), "skip"),
    ("Public notice: stopping up order", ("Public notices",), "skip"),
    # university
    ("Students' mental health: new survey results", ("Research news",), "draft"),
    ("Graduate outcomes statistics 2025", ("Statistics",), "draft"),
    ("Undergraduate open days, June 2026", ("Open Days",), "draft"),
    ("Inaugural lecture: Professor Amina Shah", ("Lectures",), "draft"),
    ("Evaluation of the widening participation programme", ("Evaluations",), "draft"),
    ("Research fellow in hydrology (fixed term)", ("Vacancies",), "skip"),
    ("Press release: university welcomes funding", ("Media releases",), "skip"),
    ("Consultant appointed to review the estate", ("Estates",), "skip"),
    # charity
    ("State of the nation's rivers: our annual report", ("Reports",), "draft"),
    ("Webinar: what the floods bill means for you", ("Webinars",), "draft"),
    ("Impact evaluation of our advice line", ("Impact",), "draft"),
    ("Policy briefing: cost of living and carers", ("Policy and campaigns",), "draft"),
    ("Volunteer coordinator (part time)", ("Volunteering opportunities",), "skip"),
    ("Our office hours over Easter", ("News",), "skip"),
    ("Join our team: fundraising officer", ("News",), "skip"),
]


@pytest.mark.parametrize(("title", "categories", "expected"), SECTOR, ids=[t for t, _, _ in SECTOR])
def test_the_shipped_rules_judge_council_university_and_charity_pages_as_a_person_would(
    shipped: Config, example: Config, title: str, categories: tuple[str, ...], expected: str
) -> None:
    decision, reason = decide(shipped, "news", entry(title, *categories))
    assert decision == expected, reason
    # And the documented example config ships the same rules
    assert decide(example, "news", entry(title, *categories)) == (decision, reason)


# -- inflections of each rule term, and only of it ---------------------------------------------

MATCHES = [
    ("Publication", "Publications", "Publications"),
    ("report", "Three new reports", "reports"),
    ("report", "Reporting on rivers", "Reporting"),
    ("strategy", "Our strategies", "strategies"),
    ("Vacancies", "A vacancy in finance", "vacancy"),
    ("analysis", "Two analyses of the budget", "analyses"),
    ("press release", "PRESS-RELEASE: new chair", "PRESS-RELEASE"),
    ("press release", "Press  release", "Press  release"),
    ("press release", "Pressrelease", "Pressrelease"),
    ("open day", "Open-days in June", "Open-days"),
    ("email", "Our e-mail list", "e-mail"),
    ("evaluation", "Évaluation du programme", "Évaluation"),
    ("Freiraume", "Freiräume", "Freiräume"),
    ("Новости", "НОВОСТИ", "НОВОСТИ"),
    ("research", "R&amp;D and r&eacute;search", "réSearch".lower()),
    ("annual report", "Annual   Reports 2025", "Annual   Reports"),
    ("minutes", "Board minutes, 12 May", "minutes"),
    ("minutes", "AGM 2025 minutes", "minutes"),
    ("minutes", "Minutes: 10 minutes of questions", "Minutes"),
]


@pytest.mark.parametrize(("rule_term", "text", "found"), MATCHES)
def test_a_rule_term_matches_its_inflections_and_spellings(rule_term: str, text: str, found: str) -> None:
    assert find(term(rule_term), Text.of(text)) == found


FALSE_MATCHES = [
    ("plan", "A planning application for 12 High Street", "a planning application is not a plan"),
    ("minutes", "A last-minute change to the timetable", "a last-minute change is not minutes"),
    ("consultation", "Consultant appointed", "a consultant is not a consultation"),
    ("brief", "Briefing for councillors", "a briefing is not a brief"),
    ("meet", "Public meeting", "a meeting is not meet"),
    ("news", "New play area opens", "new is not news"),
    ("results", "As a result of the storm", "a result is not results"),
    ("report", "Police reported the theft", "reported is not a report"),
    ("AI", "What the minister said", "'said' is not 'AI'"),
    ("minutes", "Our minuteserved app", "a longer word is not the term"),
    ("minutes", "The survey takes 10 minutes to complete", "ten minutes is a time, not minutes"),
    ("=Minutes", "Five Minutes with our new chair", "nor is it when the term is exact"),
    ("minutes", "A few minutes' walk from the station", "a few minutes is a time"),
    ("press release", "Kaspersky release v8", "a release is not a press release"),
    ("annual report", "Annual general meeting report", "the words must be together"),
]


@pytest.mark.parametrize(("rule_term", "text", "why"), FALSE_MATCHES, ids=[w for _, _, w in FALSE_MATCHES])
def test_a_rule_term_does_not_match_what_only_a_stemmer_would_call_the_same(
    rule_term: str, text: str, why: str
) -> None:
    assert find(term(rule_term), Text.of(text)) is None, why


def test_an_exact_term_matches_only_those_words_in_that_case() -> None:
    r = rules(exclude_categories=["=Minutes"], include_categories=["Governance"])
    # The board's Minutes are excluded...
    assert judge(entry("Board, 12 May", "Minutes", "Governance"), FEED, r, NOW).reason == (
        "excluded category 'Minutes' matched '=Minutes' (rule 'r')"
    )
    # ...but not a lower-case tag, nor a singular "Minute"
    assert judge(entry("Board, 12 May", "minutes", "Governance"), FEED, r, NOW).decision == "draft"
    assert judge(entry("Board, 12 May", "Minute", "Governance"), FEED, r, NOW).decision == "draft"


def test_a_keyword_reason_quotes_the_entry_as_written_and_the_rule_term() -> None:
    r = rules(include_keywords=["strategy"])
    assert judge(entry("Our new Strategies for 2030"), FEED, r, NOW).reason == (
        "keyword 'Strategies' matched 'strategy' (rule 'r')"
    )


# -- feedparser's corpus: real feeds' categories ---------------------------------------------------


@cache
def corpus_categories() -> list[str]:
    found: set[str] = set()
    for path in (REFERENCE / "feedparser-tests").rglob("*"):
        if path.is_file():
            for item in feedparser.parse(path.read_bytes()).entries:
                found |= {t["term"] for t in item.get("tags", []) if t.get("term")}
    return sorted(c for c in found if Text.of(c).tokens)


def test_the_corpus_holds_real_categories() -> None:
    cats = corpus_categories()
    assert len(cats) >= 50
    assert {"Technology", "Freiräume", "Новости", "Программы для Nokia 5800"} <= set(cats)


def test_every_real_category_matches_itself_in_any_case_and_spacing() -> None:
    for category in corpus_categories():
        t = term(category)
        for variant in (category, category.upper(), category.lower(), category.replace(" ", "-")):
            assert find(t, Text.of(variant)) is not None, (category, variant)


def test_a_real_category_never_matches_one_that_shares_none_of_its_words() -> None:
    # No substring or stem matching: 'v100' is not 'v101', 'cat1' is not 'cat2', 'и' is not 'Игры'
    cats = corpus_categories()
    for rule_term in cats:
        words = {tok.folded for tok in Text.of(rule_term).tokens}
        for other in cats:
            if not words & {tok.folded for tok in Text.of(other).tokens}:
                assert find(term(rule_term), Text.of(other)) is None, (rule_term, other)


# -- properties ------------------------------------------------------------------------------

VOCABULARY = [
    "Publication",
    "Report",
    "Strategy",
    "Consultation",
    "Briefing",
    "Evaluation",
    "Statistics",
    "Press release",
    "Open day",
    "Public meeting",
    "Lecture",
    "Webinar",
    "Vacancy",
    "Annual report",
]


def _plural_of_last(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    plural = last[:-1] + "ies" if last.endswith("y") and last[-2] not in "aeiou" else last + "s"
    if last.endswith("s"):
        plural = last
    return f"{head} {plural}".strip()


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(VOCABULARY),
    st.sampled_from(VOCABULARY),
    st.sampled_from([str.upper, str.lower, str.title, str.casefold]),
    st.booleans(),
    st.sampled_from([" ", "-", "  ", "\u2011"]),
)
def test_case_plural_and_spacing_never_change_a_decision(
    rule_term: str, category: str, case, plural: bool, space: str
) -> None:
    r = rules(include_categories=[rule_term])
    written = (_plural_of_last(category) if plural else category).replace(" ", space)
    plain = judge(entry("Untitled", category), FEED, r, NOW).decision
    assert judge(entry("Untitled", case(written)), FEED, r, NOW).decision == plain


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(VOCABULARY),
    st.sampled_from(VOCABULARY),
    st.sampled_from([str.upper, str.lower, str.title, str.casefold]),
    st.booleans(),
    st.sampled_from([" ", "-", "  ", "\u2011"]),
)
def test_in_a_title_case_plural_and_spacing_never_change_a_keywords_decision(
    rule_term: str, words: str, case, plural: bool, space: str
) -> None:
    r = rules(include_keywords=[rule_term.lower()])
    written = (_plural_of_last(words) if plural else words).replace(" ", space)
    plain = judge(entry(f"Our {words} for 2026"), FEED, r, NOW)
    varied = judge(entry(f"Our {case(written)} for 2026"), FEED, r, NOW)
    assert varied.decision == plain.decision, (plain.reason, varied.reason)
    # And a title drafts exactly when it holds the rule's words, in order
    want, have = rule_term.lower().split(), words.lower().split()
    held = any(have[i : i + len(want)] == want for i in range(len(have)))
    assert plain.drafted == held, plain.reason


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VOCABULARY), st.sampled_from([str.upper, str.lower]))
def test_an_exact_term_is_changed_by_case_and_plural(rule_term: str, case) -> None:
    r = rules(include_categories=["=" + rule_term])
    assert judge(entry("Untitled", rule_term), FEED, r, NOW).decision == "draft"
    assert judge(entry("Untitled", case(rule_term)), FEED, r, NOW).decision == "skip"
    assert judge(entry("Untitled", _plural_of_last(rule_term)), FEED, r, NOW).decision == (
        "skip" if _plural_of_last(rule_term) != rule_term else "draft"
    )


def test_a_term_that_could_never_match_is_a_config_error_naming_it() -> None:
    from hookline.config import ConfigError, parse_config
    from tests.conftest import _merge, base_config_data

    data = _merge(base_config_data(), {"rule_sets": {"publications": {"include_keywords": ["report", "="]}}})
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert any(
        "include_keywords" in p and "the term '=' has no letter or digit, so it could never match" in p
        for p in caught.value.problems
    ), caught.value.problems
