"""Publish approved drafts: corporate account only, exactly once, within pace and budget.

Exactly once rests on the draft state machine: a draft is claimed APPROVED ->
PUBLISHING with an attempt id by a conditional write, so two publishers can never
both post it. When X's answer is lost (timeout, reset, 5xx), the attempt is
recorded as ambiguous and the draft goes back to APPROVED with a not-before time;
the retry posts the same text, and X's "duplicate content" answer then proves the
first attempt went out.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hookline.clock import iso, parse_iso
from hookline.config import Config
from hookline.models import Attempt, Draft, State
from hookline.store import PaceRefused, StateConflict, Store
from hookline.xapi import (
    Ambiguous,
    Duplicate,
    NotSent,
    Poster,
    RateLimited,
    Refused,
    Unauthorized,
    UsageCapped,
    XError,
    post_url,
)

log = logging.getLogger(__name__)

ACTOR = "publisher"
ACCOUNT_CHECK_MAX_AGE = timedelta(hours=3)
RETRY_BACKOFF = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_AMBIGUOUS_RETRIES = 5
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    held: str | None = None
    account_problem: str | None = None
    spend_cents: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "published": len(self.published),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "expired": len(self.expired),
            "held": self.held,
            "account_problem": self.account_problem,
            "spend_cents": self.spend_cents,
        }


def cents(usd: float) -> int:
    return round(usd * 100)


def in_window(config: Config, now: datetime) -> bool:
    window = config.pacing.window
    local = now.astimezone(config.organisation.tz)
    return WEEKDAY_NAMES[local.weekday()] in window.days and window.start <= local.time() < window.end


def publish_order(drafts: list[Draft], config: Config, now: datetime) -> list[Draft]:
    """Events starting within the priority horizon first, soonest first; then approval order."""
    horizon = now + timedelta(hours=config.pacing.event_priority_hours)

    def key(d: Draft) -> tuple[int, str]:
        if d.event and d.event.start <= horizon:
            return (0, iso(d.event.start))
        return (1, iso(d.approved_at or d.state_at))

    return sorted(drafts, key=key)


# -- housekeeping ------------------------------------------------------------------------


def expire_due(store: Store, config: Config, now: datetime, report: PublishReport) -> None:
    """Pending drafts past their time, and drafts whose event has started, expire."""
    for state in (State.PENDING, State.APPROVED):
        for draft in store.drafts_in(state):
            why = None
            if draft.event and draft.event.start <= now:
                why = "the event has started"
            elif state is State.PENDING and draft.expires_at and draft.expires_at <= now:
                why = f"nobody decided within {config.approval.expire_after_days:g} days"
            if not why:
                continue
            try:
                store.transition(draft, State.EXPIRED, actor=ACTOR, action="expire", reason=why)
                report.expired.append(draft.id)
            except StateConflict:
                continue  # someone decided meanwhile; their decision stands


# -- the account guard -------------------------------------------------------------------


class AccountHeld(Exception):
    pass


def check_account(store: Store, poster: Poster, config: Config, now: datetime) -> None:
    """The credentials must belong to the configured corporate account, or nothing posts.

    The result is cached in the table so a cold start does not spend an X request.
    """
    cached = store.get_control("ACCOUNT")
    hold = store.get_control("HOLD")
    if (
        cached
        and not hold
        and cached.get("ok")
        and cached.get("user_id") == config.account.user_id
        and now - parse_iso(cached["checked_at"]) < ACCOUNT_CHECK_MAX_AGE
    ):
        return
    try:
        me = poster.whoami()
    except Unauthorized as exc:
        _hold(store, now, f"X rejected the credentials: {exc}")
        raise AccountHeld(str(exc)) from None
    if me.user_id != config.account.user_id:
        problem = (
            f"the X credentials belong to @{me.username} (user id {me.user_id}), not the corporate account "
            f"@{config.account.bare_handle} (user id {config.account.user_id}); nothing will be posted"
        )
        store.put_control(
            "ACCOUNT",
            {
                "ok": False,
                "user_id": me.user_id,
                "username": me.username,
                "checked_at": iso(now),
                "problem": problem,
            },
        )
        _hold(store, now, problem)
        raise AccountHeld(problem)
    store.put_control(
        "ACCOUNT", {"ok": True, "user_id": me.user_id, "username": me.username, "checked_at": iso(now)}
    )
    if hold:
        store.delete_control("HOLD")
        log.info("publishing resumed: the account check passes again")


def _hold(store: Store, now: datetime, reason: str) -> None:
    log.error("publishing held", extra={"reason": reason})
    store.put_control("HOLD", {"reason": reason, "at": iso(now)})


# -- publishing --------------------------------------------------------------------------


def _due(store: Store, now: datetime, lease: timedelta) -> list[Draft]:
    due = []
    for draft in store.drafts_in(State.APPROVED):
        fresh = store.find_draft(draft.id)  # the index lags; decide on the item itself
        if fresh and fresh.state is State.APPROVED and (fresh.not_before is None or fresh.not_before <= now):
            due.append(fresh)
    for draft in store.drafts_in(State.PUBLISHING):
        fresh = store.find_draft(draft.id)
        if (
            fresh
            and fresh.state is State.PUBLISHING
            and fresh.attempt
            and fresh.attempt.started_at < now - lease
        ):
            due.append(_take_over(store, fresh, now))
    return [d for d in due if d.state is State.APPROVED]


def _take_over(store: Store, draft: Draft, now: datetime) -> Draft:
    """A publisher died mid-attempt: we cannot know whether X posted, so treat it as ambiguous."""
    if draft.attempt is None:
        return draft
    stale = draft.attempt.model_copy(update={"outcome": "lease expired (publisher stopped mid-attempt)"})
    try:
        return store.transition(
            draft,
            State.APPROVED,
            actor=ACTOR,
            action="take over",
            expect_attempt=draft.attempt.id,
            changes={
                "ambiguous_attempts": [a.model_dump(mode="json") for a in [*draft.ambiguous_attempts, stale]],
                "not_before": iso(now),
            },
            remove=["attempt"],
            reason="the previous attempt's lease expired; its outcome is unknown",
        )
    except StateConflict as exc:
        return exc.draft or draft


def publish_due(
    store: Store,
    poster: Poster,
    config: Config,
    now: datetime,
    *,
    lease: timedelta = timedelta(minutes=5),
) -> PublishReport:
    report = PublishReport()
    expire_due(store, config, now, report)

    pause = store.pause_state()
    if pause.paused:
        report.held = f"paused by {pause.by}: {pause.reason}"
        return report
    if not in_window(config, now):
        report.held = "outside the publish window"
        return report

    hold = store.get_control("HOLD")
    if hold and hold.get("until") and parse_iso(hold["until"]) > now:
        report.held = f"held until {hold['until']}: {hold.get('reason')}"
        return report

    candidates = publish_order(_due(store, now, lease), config, now)
    if not candidates:
        return report

    try:
        check_account(store, poster, config, now)
    except AccountHeld as exc:
        report.held = "account check failed"
        report.account_problem = str(exc)
        return report

    price = cents(config.pacing.price_per_post_usd)
    for draft in candidates:
        month, day = _periods(config, now)
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
            report.held = exc.reason
            return report
        outcome = _attempt(store, poster, config, draft, now, report)
        if outcome == "posted":
            report.spend_cents += price
            return report  # one post per spacing slot; the next run takes the next one
        if outcome != "ambiguous":  # X may have billed an ambiguous attempt: keep it reserved
            store.release_post(month=month, day=day, cents=price, now=now)
        if outcome in ("ambiguous", "stop"):
            return report
        # "conflict" (another publisher has it) or "refused" (this draft failed): try the next one
    return report


def _periods(config: Config, now: datetime) -> tuple[str, str]:
    local = now.astimezone(config.organisation.tz)
    return local.strftime("%Y-%m"), local.strftime("%Y-%m-%d")


def _attempt(
    store: Store, poster: Poster, config: Config, draft: Draft, now: datetime, report: PublishReport
) -> str:
    """One try at one draft; returns posted, conflict, refused, ambiguous or stop."""
    attempt = Attempt(id=uuid.uuid4().hex, started_at=now)
    try:
        claimed = store.transition(
            draft,
            State.PUBLISHING,
            actor=ACTOR,
            action="publish attempt",
            changes={"attempt": attempt.model_dump(mode="json")},
        )
    except StateConflict:
        return "conflict"

    try:
        result = poster.post(claimed.text)
    except Duplicate as exc:
        if claimed.ambiguous_attempts:
            _finish(
                store,
                claimed,
                attempt,
                State.PUBLISHED,
                report.published,
                now,
                changes={"needs_confirmation": True, "published_at": iso(now)},
                reason="X reports duplicate content after an ambiguous attempt: it was published earlier "
                "(no post id; please confirm on the account)",
            )
            return "posted"
        _finish(
            store,
            claimed,
            attempt,
            State.FAILED,
            report.failed,
            now,
            changes={"failure": str(exc)},
            reason=f"X refused: {exc}",
        )
        return "refused"
    except (Ambiguous, NotSent) as exc:
        ambiguous = isinstance(exc, Ambiguous)
        tries = len(claimed.ambiguous_attempts) + 1
        if tries > MAX_AMBIGUOUS_RETRIES:
            _finish(
                store,
                claimed,
                attempt,
                State.FAILED,
                report.failed,
                now,
                changes={"failure": f"gave up after {tries} attempts: {exc}"},
                reason=str(exc),
            )
            return "ambiguous" if ambiguous else "stop"
        backoff = RETRY_BACKOFF[min(tries - 1, len(RETRY_BACKOFF) - 1)]
        attempts = claimed.ambiguous_attempts
        if ambiguous:
            attempts = [*attempts, attempt.model_copy(update={"outcome": str(exc)})]
        _finish(
            store,
            claimed,
            attempt,
            State.APPROVED,
            report.retrying,
            now,
            changes={
                "ambiguous_attempts": [a.model_dump(mode="json") for a in attempts],
                "not_before": iso(now + backoff),
                "failure": str(exc),
            },
            reason=f"{exc}; retrying after {iso(now + backoff)}",
        )
        return "ambiguous" if ambiguous else "stop"
    except RateLimited as exc:
        until = exc.reset_at or now + RETRY_BACKOFF[0]
        _finish(
            store,
            claimed,
            attempt,
            State.APPROVED,
            report.retrying,
            now,
            changes={"not_before": iso(max(until, now)), "failure": str(exc)},
            reason=str(exc),
        )
        report.held = f"X rate limit until {iso(until)}"
        return "stop"
    except UsageCapped as exc:
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        _finish(
            store,
            claimed,
            attempt,
            State.APPROVED,
            report.retrying,
            now,
            changes={"not_before": iso(tomorrow), "failure": str(exc)},
            reason=str(exc),
        )
        store.put_control("HOLD", {"reason": str(exc), "at": iso(now), "until": iso(tomorrow)})
        report.held = str(exc)
        return "stop"
    except Unauthorized as exc:
        _finish(
            store,
            claimed,
            attempt,
            State.APPROVED,
            report.retrying,
            now,
            changes={"failure": str(exc)},
            reason=str(exc),
        )
        _hold(store, now, str(exc))
        report.held = "account check failed"
        report.account_problem = str(exc)
        return "stop"
    except (Refused, XError) as exc:
        _finish(
            store,
            claimed,
            attempt,
            State.FAILED,
            report.failed,
            now,
            changes={"failure": str(exc)},
            reason=f"X refused: {exc}",
        )
        return "refused"

    changes: dict[str, Any] = {"published_at": iso(now), "post_id": result.post_id, "post_url": result.url}
    if result.post_id and not result.url:
        changes["post_url"] = post_url(config.account, result.post_id)
    _finish(
        store,
        claimed,
        attempt,
        State.PUBLISHED,
        report.published,
        now,
        changes=changes,
        reason="published" if result.post_id else "dry run: nothing was sent to X",
    )
    return "posted"


def _finish(
    store: Store,
    draft: Draft,
    attempt: Attempt,
    to: State,
    bucket: list[str],
    now: datetime,
    *,
    changes: dict[str, Any],
    reason: str,
) -> None:
    try:
        store.transition(
            draft,
            to,
            actor=ACTOR,
            action={State.PUBLISHED: "published", State.FAILED: "failed"}.get(to, "retry later"),
            expect_attempt=attempt.id,
            changes=changes,
            remove=["attempt"],
            reason=reason,
        )
    except StateConflict:
        # Another publisher took the lease over; it now owns the outcome. Logged, never silent.
        log.error("publish attempt lost its lease", extra={"draft_id": draft.id, "attempt": attempt.id})
        return
    bucket.append(draft.id)
