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

import enum
import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso
from hookline.config import Config, cents
from hookline.models import Attempt, Draft, EventInfo, State
from hookline.publish.account import (
    ACCOUNT_HOLDS,
    AccountHeld,
    AccountUnchecked,
    _account_failed,
    check_account,
)
from hookline.publish.recovery import (
    MAX_RETRIES,
    _attempts_json,
    _gave_up,
    _transition,
    expire_due,
    recover_stale,
)
from hookline.store import ItemTooLarge, PaceRefused, StateConflict, Store

if TYPE_CHECKING:
    from hookline.poll.linkcheck import PageCheck
from hookline.publish.networks.port import (
    Ambiguous,
    Duplicate,
    Network,
    NetworkError,
    NotSent,
    Post,
    RateLimited,
    Unauthorized,
    UsageCapped,
)
from hookline.publish.networks.x import as_network
from hookline.publish.xapi import CONNECT_TIMEOUT, READ_TIMEOUT, Poster, post_url

log = logging.getLogger(__name__)

RETRY_BACKOFF = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_REFUSALS_PER_RUN = 2  # X refusing post after post is likely not the posts' fault
MAX_WEIGHTED_LENGTH = 280
# A reason kept on a draft: enough to read, never enough to push the item towards 400 KB.
MAX_REASON = 1000
RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # a 429 without x-rate-limit-reset
RATE_LIMIT_LONGEST = timedelta(hours=24)
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


def in_window(config: Config, now: datetime) -> bool:
    return config.pacing.window.contains(now, config.pacing.tz(config.organisation))


def periods(config: Config, now: datetime) -> tuple[str, str]:
    """The month (organisation's timezone, as the review page shows spend) and the day (the
    publish window's timezone) a post made now counts against."""
    month = now.astimezone(config.organisation.tz).strftime("%Y-%m")
    day = now.astimezone(config.pacing.tz(config.organisation)).strftime("%Y-%m-%d")
    return month, day


def publish_order(drafts: list[Draft], config: Config, now: datetime) -> list[Draft]:
    """Events starting within the priority horizon first, soonest first; then approval order."""
    horizon = now + timedelta(hours=config.pacing.event_priority_hours)

    def key(d: Draft) -> tuple[int, str, str]:
        if d.event and d.event.start <= horizon:
            return (0, iso(d.event.start), d.id)
        return (1, iso(d.approved_at or d.state_at), d.id)

    return sorted(drafts, key=key)


def _next_midnight(config: Config, now: datetime) -> datetime:
    tz = config.pacing.tz(config.organisation)
    local = now.astimezone(tz)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)


# -- housekeeping: runs even while paused or held -----------------------------------------


# -- the account guard -------------------------------------------------------------------


# -- publishing --------------------------------------------------------------------------


def _is_due(draft: Draft | None, now: datetime) -> bool:
    return bool(
        draft
        and draft.state is State.APPROVED
        and not (draft.not_before and draft.not_before > now)
        # an event that started is expired by expire_due, and never posted even if that write lost a race
        and not (draft.event and draft.event.start <= now)
    )


def _due(store: Store, config: Config, now: datetime, named: Collection[str] | None = None) -> list[Draft]:
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
    store: Store,
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

    pause = store.pause_state()
    if pause.paused:
        report.hold("paused", f"paused by {pause.by}: {pause.reason}")
        return report
    if config.accounts.x is None:
        return report  # no X account: the other networks' deliveries are hookline.publish.delivery's
    limit = store.limit_state()
    if limit and limit.until:
        if limit.until > now:
            report.hold(limit.kind, limit.reason)
            return report
        store.clear_limit(before=now)
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
    return report


class Outcome(enum.Enum):
    POSTED = "posted"
    CONFIRMED_EARLIER = "confirmed earlier"  # an earlier ambiguous attempt was the post
    CONFLICT = "conflict"  # another publisher or an approver acted first
    REFUSED = "refused"  # X refused this draft: FAILED
    AMBIGUOUS = "ambiguous"  # X may have posted (and billed) it
    GAVE_UP_AMBIGUOUS = "gave up, ambiguous"
    STOP = "stop"  # not sent, rate limit, usage cap, credentials
    BLOCKED = "blocked"  # hookline refused it before X saw it: FAILED
    UNSURE = "unsure"  # the claim's write failed, perhaps after it was stored: X not asked yet

    @property
    def keeps_reservation(self) -> bool:
        return self in (Outcome.POSTED, Outcome.AMBIGUOUS, Outcome.GAVE_UP_AMBIGUOUS, Outcome.UNSURE)

    @property
    def stops_run(self) -> bool:
        return self in (Outcome.AMBIGUOUS, Outcome.GAVE_UP_AMBIGUOUS, Outcome.STOP, Outcome.UNSURE)


def _last_moment(draft: Draft, config: Config, now: datetime) -> dict[str, Any]:
    """An event's "tomorrow" that has become "today" since the draft was composed.

    Never after an ambiguous attempt: X's duplicate-content answer only proves an earlier
    post if the retry sends exactly the same text.
    """
    if draft.event is None or draft.ambiguous_attempts:
        return {}
    from hookline.compose.measure import weighted_length
    from hookline.compose.when import refresh_when

    event = EventInfo(start=draft.event.start, end=draft.event.end, venue=draft.event.venue)
    text = refresh_when(draft.text, event, config, draft.created_at, now)
    if text == draft.text or weighted_length(text) > MAX_WEIGHTED_LENGTH:
        return {}
    return {"text": text, "weighted_length": weighted_length(text)}


def _claim_failed(
    store: Store, draft: Draft, attempt: Attempt, report: PublishReport, exc: Exception
) -> Outcome:
    reason = f"not posted: the draft could not be saved before posting ({type(exc).__name__}: {exc})"[
        :MAX_REASON
    ]
    log.error(
        "publish claim failed; the draft is marked FAILED", extra={"draft_id": draft.id, "reason": reason}
    )
    try:
        # The bare claim (no pre-flight, no refreshed text) is small; then straight to FAILED.
        claimed = _transition(
            store,
            draft,
            State.PUBLISHING,
            action="publish attempt",
            changes={"attempt": attempt.model_dump(mode="json")},
        )
        if _finish(
            store, claimed, attempt, State.FAILED, changes={"failure": reason, "retries": 0}, reason=reason
        ):
            report.failed.append(draft.id)
    except StateConflict:
        return Outcome.CONFLICT
    except Exception:
        log.exception(
            "could not mark the draft FAILED either; it stays APPROVED", extra={"draft_id": draft.id}
        )
    return Outcome.BLOCKED


def _final_problems(draft: Draft, config: Config) -> list[str]:
    from hookline.compose.entities import allowed_entities, post_problems

    allowed = allowed_entities(config, config.feed(draft.feed_id), draft.partner)
    return post_problems(draft.text, link=draft.post_link, allowed=allowed)


def _attempt(
    store: Store,
    network: Network,
    config: Config,
    draft: Draft,
    now: datetime,
    report: PublishReport,
    credentials: str,
    check_link: Callable[[str], PageCheck] | None = None,
) -> Outcome:
    """One try at one draft, from the claim to the recorded outcome."""
    attempt = Attempt(id=uuid.uuid4().hex, started_at=now)
    claim: dict[str, Any] = {"attempt": attempt.model_dump(mode="json"), **_last_moment(draft, config, now)}
    if check_link is not None:
        try:
            page = check_link(draft.post_link)
        except Exception:  # a warning on the draft, never a blocker: the approver already decided
            log.exception(
                "the pre-flight before posting crashed; posting without it", extra={"draft_id": draft.id}
            )
        else:
            claim["preflight"] = {**page.as_json(), "checked_at": iso(now), "when": "just before publishing"}
    try:
        claimed = _transition(store, draft, State.PUBLISHING, action="publish attempt", changes=claim)
    except StateConflict:
        return Outcome.CONFLICT
    except ItemTooLarge as exc:
        # DynamoDB will not take the claim (or it was measured too big to send): it was not
        # written and X has not been asked. This draft fails with the reason; the run goes on.
        return _claim_failed(store, draft, attempt, report, exc)
    except Exception:
        # Any other failure may have lost only the answer: the claim can be stored, and the
        # recovery of a stale attempt will then look X up before posting again. Its slot and
        # spend stay reserved (over-counted at worst, never over the cap) and the run stops.
        log.exception("publish claim failed; its answer may be lost", extra={"draft_id": draft.id})
        return Outcome.UNSURE

    def finish(to: State, changes: dict[str, Any], reason: str) -> bool:
        return _finish(store, claimed, attempt, to, changes=changes, reason=reason)

    problems = _final_problems(claimed, config)
    if problems:
        # The last word before X: whatever path the text took (an edit, a refreshed
        # when-phrase, an old draft composed before a rule existed), nothing is posted that
        # links anywhere but the entry or mentions or tags what the organisation did not add.
        reason = "not posted: " + "; ".join(problems)
        if finish(State.FAILED, {"failure": reason[:MAX_REASON], "retries": 0}, reason[:MAX_REASON]):
            report.failed.append(draft.id)
        log.error("draft refused before posting", extra={"draft_id": draft.id, "reason": reason[:MAX_REASON]})
        return Outcome.BLOCKED

    try:
        result = network.post(
            Post(
                key=f"{claimed.id}:{network.name}",
                text=claimed.text,
                link=claimed.post_link,
                first_attempt_at=min((a.started_at for a in claimed.ambiguous_attempts), default=now),
            )
        )
    except Duplicate as exc:
        if claimed.ambiguous_attempts:
            last = max(a.started_at for a in claimed.ambiguous_attempts)
            if finish(
                State.PUBLISHED,
                {"needs_confirmation": True, "published_at": iso(last), "retries": 0},
                "X reports duplicate content after an ambiguous attempt: it was published then "
                f"(no post id; please confirm on @{config.account.bare_handle})",
            ):
                report.published.append(draft.id)
                report.needs_confirmation.append(draft.id)
                # One earlier attempt was the post: its reservation stands, any others are given back.
                _release_attempts(
                    store, config, sorted(claimed.ambiguous_attempts, key=lambda a: a.started_at)[1:]
                )
            return Outcome.CONFIRMED_EARLIER
        if finish(State.FAILED, {"failure": str(exc)}, f"X refused: {exc}"):
            report.failed.append(draft.id)
        return Outcome.REFUSED
    except (Ambiguous, NotSent) as exc:
        ambiguous = isinstance(exc, Ambiguous)
        return _transient(store, config, claimed, attempt, now, report, str(exc), ambiguous=ambiguous)
    except RateLimited as exc:
        # x-rate-limit-reset is X's word, but a garbled one must not stop publishing for weeks
        until = min(max(exc.reset_at or now + RATE_LIMIT_FALLBACK, now), now + RATE_LIMIT_LONGEST)
        reason = f"{exc}; posting resumes after {iso(until)}"
        if finish(State.APPROVED, {"not_before": iso(until), "failure": str(exc)}, reason):
            report.retrying.append(draft.id)
        store.set_limit("rate-limit", reason, now=now, until=until)
        report.hold("rate-limit", reason)
        return Outcome.STOP
    except UsageCapped as exc:
        until = _next_midnight(config, now)
        reason = f"{exc}; nothing more is posted today (until {iso(until)})"
        if finish(State.APPROVED, {"not_before": iso(until), "failure": str(exc)}, reason):
            report.retrying.append(draft.id)
        store.set_limit("usage-cap", reason, now=now, until=until)
        report.hold("usage-cap", reason)
        report.usage_capped = True
        log.error("X usage cap reached: publishing stops for the day", extra={"until": iso(until)})
        return Outcome.STOP
    except Unauthorized as exc:
        problem = f"{exc}; nothing will be posted until the credentials are fixed"
        if finish(State.APPROVED, {"failure": str(exc)}, str(exc)):
            report.retrying.append(draft.id)
        _account_failed(
            store,
            now,
            kind="credentials",
            problem=problem,
            credentials=credentials,
            expected=config.account.user_id,
        )
        report.hold("credentials", problem)
        report.account_problem = problem
        return Outcome.STOP
    except NetworkError as exc:  # Refused: other 403s, 400, 404
        if finish(State.FAILED, {"failure": str(exc), "retries": 0}, f"X refused: {exc}"):
            report.failed.append(draft.id)
        return Outcome.REFUSED
    except Exception as exc:
        # A bug or an outage we did not foresee. Whether X got the request is unknown: record the
        # attempt as ambiguous if we still can (a retry then cannot post twice), and let the
        # crash surface (dead-letter queue, errors alarm). If even that write fails, the lease
        # expires and the next run takes the draft over the same way.
        try:
            _transient(
                store, config, claimed, attempt, now, report, f"crashed: {type(exc).__name__}", ambiguous=True
            )
        except Exception:
            log.exception(
                "could not record a crashed attempt; its lease will expire", extra={"draft_id": draft.id}
            )
        raise

    changes: dict[str, Any] = {
        "published_at": iso(now),
        "post_id": result.post_id,
        "post_url": result.url,
        "retries": 0,
    }
    if result.post_id and not result.url:
        changes["post_url"] = post_url(config.account, result.post_id)
    try:
        recorded = finish(
            State.PUBLISHED,
            changes,
            "published" if result.post_id else "dry run: nothing was sent to X",
        )
    except Exception:
        # X posted it; only our record failed. Say so loudly with the id: the lease takeover
        # will find the post as a duplicate, but without this line nobody learns its id.
        log.exception(
            "posted to X but could not record it", extra={"draft_id": draft.id, "post_id": result.post_id}
        )
        raise
    if recorded:
        report.published.append(draft.id)
        # X created this post, so no earlier attempt of the same text did (X would have said
        # duplicate): the reservations kept for them were not billed.
        _release_attempts(store, config, claimed.ambiguous_attempts)
    return Outcome.POSTED


def _release_attempts(store: Store, config: Config, attempts: Iterable[Attempt]) -> None:
    price = cents(config.pacing.price_per_post_usd)
    for earlier in attempts:
        month, day = periods(config, earlier.started_at)
        store.release_post(month=month, day=day, cents=price, now=earlier.started_at)


def _transient(
    store: Store,
    config: Config,
    claimed: Draft,
    attempt: Attempt,
    now: datetime,
    report: PublishReport,
    error: str,
    *,
    ambiguous: bool,
) -> Outcome:
    """Not sent, or sent without a known outcome: back to APPROVED with a backoff, or give up."""
    retries = claimed.retries + 1
    attempts = claimed.ambiguous_attempts
    if ambiguous:
        attempts = [*attempts, attempt.model_copy(update={"outcome": error})]
    if retries >= MAX_RETRIES:
        failure = _gave_up(config, retries, error, bool(attempts))
        if _finish(
            store,
            claimed,
            attempt,
            State.FAILED,
            changes={"ambiguous_attempts": _attempts_json(attempts), "retries": 0, "failure": failure},
            reason=failure,
        ):
            report.failed.append(claimed.id)
        return Outcome.GAVE_UP_AMBIGUOUS if ambiguous else Outcome.STOP
    retry_at = now + RETRY_BACKOFF[min(retries - 1, len(RETRY_BACKOFF) - 1)]
    if _finish(
        store,
        claimed,
        attempt,
        State.APPROVED,
        changes={
            "ambiguous_attempts": _attempts_json(attempts),
            "retries": retries,
            "not_before": iso(retry_at),
            "failure": error,
        },
        reason=f"{error}; {'X may have posted it, ' if ambiguous else ''}retrying after {iso(retry_at)}",
    ):
        report.retrying.append(claimed.id)
    return Outcome.AMBIGUOUS if ambiguous else Outcome.STOP


def _finish(
    store: Store,
    draft: Draft,
    attempt: Attempt,
    to: State,
    *,
    changes: dict[str, Any],
    reason: str,
) -> bool:
    """Record an attempt's outcome, only while this attempt still holds the draft."""
    try:
        _transition(
            store,
            draft,
            to,
            action={State.PUBLISHED: "published", State.FAILED: "failed"}.get(to, "retry later"),
            expect_attempt=attempt.id,
            changes=changes,
            # a published draft carries no failure message from an earlier try
            remove=["attempt", "failure"]
            if to is State.PUBLISHED and "failure" not in changes
            else ["attempt"],
            reason=reason,
        )
    except StateConflict:
        # Another publisher took the lease over (this run outlived the lease); it owns the
        # outcome now and will learn it from X's duplicate answer. Logged, never silent.
        log.error(
            "publish attempt lost its lease",
            extra={"draft_id": draft.id, "attempt": attempt.id, "outcome": to.value},
        )
        return False
    return True
