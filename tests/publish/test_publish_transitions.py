"""Every edge the publisher walks is a conditional write against DynamoDB Local: a stale writer
loses, leaves the draft as the winner wrote it, and adds no audit entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hookline.models import Attempt, State
from hookline.publish.recovery import _transition, expire_due, recover_stale
from hookline.publish.run import PublishReport, _finish
from hookline.store import Move, PaceRefused, StateConflict
from tests.conftest import NOW, make_config
from tests.support.publishing import LEASE, UNPACED, Publisher, approved


def attempt(minutes_ago: float = 0) -> Attempt:
    return Attempt(id=f"attempt-{minutes_ago}", started_at=NOW - timedelta(minutes=minutes_ago))


def claim(store, draft, a: Attempt):
    return store.transition(
        draft,
        Move(
            State.PUBLISHING,
            actor="publisher",
            action="publish attempt",
            changes={"attempt": a.model_dump(mode="json")},
        ),
    )


def assert_lost(store, draft_id: str, write: Any, *, state: State) -> None:
    """The write raises StateConflict (or reports it lost) and changes nothing."""
    before = store.get_draft(draft_id)
    audit = store.audit(draft_id)
    try:
        result = write()
    except StateConflict:
        result = False
    assert result is False
    after = store.get_draft(draft_id)
    assert after == before
    assert after.state is state
    assert store.audit(draft_id) == audit


def test_approved_to_publishing_only_one_claimer_wins(store):
    # Given two publishers that both read the approved draft
    draft = approved(store, "Claimed report", at=NOW)
    mine, theirs = store.get_draft(draft.id), store.get_draft(draft.id)

    # When both claim it
    won = claim(store, mine, attempt())

    # Then the second, holding the stale copy, loses
    assert won.state is State.PUBLISHING
    assert_lost(
        store,
        draft.id,
        lambda: claim(store, theirs, Attempt(id="other", started_at=NOW)),
        state=State.PUBLISHING,
    )
    assert store.get_draft(draft.id).attempt.id == "attempt-0"


@pytest.mark.parametrize("to", [State.PUBLISHED, State.APPROVED, State.FAILED])
def test_publishing_outcomes_are_written_only_by_the_attempt_that_holds_the_lease(store, to):
    # Given a draft claimed by one attempt, then taken over and claimed again by another
    draft = approved(store, f"Leased report {to.value}", at=NOW)
    old = attempt(minutes_ago=10)
    claimed_old = claim(store, draft, old)
    recover_stale(store, make_config(), NOW, LEASE, PublishReport())
    new = attempt()
    claim(store, store.get_draft(draft.id), new)

    # When the first attempt, which lost its lease, tries to record its outcome
    lost = lambda: _finish(store, claimed_old, old, to, changes={"failure": "late"}, reason="late")  # noqa: E731

    # Then it loses, and the live attempt still holds the draft
    assert_lost(store, draft.id, lost, state=State.PUBLISHING)
    assert store.get_draft(draft.id).attempt.id == new.id


def test_the_attempt_holding_the_lease_records_its_outcome(store):
    # Given a claimed draft
    draft = approved(store, "Recorded report", at=NOW)
    a = attempt()
    claimed = claim(store, draft, a)

    # When its own attempt records the outcome
    assert _finish(store, claimed, a, State.PUBLISHED, changes={"post_id": "1"}, reason="published") is True

    # Then it is PUBLISHED and the lease is gone
    done = store.get_draft(draft.id)
    assert (done.state, done.post_id, done.attempt) == (State.PUBLISHED, "1", None)


def test_a_takeover_loses_to_an_attempt_that_finished_meanwhile(store):
    # Given a takeover that read the draft while its old attempt was still PUBLISHING
    draft = approved(store, "Finished meanwhile", at=NOW)
    a = attempt(minutes_ago=10)
    claimed = claim(store, draft, a)
    stale_view = store.get_draft(draft.id)

    # When the attempt records its outcome first
    _finish(store, claimed, a, State.PUBLISHED, changes={"post_id": "9"}, reason="published")

    # Then the takeover's write (expecting PUBLISHING with that attempt) loses
    def take_over():
        return _transition(
            store,
            stale_view,
            State.APPROVED,
            action="take over",
            expect_attempt=a.id,
            changes={"not_before": NOW},
            remove=["attempt"],
        )

    assert_lost(store, draft.id, take_over, state=State.PUBLISHED)


def test_a_live_lease_is_never_taken_over(store):
    # Given an attempt started a minute ago (the lease is two minutes)
    draft = approved(store, "Live lease", at=NOW)
    claim(store, draft, attempt(minutes_ago=1))

    # When housekeeping runs
    report = PublishReport()
    recover_stale(store, make_config(), NOW, LEASE, report)

    # Then the draft is untouched
    assert report.recovered == []
    assert store.get_draft(draft.id).state is State.PUBLISHING


def test_approved_to_expired_loses_to_a_publisher_that_claimed_it(store):
    # Given an event draft whose event has started, claimed by a publisher after housekeeping read it
    draft = approved(
        store, "Started event", at=NOW - timedelta(hours=2), event_start=NOW - timedelta(minutes=1)
    )
    claim(store, store.get_draft(draft.id), attempt())

    # When housekeeping tries to expire it with its stale view
    assert_lost(
        store,
        draft.id,
        lambda: _transition(store, draft, State.EXPIRED, action="expire", reason="the event has started"),
        state=State.PUBLISHING,
    )
    # And expire_due itself skips it quietly
    report = PublishReport()
    expire_due(store, make_config(), NOW, report)
    assert report.expired == []


def test_pending_to_expired_loses_to_an_approval(store):
    # Given a pending draft past its expiry that an approver approves just before housekeeping writes
    draft = approved(store, "Late approval", at=NOW - timedelta(days=8), state=State.PENDING)
    store.transition(
        draft, Move(State.APPROVED, actor="Alex Morgan", action="approve", changes={"approved_at": NOW})
    )

    # Then the expiry with the stale view loses, and the approval stands
    assert_lost(
        store,
        draft.id,
        lambda: _transition(store, draft, State.EXPIRED, action="expire", reason="old"),
        state=State.APPROVED,
    )


def test_failed_to_approved_retry_happens_once(store):
    # Given a FAILED draft seen by two approvers
    draft = approved(store, "Failed report", at=NOW)
    a = attempt()
    claimed = claim(store, draft, a)
    _finish(store, claimed, a, State.FAILED, changes={"failure": "X refused"}, reason="X refused")
    one, two = store.get_draft(draft.id), store.get_draft(draft.id)

    # When both press retry
    store.transition(one, Move(State.APPROVED, actor="Alex Morgan", action="retry", remove=["failure"]))

    # Then the second loses
    assert_lost(
        store,
        draft.id,
        lambda: store.transition(
            two, Move(State.APPROVED, actor="Sam Patel", action="retry", remove=["failure"])
        ),
        state=State.APPROVED,
    )


# -- DynamoDB's TransactionConflict (real DynamoDB cancels one of two simultaneous transactions) --


class ConflictOnce:
    """A DynamoDB client whose next transactions are cancelled as TransactionConflict."""

    def __init__(self, client: Any, times: int = 1) -> None:
        self._client = client
        self.times = times

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.times:
            self.times -= 1
            error = self._client.exceptions.TransactionCanceledException
            raise error(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_transaction_conflict_on_the_claim_is_retried_not_a_crash(store, clock, x_api):
    # Given DynamoDB cancels the claim once because another transaction touched the draft
    draft = approved(store, "Conflicted report", at=NOW - timedelta(hours=1))
    store.client = ConflictOnce(store.client)

    # When the publisher runs
    Publisher(store, make_config(**UNPACED), clock).run()

    # Then the claim was tried again and the post went out once
    assert store.get_draft(draft.id).state is State.PUBLISHED
    assert x_api.created == [draft.text]


def test_a_reservation_conflict_is_retried_and_then_reported_as_a_wait(store):
    # Given DynamoDB cancels the reservation once, then many times
    args = {"month": "2026-11", "day": "2026-11-25", "cents": 20, "month_cap_cents": 100, "daily_cap": 5}
    store.client = ConflictOnce(store.client, times=1)
    store.reserve_post(now=NOW, spacing=timedelta(0), **args)
    assert store.month_spend("2026-11").cents == 20

    store.client = ConflictOnce(store.client._client, times=50)
    with pytest.raises(PaceRefused, match="another publisher is reserving"):
        store.reserve_post(now=NOW, spacing=timedelta(0), **args)
    assert store.month_spend("2026-11").cents == 20
