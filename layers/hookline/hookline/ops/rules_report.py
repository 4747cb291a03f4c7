"""`python -m hookline rules report`: how the team decided the drafts each rule term made,
and the config changes their decisions suggest.

Per rule, per matched term and per feed: drafts made, approved (approved, publishing,
published or refused by X: a person said yes), rejected (with the reasons given), expired,
still pending, and skips drafted by hand. A suggestion is made only on enough decisions
(MIN_DECISIONS) that mostly disagree with the rule (REJECTED_SHARE), or on several skips of
the same category drafted by hand (MIN_BY_HAND).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hookline.config import Config
from hookline.models import Draft, State
from hookline.poll.matching import Text, find_any
from hookline.poll.rules import UNMATCHED
from hookline.store import DraftStore

MIN_DECISIONS = 5
REJECTED_SHARE = 0.8
MIN_BY_HAND = 3
APPROVED_STATES = {State.APPROVED, State.PUBLISHING, State.PUBLISHED, State.FAILED}
# Drafts made before drafts carried their rule term: the reason names it.
_REASON = re.compile(r"^(category|keyword) '.*' matched '(.+)' \(rule '([^']+)'\)$")


@dataclass
class Tally:
    drafted: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    pending: int = 0
    by_hand: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, draft: Draft, reject_reason: str | None) -> None:
        self.drafted += 1
        self.by_hand += bool(draft.by_hand)
        if draft.state in APPROVED_STATES:
            self.approved += 1
        elif draft.state is State.REJECTED:
            self.rejected += 1
            self.reasons[reject_reason or "(no reason given)"] += 1
        elif draft.state is State.EXPIRED:
            self.expired += 1
        else:
            self.pending += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "drafted": self.drafted,
            "approved": self.approved,
            "rejected": self.rejected,
            "expired": self.expired,
            "pending": self.pending,
            "drafted_by_hand": self.by_hand,
            "rejected_because": dict(self.reasons.most_common()),
        }

    def line(self) -> str:
        return (
            f"drafted {self.drafted}, approved {self.approved}, rejected {self.rejected}, "
            f"expired {self.expired}, pending {self.pending}, drafted by hand from skips {self.by_hand}"
        )


def rule_and_term(draft: Draft) -> tuple[str, str]:
    """(rule, term) a draft was made by: 'keyword:report', 'category:Report', 'event', or '(other)'."""
    if draft.rule and draft.term:
        return draft.rule, draft.term
    match = _REASON.match(draft.reason)
    if match:
        return match.group(3), f"{match.group(1)}:{match.group(2)}"
    if draft.reason.startswith("an event starting"):
        rule = re.search(r"\(rule '([^']+)'\)", draft.reason)
        return (rule.group(1) if rule else "(unknown)"), "event"
    return draft.rule or "(unknown)", draft.term or "(other)"


def _label(term: str) -> str:
    kind, _, written = term.partition(":")
    return f"{kind} {written!r}" if written else kind


@dataclass
class RulesReport:
    days: int
    since: datetime
    terms: dict[tuple[str, str], Tally]
    feeds: dict[tuple[str, str, str], Tally]
    suggestions: list[str]

    def as_json(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for (rule, term), tally in sorted(self.terms.items()):
            per_feed = {
                feed: t.as_json() for (r, m, feed), t in sorted(self.feeds.items()) if (r, m) == (rule, term)
            }
            rules.setdefault(rule, {})[term] = {**tally.as_json(), "feeds": per_feed}
        return {
            "days": self.days,
            "since": self.since.isoformat(),
            "rules": rules,
            "suggestions": self.suggestions,
        }


def build(store: DraftStore, config: Config, now: datetime, days: int = 90) -> RulesReport:
    since = now - timedelta(days=days)
    drafts = [d for state in State for d in store.drafts_in(state) if d.created_at >= since]
    terms: dict[tuple[str, str], Tally] = {}
    feeds: dict[tuple[str, str, str], Tally] = {}
    by_hand_categories: dict[tuple[str, str], int] = Counter()
    by_hand_exclusions: dict[tuple[str, str], int] = Counter()
    for draft in drafts:
        reason = _reject_reason(store, draft) if draft.state is State.REJECTED else None
        rule, term = rule_and_term(draft)
        if draft.by_hand:
            term = "by hand"  # the rules skipped it: no term of theirs made it
            if draft.term and draft.term.startswith(("category:", "keyword:")):
                by_hand_exclusions[(rule, draft.term)] += 1  # skipped by this exclusion
            elif draft.term == UNMATCHED:  # no include term matched: which categories were wanted?
                for category in dict.fromkeys(draft.categories):
                    by_hand_categories[(rule, category)] += 1
        terms.setdefault((rule, term), Tally()).add(draft, reason)
        feeds.setdefault((rule, term, draft.feed_id), Tally()).add(draft, reason)
    return RulesReport(
        days, since, terms, feeds, _suggest(config, terms, by_hand_categories, by_hand_exclusions)
    )


def _reject_reason(store: DraftStore, draft: Draft) -> str | None:
    return next((a.reason for a in reversed(store.audit(draft.id)) if a.to_state is State.REJECTED), None)


def _suggest(
    config: Config,
    terms: dict[tuple[str, str], Tally],
    by_hand_categories: dict[tuple[str, str], int],
    by_hand_exclusions: dict[tuple[str, str], int],
) -> list[str]:
    out = []
    for (rule, term), tally in sorted(terms.items()):
        decided = tally.approved + tally.rejected
        kind, _, written = term.partition(":")
        if kind not in ("category", "keyword") or decided < MIN_DECISIONS:
            continue
        if tally.rejected / decided >= REJECTED_SHARE:
            lists = "exclude_categories" if kind == "category" else "exclude_keywords"
            source = "include_categories" if kind == "category" else "include_keywords"
            out.append(
                f"approvers rejected {tally.rejected} of {decided} drafts matched by {kind} {written!r}: "
                f"add it to {lists} of rule {rule!r} (or remove it from {source})"
            )
    for (rule, term), count in sorted(by_hand_exclusions.items()):
        if count >= MIN_BY_HAND:
            kind, _, written = term.partition(":")
            lists = "exclude_categories" if kind == "category" else "exclude_keywords"
            out.append(
                f"{count} skips excluded by {kind} {written!r} were drafted by hand: "
                f"remove it from {lists} of rule {rule!r}"
            )
    for (rule, category), count in sorted(by_hand_categories.items(), key=lambda kv: (-kv[1], kv[0])):
        rules = config.rule_sets.get(rule)
        if count < MIN_BY_HAND or rules is None:
            continue
        if find_any(rules.include_categories, [Text.of(category)]):
            continue  # already included: something else skipped these (age, an exclusion)
        out.append(
            f"{count} skips of category {category!r} were drafted by hand: "
            f"add it to include_categories of rule {rule!r}"
        )
    return out


def format_report(report: RulesReport) -> str:
    lines = [f"Rules: drafts made in the last {report.days} days (since {report.since:%Y-%m-%d})"]
    if not report.terms:
        lines.append("  no drafts in that time")
    current = None
    for (rule, term), tally in sorted(report.terms.items()):
        if rule != current:
            lines.append(f"  rule {rule!r}")
            current = rule
        lines.append(f"    {_label(term)}: {tally.line()}")
        for (r, m, feed), t in sorted(report.feeds.items()):
            if (r, m) == (rule, term):
                lines.append(f"      feed {feed}: {t.line()}")
        for why, n in tally.reasons.most_common(5):
            lines.append(f"      rejected because: {why!r} ({n})")
    lines.append(
        "Suggestions:" if report.suggestions else "Suggestions: none (the decisions agree with the rules)"
    )
    lines.extend(f"  - {s}" for s in report.suggestions)
    return "\n".join(lines)
