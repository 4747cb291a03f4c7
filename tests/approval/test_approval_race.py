"""Fifty approvers press at once: exactly one decision stands, everyone else is told who won.

The requests go over HTTP to five separate processes, each running the approvals
function behind the local API Gateway bridge, as five Lambda containers would: nothing
but DynamoDB's conditional write keeps them apart. (Within one process, powertools
keeps the current event on a class attribute, so one container serves one request at
a time, exactly as Lambda does.)
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from hookline.models import State
from hookline.store import Move, StateConflict
from tests.conftest import NOW, SIGNING_KEY
from tests.support.containers import approval_containers, send
from tests.support.drafts import add_draft, signer

REQUESTS = 50
CONTAINERS = 5


def test_fifty_concurrent_decisions_on_one_draft_give_one_success_and_49_conflicts(lambda_env):
    now = datetime.now(UTC)
    store = lambda_env.store()
    draft = add_draft(store, now)
    links = signer(SIGNING_KEY)
    approvers = ["alex@example.org", "sam@example.org"]
    forms = [
        {"token": links.decide_token(draft, approvers[i % 2]), "action": "approve" if i % 3 else "reject"}
        for i in range(REQUESTS)
    ]
    with approval_containers(CONTAINERS) as bases:
        urls = [f"{base}/drafts/{draft.id}" for base in bases]
        start = threading.Barrier(REQUESTS)

        def press(i: int) -> tuple[int, str]:
            start.wait()
            return send(urls[i % CONTAINERS], forms[i])

        # When all fifty press at the same moment, spread over five containers
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers = list(pool.map(press, range(REQUESTS)))

    # Then exactly one succeeded and every other one was told it was already decided
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 1, 409: REQUESTS - 1}
    winner = forms[next(i for i, (status, _) in enumerate(answers) if status == 200)]
    final = store.get_draft(draft.id)
    assert final.state is (State.APPROVED if winner["action"] == "approve" else State.REJECTED)
    decided = "approved" if final.state is State.APPROVED else "rejected"
    for status, body in answers:
        if status == 409:
            assert f"This draft was already {decided} by {final.decided_by} at" in body
    # And the history holds exactly one decision
    assert [a.action for a in store.audit(draft.id)] == ["queued", winner["action"]]


def conflicting(store: Any, *, then: Any = None) -> Any:
    """Make DynamoDB cancel the next transaction as TransactionConflict (another transaction on the
    item), after running `then` (what the other transaction did)."""
    real = store.client.transact_write_items
    calls = []

    def transact(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            if then:
                then()
            error = {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            }
            raise store.client.exceptions.TransactionCanceledException(error, "TransactWriteItems")
        return real(**kwargs)

    store.client.transact_write_items = transact
    return calls


def test_a_transaction_conflict_with_a_decision_that_won_is_a_state_conflict(store):
    # Given a decision that meets another one in flight, which wins
    draft = add_draft(store, NOW)
    rival = store.get_draft(draft.id)

    def rival_approves() -> None:  # its own write goes through: only the first call is cancelled
        store.transition(
            rival,
            Move(
                State.APPROVED,
                actor="Sam Patel <sam@example.org>",
                action="approve",
                changes={"decided_by": "Sam Patel"},
            ),
        )

    conflicting(store, then=rival_approves)

    # Then the loser is told who decided, like any other late decision
    with pytest.raises(StateConflict) as lost:
        store.transition(draft, Move(State.REJECTED, actor="Alex Morgan <alex@example.org>", action="reject"))
    assert lost.value.draft.decided_by == "Sam Patel"
    assert store.get_draft(draft.id).state is State.APPROVED


def test_a_transaction_conflict_with_something_else_is_retried(store):
    # Given a transaction cancelled by an unrelated write on the item (the draft is still pending)
    draft = add_draft(store, NOW)
    calls = conflicting(store)

    # When the decision is made, it is retried and goes through
    decided = store.transition(
        draft, Move(State.APPROVED, actor="Alex Morgan <alex@example.org>", action="approve")
    )
    assert decided.state is State.APPROVED
    assert len(calls) == 2
