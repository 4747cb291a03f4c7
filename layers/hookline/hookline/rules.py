"""Decide per entry: draft or skip, always with a reason a person understands.

Order: required fields, an event already under way, maximum age (not for events),
excluded categories and keywords, then events (any entry with a start date, whatever
its feed's kind), then included categories and keywords. A rule set with no include
lists drafts everything that was not excluded.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from functools import lru_cache

from hookline.config import FeedConfig, RuleSet
from hookline.models import Entry, EventInfo, Judgement

FIELD_NAMES = {
    "title": "title",
    "link": "http(s) link",
    "published": "publication date",
    "summary": "summary",
    "event_start": "event start date",
    "venue": "venue",
}


@lru_cache(maxsize=1024)
def _word_pattern(word: str) -> re.Pattern[str]:
    # Whole words only: 'minutes' must not match 'minuteserved', 'AI' must not match 'said'.
    return re.compile(r"(?<!\w)" + re.escape(word.casefold()) + r"(?!\w)")


def _find_keyword(words: list[str], text: str) -> str | None:
    folded = text.casefold()
    return next((w for w in words if _word_pattern(w).search(folded)), None)


def _find_category(wanted: list[str], categories: tuple[str, ...]) -> tuple[str, str] | None:
    have = {c.casefold(): c for c in categories}
    for category in wanted:
        if category.casefold() in have:
            return category, have[category.casefold()]
    return None


def _age_days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{delta.total_seconds() / 3600:.0f} hours"


def judge(
    entry: Entry, feed: FeedConfig, rules: RuleSet, now: datetime, rule_name: str | None = None
) -> Judgement:
    name = rule_name or feed.rules
    missing = _missing_fields(entry, rules)
    if missing:
        wanted = " or ".join(FIELD_NAMES[f] for f in missing)
        return Judgement("skip", f"no {wanted} (required by rule {name!r})", name)

    if entry.event is not None and entry.event.start <= now:
        return Judgement(
            "skip", f"the event started at {entry.event.start.isoformat()} (already under way)", name
        )

    if rules.max_age_days is not None and entry.published is not None and entry.event is None:
        age = now - entry.published
        if age > timedelta(days=rules.max_age_days):
            return Judgement(
                "skip", f"older than {rules.max_age_days:g} days (published {_age_days(age)} ago)", name
            )

    text = f"{entry.title}\n{entry.summary}"
    excluded_category = _find_category(rules.exclude_categories, entry.categories)
    if excluded_category:
        return Judgement("skip", f"excluded category {excluded_category[1]!r} (rule {name!r})", name)
    excluded_word = _find_keyword(rules.exclude_keywords, text)
    if excluded_word:
        return Judgement("skip", f"excluded keyword {excluded_word!r} (rule {name!r})", name)

    if entry.event is not None:
        return Judgement("draft", f"an event starting {entry.event.start.isoformat()} (rule {name!r})", name)

    if not rules.include_categories and not rules.include_keywords:
        return Judgement("draft", f"no exclusion matched rule {name!r}, which drafts everything else", name)
    included = _find_category(rules.include_categories, entry.categories)
    if included:
        return Judgement("draft", f"category {included[1]!r} matched rule {name!r}", name)
    keyword = _find_keyword(rules.include_keywords, text)
    if keyword:
        return Judgement("draft", f"keyword {keyword!r} matched rule {name!r}", name)
    cats = ", ".join(repr(c) for c in entry.categories) or "none"
    return Judgement("skip", f"no category or keyword of rule {name!r} matched (categories: {cats})", name)


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
