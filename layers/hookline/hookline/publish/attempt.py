"""One try at one draft on X: the claim, the last word before X, the post, and the recorded
outcome, each written only while this attempt holds the draft (see `publish.run`).

The claim moves the draft APPROVED -> PUBLISHING with a fresh attempt id; every later write
expects that id, so a publisher that lost its lease records nothing. X's answer is classified
into an `Outcome`, which tells the run whether the reservation stands and whether to go on.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso
from hookline.config import Config, cents
from hookline.models import Attempt, Draft, EventInfo, State
from hookline.publish.account import _account_failed
from hookline.publish.networks.port import (
    Ambiguous,
    Duplicate,
    Network,
    NetworkError,
    NotSent,
    Post,
    Posted,
    RateLimited,
    Unauthorized,
    UsageCapped,
)
from hookline.publish.pacing import next_midnight, periods
from hookline.publish.recovery import MAX_RETRIES, _attempts_json, _gave_up, _transition
from hookline.publish.xapi import post_url
from hookline.store import ItemTooLarge, PublishStore, StateConflict

if TYPE_CHECKING:
    from hookline.poll.linkcheck import PageCheck
    from hookline.publish.run import PublishReport

log = logging.getLogger(__name__)

RETRY_BACKOFF = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
MAX_WEIGHTED_LENGTH = 280
# A reason kept on a draft: enough to read, never enough to push the item towards 400 KB.
MAX_REASON = 1000
RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # a 429 without x-rate-limit-reset
RATE_LIMIT_LONGEST = timedelta(hours=24)


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
    store: PublishStore, draft: Draft, attempt: Attempt, report: PublishReport, exc: Exception
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


def _claim_changes(
    draft: Draft,
    config: Config,
    now: datetime,
    attempt: Attempt,
    check_link: Callable[[str], PageCheck] | None,
) -> dict[str, Any]:
    """What the claim writes: the attempt, a refreshed when-phrase, the last pre-flight."""
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
    return claim


def _claim(
    store: PublishStore, draft: Draft, attempt: Attempt, claim: dict[str, Any], report: PublishReport
) -> Draft | Outcome:
    """The draft as this attempt holds it, or the outcome when the claim was not had."""
    try:
        return _transition(store, draft, State.PUBLISHING, action="publish attempt", changes=claim)
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


def _attempt(
    store: PublishStore,
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
    claimed = _claim(store, draft, attempt, _claim_changes(draft, config, now, attempt, check_link), report)
    if isinstance(claimed, Outcome):
        return claimed

    problems = _final_problems(claimed, config)
    if problems:
        # The last word before X: whatever path the text took (an edit, a refreshed
        # when-phrase, an old draft composed before a rule existed), nothing is posted that
        # links anywhere but the entry or mentions or tags what the organisation did not add.
        reason = "not posted: " + "; ".join(problems)
        if _finish(
            store,
            claimed,
            attempt,
            State.FAILED,
            changes={"failure": reason[:MAX_REASON], "retries": 0},
            reason=reason[:MAX_REASON],
        ):
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
    except NetworkError as exc:
        return _not_posted(store, config, claimed, attempt, now, report, credentials, exc)
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
    return _posted(store, config, claimed, attempt, now, report, result)


def _not_posted(
    store: PublishStore,
    config: Config,
    claimed: Draft,
    attempt: Attempt,
    now: datetime,
    report: PublishReport,
    credentials: str,
    exc: NetworkError,
) -> Outcome:
    """X's answer when it did not (knowingly) create the post, recorded on the draft."""

    def finish(to: State, changes: dict[str, Any], reason: str) -> bool:
        return _finish(store, claimed, attempt, to, changes=changes, reason=reason)

    if isinstance(exc, Duplicate):
        return _duplicate(store, config, claimed, attempt, report, exc)
    if isinstance(exc, (Ambiguous, NotSent)):
        ambiguous = isinstance(exc, Ambiguous)
        return _transient(store, config, claimed, attempt, now, report, str(exc), ambiguous=ambiguous)
    if isinstance(exc, RateLimited):
        # x-rate-limit-reset is X's word, but a garbled one must not stop publishing for weeks
        until = min(max(exc.reset_at or now + RATE_LIMIT_FALLBACK, now), now + RATE_LIMIT_LONGEST)
        reason = f"{exc}; posting resumes after {iso(until)}"
        if finish(State.APPROVED, {"not_before": iso(until), "failure": str(exc)}, reason):
            report.retrying.append(claimed.id)
        store.set_limit("rate-limit", reason, now=now, until=until)
        report.hold("rate-limit", reason)
        return Outcome.STOP
    if isinstance(exc, UsageCapped):
        until = next_midnight(config, now)
        reason = f"{exc}; nothing more is posted today (until {iso(until)})"
        if finish(State.APPROVED, {"not_before": iso(until), "failure": str(exc)}, reason):
            report.retrying.append(claimed.id)
        store.set_limit("usage-cap", reason, now=now, until=until)
        report.hold("usage-cap", reason)
        report.usage_capped = True
        log.error("X usage cap reached: publishing stops for the day", extra={"until": iso(until)})
        return Outcome.STOP
    if isinstance(exc, Unauthorized):
        problem = f"{exc}; nothing will be posted until the credentials are fixed"
        if finish(State.APPROVED, {"failure": str(exc)}, str(exc)):
            report.retrying.append(claimed.id)
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
    # Refused: other 403s, 400, 404
    if finish(State.FAILED, {"failure": str(exc), "retries": 0}, f"X refused: {exc}"):
        report.failed.append(claimed.id)
    return Outcome.REFUSED


def _duplicate(
    store: PublishStore,
    config: Config,
    claimed: Draft,
    attempt: Attempt,
    report: PublishReport,
    exc: Duplicate,
) -> Outcome:
    """X's "duplicate content": proof an earlier ambiguous attempt posted, else a refusal."""
    if claimed.ambiguous_attempts:
        last = max(a.started_at for a in claimed.ambiguous_attempts)
        if _finish(
            store,
            claimed,
            attempt,
            State.PUBLISHED,
            changes={"needs_confirmation": True, "published_at": iso(last), "retries": 0},
            reason="X reports duplicate content after an ambiguous attempt: it was published then "
            f"(no post id; please confirm on @{config.account.bare_handle})",
        ):
            report.published.append(claimed.id)
            report.needs_confirmation.append(claimed.id)
            # One earlier attempt was the post: its reservation stands, any others are given back.
            _release_attempts(
                store, config, sorted(claimed.ambiguous_attempts, key=lambda a: a.started_at)[1:]
            )
        return Outcome.CONFIRMED_EARLIER
    if _finish(
        store, claimed, attempt, State.FAILED, changes={"failure": str(exc)}, reason=f"X refused: {exc}"
    ):
        report.failed.append(claimed.id)
    return Outcome.REFUSED


def _posted(
    store: PublishStore,
    config: Config,
    claimed: Draft,
    attempt: Attempt,
    now: datetime,
    report: PublishReport,
    result: Posted,
) -> Outcome:
    """X created the post: record it (or say loudly, with its id, that we could not)."""
    changes: dict[str, Any] = {
        "published_at": iso(now),
        "post_id": result.post_id,
        "post_url": result.url,
        "retries": 0,
    }
    if result.post_id and not result.url:
        changes["post_url"] = post_url(config.account, result.post_id)
    try:
        recorded = _finish(
            store,
            claimed,
            attempt,
            State.PUBLISHED,
            changes=changes,
            reason="published" if result.post_id else "dry run: nothing was sent to X",
        )
    except Exception:
        # X posted it; only our record failed. Say so loudly with the id: the lease takeover
        # will find the post as a duplicate, but without this line nobody learns its id.
        log.exception(
            "posted to X but could not record it", extra={"draft_id": claimed.id, "post_id": result.post_id}
        )
        raise
    if recorded:
        report.published.append(claimed.id)
        # X created this post, so no earlier attempt of the same text did (X would have said
        # duplicate): the reservations kept for them were not billed.
        _release_attempts(store, config, claimed.ambiguous_attempts)
    return Outcome.POSTED


def _release_attempts(store: PublishStore, config: Config, attempts: Iterable[Attempt]) -> None:
    price = cents(config.pacing.price_per_post_usd)
    for earlier in attempts:
        month, day = periods(config, earlier.started_at)
        store.release_post(month=month, day=day, cents=price, now=earlier.started_at)


def _transient(
    store: PublishStore,
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
    store: PublishStore,
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
