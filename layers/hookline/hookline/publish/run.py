"""Publish approved drafts: corporate account only, exactly once, within pace and budget.

Exactly once rests on the draft state machine. A draft is claimed APPROVED ->
PUBLISHING with a fresh attempt id by a conditional write, so two publishers can
never both post it, and only the holder of that attempt id can record its outcome.
When X's answer is lost (read timeout, reset connection, 5xx) the attempt is
recorded as ambiguous and the draft goes back to APPROVED with a not-before time;
the retry posts the very same text, and X's "duplicate content" answer then proves
the first attempt went out. A publisher that dies mid-attempt leaves its lease
behind; once the lease is older than the function can live, the next run takes
the draft over the same way.

Spend, the daily slot and the spacing are reserved in one DynamoDB transaction
before X is called, and given back when X refused (it bills only what it posts),
so publishers running at once cannot overspend.

Nothing posts unless the credentials in use were checked, within the last few
hours, to belong to the configured corporate account (`check_account`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso
from hookline.config import Config, cents
from hookline.models import Draft, State
from hookline.publish.account import ACCOUNT_HOLDS, AccountHeld, AccountUnchecked, check_account
from hookline.publish.attempt import (
    MAX_REASON,
    MAX_WEIGHTED_LENGTH,
    RATE_LIMIT_FALLBACK,
    RATE_LIMIT_LONGEST,
    RETRY_BACKOFF,
    Outcome,
    _attempt,
    _finish,
)
from hookline.publish.networks.port import Network
from hookline.publish.networks.x import as_network
from hookline.publish.pacing import in_window, periods
from hookline.publish.recovery import expire_due, recover_stale
from hookline.publish.xapi import CONNECT_TIMEOUT, READ_TIMEOUT, Poster
from hookline.store import PaceRefused, PublishStore

if TYPE_CHECKING:
    from hookline.poll.linkcheck import PageCheck

__all__ = [
    "MAX_REASON",
    "MAX_WEIGHTED_LENGTH",
    "RATE_LIMIT_FALLBACK",
    "RATE_LIMIT_LONGEST",
    "RETRY_BACKOFF",
    "Outcome",
    "PublishReport",
    "_finish",
    "in_window",
    "periods",
    "publish_due",
    "publish_order",
]

log = logging.getLogger(__name__)

MAX_REFUSALS_PER_RUN = 2  # X refusing post after post is likely not the posts' fault
# Longest an attempt can take: connect + read timeouts, plus the DynamoDB writes around it.
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT + 7


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)
    needs_confirmation: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    held: str | None = None  # publishing stopped: paused, account/credentials, usage cap, rate limit
    held_kind: str | None = None
    waiting: str | None = None  # the ordinary reasons nothing (more) went out: window, spacing, caps
    account_problem: str | None = None
    usage_capped: bool = False
    spend_cents: int = 0

    def hold(self, kind: str, reason: str) -> None:
        self.held_kind, self.held = kind, reason

    def summary(self) -> dict[str, Any]:
        return {
            "published": len(self.published),
            "needs_confirmation": len(self.needs_confirmation),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "expired": len(self.expired),
            "recovered": len(self.recovered),
            "held": self.held,
            "held_kind": self.held_kind,
            "waiting": self.waiting,
            "account_problem": self.account_problem,
            "usage_capped": self.usage_capped,
            "spend_cents": self.spend_cents,
        }


def publish_order(drafts: list[Draft], config: Config, now: datetime) -> list[Draft]:
    """Events starting within the priority horizon first, soonest first; then approval order."""
    horizon = now + timedelta(hours=config.pacing.event_priority_hours)

    def key(d: Draft) -> tuple[int, str, str]:
        if d.event and d.event.start <= horizon:
            return (0, iso(d.event.start), d.id)
        return (1, iso(d.approved_at or d.state_at), d.id)

    return sorted(drafts, key=key)


def _is_due(draft: Draft | None, now: datetime) -> bool:
    return bool(
        draft
        and draft.state is State.APPROVED
        and not (draft.not_before and draft.not_before > now)
        # an event that started is expired by expire_due, and never posted even if that write lost a race
        and not (draft.event and draft.event.start <= now)
    )


def _due(
    store: PublishStore, config: Config, now: datetime, named: Collection[str] | None = None
) -> list[Draft]:
    """Approved drafts in publishing order, as the (lagging) index lists them; each is read
    again, consistently, just before it is tried. `named` drafts (a run started by their
    approval) are read by key as well, since the index may not list them yet; drafts due before
    them keep their turn."""
    listed = {d.id: d for d in store.drafts_in(State.APPROVED) if _is_due(d, now)}
    for draft_id in dict.fromkeys(named or ()):
        if (
            draft_id not in listed
            and (draft := store.find_draft(draft_id)) is not None
            and _is_due(draft, now)
        ):
            listed[draft_id] = draft
    return publish_order(list(listed.values()), config, now)


def publish_due(
    store: PublishStore,
    poster: Poster | Network,
    config: Config,
    now: datetime,
    *,
    lease: timedelta = timedelta(minutes=5),
    time_left: Callable[[], float] | None = None,
    check_link: Callable[[str], PageCheck] | None = None,
    named: Collection[str] | None = None,
) -> PublishReport:
    """One publish run: housekeeping, then as many due drafts as pace, budget and time allow.

    `named`: a run started by those drafts becoming due (an approval or a retry, heard from the
    table's stream): they are tried at once, after any draft due before them, under the same pause,
    window, account guard, pacing and conditional claim as any run (of two runs trying one draft at
    the same moment, one wins the claim). Housekeeping is left to the scheduled runs.

    `check_link` runs the link pre-flight again just before a post (a warning on the
    draft, never a blocker: the approver already decided).

    `lease` must outlast the run (the function's timeout): a PUBLISHING draft older than
    that is taken over. `time_left` (seconds) stops the run from starting an attempt it
    could not finish.
    """
    if time_left is not None and lease.total_seconds() <= time_left():
        raise ValueError(f"the publish lease ({lease}) must be longer than the run may last")
    network = as_network(poster)
    report = PublishReport()
    if named is None:
        recover_stale(store, config, now, lease, report)
        expire_due(store, config, now, report)
    elif not named:
        return report
    if not _may_publish(store, config, now, report):
        return report
    hold = store.hold_state()
    if not in_window(config, now):
        report.waiting = "outside the publish window"
        return report

    candidates = _due(store, config, now, named)
    if not candidates and not (hold and hold.kind in ACCOUNT_HOLDS):
        return report  # nothing to post: no X request, not even the account check

    try:
        credentials = check_account(store, network, config, now)
    except AccountHeld as exc:
        report.hold(exc.kind, exc.reason)
        report.account_problem = exc.reason
        return report
    except AccountUnchecked as exc:
        report.waiting = str(exc)
        return report
    _post_due(store, network, config, now, report, candidates, credentials, time_left, check_link)
    return report


def _may_publish(store: PublishStore, config: Config, now: datetime, report: PublishReport) -> bool:
    """False while paused, without an X account, or under X's rate limit or usage cap (one that
    has run out is cleared)."""
    pause = store.pause_state()
    if pause.paused:
        report.hold("paused", f"paused by {pause.by}: {pause.reason}")
        return False
    if config.accounts.x is None:
        return False  # no X account: the other networks' deliveries are hookline.publish.delivery's
    limit = store.limit_state()
    if limit and limit.until:
        if limit.until > now:
            report.hold(limit.kind, limit.reason)
            return False
        store.clear_limit(before=now)
    return True


def _post_due(
    store: PublishStore,
    network: Network,
    config: Config,
    now: datetime,
    report: PublishReport,
    candidates: list[Draft],
    credentials: str,
    time_left: Callable[[], float] | None,
    check_link: Callable[[str], PageCheck] | None,
) -> None:
    """Each candidate in turn: reserve its pace, try it, keep or give back the reservation."""
    price = cents(config.pacing.price_per_post_usd)
    refusals = 0
    for listed in candidates:
        if time_left is not None and time_left() < ATTEMPT_SECONDS:
            report.waiting = "the run's time is nearly up; the next run carries on"
            break
        draft = store.find_draft(listed.id)  # the index lags the item: decide on the item itself
        if draft is None or not _is_due(draft, now):
            continue
        month, day = periods(config, now)
        try:
            store.reserve_post(
                now=now,
                month=month,
                day=day,
                cents=price,
                month_cap_cents=cents(config.pacing.monthly_spend_cap_usd),
                daily_cap=config.pacing.daily_cap,
                spacing=timedelta(minutes=config.pacing.min_spacing_minutes),
            )
        except PaceRefused as exc:
            report.waiting = exc.reason
            break
        outcome = _attempt(store, network, config, draft, now, report, credentials, check_link)
        if outcome.keeps_reservation:
            report.spend_cents += price
        else:
            store.release_post(month=month, day=day, cents=price, now=now)
        if outcome.stops_run:
            break
        if outcome is Outcome.REFUSED:
            refusals += 1
            if refusals >= MAX_REFUSALS_PER_RUN:
                report.waiting = f"X refused {refusals} posts in a row; the next run carries on"
                break
