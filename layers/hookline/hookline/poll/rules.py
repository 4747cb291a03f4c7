"""Decide per entry: draft or skip, always with a reason a person understands.

Order: required fields, an event already under way, maximum age (not for events),
excluded categories and keywords, then events (any entry with a start date, whatever
its feed's kind), then included categories and keywords. A rule set with no include
lists drafts everything that was not excluded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from hookline.clock import human_time
from hookline.config import FeedConfig, RuleSet
from hookline.models import Entry, EventInfo, Judgement
from hookline.poll.matching import Text, find_any

# The term of a skip no include term matched (the rules report looks for what people drafted anyway).
UNMATCHED = "unmatched"

FIELD_NAMES = {
    "title": "title",
    "link": "http(s) link",
    "published": "publication date",
    "summary": "summary",
    "event_start": "event start date",
    "venue": "venue",
}


def _find_keyword(words: list[str], entry: Entry) -> tuple[str, str] | None:
    return find_any(words, [Text.of(entry.title), Text.of(entry.summary)])


def _find_category(wanted: list[str], categories: tuple[str, ...]) -> tuple[str, str] | None:
    # A category matches when the rule term is among its words: 'Annual reports' is a 'Report',
    # 'Planning notices' are 'Notices'.
    return find_any(wanted, [Text.of(c) for c in categories])


TERM_LISTS = ("exclude_categories", "exclude_keywords", "include_categories", "include_keywords")


@dataclass(frozen=True)
class Tried:
    """One rule term looked for in an entry, and the entry's words it matched (None: no match)."""

    list: str  # one of TERM_LISTS
    term: str
    found: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"list": self.list, "term": self.term, "found": self.found}


def tried_terms(entry: Entry, rules: RuleSet) -> list[Tried]:
    """Every rule term of the rule set against the entry, in the order judge() looks (for
    `preview --explain`): the categories for *_categories, the title and summary for *_keywords."""
    categories = [Text.of(c) for c in entry.categories]
    text = [Text.of(entry.title), Text.of(entry.summary)]
    out = []
    for name in TERM_LISTS:
        texts = categories if name.endswith("categories") else text
        for written in getattr(rules, name):
            found = find_any([written], texts)
            out.append(Tried(name, written, found[0] if found else None))
    return out


def _age_days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days >= 2:
        return f"{days:.0f} days"
    hours = round(delta.total_seconds() / 3600)
    return "1 hour" if hours == 1 else f"{hours} hours"


def judge(
    entry: Entry,
    feed: FeedConfig,
    rules: RuleSet,
    now: datetime,
    rule_name: str | None = None,
    *,
    tz: tzinfo | None = None,
) -> Judgement:
    """`tz`: the organisation's timezone, for the times a reason names (approvers read them)."""
    name = rule_name or feed.rules
    missing = _missing_fields(entry, rules)
    if missing:
        wanted = " or ".join(FIELD_NAMES[f] for f in missing)
        return Judgement("skip", f"no {wanted} (required by rule {name!r})", name)

    if entry.event is not None and entry.event.start <= now:
        return Judgement(
            "skip", f"the event started {human_time(entry.event.start, tz)} (already under way)", name
        )

    if rules.max_age_days is not None and entry.published is not None and entry.event is None:
        age = now - entry.published
        if age > timedelta(days=rules.max_age_days):
            return Judgement(
                "skip", f"older than {rules.max_age_days:g} days (published {_age_days(age)} ago)", name
            )

    excluded_category = _find_category(rules.exclude_categories, entry.categories)
    if excluded_category:
        found, term = excluded_category
        return Judgement(
            "skip", f"excluded category {found!r} matched {term!r} (rule {name!r})", name, f"category:{term}"
        )
    excluded_word = _find_keyword(rules.exclude_keywords, entry)
    if excluded_word:
        found, term = excluded_word
        return Judgement(
            "skip", f"excluded keyword {found!r} matched {term!r} (rule {name!r})", name, f"keyword:{term}"
        )

    if entry.event is not None:
        return Judgement(
            "draft", f"an event starting {human_time(entry.event.start, tz)} (rule {name!r})", name, "event"
        )

    if not rules.include_categories and not rules.include_keywords:
        return Judgement("draft", f"no exclusion matched rule {name!r}, which drafts everything else", name)
    included = _find_category(rules.include_categories, entry.categories)
    if included:
        found, term = included
        return Judgement(
            "draft", f"category {found!r} matched {term!r} (rule {name!r})", name, f"category:{term}"
        )
    keyword = _find_keyword(rules.include_keywords, entry)
    if keyword:
        found, term = keyword
        return Judgement(
            "draft", f"keyword {found!r} matched {term!r} (rule {name!r})", name, f"keyword:{term}"
        )
    cats = ", ".join(repr(c) for c in entry.categories) or "none"
    return Judgement(
        "skip", f"no category or keyword of rule {name!r} matched (categories: {cats})", name, UNMATCHED
    )


def page_could_change(
    entry: Entry, judgement: Judgement, feed: FeedConfig, rules: RuleSet, now: datetime
) -> bool:
    """Whether the linked page can change this decision or is needed for it.

    A draft needs the page (the link pre-flight the approver sees, and event data that
    may show the event has started). A skip needs it only if an event date from the
    page's JSON-LD could turn it into a draft: an entry without event data, skipped
    for a reason an event does not override (an excluded keyword, no title...), is
    settled without a request.
    """
    if judgement.drafted:
        return True
    if entry.event is not None:
        return False  # the feed's own event data wins over the page's
    as_event = dataclasses.replace(
        entry, event=EventInfo(start=now + timedelta(days=1), venue="(from the page)")
    )
    return judge(as_event, feed, rules, now).drafted


def _missing_fields(entry: Entry, rules: RuleSet) -> list[str]:
    present = {
        "title": bool(entry.title),
        "link": bool(entry.link),
        "published": entry.published is not None,
        "summary": bool(entry.summary),
        "event_start": entry.event is not None,
        "venue": bool(entry.event and entry.event.venue),
    }
    return [f for f in rules.require if not present[f]]
