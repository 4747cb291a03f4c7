"""The store against DynamoDB Local: one entry is one draft, and every state change is conditional."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from hookline.models import Draft, Entry, Queued, State
from hookline.store import Move, StateConflict
from tests.conftest import NOW
from tests.support.drafts import add_draft, event_draft


def a_draft(entry_id: str = "guid-1") -> Draft:
    entry = Entry(feed_id="news", identity=entry_id, title="A report", link="https://www.example.org/r")
    return Draft(
        id=entry.key,
        feed_id="news",
        title=entry.title,
        link=entry.link,
        post_link=entry.link,
        text="A report https://www.example.org/r",
        composed_text="A report https://www.example.org/r",
        weighted_length=32,
        reason="category 'Report' matched rule 'publications'",
        created_at=NOW,
        state_at=NOW,
    )


def test_an_entry_can_become_only_one_draft_even_when_two_polls_race(store):
    # Given the same entry seen by eight overlapping polls at once
    draft = a_draft()
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda _: store.create_draft(draft), range(8)))

    # Then exactly one of them created it, and it has exactly one "queued" audit entry
    assert created.count(True) == 1
    assert store.get_draft(draft.id).state is State.PENDING
    assert [a.action for a in store.audit(draft.id)] == ["queued"]


def test_a_transition_succeeds_only_from_the_state_the_caller_saw(store, clock):
    draft = a_draft()
    store.create_draft(draft)
    clock.advance(minutes=5)

    approved = store.transition(
        draft,
        Move(
            State.APPROVED,
            actor="Alex <alex@example.org>",
            action="approve",
            changes={"decided_by": "Alex", "decided_at": clock()},
        ),
    )
    assert approved.state is State.APPROVED
    assert approved.version == 2

    # A second decider holding the old PENDING copy loses, and is told the current state
    with pytest.raises(StateConflict) as conflict:
        store.transition(draft, Move(State.REJECTED, actor="Sam <sam@example.org>", action="reject"))
    assert conflict.value.draft.state is State.APPROVED
    assert conflict.value.draft.decided_by == "Alex"
    assert [a.action for a in store.audit(draft.id)] == ["queued", "approve"]


def test_edges_outside_the_state_machine_are_refused_before_any_write(store):
    draft = a_draft()
    store.create_draft(draft)
    with pytest.raises(ValueError, match="no edge PENDING -> PUBLISHED"):
        store.transition(draft, Move(State.PUBLISHED, actor="x", action="publish"))
    assert store.get_draft(draft.id).state is State.PENDING


def test_fifty_racing_decisions_on_one_draft_have_one_winner(store):
    draft = a_draft()
    store.create_draft(draft)

    def decide(i: int) -> str:
        target = State.APPROVED if i % 2 else State.REJECTED
        try:
            store.transition(draft, Move(target, actor=f"approver-{i}", action=target.value.lower()))
        except StateConflict:
            return "conflict"
        return "won"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(decide, range(50)))
    assert outcomes.count("won") == 1
    assert len(store.audit(draft.id)) == 2  # queued + the one decision


def test_an_audit_entry_records_text_before_and_after_an_edit(store, clock):
    draft = a_draft()
    store.create_draft(draft)
    edited = "Our new report on rivers https://www.example.org/r"
    store.transition(
        draft,
        Move(
            State.APPROVED,
            actor="Alex <alex@example.org>",
            action="edit and approve",
            changes={"text": edited},
            text_after=edited,
        ),
    )
    last = store.audit(draft.id)[-1]
    assert (last.actor, last.from_state, last.to_state) == (
        "Alex <alex@example.org>",
        State.PENDING,
        State.APPROVED,
    )
    assert (last.text_before, last.text_after) == (draft.text, edited)


def test_drafts_are_found_by_state_oldest_first(store, clock):
    first, second = a_draft("guid-1"), a_draft("guid-2")
    store.create_draft(first)
    clock.advance(minutes=1)
    store.create_draft(second.model_copy(update={"created_at": clock(), "state_at": clock()}))
    assert [d.id for d in store.drafts_in(State.PENDING)] == [first.id, second.id]
    assert store.count_by_state()[State.PENDING] == 2


def test_the_queue_order_read_carries_what_the_full_drafts_say(store):
    # Given an approved publication and an approved event, and a draft still pending
    report = add_draft(store, NOW - timedelta(hours=2), identity="report")
    event = event_draft(store, NOW - timedelta(hours=1), starts_in=timedelta(hours=30))
    add_draft(store, NOW, identity="pending")
    for draft, at in ((report, NOW - timedelta(minutes=30)), (event, NOW - timedelta(minutes=10))):
        store.transition(
            draft, Move(State.APPROVED, actor="a", action="approve", changes={"approved_at": at})
        )

    # When the approval page reads the approved queue as the publishing order needs it
    queued = store.queued(State.APPROVED)

    # Then it has exactly the approved drafts, with the same order fields as the whole drafts
    full = [Queued.of(d) for d in store.drafts_in(State.APPROVED)]
    assert sorted(queued, key=lambda q: q.id) == sorted(full, key=lambda q: q.id)
    by_id = {q.id: q for q in queued}
    assert by_id[event.id].event_start == event.event.start
    assert by_id[report.id].event_start is None
    assert by_id[report.id].approved_at == NOW - timedelta(minutes=30)
