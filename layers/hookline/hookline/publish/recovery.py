"""Housekeeping before each run: drafts nobody decided expire, and an attempt that died mid-post is looked up on X before it is tried again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso
from hookline.config import Config
from hookline.models import Attempt, Draft, State
from hookline.store import DraftStore, Move, StateConflict

if TYPE_CHECKING:
    pass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hookline.publish.run import PublishReport

# who the audit names for housekeeping and publishing moves
ACTOR = "publisher"


def _attempts_json(attempts: Iterable[Attempt]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in attempts]


def expire_due(store: DraftStore, config: Config, now: datetime, report: PublishReport) -> None:
    """Pending drafts past their time, and drafts whose event has started, expire.

    This runs while publishing is paused too, so resuming publishes nothing that went
    stale meanwhile.
    """
    max_pending = timedelta(days=config.approval.expire_after_days)
    for state in (State.PENDING, State.APPROVED):
        for draft in store.drafts_in(state):
            why = _expiry(draft, now, max_pending, config)
            if not why:
                continue
            if draft.ambiguous_attempts:
                why += (
                    f"; an earlier attempt may have reached X, check @{config.account.bare_handle} "
                    "for this post"
                )
            try:
                _transition(store, draft, State.EXPIRED, action="expire", reason=why)
                report.expired.append(draft.id)
            except StateConflict:
                continue  # someone decided or a publisher claimed it meanwhile; that stands


def _expiry(draft: Draft, now: datetime, max_pending: timedelta, config: Config) -> str | None:
    if draft.event and draft.event.start <= now:
        return "the event has started"
    if draft.state is State.PENDING:
        deadline = draft.expires_at or draft.created_at + max_pending
        if deadline <= now:
            return f"nobody decided within {config.approval.expire_after_days:g} days"
    return None


def recover_stale(
    store: DraftStore, config: Config, now: datetime, lease: timedelta, report: PublishReport
) -> None:
    """Take over PUBLISHING drafts whose publisher died mid-attempt (its lease outlived any run).

    Nobody knows whether X posted, so the attempt counts as ambiguous: the retry posts the
    same text and X's duplicate answer tells.
    """
    for listed in store.drafts_in(State.PUBLISHING):
        draft = store.find_draft(listed.id)  # the index lags; decide on the item itself
        if not draft or draft.state is not State.PUBLISHING or draft.attempt is None:
            continue
        if draft.attempt.started_at > now - lease:
            continue  # a live attempt: never touched
        stale = draft.attempt.model_copy(
            update={"outcome": "lease expired: the publisher stopped mid-attempt"}
        )
        retries = draft.retries + 1
        try:
            if retries >= MAX_RETRIES:
                _transition(
                    store,
                    draft,
                    State.FAILED,
                    action="failed",
                    expect_attempt=draft.attempt.id,
                    changes={
                        "ambiguous_attempts": _attempts_json([*draft.ambiguous_attempts, stale]),
                        "retries": 0,
                        "failure": _gave_up(config, retries, "the publisher stopped mid-attempt", True),
                    },
                    remove=["attempt"],
                    reason="the previous attempt's lease expired, and retries are spent",
                )
                report.failed.append(draft.id)
            else:
                _transition(
                    store,
                    draft,
                    State.APPROVED,
                    action="take over",
                    expect_attempt=draft.attempt.id,
                    changes={
                        "ambiguous_attempts": _attempts_json([*draft.ambiguous_attempts, stale]),
                        "retries": retries,
                        "not_before": iso(now),
                    },
                    remove=["attempt"],
                    reason="the previous attempt's lease expired; whether X posted it is unknown",
                )
                report.recovered.append(draft.id)
        except StateConflict:
            continue  # the attempt finished, or another publisher took it over first


def _gave_up(config: Config, tries: int, last: str, maybe_posted: bool) -> str:
    text = f"X failed {tries} times in a row (last: {last})"
    if maybe_posted:
        text += (
            f". An attempt may have reached X: check @{config.account.bare_handle} before retrying "
            "(a retry of a post that went out is recognised as a duplicate, not posted twice)"
        )
    return text


MAX_RETRIES = 5  # transient failures in a row before a person is asked to look


def _transition(store: DraftStore, draft: Draft, to: State, **kwargs: Any) -> Draft:
    # store.transition is conditional and retries DynamoDB's TransactionConflict itself.
    return store.transition(draft, Move(to, actor=ACTOR, **kwargs))
